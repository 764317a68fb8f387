"""Start the four processes of Gongkai (catalog, request, stats, gateway), wait until they are ready, print
where the docs are, and stop them all cleanly on Ctrl-C. Used by `make run`.

If one process dies the others keep running (the gateway answers 502 problem+json for the dead one's paths),
as in production where services fail independently; the death is reported here."""

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOST = os.environ.get("GONGKAI_HOST", "127.0.0.1")
PROCESSES = [
    ("catalog", "catalog_service.app:app", int(os.environ.get("CATALOG_PORT", 8101))),
    ("request", "request_service.app:app", int(os.environ.get("REQUEST_PORT", 8102))),
    ("stats", "stats_service.app:app", int(os.environ.get("STATS_PORT", 8103))),
    ("gateway", "gateway.app:app", int(os.environ.get("GATEWAY_PORT", 8000))),
]


def ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


# Where front-end developers run their dev servers (Vite, create-react-app/Next, Angular, Vue CLI, a static
# server): a browser app there may call the local gateway. Set GATEWAY_CORS_ORIGINS to replace the list (empty: off).
DEV_CORS_ORIGINS = [f"http://{host}:{port}" for port in (3000, 4200, 5173, 8080) for host in ("localhost", "127.0.0.1")]


def service_environment(base: dict[str, str]) -> dict[str, str]:
    """The environment of the four processes: upstream URLs, and CORS for local front-end development."""
    env = {**base}
    env.setdefault("GATEWAY_CATALOG_URL", f"http://127.0.0.1:{PROCESSES[0][2]}")
    env.setdefault("GATEWAY_REQUEST_URL", f"http://127.0.0.1:{PROCESSES[1][2]}")
    env.setdefault("GATEWAY_STATS_URL", f"http://127.0.0.1:{PROCESSES[2][2]}")
    env.setdefault("STATS_CATALOG_URL", env["GATEWAY_CATALOG_URL"])
    env.setdefault("STATS_REQUEST_URL", env["GATEWAY_REQUEST_URL"])
    env.setdefault("REQUEST_CATALOG_URL", env["GATEWAY_CATALOG_URL"])
    env.setdefault("CATALOG_REQUEST_URL", env["GATEWAY_REQUEST_URL"])
    env.setdefault("GATEWAY_CORS_ORIGINS", ",".join(DEV_CORS_ORIGINS))
    # A console for people: readable lines, one per request (the gateway's), feed polls and probes at DEBUG.
    env.setdefault("GONGKAI_LOG_FORMAT", "console")
    for prefix in ("CATALOG", "REQUEST", "STATS"):
        env.setdefault(f"{prefix}_ACCESS_LOG", "false")
    return env


def main() -> int:
    env = service_environment(dict(os.environ))
    children: list[tuple[str, subprocess.Popen]] = []
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    for name, target, port in PROCESSES:
        if ready(port):
            print(f"port {port} already answers: stop what runs there first", file=sys.stderr)
            return 2
        # --no-proxy-headers: uvicorn would believe X-Forwarded-For from 127.0.0.1 (any local caller could pick its
        # own rate-limit bucket); the apps trust only GONGKAI_TRUSTED_PROXIES, empty here (services/forwarded.py).
        cmd = [sys.executable, "-m", "uvicorn", target, "--host", HOST, "--port", str(port),
               "--no-access-log", "--log-level", "warning", "--timeout-graceful-shutdown", "5", "--no-proxy-headers"]
        children.append((name, subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)))
    deadline = time.monotonic() + 60
    pending = {name: port for name, _, port in PROCESSES}
    while pending and not stopping and time.monotonic() < deadline:
        pending = {n: p for n, p in pending.items() if not ready(p)}
        time.sleep(0.3)
    if pending:
        print(f"not ready: {', '.join(pending)}", file=sys.stderr)
        stopping = True
    else:
        gw = PROCESSES[3][2]
        origins = env.get("GATEWAY_CORS_ORIGINS") or "none (set GATEWAY_CORS_ORIGINS)"
        print(f"\nGongkai 公开 is running.\n"
              f"  API (gateway):          http://{HOST}:{gw}/api/v1/...\n"
              f"  API docs (Swagger UI):  http://{HOST}:{gw}/docs\n"
              f"  API docs (ReDoc):       http://{HOST}:{gw}/redoc\n"
              f"  OpenAPI:                http://{HOST}:{gw}/openapi.json\n"
              f"  Readiness:              http://{HOST}:{gw}/readyz\n"
              f"  Demo tokens:            data/demo-tokens.txt\n"
              f"  Browser origins (CORS): {origins}\n"
              "One line per request or problem follows (feed polls and health probes at DEBUG: "
              "GATEWAY_LOG_LEVEL=DEBUG and <SERVICE>_LOG_LEVEL=DEBUG show them). Press Ctrl-C to stop.\n", flush=True)
    code = 0
    reported: set[str] = set()
    while not stopping:
        for name, proc in children:
            if proc.poll() is not None and name not in reported:
                reported.add(name)
                code = 1
                print(f"{name} exited with {proc.returncode}; the others keep running (Ctrl-C, then make run, "
                      "to start it again)", file=sys.stderr, flush=True)
        if len(reported) == len(children):
            break
        time.sleep(0.5)
    for _, proc in children:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for name, proc in children:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            print(f"{name} did not stop in time; killing it", file=sys.stderr)
            proc.kill()
    print("stopped.")
    return code


if __name__ == "__main__":
    sys.exit(main())
