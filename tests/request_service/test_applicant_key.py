"""The applicant key of the monthly counts (第三十五条, 国办函〔2020〕109号 按件计收) leaves the service keyed (security
review, issue 11 item 1): a handler sees the masked phone or identity number, and an unkeyed hash of the identity
next to it let them recover the full value in seconds. The exposed key is an HMAC under a server secret, so no
guess can be tested against it; the grouping behind it (repeats, monthly counts, the fee position) is unchanged and
survives a rotation of that secret."""

import hashlib

import httpx
import pytest

from request_service.app import create_app
from request_service.config import Settings
from request_service.domain.applications import today
from request_service.models import Application
from services.pagination import decode_cursor
from services.settings import AuthSettings
from tests.request_service.intake_support import API, Desk, add_organ, applicant, register, submit
from tests.support import serve


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


async def monthly(client, desk: Desk, **params) -> dict:
    r = await client.get(f"{API}/applicants/monthly-counts", params={"month": today().strftime("%Y-%m"), **params},
                         headers=desk.handler)
    assert r.status_code == 200, r.text
    return r.json()


async def masked_applicant(client, desk: Desk, app_id: str) -> dict:
    r = await client.get(f"{API}/applications/{app_id}/applicant", headers=desk.handler)
    assert r.status_code == 200, r.text
    return r.json()["applicant"]


def guesses(name: str, masked_phone: str) -> set[str]:
    """Every hash a handler could try: the 10,000 phones that fit the mask, in the identity strings an unkeyed
    key could be built from."""
    phones = [masked_phone[:3] + f"{n:04d}" + masked_phone[-4:] for n in range(10_000)]
    out: set[str] = set()
    for phone in phones:
        for identity in (phone, f"{name}|{phone}", f"{name}{phone}", f"contact|natural_person|{name}|{phone}"):
            out.add(sha(identity))
    return out


async def test_exposed_key_cannot_be_brute_forced_from_the_masked_data(client, request_db, organ, desk):
    by_id = applicant()
    by_phone = applicant(name="王五", id_type=None, id_number=None, email=None, address=None)
    first = await register(client, desk, "in_person", applicant=by_id)
    phone_app = await register(client, desk, "in_person", applicant=by_phone)
    keys = {i["applicant_name"]: i["applicant_key"] for i in (await monthly(client, desk))["items"]}

    # Not a plain hash of the identity document.
    assert keys["张三"] != sha(f"id|resident_id|{by_id['id_number']}")
    assert keys["张三"] != sha(by_id["id_number"])
    # A handler knows the name and the masked phone (138****5678): no phone that fits the mask gives the key.
    shown = await masked_applicant(client, desk, phone_app["id"])
    assert shown["masked"] is True and "*" in shown["phone"]
    assert keys["王五"] not in guesses(shown["name"], shown["phone"])
    # Nor does the key stored for grouping leave the service: not in the counts, not in the cursor.
    stored = {await stored_key(request_db, first["id"]), await stored_key(request_db, phone_app["id"])}
    page = await monthly(client, desk, limit=1)
    assert not stored & set(keys.values())
    assert not stored & {str(v) for v in decode_cursor(page["next_cursor"], 2)}


async def stored_key(db, app_id: str) -> str:
    async with db.transaction(write=False) as session:
        return (await session.get(Application, app_id)).applicant_key


async def test_the_same_applicant_still_counts_together(client, request_db, organ, desk):
    """Repeats and the monthly count group one person's applications however the form was typed (109号 第四条)."""
    person = applicant()
    typed = applicant(id_number=person["id_number"][:6] + " " + person["id_number"][6:].lower(),
                      phone=None, email="other@example.com")
    await register(client, desk, "in_person", applicant=person)
    await register(client, desk, "in_person", applicant=typed)
    await submit(client, organ, applicant=person)  # online, not yet confirmed: counted by its submission date
    await register(client, desk, "in_person", applicant=applicant(name="李四"))
    items = (await monthly(client, desk))["items"]
    assert [(i["applicant_name"], i["count"]) for i in items] == [("张三", 3), ("李四", 1)]
    assert len({i["applicant_key"] for i in items}) == 2
    # Stable from one read to the next (a handler compares lists), and paging walks the same groups.
    first, second = await monthly(client, desk, limit=1), None
    second = await monthly(client, desk, limit=1, after=first["next_cursor"])
    assert [i["applicant_key"] for i in first["items"] + second["items"]] == [i["applicant_key"] for i in items]
    assert second["next_cursor"] is None


async def test_another_organ_sees_another_key(client, request_db, organ, desk):
    """Keys are per organ: two organs' lists cannot be joined on the key to follow a person across organs."""
    person = applicant()
    other = Desk(await add_organ(request_db))
    await register(client, desk, "in_person", applicant=person)
    await register(client, other, "in_person", applicant=person)
    mine, theirs = (await monthly(client, desk))["items"], (await monthly(client, other))["items"]
    assert mine[0]["count"] == theirs[0]["count"] == 1
    assert mine[0]["applicant_key"] != theirs[0]["applicant_key"]


async def test_rotating_the_secret_keeps_the_grouping(client, request_db, organ, desk, fake_catalog):
    """After REQUEST_APPLICANT_KEY_SECRET is rotated the exposed keys change, but applications stored before the
    rotation still count with those after it, and a cursor issued before the rotation still pages."""
    person = applicant()
    for _ in range(2):
        await register(client, desk, "in_person", applicant=person)
    await register(client, desk, "in_person", applicant=applicant(name="李四"))
    before = await monthly(client, desk)
    cursor = (await monthly(client, desk, limit=1))["next_cursor"]

    rotated = create_app(settings=Settings(applicant_key_secret="rotated-applicant-key-secret-0123456789"),
                         database=request_db, catalog_transport=httpx.MockTransport(fake_catalog.handler))
    async with serve(rotated) as after_client:
        await register(after_client, desk, "in_person", applicant=person)
        after = await monthly(after_client, desk)
        rest = await monthly(after_client, desk, limit=1, after=cursor)
    assert [(i["applicant_name"], i["count"]) for i in after["items"]] == [("张三", 3), ("李四", 1)]
    assert {i["applicant_key"] for i in after["items"]}.isdisjoint({i["applicant_key"] for i in before["items"]})
    assert [i["applicant_name"] for i in rest["items"]] == ["李四"]


def test_production_refuses_the_development_secret():
    """Like the JWT secret and the 查询码 key: a production service will not start on the development default."""
    real = {"environment": "production", "query_code_key": "a-real-query-code-key-for-production-use",
            "public_base_url": "https://gongkai.example.gov.cn",
            "auth": AuthSettings(environment="production", jwt_secret="a-real-jwt-secret-from-the-vault-0123")}
    with pytest.raises(ValueError, match="REQUEST_APPLICANT_KEY_SECRET"):
        Settings(**real)
    settings = Settings(**real, applicant_key_secret="a-real-applicant-key-secret-for-production")
    assert settings.applicant_key_secret.get_secret_value() == "a-real-applicant-key-secret-for-production"
