"""The docs work on an intranet with no internet: /docs and /redoc load in headless Chromium with every
non-loopback host unresolvable, and Swagger UI lists the operations of all three services."""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import httpx
import pytest

from tests.support import ROOT, missing

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def gateway_url():
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "gateway.app:app", "--host", "127.0.0.1", "--port",
                             str(port), "--log-level", "warning"], cwd=ROOT, env={**os.environ},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def _render(url: str) -> str:
    if CHROMIUM is None:
        missing("REQUIRE_CHROMIUM", "Debian's chromium package is not installed (apt-get install chromium); "
                                    "CI installs it")
    with tempfile.TemporaryDirectory() as profile:
        out = subprocess.run([
            CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={profile}",
            # No network but loopback: every other name fails to resolve and any other request hits a dead proxy.
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>;127.0.0.1",
            "--virtual-time-budget=15000", "--dump-dom", url,
        ], capture_output=True, text=True, timeout=90)
    return out.stdout


def test_docs_html_references_no_internet_asset(gateway_url):
    for page in ("/docs", "/redoc"):
        html = httpx.get(f"{gateway_url}{page}").text
        assert 'src="http' not in html and 'href="http' not in html, page


def test_swagger_ui_lists_the_operations_offline(gateway_url):
    dom = _render(f"{gateway_url}/docs")
    assert "swagger-ui" in dom, dom[:500]
    assert "opblock" in dom, "Swagger UI rendered no operations"
    for path in ("/api/v1/catalog/organs", "/api/v1/requests/vocabularies", "/api/v1/stats/vocabularies"):
        assert path in dom, path


def test_redoc_renders_offline(gateway_url):
    dom = _render(f"{gateway_url}/redoc")
    assert "/api/v1/catalog/organs" in dom
