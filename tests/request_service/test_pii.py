"""Applicants' personal data: masked in every response, unmasked only for the organ's handling staff with a reason,
and every unmasked read audited in PiiAccess (reliability.md §5)."""

import pytest
from sqlalchemy import select

from request_service.domain.pii import applicant_fields, mask_address, mask_email, mask_id_number, mask_phone
from request_service.errors import PiiUnmaskForbidden, UnmaskReasonRequired
from request_service.models import Application, PiiAccess
from services.auth import Principal
from tests.request_service.intake_support import (
    API,
    Desk,
    add_organ,
    applicant,
    assert_no_pii,
    mobile,
    register,
    resident_id,
    submit,
)
from tests.support import assert_problem, auth


def test_masks():
    assert mask_id_number("11010519491231002X") == "110***********002X"
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("010-12345678") == "010*****5678"
    assert mask_email("zhang.san@example.com") == "z***@example.com"
    assert mask_address("北京市东城区某某街道1号") == "北京市东城区****"
    assert mask_id_number(None) is None and mask_phone("") is None
    assert "E1234" not in mask_id_number("E1234567")  # short numbers keep no more than the last character or four


async def pii_rows(db, app_id: str) -> list[PiiAccess]:
    async with db.transaction(write=False) as session:
        return list((await session.execute(select(PiiAccess).where(PiiAccess.application_id == app_id))).scalars())


@pytest.fixture
async def planted(client, desk):
    """An application with known personal data, registered by the clerk."""
    person = applicant(id_number=resident_id(born="19850615"), phone=mobile())
    body = await register(client, desk, "in_person", applicant=person)
    return body["id"], person


async def test_staff_read_is_masked(client, request_db, desk, planted):
    app_id, person = planted
    r = await client.get(f"{API}/applications/{app_id}/applicant", headers=desk.handler)
    assert r.status_code == 200, r.text
    shown = r.json()["applicant"]
    assert shown["masked"] is True and shown["name"] == "张三"
    assert shown["id_number"] == person["id_number"][:3] + "*" * 11 + person["id_number"][-4:]
    assert shown["phone"] == person["phone"][:3] + "****" + person["phone"][-4:]
    assert_no_pii(r, person["id_number"], person["phone"], person["email"], person["address"])
    assert await pii_rows(request_db, app_id) == []  # a masked read is not an access to personal data


@pytest.mark.parametrize("role", ["handler", "intake_clerk", "reply_approver"])
async def test_unmask_with_a_reason_is_audited(client, request_db, desk, planted, role):
    app_id, person = planted
    headers = auth(role, organ=desk.organ, sub=f"{role}-1")
    r = await client.get(f"{API}/applications/{app_id}/applicant", headers=headers,
                         params={"unmask": "true", "reason": "邮寄答复书需要完整地址和电话"})
    assert r.status_code == 200, r.text
    shown = r.json()["applicant"]
    assert shown["masked"] is False and shown["id_number"] == person["id_number"]
    assert shown["phone"] == person["phone"] and shown["address"] == person["address"]
    [row] = await pii_rows(request_db, app_id)
    assert (row.actor_sub, row.roles, row.reason) == (f"{role}-1", role, "邮寄答复书需要完整地址和电话")
    assert row.fields == "id_number,phone,email,address"


async def test_unmask_needs_a_reason(client, request_db, desk, planted):
    app_id, _ = planted
    for params in ({"unmask": "true"}, {"unmask": "true", "reason": " "}):
        r = await client.get(f"{API}/applications/{app_id}/applicant", headers=desk.handler, params=params)
        assert_problem(r, 422, "unmask_reason_required")
    assert await pii_rows(request_db, app_id) == []


async def test_unmask_is_refused_to_others(client, request_db, desk, planted):
    app_id, person = planted
    url = f"{API}/applications/{app_id}/applicant"
    params = {"unmask": "true", "reason": "想看看"}
    assert_problem(await client.get(url, params=params), 401)
    # Roles that may not read applications at all are refused by the access policy, before any lookup.
    for headers in (desk.drafter, desk.stats, auth("applicant", sub="citizen"), auth("auditor", organ=desk.organ)):
        r = await client.get(url, params=params, headers=headers)
        assert_problem(r, 403, "wrong_role")
        assert_no_pii(r, person["id_number"], person["phone"])
    # Handling staff of another organ cannot even see that the application exists.
    other = Desk(await add_organ(request_db))
    assert_problem(await client.get(url, params=params, headers=other.handler), 404, "application_not_found")
    # A drafter's masked read: the role may not read applications at all.
    assert_problem(await client.get(url, headers=desk.drafter), 403, "wrong_role")
    assert await pii_rows(request_db, app_id) == []


async def test_applicant_fields_refuses_without_the_role(client, request_db, desk, planted):
    app_id, _ = planted
    async with request_db.transaction() as session:
        app = await session.get(Application, app_id)
        drafter = Principal(sub="d", roles=frozenset({"drafter"}), organ=desk.organ)
        with pytest.raises(PiiUnmaskForbidden):
            applicant_fields(app, drafter, unmask=True, reason="需要")
        handler_elsewhere = Principal(sub="h", roles=frozenset({"handler"}), organ="OTHER")
        with pytest.raises(PiiUnmaskForbidden):
            applicant_fields(app, handler_elsewhere, unmask=True, reason="需要")
        handler = Principal(sub="h", roles=frozenset({"handler"}), organ=desk.organ)
        with pytest.raises(UnmaskReasonRequired):
            applicant_fields(app, handler, unmask=True, reason=None)
        assert applicant_fields(app, handler)["masked"] is True
        assert applicant_fields(app, handler, unmask=True, reason="核对身份")["masked"] is False
    assert len(await pii_rows(request_db, app_id)) == 1


async def test_no_response_carries_an_unmasked_number(client, organ, desk):
    """A sweep over every response the applicant side and the staff reads give, for every caller."""
    person = applicant(id_number=resident_id(born="19700101"), phone=mobile())
    applicant_a = auth("applicant", sub="citizen-sweep")
    planted = (person["id_number"], person["phone"], person["email"], person["address"])
    online = await client.post(f"{API}/applications", json={
        "organ_code": organ, "applicant": person, "info_title": "某某项目环评报告"}, headers=applicant_a)
    assert online.status_code == 201
    assert_no_pii(online, *planted)
    registered = await client.post(f"{API}/applications/register", headers=desk.clerk, json={
        "channel": "in_person", "applicant": person, "info_title": "某某项目环评报告"})
    assert registered.status_code == 201
    assert_no_pii(registered, *planted)
    receipt, app_id = online.json(), registered.json()["id"]
    responses = [
        await client.post(f"{API}/track", json={"tracking_no": receipt["tracking_no"],
                                                 "query_code": receipt["query_code"]}),
        await client.post(f"{API}/track", json={"tracking_no": receipt["tracking_no"], "query_code": "WRONG"}),
        await client.get(f"{API}/applications/mine", headers=applicant_a),
    ]
    for headers in (desk.clerk, desk.handler, desk.approver, desk.drafter, applicant_a, {}):
        for path in ("", "/applicant", "/history", "/deadline", "/suggestions"):
            for target in (app_id, receipt["id"]):
                responses.append(await client.get(f"{API}/applications/{target}{path}", headers=headers))
        responses.append(await client.get(f"{API}/applications", headers=headers))
    # Validation errors never echo the input back.
    bad = dict(person, postal_code="1")
    responses.append(await client.post(f"{API}/applications", json={"organ_code": organ, "applicant": bad,
                                                                     "info_title": "x"}))
    assert responses[-1].status_code == 422
    for r in responses:
        assert_no_pii(r, *planted)


async def test_the_applicant_sees_their_own_data_masked_too(client, organ):
    person = applicant()
    receipt = await submit(client, organ, applicant=person)
    r = await client.post(f"{API}/track", json={"tracking_no": receipt["tracking_no"],
                                                 "query_code": receipt["query_code"]})
    shown = r.json()["applicant"]
    assert shown["id_number"].endswith(person["id_number"][-4:]) and "*" in shown["id_number"]
    assert shown["email"] == "z***@example.com"
