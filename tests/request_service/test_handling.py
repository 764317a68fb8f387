"""Handling through the staff API, on the statutory clock — the worked examples of legal-rules §6.4 are here."""

import pytest

from request_service.config import Settings
from request_service.domain.handling import expire
from tests.request_service.helpers import API, Desk, accepted, act, deadline, insert_application, organ_code
from tests.support import assert_problem, auth


@pytest.fixture
def desk() -> Desk:
    return Desk(organ_code())


async def test_confirmation_starts_the_clock_on_the_confirmation_date(requests_client, request_db, desk):
    from datetime import date

    app_id = await insert_application(request_db, desk.organ, submitted=date(2025, 9, 25))
    r = await requests_client.get(f"{API}/applications/{app_id}", headers=desk.handler)
    assert r.json()["status"] == "received" and r.json()["receipt_date"] is None and r.json()["due_on"] is None
    r = await act(requests_client, desk.clerk, app_id, "confirm", {"on": "2025-09-26", "method": "电话确认"})
    body = r.json()
    assert body["status"] == "accepted" and body["receipt_date"] == "2025-09-26"
    # Example 1 (国庆/中秋 2025): 补正告知 by 10/13, reply by 10/30.
    assert body["due_on"] == "2025-10-30" and body["supplement_notice_due_on"] == "2025-10-13"
    explained = await deadline(requests_client, desk, app_id)
    counted = {d["date"]: d["counted"] for d in explained["days"]}
    assert counted["2025-09-28"] == 1 and counted["2025-10-11"] == 6 and counted["2025-10-30"] == 20
    notes = {d["date"]: d["note"] for d in explained["days"]}
    assert notes["2025-10-01"] == "节假日：国庆节" and notes["2025-09-28"] == "调休上班：国庆节"
    assert explained["allowed"] == 20 and explained["provisional"] is False


@pytest.mark.parametrize(("receipt", "due"), [
    ("2026-02-10", "2026-03-16"), ("2026-02-13", "2026-03-19"), ("2025-12-29", "2026-01-27"),
    ("2025-04-25", "2025-05-27"), ("2026-09-18", "2026-10-22"), ("2025-01-20", "2025-02-21"),
])
async def test_worked_deadlines(requests_client, request_db, desk, receipt, due):
    app_id = await accepted(requests_client, request_db, desk, receipt)
    assert (await deadline(requests_client, desk, app_id))["due_on"] == due


async def test_extension_once_up_to_20_days(requests_client, request_db, desk):
    # An extension is decided before the period ends (条例第三十三条第二款, test_guard_rails.py): the application is
    # received three days before the service's today, and the worked example (received 2026-02-10, 20 + 20 working
    # days → 2026-04-14, legal-rules §6.4 example 2) is checked on the calendar.
    from datetime import timedelta

    from request_service.domain.applications import today

    example = await requests_client.get(f"{API}/calendar/add-working-days", params={"start": "2026-02-10",
                                                                                   "days": 40})
    assert example.json()["date"] == "2026-04-14"
    receipt = (today() - timedelta(days=3)).isoformat()
    app_id = await accepted(requests_client, request_db, desk, receipt)
    await act(requests_client, desk.handler, app_id, "extend", {"days": 20, "comment": "需要检索"},
              expect=403, expect_code="wrong_role")
    await act(requests_client, desk.approver, app_id, "extend", {"days": 21, "comment": "超过上限"},
              expect=422, expect_code="validation_error")
    r = await act(requests_client, desk.approver, app_id, "extend", {"days": 20, "comment": "信息量大，需要检索"})
    extended = (await requests_client.get(f"{API}/calendar/add-working-days", params={"start": receipt,
                                                                                     "days": 40})).json()["date"]
    assert r.json()["due_on"] == extended and r.json()["extension_approved_by"] == f"approver@{desk.organ}"
    await act(requests_client, desk.approver, app_id, "extend", {"days": 5, "comment": "再次延期"},
              expect=409, expect_code="extension_already_granted")
    letters = (await requests_client.get(f"{API}/applications/{app_id}/letters",
                                         headers=desk.handler)).json()["items"]
    assert "extension_notice" in [letter["kind"] for letter in letters]


async def test_third_party_consultation_pauses_the_clock(requests_client, request_db, desk):
    """legal-rules §6.4 example 1: letter sent on WD 7 (10/13), received 10/14, party due 11/04; reply 10/24,
    clock resumes 10/27 with 13 working days left → 2025-11-12."""
    app_id = await accepted(requests_client, request_db, desk, "2025-09-26")
    r = await act(requests_client, desk.handler, app_id, "consult", {
        "party_kind": "third_party", "party_name": "某某科技有限公司", "on": "2025-10-13",
        "received_by_party_on": "2025-10-14"})
    assert r.json()["status"] == "consulting" and r.json()["due_on"] is None
    consultations = (await requests_client.get(f"{API}/applications/{app_id}/third-party-consultations",
                                               headers=desk.handler)).json()["items"]
    assert consultations[0]["due_on"] == "2025-11-04"
    paused = await deadline(requests_client, desk, app_id)
    assert paused["state"] == "paused" and paused["used"] == 7 and paused["left"] == 13
    r = await act(requests_client, desk.handler, app_id, "record-opinion", {
        "consultation_id": consultations[0]["id"], "opinion": "object", "on": "2025-10-24",
        "comment": "涉及商业秘密"})
    assert r.json()["status"] == "accepted" and r.json()["due_on"] == "2025-11-12"
    explained = await deadline(requests_client, desk, app_id)
    notes = {d["date"]: d for d in explained["days"]}
    assert notes["2025-10-20"]["counted"] is None and notes["2025-10-20"]["note"].startswith("暂停")
    assert notes["2025-10-27"]["counted"] == 8


async def test_co_author_silence_is_consent_and_the_clock_resumes(requests_client, request_db, desk):
    from datetime import date

    app_id = await accepted(requests_client, request_db, desk, "2025-09-26")
    await act(requests_client, desk.handler, app_id, "consult", {
        "party_kind": "co_author_organ", "party_name": "示例市发展改革委", "on": "2025-10-13"})
    async with request_db.transaction() as session:
        assert await expire(session, date(2025, 11, 20), Settings()) == 1
    r = await requests_client.get(f"{API}/applications/{app_id}", headers=desk.handler)
    assert r.json()["status"] == "accepted"
    consultation = (await requests_client.get(f"{API}/applications/{app_id}/third-party-consultations",
                                              headers=desk.handler)).json()["items"][0]
    assert consultation["opinion"] == "no_reply" and "视为同意" in consultation["reasons"]
    # Paused from the day after 10/13 to its due date 11/03 (15 WD after 10/13); resumes 11/04 with 13 left.
    assert r.json()["due_on"] == "2025-11-20"


async def test_supplement_restarts_the_clock_and_only_once(requests_client, request_db, desk):
    from datetime import date

    app_id = await accepted(requests_client, request_db, desk, "2025-09-26")
    r = await act(requests_client, desk.handler, app_id, "request-supplement", {
        "items": ["请明确所需信息的名称或文号", "请提供身份证明"], "on": "2025-10-09", "days": 10})
    body = r.json()
    assert body["status"] == "supplement_requested" and body["due_on"] is None
    assert body["supplement_due_on"] == "2025-10-22"  # 10/11 is a 调休 make-up Saturday
    r = await act(requests_client, desk.clerk, app_id, "receive-supplement", {"on": "2025-10-20"})
    assert r.json()["due_on"] == "2025-11-17"  # 20 working days counted again from the day after 10/20
    await act(requests_client, desk.handler, app_id, "request-supplement", {"items": ["再次补正"]},
              expect=409, expect_code="invalid_transition")
    # A second application never supplemented is closed as abandoned by the sweep.
    other = await accepted(requests_client, request_db, desk, "2025-09-26")
    await act(requests_client, desk.handler, other, "request-supplement", {"items": ["补充"], "on": "2025-10-09",
                                                                           "days": 10})
    await act(requests_client, desk.handler, other, "close-unsupplemented", {"on": "2025-10-20"},
              expect=409, expect_code="closure_period_running")
    async with request_db.transaction() as session:
        await expire(session, date(2025, 10, 27), Settings())
    closed = (await requests_client.get(f"{API}/applications/{other}", headers=desk.handler)).json()
    assert closed["status"] == "closed" and closed["outcome"] == "other.no_supplement"


async def test_fee_notice_pauses_and_payment_resumes(requests_client, request_db, desk):
    from datetime import date

    app_id = await accepted(requests_client, request_db, desk, "2025-09-26")
    r = await act(requests_client, desk.handler, app_id, "notify-fee", {"fee_method": "per_volume", "pages": 250,
                                                                        "on": "2025-10-13"})
    body = r.json()
    assert body["status"] == "awaiting_fee" and body["fee_amount"] == "4700.00" and body["due_on"] is None
    assert body["fee_due_on"] == "2025-11-10"
    await act(requests_client, desk.handler, app_id, "record-payment", {"amount": "4000", "on": "2025-10-20"},
              expect=422, expect_code="validation_error")
    r = await act(requests_client, desk.handler, app_id, "record-payment", {"amount": "4700.00", "on": "2025-10-24"})
    assert r.json()["status"] == "accepted" and r.json()["due_on"] == "2025-11-12"
    unpaid = await accepted(requests_client, request_db, desk, "2025-09-26")
    await act(requests_client, desk.handler, unpaid, "notify-fee", {"fee_method": "per_volume", "pages": 31,
                                                                    "on": "2025-10-13"})
    async with request_db.transaction() as session:
        await expire(session, date(2025, 11, 11), Settings())
    closed = (await requests_client.get(f"{API}/applications/{unpaid}", headers=desk.handler)).json()
    assert closed["status"] == "closed" and closed["outcome"] == "other.fee_unpaid"


async def test_no_fee_is_no_notice(requests_client, request_db, desk):
    app_id = await accepted(requests_client, request_db, desk, "2025-09-26")
    await act(requests_client, desk.handler, app_id, "notify-fee", {"fee_method": "per_volume", "pages": 30},
              expect=422, expect_code="validation_error")


async def test_reply_is_drafted_and_signed_off_by_someone_else(requests_client, request_db, desk):
    app_id = await accepted(requests_client, request_db, desk, "2025-09-26")
    await act(requests_client, desk.handler, app_id, "draft-reply", {"outcome": "withheld.third_party_rights"},
              expect=422, expect_code="validation_error")
    r = await act(requests_client, desk.handler, app_id, "draft-reply", {
        "outcome": "withheld.third_party_rights", "articles": ["条例第十五条"], "comment": "涉及第三方商业秘密"})
    assert r.json()["status"] == "reply_drafted"
    both = auth("handler", "reply_approver", organ=desk.organ, sub=f"handler@{desk.organ}")
    await act(requests_client, both, app_id, "approve-reply", expect=403, expect_code="wrong_role")
    r = await act(requests_client, desk.approver, app_id, "approve-reply", {"comment": "同意"})
    body = r.json()
    assert body["status"] == "replied" and body["outcome"] == "withheld.third_party_rights" and body["closed_on"]
    letters = (await requests_client.get(f"{API}/applications/{app_id}/letters",
                                         headers=desk.handler)).json()["items"]
    assert "reply" in [letter["kind"] for letter in letters]
    history = (await requests_client.get(f"{API}/applications/{app_id}/history",
                                         headers=desk.handler)).json()["items"]
    assert [s["action"] for s in history] == ["confirm", "draft_reply", "approve_reply"]
    assert [s["role"] for s in history] == ["intake_clerk", "handler", "reply_approver"]


async def test_partial_grant_records_what_was_withheld(requests_client, request_db, desk):
    app_id = await accepted(requests_client, request_db, desk, "2025-09-26")
    await act(requests_client, desk.handler, app_id, "draft-reply", {"outcome": "partially_granted"},
              expect=422, expect_code="validation_error")
    r = await act(requests_client, desk.handler, app_id, "draft-reply", {
        "outcome": "partially_granted", "comment": "区分处理",
        "withheld_parts": [{"description": "附件2中的个人信息", "ground": "保护第三方合法权益",
                            "article": "条例第十五条"}]})
    assert r.json()["withheld_parts"][0]["article"] == "条例第十五条"


async def test_roles_organ_and_preconditions(requests_client, request_db, desk):
    app_id = await insert_application(request_db, desk.organ, submitted=__import__("datetime").date(2025, 9, 26))
    await act(requests_client, desk.handler, app_id, "confirm", {"on": "2025-09-26", "method": "电话"},
              expect=403, expect_code="wrong_role")
    other = Desk(organ_code())
    assert_problem(await requests_client.post(f"{API}/applications/{app_id}/confirm",
                                              headers={**other.clerk, "If-Match": '"1"'},
                                              json={"on": "2025-09-26", "method": "电话"}), 404,
                   "application_not_found")
    assert_problem(await requests_client.get(f"{API}/applications/{app_id}",
                                             headers=auth("applicant", sub="someone")), 403, "wrong_role")
    assert_problem(await requests_client.get(f"{API}/applications/{app_id}"), 401, "authentication_required")
    assert_problem(await requests_client.post(f"{API}/applications/{app_id}/confirm", headers=desk.clerk,
                                              json={"on": "2025-09-26", "method": "电话"}),
                   428, "precondition_required")
    assert_problem(await requests_client.post(f"{API}/applications/{app_id}/confirm",
                                              headers={**desk.clerk, "If-Match": '"7"'},
                                              json={"on": "2025-09-26", "method": "电话"}), 412, "precondition_failed")
    await act(requests_client, desk.clerk, app_id, "confirm", {"on": "2099-01-01", "method": "电话"},
              expect=422, expect_code="validation_error")
    await act(requests_client, desk.clerk, app_id, "draft-reply", {"outcome": "granted"},
              expect=403, expect_code="wrong_role")
    await act(requests_client, desk.handler, app_id, "draft-reply", {"outcome": "granted"},
              expect=409, expect_code="invalid_transition")


async def test_work_lists(requests_client, request_db, desk):
    from datetime import date

    overdue = await accepted(requests_client, request_db, desk, "2025-09-26")
    waiting = await accepted(requests_client, request_db, desk, "2025-09-26")
    await act(requests_client, desk.handler, waiting, "consult", {"party_kind": "third_party", "party_name": "某公司"})
    unconfirmed = await insert_application(request_db, desk.organ, submitted=date(2026, 1, 5))

    async def view(name: str) -> set[str]:
        r = await requests_client.get(f"{API}/applications", headers=desk.handler, params={"view": name})
        assert r.status_code == 200, r.text
        return {i["id"] for i in r.json()["items"]}

    assert overdue in await view("overdue") and waiting not in await view("overdue")
    assert await view("waiting_third_party") == {waiting}
    assert await view("awaiting_confirmation") == {unconfirmed}
    assert {overdue, waiting, unconfirmed} <= await view("all")
    assert_problem(await requests_client.get(f"{API}/applications", headers=desk.handler,
                                             params={"view": "nonsense"}), 422, "validation_error")
    other = Desk(organ_code())
    assert await (lambda: view("all"))() and overdue not in {
        i["id"] for i in (await requests_client.get(f"{API}/applications", headers=other.handler)).json()["items"]}


async def test_events_carry_statistics_and_no_personal_data(requests_client, request_db, desk):
    app_id = await accepted(requests_client, request_db, desk, "2025-09-26")
    await act(requests_client, desk.handler, app_id, "draft-reply", {"outcome": "granted"})
    await act(requests_client, desk.approver, app_id, "approve-reply")
    feed = (await requests_client.get("/internal/v1/events", headers=auth("service"),
                                      params={"limit": 1000})).json()
    mine = [e for e in feed["items"] if e["entity_id"] == app_id]
    assert [e["type"] for e in mine][-3:] == ["application.confirm", "application.draft_reply",
                                              "application.approve_reply"]
    last = mine[-1]["payload"]
    assert last["organ_code"] == desk.organ and last["applicant_type"] == "natural_person"
    assert last["channel"] == "online" and last["receipt_date"] == "2025-09-26" and last["outcome"] == "granted"
    text = str(mine)
    assert "张三" not in text and "13812345678" not in text and "11010519491231002X" not in text
