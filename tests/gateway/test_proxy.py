"""Forwarding through the gateway over real HTTP: routing, headers, request ids, bodies, upstream failures."""

import logging
import socket
import time

import httpx
import pytest

from tests.gateway.conftest import Env
from tests.support import assert_problem


def header_map(record: dict) -> dict[str, str]:
    return {k: v for k, v in record["headers"]}


class TestForwarding:
    async def test_method_path_query_body_and_headers_reach_the_upstream(self, env: Env, gw: httpx.AsyncClient):
        r = await gw.post("/api/v1/requests/applications/42/notes?a=1&b=%E4%B8%AD&a=2",
                          content="正文 body".encode(), headers={"Content-Type": "text/plain; charset=utf-8",
                                                                "X-Custom": "kept", "If-Match": '"v3"'})
        assert r.status_code == 200, r.text
        seen = r.json()
        assert seen["upstream"] == "request"
        assert seen["method"] == "POST"
        assert seen["path"] == "/api/v1/requests/applications/42/notes"
        assert seen["query_string"] == "a=1&b=%E4%B8%AD&a=2"
        assert seen["body"] == "正文 body"
        headers = header_map(seen)
        assert headers["x-custom"] == "kept"
        assert headers["if-match"] == '"v3"'
        assert headers["content-type"] == "text/plain; charset=utf-8"
        assert headers["content-length"] == str(len("正文 body".encode()))
        assert headers["x-forwarded-proto"] == "http"
        assert headers["x-forwarded-for"] == "127.0.0.1"
        assert headers["host"].startswith("127.0.0.1:")
        assert env.upstreams["catalog"].seen == [] and env.upstreams["stats"].seen == []

    @pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
    async def test_each_method_is_forwarded(self, gw: httpx.AsyncClient, method: str):
        r = await gw.request(method, "/api/v1/catalog/documents/7", content=b"{}" if method in ("PUT", "PATCH")
                             else None)
        assert r.status_code == 200
        assert r.json()["method"] == method

    async def test_head_keeps_the_length_without_a_body(self, gw: httpx.AsyncClient):
        r = await gw.head("/api/v1/stats/reports")
        assert r.status_code == 200
        assert r.content == b""

    async def test_each_prefix_goes_to_its_upstream(self, gw: httpx.AsyncClient):
        for path, upstream in [("/api/v1/catalog", "catalog"), ("/api/v1/catalog/documents", "catalog"),
                               ("/api/v1/requests/x", "request"), ("/api/v1/stats/annual", "stats")]:
            r = await gw.get(path)
            assert r.status_code == 200, path
            assert r.json()["upstream"] == upstream
            assert r.json()["path"] == path

    async def test_percent_encoded_path_is_forwarded_unchanged(self, gw: httpx.AsyncClient):
        r = await gw.get("/api/v1/catalog/search/%E8%90%A5%E5%95%86%20%2F")
        assert r.json()["raw_path"] == "/api/v1/catalog/search/%E8%90%A5%E5%95%86%20%2F"

    async def test_upstream_status_and_etag_pass_through(self, gw: httpx.AsyncClient):
        r = await gw.get("/api/v1/catalog/status/404")
        assert r.status_code == 404
        assert r.headers["etag"] == '"v1"'
        r = await gw.get("/api/v1/catalog/status/304")
        assert r.status_code == 304 and r.content == b""

    async def test_large_response_streams_through(self, gw: httpx.AsyncClient):
        size = 3 * 1024 * 1024 + 7
        r = await gw.get(f"/api/v1/catalog/big?size={size}")
        assert r.status_code == 200
        assert len(r.content) == size

    async def test_large_request_body_streams_to_the_upstream(self, gw: httpx.AsyncClient):
        body = b"a" * (2 * 1024 * 1024)
        r = await gw.put("/api/v1/catalog/attachments/1", content=body)
        assert r.status_code == 200
        assert r.json()["body_length"] == len(body)

    async def test_chunked_request_body_is_forwarded(self, gw: httpx.AsyncClient):
        async def chunks():
            for _ in range(4):
                yield b"0123456789"

        r = await gw.post("/api/v1/catalog/uploads", content=chunks())
        assert r.status_code == 200
        assert r.json()["body"] == "0123456789" * 4


class TestRequestId:
    async def test_created_when_absent_and_the_same_one_reaches_the_upstream(self, env: Env, gw: httpx.AsyncClient):
        r = await gw.get("/api/v1/catalog/documents/1")
        rid = r.headers["x-request-id"]
        assert len(rid) == 32 and int(rid, 16) >= 0  # uuid4 hex
        assert header_map(env.upstreams["catalog"].seen[-1])["x-request-id"] == rid
        assert r.headers.get_list("x-request-id") == [rid]  # the upstream's own echo is not duplicated

    async def test_a_valid_caller_id_is_kept(self, env: Env, gw: httpx.AsyncClient):
        r = await gw.get("/api/v1/catalog/documents/1", headers={"X-Request-ID": "portal-abc.123:7"})
        assert r.headers["x-request-id"] == "portal-abc.123:7"
        assert header_map(env.upstreams["catalog"].seen[-1])["x-request-id"] == "portal-abc.123:7"

    async def test_an_invalid_caller_id_is_replaced(self, env: Env, gw: httpx.AsyncClient):
        r = await gw.get("/api/v1/catalog/documents/1", headers={"X-Request-ID": "bad id <script>"})
        rid = r.headers["x-request-id"]
        assert rid != "bad id <script>" and len(rid) == 32
        assert header_map(env.upstreams["catalog"].seen[-1])["x-request-id"] == rid

    async def test_errors_carry_the_request_id(self, gw: httpx.AsyncClient):
        r = await gw.get("/api/v1/nowhere", headers={"X-Request-ID": "trace-1"})
        body = assert_problem(r, 404, "route_not_found")
        assert body["request_id"] == "trace-1" and r.headers["x-request-id"] == "trace-1"


class TestHopByHop:
    async def test_stripped_on_the_way_in(self, env: Env, gw: httpx.AsyncClient):
        await gw.get("/api/v1/catalog/documents/1", headers={
            "Connection": "keep-alive, X-Secret-Hop", "Keep-Alive": "timeout=5", "TE": "trailers",
            "Upgrade": "h2c", "Proxy-Authorization": "Basic Zm9vOmJhcg==", "X-Secret-Hop": "1",
            "Trailer": "X-Checksum", "X-Kept": "yes"})
        headers = header_map(env.upstreams["catalog"].seen[-1])
        for name in ("keep-alive", "te", "upgrade", "proxy-authorization", "x-secret-hop", "trailer"):
            assert name not in headers, name
        assert headers.get("connection", "keep-alive") == "keep-alive"  # aiohttp's own, for its pool
        assert headers["x-kept"] == "yes"

    async def test_stripped_on_the_way_out(self, gw: httpx.AsyncClient):
        r = await gw.get("/api/v1/catalog/documents/1")
        for name in ("keep-alive", "proxy-authenticate", "trailer"):
            assert name not in r.headers, name
        assert r.headers["x-upstream"] == "catalog"
        assert len(r.headers.get_list("date")) == 1 and len(r.headers.get_list("server")) == 1


class TestRouting:
    @pytest.mark.parametrize("path", ["/api/v1/no-such-thing", "/api/v1/catalogue/x", "/api/v2/catalog/x", "/api",
                                      "/api/v1/catalog/../../internal/v1/events"])
    async def test_unknown_api_paths_are_404_problems(self, env: Env, gw: httpx.AsyncClient, path: str):
        r = await gw.get(path)
        assert_problem(r, 404, "route_not_found")
        assert all(not u.seen for u in env.upstreams.values())

    async def test_unknown_local_path_is_a_404_problem(self, gw: httpx.AsyncClient):
        r = await gw.get("/nope")
        body = assert_problem(r, 404, "route_not_found")
        assert body["request_id"] == r.headers["x-request-id"]

    async def test_internal_feeds_are_not_reachable(self, env: Env, gw: httpx.AsyncClient):
        r = await gw.get("/internal/v1/events")
        assert_problem(r, 404, "route_not_found")
        assert all(not u.seen for u in env.upstreams.values())


# Wall-clock bounds check behaviour (a timeout fired; nothing waited for what it should not), not speed: each is far
# below what a hang or a wrong wait would take (the test client gives up at 10 s) and far above the few hundred ms
# the right behaviour needs, so a busy 2-core machine cannot make them flake.
PROMPT = 8.0


class TestUpstreamFailures:
    async def test_down_service_is_502_fast_while_others_answer(self, env: Env):
        await env.start_upstreams("stats")
        # A connect timeout the test client would never outlast: answering within PROMPT proves the refused
        # connection was reported at once, not waited out.
        gw = await env.gateway(connect_timeout=30.0)
        started = time.monotonic()
        r = await gw.get("/api/v1/stats/annual")
        assert time.monotonic() - started < PROMPT
        body = assert_problem(r, 502, "upstream_unavailable")
        assert "stats_service" in body["detail"]
        assert body["request_id"] == r.headers["x-request-id"]
        ok = await gw.get("/api/v1/catalog/documents/1")
        assert ok.status_code == 200

    async def test_slow_service_is_504(self, env: Env):
        await env.start_upstreams()
        gw = await env.gateway(read_timeout=0.3)
        r = await gw.get("/api/v1/request/slow", params={"delay": 30})  # not a route: proves routing first
        assert_problem(r, 404, "route_not_found")
        started = time.monotonic()
        # The stand-in answers after 30 s: a 504 within PROMPT is the read timeout firing, not the answer awaited.
        r = await gw.get("/api/v1/requests/slow", params={"delay": 30})
        assert time.monotonic() - started < PROMPT
        body = assert_problem(r, 504, "upstream_timeout")
        assert "request_service" in body["detail"]
        assert (await gw.get("/api/v1/requests/slow", params={"delay": 0.05})).status_code == 200

    async def test_unanswered_connect_is_504_within_the_connect_timeout(self, env: Env):
        # A listening socket whose accept queue (backlog 0) is full: further SYNs are dropped, as for a host
        # that has vanished from the network.
        with socket.socket() as blackhole, socket.socket() as filler:
            blackhole.bind(("127.0.0.1", 0))
            blackhole.listen(0)
            filler.connect(blackhole.getsockname())
            await env.start_upstreams()
            env.urls["catalog"] = f"http://127.0.0.1:{blackhole.getsockname()[1]}"
            gw = await env.gateway(connect_timeout=0.3)
            started = time.monotonic()
            r = await gw.get("/api/v1/catalog/documents/1")
            # The kernel retries a dropped SYN for about two minutes: within PROMPT, the connect timeout fired.
            assert time.monotonic() - started < PROMPT
            body = assert_problem(r, 504, "upstream_timeout")
            assert "connect to catalog_service" in body["detail"]
            assert (await gw.get("/api/v1/stats/annual")).status_code == 200

    async def test_failures_are_counted(self, env: Env):
        await env.start_upstreams("stats")
        gw = await env.gateway()
        await gw.get("/api/v1/stats/annual")
        metrics = (await gw.get("/metrics")).text
        assert 'gateway_upstream_errors_total{kind="connect_error",upstream="stats"} 1.0' in metrics
        assert 'gateway_requests_total{method="GET",status_class="5xx",upstream="stats"} 1.0' in metrics


async def test_access_log_line_per_request(env: Env, caplog: pytest.LogCaptureFixture):
    await env.start_upstreams()
    gw = await env.gateway(access_log=True)
    caplog.set_level(logging.DEBUG, logger="gongkai.access")  # health probes are logged at DEBUG (quiet console)
    r = await gw.get("/api/v1/catalog/documents/1", headers={"X-Request-ID": "log-me"})
    await gw.get("/healthz", headers={"X-Request-ID": "log-me-too"})
    fields = [rec.fields for rec in caplog.records if rec.name == "gongkai.access"]  # type: ignore[attr-defined]
    assert r.status_code == 200
    proxied = next(f for f in fields if f["request_id"] == "log-me")
    assert proxied["status"] == 200 and proxied["upstream"] == "catalog" and proxied["duration_ms"] >= 0
    assert proxied["method"] == "GET" and proxied["path"] == "/api/v1/catalog/documents/1"
    local = next(f for f in fields if f["request_id"] == "log-me-too")
    assert local["status"] == 200 and local["upstream"] == "gateway"
    levels = {rec.fields["request_id"]: rec.levelno for rec in caplog.records  # type: ignore[attr-defined]
              if rec.name == "gongkai.access"}
    assert levels["log-me"] == logging.INFO and levels["log-me-too"] == logging.DEBUG


async def test_forwarded_headers_are_passed_on_only_from_a_trusted_proxy(env: Env):
    """Security review item 9: a caller's own X-Forwarded-For / -Proto are dropped unless its address is one of
    GONGKAI_TRUSTED_PROXIES; the gateway then appends the peer it saw."""
    await env.start_upstreams()
    spoof = {"X-Forwarded-For": "6.6.6.6", "X-Forwarded-Proto": "https"}
    untrusting = await env.gateway()
    seen = dict((await untrusting.get("/api/v1/catalog/items", headers=spoof)).json()["headers"])
    assert (seen["x-forwarded-for"], seen["x-forwarded-proto"]) == ("127.0.0.1", "http")
    trusting = await env.gateway(trusted_proxies=["127.0.0.0/8"])
    seen = dict((await trusting.get("/api/v1/catalog/items", headers=spoof)).json()["headers"])
    assert (seen["x-forwarded-for"], seen["x-forwarded-proto"]) == ("6.6.6.6, 127.0.0.1", "https")
