"""The real system: four processes started as `make run` starts them, probed through the gateway."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support import ROOT, assert_problem, auth

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pids(pattern: str) -> list[int]:
    out = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory, database_urls: dict[str, str]):
    ports = {name: free_port() for name in ("catalog", "request", "stats", "gateway")}
    env = {**os.environ, "CATALOG_PORT": str(ports["catalog"]), "REQUEST_PORT": str(ports["request"]),
           "STATS_PORT": str(ports["stats"]), "GATEWAY_PORT": str(ports["gateway"]),
           "CATALOG_DATABASE_URL": database_urls["catalog"], "REQUEST_DATABASE_URL": database_urls["request"],
           "STATS_DATABASE_URL": database_urls["stats"], "GATEWAY_CONNECT_TIMEOUT": "1"}
    log = Path(tmp_path_factory.mktemp("system")) / "run.log"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "run_all.py")], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{ports['gateway']}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail(f"system not ready; log:\n{log.read_text()[-3000:]}")
    yield base, ports
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def test_ready_with_all_three_services(system):
    base, _ = system
    body = httpx.get(f"{base}/readyz").json()
    assert body["status"] == "ok"
    assert {name: up["ok"] for name, up in body["upstreams"].items()} == {"catalog": True, "request": True,
                                                                          "stats": True}
    paths = httpx.get(f"{base}/openapi.json").json()["paths"]
    for prefix in ("/api/v1/catalog/", "/api/v1/requests/", "/api/v1/stats/"):
        assert any(p.startswith(prefix) for p in paths), prefix
    assert_problem(httpx.get(f"{base}/api/v1/no-such-thing"), 404, "route_not_found")


def test_who_am_i_through_the_gateway(system):
    """`/me` is served by each service for its own access table and reached like every other route (issue 14)."""
    base, _ = system
    headers = auth("handler", "drafter", organ="11440100MA5CX0001X", sub="gw-me", name="网关测试")
    paths = httpx.get(f"{base}/openapi.json").json()["paths"]
    for prefix, own in (("/api/v1/catalog", "POST /api/v1/catalog/documents"),
                        ("/api/v1/requests", "POST /api/v1/requests/applications/{application_id}/draft-reply"),
                        ("/api/v1/stats", None)):
        assert f"{prefix}/me" in paths
        r = httpx.get(f"{base}{prefix}/me", headers=headers)
        assert r.status_code == 200, r.text
        me = r.json()
        assert (me["sub"], me["organ"], [t["code"] for t in me["roles"]]) == (
            "gw-me", "11440100MA5CX0001X", ["drafter", "handler"])
        assert all(op["path"].startswith(prefix) or not op["path"].startswith("/api/") for op in me["may"])
        if own:
            assert own in {f"{op['method']} {op['path']}" for op in me["may"]}
    assert httpx.get(f"{base}/api/v1/requests/me").json()["anonymous"] is True


def test_a_dead_service_is_a_prompt_502_while_the_others_answer(system):
    base, ports = system
    for pid in _pids(f"uvicorn stats_service.app:app --host 127.0.0.1 --port {ports['stats']}"):
        os.kill(pid, signal.SIGKILL)
    time.sleep(0.5)
    started = time.monotonic()
    r = httpx.get(f"{base}/api/v1/stats/vocabularies", timeout=30)
    # Refused at once (502), or 503; a gateway waiting on the dead service would run into its 30 s read timeout.
    assert time.monotonic() - started < 10
    assert r.status_code in (502, 503)
    assert_problem(r, r.status_code)
    assert httpx.get(f"{base}/api/v1/catalog/vocabularies").status_code == 200
    assert httpx.get(f"{base}/api/v1/requests/vocabularies").status_code == 200
    ready = httpx.get(f"{base}/readyz")
    assert ready.status_code == 503 and ready.json()["upstreams"]["stats"]["ok"] is False
