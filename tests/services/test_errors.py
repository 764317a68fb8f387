"""Every error the API can return is RFC 9457 problem+json with a stable code (tested through the API)."""

import pytest
from fastapi import APIRouter

from catalog_service.config import Settings as CatalogSettings
from services.app import create_service_app
from services.errors import Conflict
from services.settings import ServiceSettings
from tests.support import assert_problem, auth, serve

ORGANS = "/api/v1/catalog/organs"
GOOD_ORGAN = {"code": "91350100M000100Y43", "name": "测试市人民政府", "kind": "peoples_government"}


async def test_unknown_route_is_404_problem(catalog):
    body = assert_problem(await catalog.get("/api/v1/catalog/no-such-thing"), 404, "route_not_found")
    assert "/api/v1/catalog/no-such-thing" in body["detail"]


async def test_wrong_method_is_405_problem(catalog):
    r = await catalog.delete("/api/v1/catalog/vocabularies")
    assert_problem(r, 405, "method_not_allowed")
    assert "GET" in r.headers["allow"]


async def test_malformed_json_is_422_with_field_errors(catalog):
    r = await catalog.post(ORGANS, headers={**auth("admin"), "content-type": "application/json"},
                           content=b'{"code": "91350100M000100Y43", "name": ')
    body = assert_problem(r, 422, "validation_error")
    assert body["errors"][0]["type"] == "json_invalid"


async def test_wrong_types_are_422_naming_each_field(catalog):
    r = await catalog.post(ORGANS, headers=auth("admin"), json={"code": 123, "name": ["x"], "kind": "castle"})
    body = assert_problem(r, 422, "validation_error")
    locs = {tuple(e["loc"]) for e in body["errors"]}
    assert {("body", "code"), ("body", "name"), ("body", "kind")} <= locs


async def test_validation_errors_do_not_echo_input(catalog):
    secret = "110101199003077777"
    r = await catalog.post(ORGANS, headers=auth("admin"), json={**GOOD_ORGAN, "name": secret * 20})
    assert_problem(r, 422)
    assert secret not in r.text


async def test_bad_check_character_is_422(catalog):
    body = assert_problem(await catalog.post(ORGANS, headers=auth("admin"), json={**GOOD_ORGAN,
                                                                                 "code": "91350100M000100Y44"}), 422)
    assert body["errors"][0]["loc"] == ["body", "code"]
    assert "GB 32100" in body["errors"][0]["msg"]


async def test_unknown_fields_are_rejected(catalog):
    r = await catalog.post(ORGANS, headers=auth("admin"), json={**GOOD_ORGAN, "version": 99, "id": "x"})
    body = assert_problem(r, 422)
    assert {tuple(e["loc"]) for e in body["errors"]} == {("body", "version"), ("body", "id")}


async def test_missing_token_is_401(catalog):
    r = await catalog.post(ORGANS, json=GOOD_ORGAN)
    assert_problem(r, 401, "authentication_required")
    # RFC 6750 §3.1: no credentials, no error code in the challenge.
    assert r.headers["www-authenticate"] == 'Bearer realm="gongkai"'
    bad = await catalog.post(ORGANS, headers={"Authorization": "Bearer x.y.z"}, json=GOOD_ORGAN)
    assert_problem(bad, 401, "token_invalid")
    assert bad.headers["www-authenticate"] == 'Bearer realm="gongkai", error="invalid_token"'


async def test_wrong_role_is_403(catalog):
    assert_problem(await catalog.post(ORGANS, headers=auth("drafter", organ="X"), json=GOOD_ORGAN), 403, "wrong_role")


async def test_duplicate_is_409(catalog):
    assert (await catalog.post(ORGANS, headers=auth("admin"), json=GOOD_ORGAN)).status_code == 201
    assert_problem(await catalog.post(ORGANS, headers=auth("admin"), json=GOOD_ORGAN), 409, "organ_code_taken")


async def test_missing_resource_is_404_with_its_own_code(catalog):
    assert_problem(await catalog.get(f"{ORGANS}/000014349"), 404, "organ_not_found")


async def test_body_over_the_limit_is_413(catalog_db):
    from catalog_service.app import create_app

    app = create_app(CatalogSettings(max_body_bytes=1000), database=catalog_db)
    async with serve(app) as client:
        r = await client.post(ORGANS, headers=auth("admin"), json={**GOOD_ORGAN, "name": "长" * 2000})
        assert_problem(r, 413, "payload_too_large")

        async def chunks():  # no Content-Length: the limit still holds while streaming
            for _ in range(10):
                yield b"x" * 500

        r = await client.post(ORGANS, headers=auth("admin"), content=chunks())
        assert_problem(r, 413, "payload_too_large")


async def test_request_id_is_echoed_generated_or_replaced(catalog):
    r = await catalog.get("/api/v1/catalog/vocabularies", headers={"X-Request-ID": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    generated = (await catalog.get("/api/v1/catalog/vocabularies")).headers["x-request-id"]
    assert len(generated) == 32
    unsafe = await catalog.get("/api/v1/catalog/vocabularies", headers={"X-Request-ID": "bad id\twith spaces"})
    assert unsafe.headers["x-request-id"] != "bad id\twith spaces"
    problem = await catalog.get("/api/v1/catalog/nope", headers={"X-Request-ID": "trace-7"})
    assert problem.json()["request_id"] == "trace-7"


def _app_with(router: APIRouter, catalog_db, settings: ServiceSettings | None = None):
    return create_service_app(name="probe", title="probe", description="", settings=settings or CatalogSettings(),
                              routers=[router], database=catalog_db)


async def test_unexpected_exception_is_500_without_internals(catalog_db):
    router = APIRouter()

    @router.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internal state at /srv/app.py line 42")

    async with serve(_app_with(router, catalog_db)) as client:
        r = await client.get("/boom")
    body = assert_problem(r, 500, "internal_error")
    assert "secret" not in r.text and "Traceback" not in r.text and body["detail"]


async def test_domain_error_keeps_its_code(catalog_db):
    class SkuTaken(Conflict):
        code = "sku_taken"

    router = APIRouter()

    @router.post("/things")
    async def create_thing() -> None:
        raise SkuTaken("Thing A-1 exists.")

    async with serve(_app_with(router, catalog_db)) as client:
        body = assert_problem(await client.post("/things"), 409, "sku_taken")
    assert body["detail"] == "Thing A-1 exists."


@pytest.mark.timeout(30)
async def test_database_down_gives_503_and_not_ready():
    from catalog_service.app import create_app

    settings = CatalogSettings(database_url="postgresql+asyncpg://nobody@127.0.0.1:1/none")
    async with serve(create_app(settings)) as client:
        assert (await client.get("/healthz")).status_code == 200
        body = assert_problem(await client.get("/readyz"), 503, "not_ready")
        assert body["checks"]["database"]["ok"] is False
        r = await client.get(f"{ORGANS}/000014349")
        assert_problem(r, 503, "database_unavailable")
        assert r.headers["retry-after"]


async def test_health_and_readiness(catalog):
    assert (await catalog.get("/healthz")).json() == {"status": "ok", "service": "catalog", "checks": {}}
    ready = (await catalog.get("/readyz")).json()
    assert ready["status"] == "ok" and ready["checks"]["database"]["ok"] is True


async def test_an_exhausted_connection_pool_is_503_service_busy(catalog_db):
    """Found by the load run: a pool checkout timing out under load was a 500; it is back-pressure, not a bug."""
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    router = APIRouter()

    @router.get("/busy")
    async def busy() -> None:
        raise PoolTimeout("QueuePool limit of size 10 overflow 10 reached, connection timed out, timeout 5.00")

    async with serve(_app_with(router, catalog_db)) as client:
        r = await client.get("/busy")
    assert_problem(r, 503, "service_busy")
    assert r.headers["retry-after"] == "1" and "QueuePool" not in r.text


async def test_validation_messages_are_in_chinese_with_english_beside(catalog):
    """Issue 14 item 7: a portal shows the 422 to citizens; every field message says it in Chinese first, the
    English after it (pydantic's own text, so nothing is lost), and the detail too."""
    r = await catalog.post(ORGANS, headers=auth("admin"), json={"code": 123, "kind": "castle", "extra": 1})
    body = assert_problem(r, 422, "validation_error")
    assert "校验未通过" in body["detail"] and "did not pass validation" in body["detail"]
    by_loc = {tuple(e["loc"]): e["msg"] for e in body["errors"]}
    assert by_loc[("body", "name")].startswith("缺少必填字段 · ") and "required" in by_loc[("body", "name")]
    assert by_loc[("body", "kind")].startswith("不是允许的取值 · ")
    assert by_loc[("body", "extra")].startswith("不允许的字段 · ")
    assert by_loc[("body", "code")].startswith("应为文本 · ")
    r = await catalog.get("/api/v1/catalog/organs", params={"limit": 0})
    [error] = assert_problem(r, 422, "validation_error")["errors"]
    assert error["msg"].startswith("超出允许范围 · ") and error["loc"] == ["query", "limit"]
