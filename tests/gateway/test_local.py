"""What the gateway answers itself: health, readiness, metrics, the merged OpenAPI and the offline docs."""

import asyncio
import re
import shutil

import httpx

from gateway.openapi import TITLE
from tests.gateway.conftest import Env
from tests.support import assert_problem, missing


async def test_healthz(gw: httpx.AsyncClient):
    r = await gw.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "service": "gateway"}
    assert len(r.headers["x-request-id"]) == 32


class TestReadiness:
    async def test_all_upstreams_ready(self, gw: httpx.AsyncClient):
        r = await gw.get("/readyz")
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["status"] == "ok"
        assert set(body["upstreams"]) == {"catalog", "request", "stats"}
        for upstream in body["upstreams"].values():
            assert upstream["ok"] is True and upstream["status"] == 200
            assert upstream["checks"] == {"database": {"ok": True}}

    async def test_one_down_and_one_not_ready(self, env: Env):
        await env.start_upstreams("stats")
        env.upstreams["request"].ready = False
        gw = await env.gateway()
        r = await gw.get("/readyz")
        body = assert_problem(r, 503, "not_ready")
        assert body["readiness"] == "degraded"
        assert body["request_id"] == r.headers["x-request-id"]
        upstreams = body["upstreams"]
        assert upstreams["catalog"]["ok"] is True
        assert upstreams["request"] == {**upstreams["request"], "ok": False, "status": 503}
        assert upstreams["stats"]["ok"] is False and upstreams["stats"]["error"] == "ClientConnectorError"
        assert "request" in body["detail"] and "stats" in body["detail"]


async def test_metrics_count_requests_by_upstream_method_and_status_class(gw: httpx.AsyncClient):
    await gw.get("/api/v1/catalog/documents/1")
    await gw.post("/api/v1/requests/applications", content=b"{}")
    await gw.get("/api/v1/stats/status/404")
    await gw.get("/api/v1/unknown")
    text = (await gw.get("/metrics")).text
    assert 'gateway_requests_total{method="GET",status_class="2xx",upstream="catalog"} 1.0' in text
    assert 'gateway_requests_total{method="POST",status_class="2xx",upstream="request"} 1.0' in text
    assert 'gateway_requests_total{method="GET",status_class="4xx",upstream="stats"} 1.0' in text
    assert 'gateway_requests_total{method="GET",status_class="4xx",upstream="none"} 1.0' in text
    assert 'gateway_request_duration_seconds_count{upstream="catalog"} 1.0' in text
    assert 'gateway_upstream_errors_total{kind="connect_error",upstream="catalog"} 0.0' in text


class TestDocs:
    async def test_openapi_is_the_merged_document(self, gw: httpx.AsyncClient):
        r = await gw.get("/openapi.json")
        assert r.status_code == 200
        spec = r.json()
        assert spec["info"]["title"] == TITLE
        assert {"/api/v1/catalog/items", "/api/v1/requests/items", "/api/v1/stats/items", "/healthz", "/readyz",
                "/metrics"} <= set(spec["paths"])
        assert "/internal/v1/events" not in spec["paths"]

    async def test_swagger_ui_and_redoc_use_only_local_assets(self, gw: httpx.AsyncClient):
        for page, assets in [("/docs", ["/docs-static/swagger-ui-bundle.js", "/docs-static/swagger-ui.css"]),
                             ("/redoc", ["/docs-static/redoc.standalone.js"])]:
            r = await gw.get(page)
            assert r.status_code == 200
            html = r.text
            assert not re.search(r'src="https?://|href="https?://', html), page
            assert "http://" not in html and "https://" not in html, page
            assert "/openapi.json" in html
            for asset in assets:
                assert asset in html
                served = await gw.get(asset)
                assert served.status_code == 200 and len(served.content) > 1000, asset
        assert (await gw.get("/docs-static/favicon.png")).status_code == 200
        assert (await gw.get("/docs/oauth2-redirect")).status_code == 200

    async def test_swagger_ui_disables_the_online_validator(self, gw: httpx.AsyncClient):
        html = (await gw.get("/docs")).text
        assert '"validatorUrl": null' in html


async def test_swagger_ui_renders_the_operations_offline(gw: httpx.AsyncClient):
    """A real browser loads /docs from the gateway alone and lists every tag and path of /openapi.json."""
    if shutil.which("chromium") is None:
        missing("REQUIRE_CHROMIUM", "needs a headless chromium (apt-get install chromium)")
    proc = await asyncio.create_subprocess_exec(
        "chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=8000",
        "--dump-dom", str(gw.base_url.join("/docs")), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    dom, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
    html = dom.decode()
    tags = set(re.findall(r'data-tag="([^"]+)"', html))
    assert {"catalog-items", "request-items", "stats-items", "gateway"} <= tags, tags
    assert 'data-path="/api/v1/requests/items"' in html


async def test_docs_openapi_and_problems_never_take_the_host(gw: httpx.AsyncClient):
    """Security review item 5: nothing the gateway answers itself carries a URL built on the caller's Host."""
    spoofed = {"Host": "evil.example", "X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https",
               "Forwarded": "host=evil.example;proto=https"}
    for path in ("/docs", "/redoc", "/docs/oauth2-redirect", "/openapi.json", "/healthz", "/readyz",
                 "/api/v1/no-such-thing"):
        r = await gw.get(path, headers=spoofed)
        assert r.status_code in (200, 404), (path, r.status_code)
        assert "evil.example" not in r.text and "evil.example" not in str(r.headers), path
