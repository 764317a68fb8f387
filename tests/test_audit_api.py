"""The audit log through the services' APIs: every committed change and every unmasked read of personal data is
chained; failed requests leave nothing; auditors verify the chain and see tampering done in the database."""

from sqlalchemy import text

from tests.catalog_service.helpers import Staff, draft, make_organ, new_code
from tests.request_service.intake_support import Desk, add_organ, applicant, mobile, register, resident_id
from tests.support import assert_problem, auth

AUDITOR = auth("auditor", sub="auditor-1")


async def entries(client) -> list[dict]:
    r = await client.get("/internal/v1/audit", headers=AUDITOR, params={"limit": 500})
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def test_changes_are_chained_with_actor_route_and_events(catalog):
    before = len(await entries(catalog))
    organ = await make_organ(catalog)
    # A refused change (invalid body) and a read change nothing and leave no entry.
    assert_problem(await catalog.post("/api/v1/catalog/organs", headers=auth("admin"), json={"code": "bad"}), 422)
    await catalog.get("/api/v1/catalog/organs")
    staff = Staff(organ)
    doc_id, _ = await draft(catalog, staff)
    log = (await entries(catalog))[before:]
    assert [e["action"] for e in log] == ["POST /api/v1/catalog/organs", "POST /api/v1/catalog/documents"]
    organ_entry, doc_entry = (e["entry"] for e in log)
    assert organ_entry["roles"] == ["admin"] and organ_entry["events"][0]["type"] == "organ.created"
    assert doc_entry["actor"] == f"drafter@{organ}" and doc_entry["organ"] == organ
    assert [(e["entity_type"], e["entity_id"], e["version"]) for e in doc_entry["events"]] == [("document", doc_id, 1)]
    assert doc_entry["request_id"]
    assert log[1]["prev_hash"] == log[0]["hash"]
    verified = (await catalog.get("/internal/v1/audit/verify", headers=AUDITOR)).json()
    assert verified["ok"] is True and verified["head_hash"] == log[-1]["hash"]


async def test_only_auditors_and_admins_read_the_log(catalog):
    assert_problem(await catalog.get("/internal/v1/audit"), 401)
    assert_problem(await catalog.get("/internal/v1/audit/verify", headers=auth("unit_head", organ=new_code())), 403)
    assert (await catalog.get("/internal/v1/audit/verify", headers=auth("admin"))).status_code == 200


async def test_tampering_in_the_database_is_reported(catalog, catalog_db):
    organ = await make_organ(catalog)
    await draft(catalog, Staff(organ))
    await draft(catalog, Staff(organ))
    log = await entries(catalog)
    target = log[-2]["seq"]
    async with catalog_db.transaction() as session:
        if catalog_db.dialect == "postgresql":
            await session.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
        else:
            await session.execute(text("DROP TRIGGER audit_log_no_update"))
        await session.execute(text("UPDATE audit_log SET entry = replace(entry, 'drafter@', 'someone@') "
                                   "WHERE seq = :seq"), {"seq": target})
    verified = (await catalog.get("/internal/v1/audit/verify", headers=AUDITOR)).json()
    assert verified["ok"] is False
    assert verified["first_problem"] == {"seq": target, "problem": "edited"}


async def test_unmasked_reads_of_personal_data_are_chained(requests_client, request_db):
    desk = Desk(await add_organ(request_db))
    person = applicant(id_number=resident_id(born="19850615"), phone=mobile())
    app_id = (await register(requests_client, desk, "in_person", applicant=person))["id"]
    url = f"/api/v1/requests/applications/{app_id}/applicant"
    before = len(await entries(requests_client))
    assert (await requests_client.get(url, headers=desk.handler)).status_code == 200  # masked: not audited here
    r = await requests_client.get(url, headers=desk.handler, params={"unmask": "true", "reason": "核实申请人身份"})
    assert r.status_code == 200 and r.json()["applicant"]["id_number"] == person["id_number"]
    log = (await entries(requests_client))[before:]
    assert [e["action"] for e in log] == ["pii.unmask"]
    entry = log[0]["entry"]
    assert entry["application_id"] == app_id and entry["reason"] == "核实申请人身份"
    assert entry["actor"] == f"handler@{desk.organ}" and "id_number" in entry["fields"]
    assert person["id_number"] not in str(log)  # the audit log records the access, not the data
    assert (await requests_client.get("/internal/v1/audit/verify", headers=AUDITOR)).json()["ok"] is True
