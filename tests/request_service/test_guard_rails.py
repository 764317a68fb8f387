"""The statute as guard rails (legal-rules §1.13): what the state machine refuses, and the breaches it records.

Each case here was first seen as a 200 when 27 legal cases were replayed through the API: an extension granted
after the 20 working days had run out, a 第三十五条 deferral on an expired case or dated before receipt, closures as
三（六）1 / 三（六）2 / 三（四）3 with no 补正 or fee notice ever sent, a late 补正 notice accepted with a comment only.
The dates of the statute are Asia/Shanghai dates; "today" is the service's own (request_service.domain.applications).
"""

from datetime import date, timedelta

import pytest

from request_service.domain.applications import today
from services.outbox import EventRead
from stats_service.domain.ingest import apply_request_events
from stats_service.models import ApplicationFact
from tests.request_service.helpers import API, Desk, accepted, act, organ_code
from tests.support import assert_problem, auth

EXPIRED_RECEIPT = "2025-09-26"  # legal-rules §6.4 example 1: 补正告知 by 2025-10-13, reply by 2025-10-30


@pytest.fixture
def desk() -> Desk:
    return Desk(organ_code())


def recent() -> str:
    """A receipt date whose 20 working days are still running today (three calendar days ago)."""
    return (today() - timedelta(days=3)).isoformat()


async def read(client, desk: Desk, app_id: str) -> dict:
    r = await client.get(f"{API}/applications/{app_id}", headers=desk.handler)
    assert r.status_code == 200, r.text
    return r.json()


async def letter_kinds(client, desk: Desk, app_id: str) -> list[str]:
    r = await client.get(f"{API}/applications/{app_id}/letters", headers=desk.handler)
    return [letter["kind"] for letter in r.json()["items"]]


# --- 延期 (条例第三十三条第二款) ------------------------------------------------------------------------------------


async def test_extension_after_the_period_ran_out_is_refused(requests_client, request_db, desk):
    app_id = await accepted(requests_client, request_db, desk, EXPIRED_RECEIPT)
    before = await read(requests_client, desk, app_id)
    assert before["overdue"] is True and before["due_on"] == "2025-10-30"
    body = assert_problem(
        await act(
            requests_client,
            desk.approver,
            app_id,
            "extend",
            {"days": 20, "comment": "信息量大，需要检索"},
            expect=409,
            expect_code="reply_period_expired",
        ),
        409,
        "reply_period_expired",
    )
    assert "条例第三十三条第二款" in body["detail"] and "2025-10-30" in body["detail"]
    after = await read(requests_client, desk, app_id)
    # Nothing changed: still overdue on the original date, no extension, no backdated notice letter.
    assert after["overdue"] is True and after["due_on"] == "2025-10-30" and after["extension_days"] == 0
    assert after["version"] == before["version"]
    assert "extension_notice" not in await letter_kinds(requests_client, desk, app_id)


async def test_extension_while_consulting_after_the_period_ran_out_is_refused(requests_client, request_db, desk):
    """The clock is paused (征求意见), but the 20 working days had already run out before the letter was sent."""
    app_id = await accepted(requests_client, request_db, desk, EXPIRED_RECEIPT)
    await act(
        requests_client,
        desk.handler,
        app_id,
        "consult",
        {"party_kind": "third_party", "party_name": "某某科技有限公司", "on": "2025-11-05"},
    )
    assert_problem(
        await act(
            requests_client,
            desk.approver,
            app_id,
            "extend",
            {"days": 10, "comment": "等待第三方意见"},
            expect=409,
            expect_code="reply_period_expired",
        ),
        409,
        "reply_period_expired",
    )


async def test_extension_in_time_records_decision_date_and_approver_once(requests_client, request_db, desk):
    app_id = await accepted(requests_client, request_db, desk, recent())
    r = await act(requests_client, desk.approver, app_id, "extend", {"days": 20, "comment": "信息量大，需要检索"})
    body = r.json()
    assert body["extension_days"] == 20 and body["extension_approved_by"] == f"approver@{desk.organ}"
    assert body["extension_decided_on"] == today().isoformat()
    again = assert_problem(
        await act(
            requests_client,
            desk.approver,
            app_id,
            "extend",
            {"days": 5, "comment": "再次延期"},
            expect=409,
            expect_code="extension_already_granted",
        ),
        409,
        "extension_already_granted",
    )
    assert "条例第三十三条第二款" in again["detail"]


async def test_extension_on_the_last_day_is_allowed_and_the_day_after_refused(
    requests_client, request_db, desk, monkeypatch
):
    """The period ends at 24:00 of its 20th working day (legal-rules §6.3), counted on the clock ledger: a pause
    (征求意见) moves the end, calendar days alone do not. "Today" is set with the replay's test clock."""
    from tests.stats_service.request_clock import RequestClock

    clock = RequestClock(monkeypatch, date(2025, 9, 26))
    last_day, day_after, paused = [await accepted(requests_client, request_db, desk, EXPIRED_RECEIPT) for _ in range(3)]
    clock.set(date(2025, 10, 13))
    await act(
        requests_client,
        desk.handler,
        paused,
        "consult",
        {"party_kind": "third_party", "party_name": "某某科技有限公司", "on": "2025-10-13"},
    )  # 7 used, 13 left
    clock.set(date(2025, 10, 31))  # the day after working day 20 of example 1
    assert_problem(
        await act(
            requests_client,
            desk.approver,
            day_after,
            "extend",
            {"days": 20, "comment": "信息量大，需要检索"},
            expect=409,
            expect_code="reply_period_expired",
        ),
        409,
        "reply_period_expired",
    )
    # Still consulting: calendar time is past 10/30, but only 7 working days are used.
    r = await act(requests_client, desk.approver, paused, "extend", {"days": 10, "comment": "等待第三方意见"})
    assert r.json()["extension_days"] == 10 and r.json()["extension_decided_on"] == "2025-10-31"
    clock.set(date(2025, 10, 30))  # working day 20 itself
    r = await act(requests_client, desk.approver, last_day, "extend", {"days": 20, "comment": "信息量大，需要检索"})
    assert r.json()["extension_decided_on"] == "2025-10-30" and r.json()["due_on"] == "2025-11-27"


# --- 延迟答复 (条例第三十五条) -------------------------------------------------------------------------------------


async def test_deferral_after_the_period_ran_out_is_refused(requests_client, request_db, desk):
    app_id = await accepted(requests_client, request_db, desk, EXPIRED_RECEIPT)
    later = (today() + timedelta(days=60)).isoformat()
    body = assert_problem(
        await act(
            requests_client,
            desk.approver,
            app_id,
            "defer",
            {"due_on": later, "comment": "申请数量明显超过合理范围，理由合理"},
            expect=409,
            expect_code="reply_period_expired",
        ),
        409,
        "reply_period_expired",
    )
    assert "条例第三十五条" in body["detail"]
    after = await read(requests_client, desk, app_id)
    assert after["deferred_due_on"] is None and after["overdue"] is True


async def test_deferral_dates_are_checked(requests_client, request_db, desk):
    receipt = date.fromisoformat(recent())
    app_id = await accepted(requests_client, request_db, desk, receipt.isoformat())
    due = date.fromisoformat((await read(requests_client, desk, app_id))["due_on"])
    reasons = "申请数量明显超过合理范围，理由合理"
    # The 第三十五条 steps before a deferral (test_statute_procedures.py): asked to explain, reasons recorded.
    await act(requests_client, desk.handler, app_id, "request-explanation", {"comment": "一个月内提出申请120件"})
    await act(requests_client, desk.handler, app_id, "record-explanation", {"comment": "课题研究需要，逐件核对"})
    for bad in (receipt - timedelta(days=1), today() - timedelta(days=1), due):
        body = assert_problem(
            await act(
                requests_client,
                desk.approver,
                app_id,
                "defer",
                {"due_on": bad.isoformat(), "comment": reasons},
                expect=422,
                expect_code="deferred_due_date_invalid",
            ),
            422,
            "deferred_due_date_invalid",
        )
        assert "条例第三十五条" in body["detail"], bad
    r = await act(
        requests_client,
        desk.approver,
        app_id,
        "defer",
        {"due_on": (due + timedelta(days=14)).isoformat(), "comment": reasons},
    )
    assert r.json()["due_on"] == (due + timedelta(days=14)).isoformat()


# --- closures that presuppose a notice ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "outcome", ["other.no_supplement", "other.fee_unpaid", "unable.still_unclear_after_supplement"]
)
async def test_closure_without_its_notice_is_refused(requests_client, request_db, desk, outcome):
    app_id = await accepted(requests_client, request_db, desk, EXPIRED_RECEIPT)
    body = assert_problem(
        await act(
            requests_client,
            desk.handler,
            app_id,
            "draft-reply",
            {"outcome": outcome, "comment": "视为放弃"},
            expect=409,
            expect_code="closure_notice_missing",
        ),
        409,
        "closure_notice_missing",
    )
    assert "条例第三十条" in body["detail"] or "国办函〔2020〕109号" in body["detail"]
    assert (await read(requests_client, desk, app_id))["outcome"] is None


async def test_closures_after_their_notices(requests_client, request_db, desk):
    # 三（四）3: a supplement was asked for and received, and the request is still unclear.
    unclear = await accepted(requests_client, request_db, desk, EXPIRED_RECEIPT)
    await act(
        requests_client,
        desk.handler,
        unclear,
        "request-supplement",
        {"items": ["请明确所需信息的名称"], "on": "2025-10-09", "days": 10},
    )
    await act(requests_client, desk.clerk, unclear, "receive-supplement", {"on": "2025-10-20"})
    # Supplemented in time: 视为放弃 (三（六）1) is not open to the organ.
    assert_problem(
        await act(
            requests_client,
            desk.handler,
            unclear,
            "draft-reply",
            {"outcome": "other.no_supplement", "comment": "视为放弃"},
            expect=409,
            expect_code="closure_notice_missing",
        ),
        409,
        "closure_notice_missing",
    )
    r = await act(
        requests_client,
        desk.handler,
        unclear,
        "draft-reply",
        {"outcome": "unable.still_unclear_after_supplement", "comment": "补正后仍不明确"},
    )
    assert r.json()["status"] == "reply_drafted"
    # 三（六）2: a fee notice was sent and paid — "fee unpaid" contradicts the record.
    paid = await accepted(requests_client, request_db, desk, EXPIRED_RECEIPT)
    await act(
        requests_client, desk.handler, paid, "notify-fee", {"fee_method": "per_volume", "pages": 31, "on": "2025-10-13"}
    )
    await act(requests_client, desk.handler, paid, "record-payment", {"amount": "10.00", "on": "2025-10-20"})
    assert_problem(
        await act(
            requests_client,
            desk.handler,
            paid,
            "draft-reply",
            {"outcome": "other.fee_unpaid", "comment": "逾期未缴费"},
            expect=409,
            expect_code="closure_notice_missing",
        ),
        409,
        "closure_notice_missing",
    )


async def test_a_supplement_notice_cannot_be_closed_before_its_period(requests_client, request_db, desk):
    app_id = await accepted(requests_client, request_db, desk, EXPIRED_RECEIPT)
    await act(
        requests_client,
        desk.handler,
        app_id,
        "request-supplement",
        {"items": ["请明确所需信息的名称"], "on": "2025-10-09", "days": 10},
    )
    body = assert_problem(
        await act(
            requests_client,
            desk.handler,
            app_id,
            "close-unsupplemented",
            {"on": "2025-10-22"},
            expect=409,
            expect_code="closure_period_running",
        ),
        409,
        "closure_period_running",
    )
    assert "条例第三十条" in body["detail"]
    r = await act(requests_client, desk.handler, app_id, "close-unsupplemented", {"on": "2025-10-23"})
    assert r.json()["status"] == "closed" and r.json()["outcome"] == "other.no_supplement"


# --- a late 补正 notice is a recorded breach (条例第三十条) ----------------------------------------------------------


async def test_late_supplement_notice_is_allowed_and_recorded_as_a_breach(requests_client, request_db, stats_db, desk):
    on_time = await accepted(requests_client, request_db, desk, EXPIRED_RECEIPT)
    r = await act(
        requests_client,
        desk.handler,
        on_time,
        "request-supplement",
        {"items": ["请明确所需信息的名称"], "on": "2025-10-13"},
    )  # working day 7
    assert r.json()["breaches"] == []
    late = await accepted(requests_client, request_db, desk, EXPIRED_RECEIPT)
    r = await act(
        requests_client,
        desk.handler,
        late,
        "request-supplement",
        {"items": ["请明确所需信息的名称"], "on": "2025-10-14"},
    )  # working day 8
    assert r.json()["status"] == "supplement_requested"
    [breach] = r.json()["breaches"]
    assert breach["code"] == "late_supplement_notice" and breach["article"] == "条例第三十条"
    assert breach["on"] == "2025-10-14" and breach["due_on"] == "2025-10-13"
    assert breach["label_zh"] and breach["label_en"]
    # Published on the event feed with the application's snapshot (the statistics can count it).
    feed = (await requests_client.get("/internal/v1/events", headers=auth("service"), params={"limit": 1000})).json()
    mine = [e for e in feed["items"] if e["entity_id"] == late]
    assert mine[-1]["type"] == "application.request_supplement"
    assert [(b["code"], b["on"]) for b in mine[-1]["payload"]["breaches"]] == [("late_supplement_notice", "2025-10-14")]
    others = [e for e in feed["items"] if e["entity_id"] == on_time]
    assert others[-1]["payload"]["breaches"] == []
    # The statistics consumer takes the event with its breach like any other snapshot.
    async with stats_db.transaction() as session:
        await apply_request_events(session, [EventRead.model_validate(e) for e in mine])
    async with stats_db.transaction() as session:
        fact = await session.get(ApplicationFact, late)
        assert fact is not None and fact.status == "supplement_requested" and fact.version == mine[-1]["version"]
