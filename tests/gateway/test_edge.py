"""Checks at the edge, before anything is forwarded: tokens, rate limit, body size, CORS."""

import base64
import json
import time

import httpx
import jwt
import pytest

from gateway.config import GatewaySettings
from gateway.edge import RateLimiter
from services.auth import mint_token
from services.settings import AuthSettings
from tests.gateway.conftest import Env
from tests.support import assert_problem

SETTINGS = AuthSettings()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def alg_none_token() -> str:
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    now = int(time.time())
    claims = {"sub": "mallory", "roles": ["admin"], "aud": SETTINGS.audience, "iss": SETTINGS.issuer,
              "iat": now, "exp": now + 600}
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


class TestTokens:
    async def test_valid_token_is_forwarded_unchanged(self, env: Env, gw: httpx.AsyncClient):
        token = mint_token(SETTINGS, sub="u-1", roles=["drafter"], organ="330100")
        for _ in range(2):  # the second one is a cache hit
            r = await gw.get("/api/v1/catalog/documents/1", headers=bearer(token))
            assert r.status_code == 200
            headers = dict(env.upstreams["catalog"].seen[-1]["headers"])
            assert headers["authorization"] == f"Bearer {token}"

    async def test_missing_token_is_forwarded(self, env: Env, gw: httpx.AsyncClient):
        r = await gw.get("/api/v1/catalog/documents/1")
        assert r.status_code == 200
        assert "authorization" not in dict(env.upstreams["catalog"].seen[-1]["headers"])

    @pytest.mark.parametrize(("make", "code"), [
        (lambda: "not-a-jwt", "token_invalid"),
        (lambda: mint_token(SETTINGS, sub="u", roles=[], ttl_seconds=-3600), "token_expired"),
        (lambda: mint_token(AuthSettings(jwt_secret="another-secret-of-sufficient-length-123456"), sub="u",
                            roles=[]), "token_invalid"),
        (alg_none_token, "token_invalid"),
        (lambda: mint_token(SETTINGS, sub="u", roles=[], extra={"aud": "someone-else"}), "token_wrong_audience"),
        (lambda: mint_token(SETTINGS, sub="u", roles=[], extra={"iss": "evil"}), "token_invalid"),
    ], ids=["malformed", "expired", "wrong-signature", "alg-none", "wrong-audience", "wrong-issuer"])
    async def test_bad_tokens_are_refused_before_forwarding(self, env: Env, gw: httpx.AsyncClient, make, code):
        r = await gw.get("/api/v1/requests/applications", headers=bearer(make()))
        body = assert_problem(r, 401, code)
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert body["request_id"] == r.headers["x-request-id"]
        assert env.upstreams["request"].seen == []

    @pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Token abc.def.ghi"])
    async def test_non_bearer_authorization_is_refused(self, env: Env, gw: httpx.AsyncClient, header: str):
        r = await gw.get("/api/v1/stats/reports", headers={"Authorization": header})
        assert_problem(r, 401, "token_invalid")
        assert env.upstreams["stats"].seen == []

    async def test_alg_none_token_decodes_but_is_refused(self):
        # Guard on the fixture itself: the token is well-formed apart from being unsigned.
        assert jwt.get_unverified_header(alg_none_token())["alg"] == "none"


class TestRateLimit:
    async def test_429_with_retry_after_when_the_bucket_is_empty(self, env: Env):
        await env.start_upstreams()
        gw = await env.gateway(rate_limit_per_second=1, rate_limit_burst=3)
        statuses = [(await gw.get("/api/v1/catalog/documents/1")).status_code for _ in range(3)]
        assert statuses == [200, 200, 200]
        r = await gw.get("/api/v1/catalog/documents/1")
        assert_problem(r, 429, "too_many_requests")
        assert int(r.headers["retry-after"]) >= 1
        assert len(env.upstreams["catalog"].seen) == 3

    async def test_token_subjects_have_their_own_buckets(self, env: Env):
        await env.start_upstreams()
        gw = await env.gateway(rate_limit_per_second=1, rate_limit_burst=2)
        alice = bearer(mint_token(SETTINGS, sub="alice", roles=[]))
        bob = bearer(mint_token(SETTINGS, sub="bob", roles=[]))
        for _ in range(2):
            assert (await gw.get("/api/v1/catalog/x", headers=alice)).status_code == 200
        assert_problem(await gw.get("/api/v1/catalog/x", headers=alice), 429, "too_many_requests")
        assert (await gw.get("/api/v1/catalog/x", headers=bob)).status_code == 200
        assert (await gw.get("/api/v1/catalog/x")).status_code == 200  # anonymous: keyed by address

    def test_bucket_refills_at_the_rate(self, monkeypatch: pytest.MonkeyPatch):
        now = [1000.0]
        monkeypatch.setattr(time, "monotonic", lambda: now[0])
        limiter = RateLimiter(rate=2, burst=2)
        assert limiter.take("a") == 0 and limiter.take("a") == 0
        assert limiter.take("a") == pytest.approx(0.5)
        now[0] += 0.5
        assert limiter.take("a") == 0
        assert limiter.take("a") > 0
        assert RateLimiter.retry_after(0.01) == "1"


class TestBodyLimit:
    async def test_declared_oversized_body_is_413(self, env: Env):
        await env.start_upstreams()
        gw = await env.gateway(max_body_bytes=1000)
        r = await gw.post("/api/v1/requests/applications", content=b"x" * 1001)
        assert_problem(r, 413, "payload_too_large")
        assert env.upstreams["request"].seen == []
        assert (await gw.post("/api/v1/requests/applications", content=b"x" * 1000)).status_code == 200

    async def test_chunked_oversized_body_is_413(self, env: Env):
        await env.start_upstreams()
        gw = await env.gateway(max_body_bytes=100_000)

        async def chunks():
            for _ in range(20):
                yield b"y" * 10_000

        r = await gw.post("/api/v1/requests/applications", content=chunks())
        assert_problem(r, 413, "payload_too_large")


class TestCors:
    ORIGIN = "https://portal.example.gov.cn"

    async def test_preflight_from_an_allowed_origin(self, env: Env):
        await env.start_upstreams()
        gw = await env.gateway(cors_origins=[self.ORIGIN])
        r = await gw.options("/api/v1/catalog/documents", headers={
            "Origin": self.ORIGIN, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, if-match"})
        assert r.status_code == 204
        assert r.headers["access-control-allow-origin"] == self.ORIGIN
        assert "POST" in r.headers["access-control-allow-methods"]
        assert r.headers["access-control-allow-headers"] == "authorization, if-match"
        assert env.upstreams["catalog"].seen == []  # answered at the gateway

        r = await gw.get("/api/v1/catalog/documents", headers={"Origin": self.ORIGIN})
        assert r.headers["access-control-allow-origin"] == self.ORIGIN
        assert "X-Request-ID" in r.headers["access-control-expose-headers"]
        r = await gw.get("/healthz", headers={"Origin": self.ORIGIN})
        assert r.headers["access-control-allow-origin"] == self.ORIGIN

    async def test_preflight_from_another_origin_is_refused(self, env: Env):
        await env.start_upstreams()
        gw = await env.gateway(cors_origins=[self.ORIGIN])
        r = await gw.options("/api/v1/catalog/documents", headers={
            "Origin": "https://evil.example.com", "Access-Control-Request-Method": "POST"})
        assert_problem(r, 403, "cors_origin_not_allowed")
        assert "access-control-allow-origin" not in r.headers
        r = await gw.get("/api/v1/catalog/documents", headers={"Origin": "https://evil.example.com"})
        assert r.status_code == 200 and "access-control-allow-origin" not in r.headers

    async def test_no_cors_headers_when_not_configured(self, gw: httpx.AsyncClient):
        r = await gw.get("/api/v1/catalog/documents", headers={"Origin": self.ORIGIN})
        assert "access-control-allow-origin" not in r.headers

    async def test_a_browser_on_the_development_origins_of_make_run(self, env: Env, catalog_db, tmp_path):
        """`make run` allows the usual local front-end origins; a real preflight through the gateway to the real
        catalogue, then the real answer: the headers a front-end must read are exposed (issue 14 item 6)."""
        from catalog_service.app import create_app as create_catalog
        from catalog_service.config import Settings as CatalogSettings
        from scripts.run_all import service_environment
        from tests.gateway.conftest import run_server

        settings = GatewaySettings.model_validate(
            {k[len("GATEWAY_"):].lower(): v for k, v in service_environment({}).items()
             if k.startswith("GATEWAY_") and not k.endswith("_URL")})
        origin = "http://localhost:5173"  # Vite's dev server
        assert origin in settings.cors_origins and "*" not in settings.cors_origins
        await env.start_upstreams()
        catalog = create_catalog(CatalogSettings(attachment_dir=str(tmp_path)), database=catalog_db)
        env.urls["catalog"] = await env.stack.enter_async_context(run_server(catalog, lifespan="on"))
        gw = await env.gateway(cors_origins=settings.cors_origins)

        r = await gw.options("/api/v1/catalog/organs", headers={
            "Origin": origin, "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization, if-none-match"})
        assert r.status_code == 204, r.text
        assert r.headers["access-control-allow-origin"] == origin
        assert "GET" in r.headers["access-control-allow-methods"]
        assert r.headers["access-control-allow-headers"] == "authorization, if-none-match"

        r = await gw.get("/api/v1/catalog/organs", params={"limit": 1}, headers={"Origin": origin})
        assert r.status_code == 200, r.text
        assert r.headers["access-control-allow-origin"] == origin
        exposed = {h.strip().lower() for h in r.headers["access-control-expose-headers"].split(",")}
        assert {"content-disposition", "etag", "location", "link", "x-request-id"} <= exposed
        assert "access-control-allow-credentials" not in r.headers  # bearer tokens, never cookies

    def test_production_names_its_origins(self):
        from pydantic import ValidationError

        with pytest.raises(ValidationError, match="explicit"):
            GatewaySettings(environment="production", cors_origins=["*"])
        assert GatewaySettings(environment="production",
                               cors_origins=["https://portal.gz.gov.cn"]).cors_origins == ["https://portal.gz.gov.cn"]
        assert GatewaySettings(environment="production").cors_origins == []  # off unless configured

    def test_origins_from_the_environment(self, monkeypatch: pytest.MonkeyPatch):
        from gateway.config import GatewaySettings

        monkeypatch.setenv("GATEWAY_CORS_ORIGINS", "https://a.gov.cn, https://b.gov.cn")
        assert GatewaySettings().cors_origins == ["https://a.gov.cn", "https://b.gov.cn"]
        monkeypatch.setenv("GATEWAY_CORS_ORIGINS", '["https://c.gov.cn"]')
        assert GatewaySettings().cors_origins == ["https://c.gov.cn"]
