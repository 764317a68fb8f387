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
    # Not received yet (未确认): the ledger is empty, nothing counts, and the deadline view says so rather than fail.
    before = await deadline(requests_client, desk, app_id)
    assert (before["segments"], before["days"], before["due_on"], before["provisional"]) == ([], [], None, False)
    assert (before["used"], before["left"], before["state"]) == (0, 20, "closed")  # no open segment: not running
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
        "withheld_parts": [{"description": "附件2中的个人信息", "ground": "third_party_rights",
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


async def test_the_deadline_shows_the_ledger_and_why_each_day_counts(requests_client, request_db, desk):
    """The clock's ledger (时限台账) as the deadline view shows it, legal-rules §1.4–1.7: a 补正 asked for on the day
    of receipt stops the clock that same day; the received supplement restarts it from zero; the sign-off closes the
    open segment instead of adding one. Every day of the explanation says why it counts (工作日) or not (周末, 补正中).
    Killed mutants of request_service/domain/clock.py: a switch refused on the day its segment began, a closure
    that appends a segment, gaps in the sequence, the first segment not marked as the start of the count, the day
    labels (bench-results/mutation-clock.md)."""
    app_id = await accepted(requests_client, request_db, desk, "2025-09-26")
    r = await act(requests_client, desk.handler, app_id, "request-supplement", {
        "items": ["请明确所需信息的名称或文号"], "on": "2025-09-26", "days": 10})
    assert r.json()["status"] == "supplement_requested"
    await act(requests_client, desk.clerk, app_id, "receive-supplement", {"on": "2025-10-09"})
    await act(requests_client, desk.handler, app_id, "draft-reply", {"outcome": "granted"})
    r = await act(requests_client, desk.approver, app_id, "approve-reply")  # signed off today (签发之日)
    closed_on = r.json()["closed_on"]
    assert r.json()["status"] == "replied" and closed_on > "2025-11-05"

    explained = await deadline(requests_client, desk, app_id)
    ledger = [(s["seq"], s["state"], s["restart"], s["start_on"], s["end_on"]) for s in explained["segments"]]
    assert ledger == [
        (1, "running", True, "2025-09-26", "2025-09-26"),   # received: the count starts (条例第三十一条)
        (2, "stopped", False, "2025-09-26", "2025-10-09"),  # 补正 requested the same day: stopped at once
        (3, "running", True, "2025-10-09", closed_on),      # supplement received: from zero; closed on sign-off
    ]
    assert [s["basis"][:6] for s in explained["segments"]] == ["条例第三十一", "条例第三十条", "条例第三十条"]
    # 20 working days from the day after 10/09 (10/11 is a 调休 make-up Saturday) end on 11/05.
    assert explained["state"] == "closed" and explained["due_on"] == "2025-11-05" and explained["used"] == 20

    # The restart is explained where it happens, not at receipt (the first count is no 重新计算).
    restarts = [(d["date"], d["counted"], d["note"][:11]) for d in explained["days"]
                if d["note"].startswith("重新计算")]
    assert restarts == [("2025-10-09", None, "重新计算：条例第三十条")] and explained["days"][0]["date"] == "2025-09-27"
    days = {d["date"]: (d["counted"], d["note"]) for d in explained["days"]}
    assert days["2025-09-27"][0] is None and days["2025-09-27"][1].startswith("补正中（周末）：条例第三十条")
    assert days["2025-09-29"][0] is None and days["2025-09-29"][1].startswith("补正中（工作日）：条例第三十条")
    assert days["2025-10-10"] == (1, "工作日")
    assert days["2025-10-11"] == (2, "调休上班：国庆节")
    assert days["2025-10-12"] == (None, "周末")
    assert days["2025-11-05"] == (20, "工作日") and max(days) == "2025-11-05"


async def test_an_action_dated_before_the_clock_period_began_is_refused(requests_client, request_db, desk):
    """A date before the current clock segment began (before receipt, or before the supplement arrived) is a 422 on
    `on`, not a 500 from the ledger's own guard (found classifying the mutant switch_11)."""
    app_id = await accepted(requests_client, request_db, desk, "2025-09-26")
    for action, body in [("request-supplement", {"items": ["请明确所需信息"], "on": "2025-09-25"}),
                         ("consult", {"party_kind": "third_party", "party_name": "某某公司", "on": "2025-09-20"}),
                         ("notify-fee", {"fee_method": "per_volume", "pages": 250, "on": "2025-09-20"})]:
        r = await act(requests_client, desk.handler, app_id, action, body, expect=422, expect_code="validation_error")
        assert r.json()["errors"][0]["loc"] == ["body", "on"]
    r = await act(requests_client, desk.handler, app_id, "request-supplement", {"items": ["请明确"],
                                                                                "on": "2025-09-26"})
    assert r.json()["status"] == "supplement_requested"


async def test_a_due_date_on_a_provisional_year_is_flagged(requests_client, request_db, desk, monkeypatch):
    """A due date that falls on days of a year the calendar only knows provisionally (no State Council notice yet,
    legal-rules §1.7) is flagged `provisional`, in the deadline view and on the application; one counted on official
    days is not. Kills the clock mutants that drop the flag (compute_60) or raise it only after the due date
    (compute_62)."""
    from datetime import date

    from tests.stats_service.request_clock import RequestClock

    RequestClock(monkeypatch, date(2026, 12, 15))
    late = await accepted(requests_client, request_db, desk, "2026-12-15")  # 20 working days end 2027-01-13
    early = await accepted(requests_client, request_db, desk, "2026-11-02")
    view = await deadline(requests_client, desk, late)
    assert (view["due_on"], view["provisional"]) == ("2027-01-13", True)
    app = (await requests_client.get(f"{API}/applications/{late}", headers=desk.handler)).json()
    assert (app["due_on"], app["due_provisional"]) == ("2027-01-13", True)
    view = await deadline(requests_client, desk, early)
    assert (view["due_on"], view["provisional"]) == ("2026-11-30", False)
    app = (await requests_client.get(f"{API}/applications/{early}", headers=desk.handler)).json()
    assert (app["due_on"], app["due_provisional"]) == ("2026-11-30", False)


async def test_days_used_and_left_around_the_due_day(requests_client, request_db, desk, monkeypatch):
    """Working day 20 (the due day, legal-rules §6.4 example 1: 2025-10-30) counts as used on that day itself: 19
    used and 1 left the day before, 20 and 0 on the day, still 20 and 0 after. Kills compute_68 (`day < as_of`:
    today not counted yet) and compute_143 (at least 1 day always left)."""
    from datetime import date

    from tests.stats_service.request_clock import RequestClock

    clock = RequestClock(monkeypatch, date(2025, 9, 26))
    app_id = await accepted(requests_client, request_db, desk, "2025-09-26")
    for today, used, left in [(date(2025, 10, 29), 19, 1), (date(2025, 10, 30), 20, 0),
                              (date(2025, 10, 31), 20, 0)]:
        clock.set(today)
        view = await deadline(requests_client, desk, app_id)
        assert (view["used"], view["left"], view["state"], view["due_on"]) == (used, left, "running",
                                                                               "2025-10-30"), today


async def test_a_pause_after_the_period_ran_out_has_no_due_date(requests_client, request_db, desk, monkeypatch):
    """A consultation (征求意见) begun after the 20 working days ran out pauses the clock: while it is paused the
    deadline view has no `due_on` (null, as during any pause), not the date the period had reached; that the period
    had run out stays known to the guard rails (test_guard_rails.py). The explanation of the open pause runs up to
    today. Kills compute_129 (the reached date shown while paused) and compute_51 (the explanation of an open pause
    stopping the day before today)."""
    from datetime import date

    from tests.stats_service.request_clock import RequestClock

    clock = RequestClock(monkeypatch, date(2025, 9, 26))
    app_id = await accepted(requests_client, request_db, desk, "2025-09-26")
    clock.set(date(2025, 11, 5))
    await act(requests_client, desk.handler, app_id, "consult",
              {"party_kind": "third_party", "party_name": "某某科技有限公司", "on": "2025-11-05"})
    clock.set(date(2025, 11, 10))
    view = await deadline(requests_client, desk, app_id)
    assert (view["state"], view["due_on"], view["used"], view["left"]) == ("paused", None, 20, 0)
    assert view["days"][-1]["date"] == "2025-11-10" and view["days"][-1]["note"].startswith("暂停（工作日）")
    app = (await requests_client.get(f"{API}/applications/{app_id}", headers=desk.handler)).json()
    assert app["status"] == "consulting" and app["due_on"] is None


async def test_a_long_explanation_is_cut_but_the_count_goes_on(requests_client, request_db, desk, monkeypatch):
    """The day-by-day explanation stops after MAX_EXPLAINED_DAYS entries (the size of the answer), but the count
    must not stop with it: after a consultation paused the clock for more than a year (the opinion recorded late,
    no sweep in between) the deadline view still gives the due date the application has (2026-03-27: 1 working day
    before the pause, 19 after it), and today's days used. Found classifying the clock mutants compute_1, compute_52
    and compute_104: the cap used to break the walk, so the view showed no due date and 2 days used."""
    from datetime import date

    from request_service.domain.clock import MAX_EXPLAINED_DAYS
    from tests.stats_service.request_clock import RequestClock

    clock = RequestClock(monkeypatch, date(2025, 1, 3))
    app_id = await accepted(requests_client, request_db, desk, "2025-01-02")
    await act(requests_client, desk.handler, app_id, "consult",
              {"party_kind": "third_party", "party_name": "某某科技有限公司", "on": "2025-01-03"})
    clock.set(date(2026, 3, 2))
    consultation = (await requests_client.get(f"{API}/applications/{app_id}/third-party-consultations",
                                              headers=desk.handler)).json()["items"][0]
    r = await act(requests_client, desk.handler, app_id, "record-opinion", {
        "consultation_id": consultation["id"], "opinion": "object", "on": "2026-03-02", "comment": "逾期回复"})
    assert r.json()["due_on"] == "2026-03-27"
    clock.set(date(2026, 3, 10))
    view = await deadline(requests_client, desk, app_id)
    assert (view["state"], view["due_on"], view["used"], view["left"]) == ("running", "2026-03-27", 7, 13)
    assert len(view["days"]) == MAX_EXPLAINED_DAYS and view["days"][0] == {
        "date": "2025-01-03", "weekday": "周五", "counted": 1, "note": "工作日"}
