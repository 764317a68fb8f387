"""X-Forwarded-For is believed only from configured proxies (security review, issue 11 item 9).

uvicorn trusts forwarded headers from 127.0.0.1 by default, so a caller on the gateway's host sending a new random
X-Forwarded-For with each request got a fresh rate-limit bucket each time. The real system, started exactly as
`make run` starts it (scripts/run_all.py, on both databases): with no trusted proxy configured, such requests
are limited as the one client they are; with GONGKAI_TRUSTED_PROXIES=127.0.0.1 the forwarded address is the client.
"""

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.harness import free_port, new_databases
from tests.support import ROOT, drop_database

pytestmark = pytest.mark.slow

BURST = 3
PATH = "/api/v1/catalog/vocabularies"  # public, cheap, limited like every /api path


@contextmanager
def running_system(tmp: Path, database_urls: dict[str, str], **extra_env: str) -> Iterator[str]:
    ports = {name: free_port() for name in ("catalog", "request", "stats", "gateway")}
    environ = {k: v for k, v in os.environ.items() if k != "GONGKAI_TRUSTED_PROXIES"}
    environ |= {"CATALOG_PORT": str(ports["catalog"]), "REQUEST_PORT": str(ports["request"]),
           "STATS_PORT": str(ports["stats"]), "GATEWAY_PORT": str(ports["gateway"]),
           "CATALOG_DATABASE_URL": database_urls["catalog"], "REQUEST_DATABASE_URL": database_urls["request"],
           "STATS_DATABASE_URL": database_urls["stats"],
           # A bucket of BURST requests refilled once in 1,000 s: the test never sees it refill.
           "GATEWAY_RATE_LIMIT_PER_SECOND": "0.001", "GATEWAY_RATE_LIMIT_BURST": str(BURST), **extra_env}
    log = tmp / "run.log"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "run_all.py")], cwd=ROOT, env=environ,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{ports['gateway']}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                pytest.fail(f"system not ready; log:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)
        yield base
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def random_address() -> str:
    return f"198.51.100.{secrets.randbelow(254) + 1}, 203.0.113.{secrets.randbelow(254) + 1}"


@pytest.fixture
def own_databases(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Databases of its own for the running system: its consumers commit cursors and mirrors, which must not reach
    the session's shared databases (the statistics tests feed their own events from id 1)."""
    urls = new_databases(tmp_path)
    yield urls
    for url in urls.values():
        drop_database(url)


def test_random_forwarded_for_from_loopback_is_still_rate_limited(tmp_path: Path, own_databases: dict[str, str]):
    with running_system(tmp_path, own_databases) as base, httpx.Client(base_url=base, timeout=10) as client:
        statuses = [client.get(PATH, headers={"X-Forwarded-For": random_address()}).status_code
                    for _ in range(BURST + 5)]
    assert statuses[:BURST] == [200] * BURST, statuses
    assert statuses[BURST:] == [429] * 5, statuses  # one client (127.0.0.1), however many addresses it claims


def test_a_trusted_proxy_names_the_client(tmp_path: Path, own_databases: dict[str, str]):
    with running_system(tmp_path, own_databases, GONGKAI_TRUSTED_PROXIES="127.0.0.1") as base, \
            httpx.Client(base_url=base, timeout=10) as client:
        # Each forwarded address is its own client with its own bucket …
        distinct = [client.get(PATH, headers={"X-Forwarded-For": f"198.51.100.{n}"}).status_code
                    for n in range(1, BURST + 6)]
        # … and one forwarded address is limited whatever the client wrote to its left (only the hop the trusted
        # proxy appended, the rightmost untrusted one, is believed).
        same = [client.get(PATH, headers={"X-Forwarded-For": f"10.9.{n}.1, 192.0.2.7"}).status_code
                for n in range(BURST + 2)]
    assert distinct == [200] * (BURST + 5), distinct
    assert same == [200] * BURST + [429] * 2, same
