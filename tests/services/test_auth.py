"""Token verification: every bad token is a 401 problem with a specific code; JWKS works for RS256/ES256."""

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from catalog_service.config import Settings as CatalogSettings
from services.auth import mint_token
from services.settings import DEV_JWT_SECRET, AuthSettings
from tests.support import assert_problem, serve, token

ORGANS = "/api/v1/catalog/organs"
ORGAN = {"code": "91350100M000100Y43", "name": "测试市人民政府", "kind": "peoples_government"}


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def claims(**overrides):
    now = int(time.time())
    base = {"sub": "u1", "roles": ["admin"], "aud": "gongkai", "iss": "gongkai-dev", "iat": now, "exp": now + 600}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


@pytest.mark.parametrize(("name", "make", "code"), [
    ("wrong signature", lambda: jwt.encode(claims(), "another-secret-of-32-bytes-length!!"), "token_invalid"),
    ("alg none", lambda: jwt.encode(claims(), None, algorithm="none"), "token_invalid"),
    ("hs512 not allowed", lambda: jwt.encode(claims(), DEV_JWT_SECRET * 2, algorithm="HS512"), "token_invalid"),
    ("expired", lambda: jwt.encode(claims(exp=int(time.time()) - 3600), DEV_JWT_SECRET), "token_expired"),
    ("not yet valid", lambda: jwt.encode(claims(nbf=int(time.time()) + 3600), DEV_JWT_SECRET),
     "token_not_yet_valid"),
    ("wrong audience", lambda: jwt.encode(claims(aud="someone-else"), DEV_JWT_SECRET), "token_wrong_audience"),
    ("wrong issuer", lambda: jwt.encode(claims(iss="evil"), DEV_JWT_SECRET), "token_invalid"),
    ("no exp", lambda: jwt.encode(claims(exp=None), DEV_JWT_SECRET), "token_invalid"),
    ("roles not a list", lambda: jwt.encode(claims(roles="admin"), DEV_JWT_SECRET), "token_invalid"),
    ("garbage", lambda: "not.a.jwt", "token_invalid"),
])
async def test_bad_tokens_are_401(catalog, name, make, code):
    r = await catalog.post(ORGANS, headers=bearer(make()), json=ORGAN)
    assert_problem(r, 401, code)


async def test_malformed_authorization_header_is_401(catalog):
    for value in ("Basic dXNlcjpwYXNz", "Bearer", "Bearer    ", token("admin")):
        r = await catalog.post(ORGANS, headers={"Authorization": value}, json=ORGAN)
        assert_problem(r, 401, "token_invalid")


async def test_valid_token_is_accepted(catalog):
    assert (await catalog.post(ORGANS, headers=bearer(token("admin")), json=ORGAN)).status_code == 201


def test_production_refuses_the_development_secret():
    with pytest.raises(ValueError, match="must be set in production"):
        AuthSettings(environment="production")
    AuthSettings(environment="production", jwt_secret="a-real-secret-from-the-vault-0123456789")


def _b64(n: int) -> str:
    return base64.urlsafe_b64encode(n.to_bytes((n.bit_length() + 7) // 8, "big")).rstrip(b"=").decode()


@pytest.fixture
def jwks_server():
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    rn = rsa_key.public_key().public_numbers()
    en = ec_key.public_key().public_numbers()
    jwks = {"keys": [
        {"kty": "RSA", "kid": "rsa-1", "use": "sig", "alg": "RS256", "n": _b64(rn.n), "e": _b64(rn.e)},
        {"kty": "EC", "kid": "ec-1", "use": "sig", "alg": "ES256", "crv": "P-256",
         "x": base64.urlsafe_b64encode(en.x.to_bytes(32, "big")).rstrip(b"=").decode(),
         "y": base64.urlsafe_b64encode(en.y.to_bytes(32, "big")).rstrip(b"=").decode()},
    ]}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps(jwks).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/jwks.json", rsa_key, ec_key
    server.shutdown()


async def test_jwks_rs256_and_es256(catalog_db, jwks_server):
    from catalog_service.app import create_app

    url, rsa_key, ec_key = jwks_server
    settings = CatalogSettings(auth=AuthSettings(jwks_url=url, issuer="https://idp.example.gov.cn"))
    good = claims(iss="https://idp.example.gov.cn")
    async with serve(create_app(settings, database=catalog_db)) as client:
        rs = jwt.encode(good, rsa_key, algorithm="RS256", headers={"kid": "rsa-1"})
        assert (await client.post(ORGANS, headers=bearer(rs), json=ORGAN)).status_code == 201
        es = jwt.encode(good, ec_key, algorithm="ES256", headers={"kid": "ec-1"})
        r = await client.post(ORGANS, headers=bearer(es), json={**ORGAN, "code": "000014349"})
        assert r.status_code == 201, r.text
        # An HS256 token signed with the development secret must not pass a JWKS-configured service.
        hs = mint_token(AuthSettings(issuer="https://idp.example.gov.cn"), sub="x", roles=["admin"])
        assert_problem(await client.post(ORGANS, headers=bearer(hs), json=ORGAN), 401, "token_invalid")
        unknown_kid = jwt.encode(good, rsa_key, algorithm="RS256", headers={"kid": "rotated-away"})
        assert_problem(await client.post(ORGANS, headers=bearer(unknown_kid), json=ORGAN), 401, "token_invalid")
