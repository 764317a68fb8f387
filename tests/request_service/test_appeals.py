"""行政复议 / 行政诉讼 cases of an application: who may record them, the filing and decision rules, If-Match, and
the event the statistics consume."""

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from request_service.domain.applications import today
from request_service.models import Application, KnownOrgan
from tests.request_service.helpers import API, Desk, organ_code
from tests.support import assert_problem, auth


@pytest.fixture
def desk() -> Desk:
    return Desk(organ_code())


async def _replied(db, organ: str, closed_on: date = date(2026, 3, 16)) -> str:
    app_id = str(uuid.uuid4())
    async with db.transaction() as session:
        if await session.get(KnownOrgan, organ) is None:
            session.add(KnownOrgan(code=organ, id=str(uuid.uuid4()), name="测试市财政局", path=f"/{organ}/"))
        session.add(Application(
            id=app_id, tracking_no=f"T{uuid.uuid4().hex[:12]}", query_code_hash="x", organ_code=organ,
            channel="online", submitted_at=datetime(2026, 2, 9, 2, tzinfo=UTC), receipt_date=date(2026, 2, 10),
            applicant_type="natural_person", applicant_name="张三", applicant_key=uuid.uuid4().hex,
            info_title="申请公开某项目的环评报告", status="replied", outcome="withheld.process_information",
            closed_on=closed_on))
    return app_id


async def _feed_head(client) -> int:
    return (await client.get("/internal/v1/events", headers=auth("service"), params={"limit": 1})).json()["head"]


async def _events(client, after: int) -> list[dict]:
    r = await client.get("/internal/v1/events", headers=auth("service"), params={"after": after, "limit": 1000})
    return r.json()["items"]


async def file(client, headers, app_id: str, **body) -> dict:
    r = await client.post(f"{API}/applications/{app_id}/appeals", headers=headers,
                          json={"kind": "reconsideration", "filed_on": "2026-04-01", **body})
    assert r.status_code == 201, r.text
    assert r.headers["etag"] == '"1"'
    return r.json()


async def test_record_and_decide_a_reconsideration(requests_client, request_db, desk):
    app_id = await _replied(request_db, desk.organ)
    app_etag = (await requests_client.get(f"{API}/applications/{app_id}", headers=desk.handler)).headers["etag"]
    head = await _feed_head(requests_client)

    appeal = await file(requests_client, desk.handler, app_id, case_no="测复〔2026〕15号", notes="申请人不服不予公开")
    assert appeal == {**appeal, "kind": "reconsideration", "outcome": "pending", "decided_on": None, "version": 1,
                      "case_no": "测复〔2026〕15号", "application_id": app_id}
    path = f"{API}/appeals/{appeal['id']}"

    assert_problem(await requests_client.patch(path, headers=desk.approver, json={"outcome": "upheld"}), 428)
    assert_problem(await requests_client.patch(path, headers={**desk.approver, "If-Match": '"9"'},
                                               json={"outcome": "upheld", "decided_on": "2026-05-20"}), 412)
    body = assert_problem(await requests_client.patch(path, headers={**desk.approver, "If-Match": '"1"'},
                                                      json={"outcome": "upheld"}), 422, "invalid_appeal")
    assert body["errors"][0]["loc"] == ["body", "decided_on"]
    assert_problem(await requests_client.patch(path, headers={**desk.approver, "If-Match": '"1"'},
                                               json={"outcome": "upheld", "decided_on": "2026-03-31"}),
                   422, "invalid_appeal")
    assert_problem(await requests_client.patch(path, headers={**desk.approver, "If-Match": '"1"'},
                                               json={"decided_on": "2026-05-20"}), 422, "invalid_appeal")
    tomorrow = (today() + timedelta(days=1)).isoformat()
    assert_problem(await requests_client.patch(path, headers={**desk.approver, "If-Match": '"1"'},
                                               json={"outcome": "upheld", "decided_on": tomorrow}),
                   422, "invalid_appeal")
    assert_problem(await requests_client.patch(path, headers={**desk.approver, "If-Match": '"1"'},
                                               json={"outcome": "reversed", "decided_on": "2026-05-20"}),
                   422, "validation_error")

    r = await requests_client.patch(path, headers={**desk.approver, "If-Match": '"1"'},
                                    json={"outcome": "corrected", "decided_on": "2026-05-20", "notes": "责令重新答复"})
    assert r.status_code == 200, r.text
    assert r.headers["etag"] == '"2"'
    assert r.json() == {**r.json(), "outcome": "corrected", "decided_on": "2026-05-20", "notes": "责令重新答复",
                        "version": 2, "case_no": "测复〔2026〕15号"}
    got = await requests_client.get(path, headers=desk.clerk)
    assert got.headers["etag"] == '"2"' and got.json()["outcome"] == "corrected"

    # Back to pending (e.g. a decision entered by mistake): the decision date goes with it.
    r = await requests_client.patch(path, headers={**desk.handler, "If-Match": '"2"'}, json={"outcome": "pending"})
    assert r.status_code == 200 and r.json()["decided_on"] is None and r.json()["version"] == 3

    # The application's own version is untouched; the statistics get the appeals with every change.
    assert (await requests_client.get(f"{API}/applications/{app_id}", headers=desk.handler)).headers["etag"] == app_etag
    events = [e for e in await _events(requests_client, head) if e["type"] == "application.appeal_changed"]
    assert [e["entity_id"] for e in events] == [app_id] * 3
    assert [e["payload"]["appeals"][0]["outcome"] for e in events] == ["pending", "corrected", "pending"]
    assert events[1]["payload"]["appeals"][0] == {"id": appeal["id"], "kind": "reconsideration",
                                                  "outcome": "corrected", "filed_on": "2026-04-01",
                                                  "decided_on": "2026-05-20"}


async def test_litigation_after_reconsideration_needs_a_reconsideration(requests_client, request_db, desk):
    app_id = await _replied(request_db, desk.organ)
    r = await requests_client.post(f"{API}/applications/{app_id}/appeals", headers=desk.handler,
                                   json={"kind": "litigation_after_reconsideration", "filed_on": "2026-06-01"})
    assert_problem(r, 409, "reconsideration_required")
    await file(requests_client, desk.handler, app_id, filed_on="2026-04-01")
    # filed before the reconsideration it would follow: still refused
    r = await requests_client.post(f"{API}/applications/{app_id}/appeals", headers=desk.handler,
                                   json={"kind": "litigation_after_reconsideration", "filed_on": "2026-03-20"})
    assert_problem(r, 409, "reconsideration_required")
    lawsuit = await file(requests_client, desk.approver, app_id, kind="litigation_after_reconsideration",
                         filed_on="2026-06-01", case_no="(2026)测01行初8号")
    direct = await file(requests_client, desk.handler, app_id, kind="litigation_direct", filed_on="2026-05-01")
    listed = (await requests_client.get(f"{API}/applications/{app_id}/appeals", headers=desk.clerk)).json()["items"]
    assert [(a["kind"], a["filed_on"]) for a in listed] == [
        ("reconsideration", "2026-04-01"), ("litigation_direct", "2026-05-01"),
        ("litigation_after_reconsideration", "2026-06-01")]
    assert {a["id"] for a in listed} >= {lawsuit["id"], direct["id"]}
    # a reconsideration on another application does not count
    other = await _replied(request_db, desk.organ)
    r = await requests_client.post(f"{API}/applications/{other}/appeals", headers=desk.handler,
                                   json={"kind": "litigation_after_reconsideration", "filed_on": "2026-06-01"})
    assert_problem(r, 409, "reconsideration_required")


async def test_filing_dates(requests_client, request_db, desk):
    app_id = await _replied(request_db, desk.organ, closed_on=date(2026, 3, 16))
    for filed_on in ("2026-03-15", (today() + timedelta(days=1)).isoformat()):
        r = await requests_client.post(f"{API}/applications/{app_id}/appeals", headers=desk.handler,
                                       json={"kind": "reconsideration", "filed_on": filed_on})
        body = assert_problem(r, 422, "invalid_appeal")
        assert body["errors"][0]["loc"] == ["body", "filed_on"]
    await file(requests_client, desk.handler, app_id, filed_on="2026-03-16")  # the day of the reply is fine
    r = await requests_client.post(f"{API}/applications/{app_id}/appeals", headers=desk.handler,
                                   json={"kind": "appeal_to_heaven", "filed_on": "2026-04-01"})
    assert_problem(r, 422, "validation_error")


async def test_roles_and_organ_scope(requests_client, request_db, desk):
    app_id = await _replied(request_db, desk.organ)
    body = {"kind": "reconsideration", "filed_on": "2026-04-01"}
    url = f"{API}/applications/{app_id}/appeals"
    assert_problem(await requests_client.post(url, json=body), 401)
    assert_problem(await requests_client.post(url, json=body, headers=desk.clerk), 403, "wrong_role")
    other = Desk(organ_code())
    assert_problem(await requests_client.post(url, json=body, headers=other.handler), 404, "application_not_found")
    assert_problem(await requests_client.get(url, headers=other.handler), 404, "application_not_found")
    appeal = await file(requests_client, desk.handler, app_id)
    path = f"{API}/appeals/{appeal['id']}"
    change = {"outcome": "upheld", "decided_on": "2026-05-01"}
    assert_problem(await requests_client.patch(path, json=change, headers={**desk.clerk, "If-Match": '"1"'}),
                   403, "wrong_role")
    assert_problem(await requests_client.patch(path, json=change, headers={**other.handler, "If-Match": '"1"'}),
                   404, "appeal_not_found")
    assert_problem(await requests_client.get(path, headers=other.handler), 404, "appeal_not_found")
    assert_problem(await requests_client.get(f"{API}/appeals/{uuid.uuid4()}", headers=desk.handler),
                   404, "appeal_not_found")
