"""Tokens (reliability.md API2): every bad bearer token is a 401 problem+json with a specific code — on every
service, on public and protected routes alike (a bad token is never taken for "anonymous"), and at the gateway,
which refuses it before forwarding anything.

The matrix: wrong signature, tampered payload or signature, wrong algorithm (`none` in its spellings, with and
without a signature; HS384/HS512 with the right secret; RS256/ES256 with a key of the caller's), expired (also
just past the leeway), not yet valid (nbf, iat), wrong or missing audience, wrong or missing issuer, missing or
blank subject, missing expiry, malformed claims, garbage. With RS256/ES256 configured (a JWKS on loopback): HS256
signed with the public key (algorithm confusion), `none`, a key the JWKS does not hold (also named through a
`jku` header), a kid whose key is of another type. Positive controls: the good tokens pass.
"""

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AsyncExitStack
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from services.settings import DEV_JWT_SECRET, AuthSettings
from tests.gateway.conftest import Env
from tests.support import assert_problem, serve

NOW = int(time.time())
IDP = "https://idp.example.gov.cn"
ORGAN = "11440100MC0000001N"
# A route that is public, one that is not, and a write, per service (the token is refused before anything else).
ROUTES = {
    "catalog": [("GET", "/api/v1/catalog/vocabularies"), ("GET", "/api/v1/catalog/worklists/publication"),
                ("POST", "/api/v1/catalog/documents")],
    "request": [("GET", "/api/v1/requests/vocabularies"), ("GET", "/api/v1/requests/applications"),
                ("POST", "/api/v1/requests/applications")],
    "stats": [("GET", "/api/v1/stats/vocabularies"), ("GET", "/api/v1/stats/annual-reports/reminders?year=2025"),
              ("PUT", f"/api/v1/stats/annual-reports/{ORGAN}/2025/figures")],
}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def part(data: Any) -> str:
    return b64(json.dumps(data, separators=(",", ":")).encode())


def claims(iss: str = "gongkai-dev", **overrides: Any) -> dict[str, Any]:
    # Times from the clock at the call, not at import: on a loaded 2-core box the suite reaches this module's
    # later tests more than ten minutes after import, and a token minted "valid for 10 minutes" then was expired.
    now = int(time.time())
    base = {"sub": "u-1", "name": "测试", "roles": ["drafter", "admin"], "organ": ORGAN, "aud": "gongkai",
            "iss": iss, "iat": now, "nbf": now, "exp": now + 3600}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def hs(body: dict[str, Any], key: bytes, alg: str = "HS256", header: dict[str, Any] | None = None) -> str:
    """An HMAC-signed token built by hand (PyJWT refuses to use a PEM public key as an HMAC secret — an attacker
    does not)."""
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    signing_input = f"{part(header or {'alg': alg, 'typ': 'JWT'})}.{part(body)}"
    return f"{signing_input}.{b64(hmac.new(key, signing_input.encode(), digest).digest())}"


def unsigned(body: dict[str, Any], alg: str = "none", signature: str = "") -> str:
    return f"{part({'alg': alg, 'typ': 'JWT'})}.{part(body)}.{signature}"


SECRET = DEV_JWT_SECRET.encode()
GOOD = hs(claims(), SECRET)
ATTACKER_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ATTACKER_EC = ec.generate_private_key(ec.SECP256R1())


def tampered_payload() -> str:
    header, _, signature = GOOD.split(".")
    return f"{header}.{part(claims(roles=['admin', 'secrecy_officer', 'unit_head']))}.{signature}"


def tampered_signature() -> str:
    head, _, signature = GOOD.rpartition(".")
    return f"{head}.{signature[:-4]}{'AAAA' if not signature.endswith('AAAA') else 'BBBB'}"


# name → (token, expected code). Development setup: HS256 with the shared secret.
HS_MATRIX: dict[str, tuple[Callable[[], str], str]] = {
    "wrong_signature": (lambda: hs(claims(), b"another-secret-of-sufficient-length-0123456789"), "token_invalid"),
    "tampered_payload": (tampered_payload, "token_invalid"),
    "tampered_signature": (tampered_signature, "token_invalid"),
    "alg_none": (lambda: unsigned(claims()), "token_invalid"),
    "alg_None": (lambda: unsigned(claims(), "None"), "token_invalid"),
    "alg_NONE": (lambda: unsigned(claims(), "NONE"), "token_invalid"),
    "alg_none_with_signature": (lambda: unsigned(claims(), signature=GOOD.rsplit(".", 1)[1]), "token_invalid"),
    "alg_missing": (lambda: hs(claims(), SECRET, header={"typ": "JWT"}), "token_invalid"),
    "hs384_right_secret": (lambda: hs(claims(), SECRET, "HS384"), "token_invalid"),
    "hs512_right_secret": (lambda: hs(claims(), SECRET, "HS512"), "token_invalid"),
    "rs256_own_key": (lambda: jwt.encode(claims(), ATTACKER_RSA, algorithm="RS256"), "token_invalid"),
    "es256_own_key": (lambda: jwt.encode(claims(), ATTACKER_EC, algorithm="ES256"), "token_invalid"),
    "expired": (lambda: hs(claims(exp=NOW - 3600), SECRET), "token_expired"),
    "expired_past_leeway": (lambda: hs(claims(exp=int(time.time()) - 45), SECRET), "token_expired"),
    "not_yet_valid_nbf": (lambda: hs(claims(nbf=NOW + 3600), SECRET), "token_not_yet_valid"),
    "not_yet_valid_iat": (lambda: hs(claims(iat=NOW + 3600), SECRET), "token_not_yet_valid"),
    "wrong_audience": (lambda: hs(claims(aud="another-system"), SECRET), "token_wrong_audience"),
    "wrong_audience_list": (lambda: hs(claims(aud=["a", "b"]), SECRET), "token_wrong_audience"),
    "missing_audience": (lambda: hs(claims(aud=None), SECRET), "token_invalid"),
    "wrong_issuer": (lambda: hs(claims(iss="https://evil.example.com"), SECRET), "token_invalid"),
    "missing_issuer": (lambda: hs(claims(iss=None), SECRET), "token_invalid"),
    "missing_subject": (lambda: hs(claims(sub=None), SECRET), "token_invalid"),
    "blank_subject": (lambda: hs(claims(sub=""), SECRET), "token_invalid"),
    "whitespace_subject": (lambda: hs(claims(sub="  "), SECRET), "token_invalid"),
    "subject_not_a_string": (lambda: hs(claims(sub=42), SECRET), "token_invalid"),
    "missing_expiry": (lambda: hs(claims(exp=None), SECRET), "token_invalid"),
    "expiry_not_a_number": (lambda: hs(claims(exp="tomorrow"), SECRET), "token_invalid"),
    "roles_not_a_list": (lambda: hs(claims(roles="admin"), SECRET), "token_invalid"),
    "roles_not_strings": (lambda: hs(claims(roles=[1, 2]), SECRET), "token_invalid"),
    "organ_not_a_string": (lambda: hs(claims(organ=["a", "b"]), SECRET), "token_invalid"),
    "garbage": (lambda: "not-a-jwt", "token_invalid"),
    "garbage_two_parts": (lambda: "abc.def", "token_invalid"),
    "garbage_dots": (lambda: "....", "token_invalid"),
    "garbage_base64": (lambda: f"{b64(b'x' * 30)}.{b64(b'y' * 30)}.{b64(b'z' * 30)}", "token_invalid"),
    "header_not_json": (lambda: f"{b64(b'{alg')}.{part(claims())}.{b64(b'sig')}", "token_invalid"),
    "payload_not_an_object": (lambda: hs([1, 2, 3], SECRET), "token_invalid"),  # type: ignore[arg-type]
    "huge": (lambda: "a" * 8000 + "." + "b" * 8000 + "." + "c" * 100, "token_invalid"),
}
# Well-formed tokens that must pass (the matrix would otherwise prove nothing).
HS_GOOD = {"good": lambda: GOOD, "expired_within_leeway": lambda: hs(claims(exp=int(time.time()) - 10), SECRET),
           "audience_list_with_ours": lambda: hs(claims(aud=["another-system", "gongkai"]), SECRET)}


async def assert_refused(response: httpx.Response, code: str, context: Any) -> None:
    assert response.status_code == 401, (context, response.status_code, response.text)
    body = assert_problem(response, 401, code)
    assert response.headers["www-authenticate"] == 'Bearer realm="gongkai", error="invalid_token"', context
    assert body["request_id"] == response.headers["x-request-id"], context


async def call(client: httpx.AsyncClient, method: str, path: str, token: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"}
    return await client.request(method, path, headers=headers, json={} if method != "GET" else None)


@pytest.fixture
async def apps(catalog_db, request_db, stats_db, tmp_path):
    from catalog_service.app import create_app as catalog_app
    from catalog_service.config import Settings as CatalogSettings
    from request_service.app import create_app as request_app
    from stats_service.app import create_app as stats_app

    def make(auth: AuthSettings) -> dict[str, Any]:
        return {"catalog": catalog_app(CatalogSettings(attachment_dir=str(tmp_path), auth=auth), database=catalog_db),
                "request": request_app(_request_settings(auth), database=request_db),
                "stats": stats_app(_stats_settings(auth), database=stats_db)}

    return make


def _request_settings(auth: AuthSettings) -> Any:
    from request_service.config import Settings

    return Settings(auth=auth)


def _stats_settings(auth: AuthSettings) -> Any:
    from stats_service.config import Settings

    return Settings(auth=auth)


async def test_every_bad_token_is_a_401_on_every_service(apps):
    refused = 0
    for service, app in apps(AuthSettings()).items():
        async with serve(app) as client:
            for name, (make, code) in HS_MATRIX.items():
                token = make()
                for method, path in ROUTES[service]:
                    await assert_refused(await call(client, method, path, token), code, (service, name, path))
                    refused += 1
            for name, make in HS_GOOD.items():
                for method, path in ROUTES[service]:
                    r = await call(client, method, path, make())
                    assert r.status_code != 401, (service, name, path, r.text)
    print(f"tokens: {refused} bad-token requests refused across the services")


# --- RS256 / ES256 from a JWKS (production) ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def jwks() -> Iterator[dict[str, Any]]:
    """A JWKS on a loopback port with one RSA and one EC key, as the identity platform publishes them."""
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    rn, en = rsa_key.public_key().public_numbers(), ec_key.public_key().public_numbers()

    def number(n: int, size: int | None = None) -> str:
        return b64(n.to_bytes(size or (n.bit_length() + 7) // 8, "big"))

    keys = {"keys": [
        {"kty": "RSA", "kid": "rsa-1", "use": "sig", "alg": "RS256", "n": number(rn.n), "e": number(rn.e)},
        {"kty": "EC", "kid": "ec-1", "use": "sig", "alg": "ES256", "crv": "P-256", "x": number(en.x, 32),
         "y": number(en.y, 32)}]}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(keys).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    public_pem = rsa_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo)
    yield {"url": f"http://127.0.0.1:{server.server_port}/jwks.json", "rsa": rsa_key, "ec": ec_key,
           "public_pem": public_pem, "jwk": keys["keys"][0]}
    server.shutdown()


def jwks_matrix(k: dict[str, Any]) -> dict[str, tuple[str, str]]:
    good = claims(iss=IDP)
    rsa_header = {"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}
    return {
        # Algorithm confusion: the RSA public key (PEM, or the JWK's modulus) used as an HMAC secret.
        "hs256_with_public_pem": (hs(good, k["public_pem"], header=rsa_header), "token_invalid"),
        "hs256_with_public_pem_no_kid": (hs(good, k["public_pem"]), "token_invalid"),
        "hs256_with_jwk_modulus": (hs(good, k["jwk"]["n"].encode(), header=rsa_header), "token_invalid"),
        "hs256_dev_secret": (hs(good, SECRET), "token_invalid"),
        "alg_none_with_kid": (f"{part({'alg': 'none', 'kid': 'rsa-1'})}.{part(good)}.", "token_invalid"),
        "rs256_unknown_key": (jwt.encode(good, ATTACKER_RSA, algorithm="RS256", headers={"kid": "rsa-1"}),
                              "token_invalid"),
        "rs256_unknown_kid": (jwt.encode(good, ATTACKER_RSA, algorithm="RS256", headers={"kid": "rotated"}),
                              "token_invalid"),
        "rs256_jku_to_attacker": (jwt.encode(good, ATTACKER_RSA, algorithm="RS256", headers={
            "kid": "attacker", "jku": "http://127.0.0.1:9/jwks.json"}), "token_invalid"),
        "es256_signed_for_rsa_kid": (jwt.encode(good, k["ec"], algorithm="ES256", headers={"kid": "rsa-1"}),
                                     "token_invalid"),
        "rs256_expired": (jwt.encode(claims(iss=IDP, exp=NOW - 3600), k["rsa"], algorithm="RS256",
                                     headers={"kid": "rsa-1"}), "token_expired"),
        "rs256_wrong_audience": (jwt.encode(claims(iss=IDP, aud="x"), k["rsa"], algorithm="RS256",
                                            headers={"kid": "rsa-1"}), "token_wrong_audience"),
        "rs256_dev_issuer": (jwt.encode(claims(), k["rsa"], algorithm="RS256", headers={"kid": "rsa-1"}),
                             "token_invalid"),
        "rs256_tampered": (tampered(jwt.encode(good, k["rsa"], algorithm="RS256", headers={"kid": "rsa-1"})),
                           "token_invalid"),
    }


def tampered(token: str) -> str:
    header, _, signature = token.split(".")
    return f"{header}.{part(claims(iss=IDP, roles=['admin', 'unit_head']))}.{signature}"


def jwks_good(k: dict[str, Any]) -> list[str]:
    return [jwt.encode(claims(iss=IDP), k["rsa"], algorithm="RS256", headers={"kid": "rsa-1"}),
            jwt.encode(claims(iss=IDP), k["ec"], algorithm="ES256", headers={"kid": "ec-1"})]


async def test_every_bad_token_is_a_401_with_a_jwks(apps, jwks):
    auth = AuthSettings(jwks_url=jwks["url"], issuer=IDP)
    for service, app in apps(auth).items():
        async with serve(app) as client:
            for name, (token, code) in jwks_matrix(jwks).items():
                for method, path in ROUTES[service]:
                    await assert_refused(await call(client, method, path, token), code, (service, name, path))
            for token in jwks_good(jwks):
                for method, path in ROUTES[service]:
                    r = await call(client, method, path, token)
                    assert r.status_code != 401, (service, path, r.text)


# --- at the gateway ----------------------------------------------------------------------------------------------

@pytest.fixture
async def env() -> Any:
    async with AsyncExitStack() as stack:
        yield Env(stack)


async def test_the_gateway_refuses_every_bad_token_before_forwarding(env, jwks):
    await env.start_upstreams()
    for auth, matrix, good in (
            (AuthSettings(), {n: (m(), c) for n, (m, c) in HS_MATRIX.items()}, [m() for m in HS_GOOD.values()]),
            (AuthSettings(jwks_url=jwks["url"], issuer=IDP), jwks_matrix(jwks), jwks_good(jwks))):
        gw = await env.gateway(auth=auth)
        for name, (token, code) in matrix.items():
            for routes in ROUTES.values():
                method, path = routes[1]
                await assert_refused(await call(gw, method, path, token), code, ("gateway", name, path))
        assert all(u.seen == [] for u in env.upstreams.values())  # nothing was forwarded
        for token in good:
            for service, routes in ROUTES.items():
                method, path = routes[1]
                r = await call(gw, method, path, token)
                assert r.status_code == 200 and env.upstreams[service].seen[-1]["path"] == path.split("?")[0], r.text
        for upstream in env.upstreams.values():
            upstream.seen.clear()
