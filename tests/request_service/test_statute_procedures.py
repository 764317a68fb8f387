"""The statute's procedures (legal-rules §1.13, issue 13 items 2–6), through the staff API on both databases.

- 第三十五条 as its steps: the applicant is asked to explain (说明理由通知书, with a reply window), the reasons are
  recorded, then 不予处理 (三（五）4) or a 延迟答复 after the current due date with its notice (延迟答复告知书) — all
  before the period runs out.
- Withholding grounds from a vocabulary tied to 第十四、十五、十六条 / 第三十六条 / 第三十七条: "领导不同意" is refused,
  and letters quote the ground's article.
The letters are read back as HTML and as PDF (pypdf), like tests/request_service/test_letters.py.
"""

from datetime import date, timedelta

import pytest

from request_service.domain.applications import today
from tests.request_service.helpers import API, Desk, accepted, act, assert_pdf_matches_html, organ_code
from tests.support import assert_problem, auth

EXPIRED_RECEIPT = "2025-09-26"  # legal-rules §6.4 example 1: reply by 2025-10-30


@pytest.fixture
def desk() -> Desk:
    return Desk(organ_code())


def recent() -> str:
    return (today() - timedelta(days=3)).isoformat()


async def read(client, desk: Desk, app_id: str) -> dict:
    r = await client.get(f"{API}/applications/{app_id}", headers=desk.handler)
    assert r.status_code == 200, r.text
    return r.json()


async def letter(client, desk: Desk, app_id: str, kind: str) -> tuple[str, str]:
    """The last letter of `kind`: its HTML, and the text of its PDF (which must carry every block of the HTML)."""
    letters = (await client.get(f"{API}/applications/{app_id}/letters", headers=desk.handler)).json()["items"]
    found = [item for item in letters if item["kind"] == kind]
    assert found, [item["kind"] for item in letters]
    base = f"{API}/applications/{app_id}/letters/{found[-1]['id']}"
    page = (await client.get(base, headers=desk.handler)).text
    pdf = await client.get(f"{base}.pdf", headers=desk.handler)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    return page, assert_pdf_matches_html(pdf.content, page)


def cn(day: date | str) -> str:
    day = date.fromisoformat(day) if isinstance(day, str) else day
    return f"{day.year}年{day.month}月{day.day}日"


ASK = {"comment": "一个月内提出政府信息公开申请120件", "days": 5}
REASONS = {"comment": "课题研究需要，逐件核对各区数据"}


# --- 第三十五条: the steps --------------------------------------------------------------------------------------------


async def test_a_deferral_needs_the_applicant_asked_to_explain(requests_client, request_db, desk):
    app_id = await accepted(requests_client, request_db, desk, recent())
    due = date.fromisoformat((await read(requests_client, desk, app_id))["due_on"])
    body = assert_problem(await act(requests_client, desk.approver, app_id, "defer",
                                    {"due_on": (due + timedelta(days=30)).isoformat(), "comment": "理由合理"},
                                    expect=409, expect_code="explanation_not_requested"),
                          409, "explanation_not_requested")
    assert "条例第三十五条" in body["detail"]
    assert (await read(requests_client, desk, app_id))["deferred_due_on"] is None


async def test_explain_then_defer_with_a_notice_letter(requests_client, request_db, desk):
    app_id = await accepted(requests_client, request_db, desk, recent())
    due = date.fromisoformat((await read(requests_client, desk, app_id))["due_on"])
    later = (due + timedelta(days=30)).isoformat()
    r = await act(requests_client, desk.handler, app_id, "request-explanation", ASK)
    asked = r.json()
    assert asked["explanation_requested_on"] == today().isoformat() and asked["status"] == "accepted"
    window = (await requests_client.get(f"{API}/calendar/add-working-days",
                                        params={"start": today().isoformat(), "days": 5})).json()
    assert asked["explanation_due_on"] == window["date"]
    page, pdf = await letter(requests_client, desk, app_id, "explanation_request")
    for phrase in ("说明理由通知书", "第三十五条", "一个月内提出政府信息公开申请120件", cn(window["date"]) + "前",
                   "向本机关说明理由"):
        assert phrase in pdf, phrase
    # Asked once; no deferral before the reasons are in.
    await act(requests_client, desk.handler, app_id, "request-explanation", ASK,
              expect=409, expect_code="invalid_transition")
    body = assert_problem(await act(requests_client, desk.approver, app_id, "defer",
                                    {"due_on": later, "comment": "理由合理"},
                                    expect=409, expect_code="explanation_period_running"),
                          409, "explanation_period_running")
    assert "条例第三十五条" in body["detail"]
    r = await act(requests_client, desk.handler, app_id, "record-explanation", REASONS)
    assert r.json()["explanation_received_on"] == today().isoformat()
    assert r.json()["explanation_reasons"] == REASONS["comment"]
    # The deferred date must still be after the current due date (legal-rules §1.13).
    await act(requests_client, desk.approver, app_id, "defer", {"due_on": due.isoformat(), "comment": "理由合理"},
              expect=422, expect_code="deferred_due_date_invalid")
    r = await act(requests_client, desk.approver, app_id, "defer",
                  {"due_on": later, "comment": "所涉信息分散在12个区，需逐一调取"})
    body = r.json()
    # A deferred deadline is a date the organ set, not one counted on the calendar: never provisional (kills the
    # clock mutant recompute_31).
    assert body["deferred_due_on"] == later and body["due_on"] == later and body["due_provisional"] is False
    assert body["deferral_decided_on"] == today().isoformat() and body["explanation_judgement"] == "reasonable"
    page, pdf = await letter(requests_client, desk, app_id, "deferral_notice")
    for phrase in ("延迟答复告知书", "第三十五条", "说明的理由合理", cn(later) + "前", cn(due) + "前",
                   "所涉信息分散在12个区"):
        assert phrase in pdf, phrase
    history = (await requests_client.get(f"{API}/applications/{app_id}/history", headers=desk.handler,
                                         params={"limit": 100})).json()["items"]
    assert [s["action"] for s in history] == ["confirm", "request_explanation", "record_explanation", "defer"]


async def test_not_processed_for_excessive_volume_follows_the_steps(requests_client, request_db, desk,
                                                                    monkeypatch):
    """三（五）4 无正当理由大量反复申请: only after asking; with no reasons once the window ran out, or with reasons
    judged unreasonable; the reply letter says which."""
    from tests.stats_service.request_clock import RequestClock

    clock = RequestClock(monkeypatch, date(2025, 9, 26))
    silent, unreasonable = [await accepted(requests_client, request_db, desk, EXPIRED_RECEIPT) for _ in range(2)]
    draft = {"outcome": "not_processed.excessive_volume", "comment": "申请数量明显超过合理范围"}
    body = assert_problem(await act(requests_client, desk.handler, silent, "draft-reply", draft,
                                    expect=409, expect_code="explanation_not_requested"),
                          409, "explanation_not_requested")
    assert "条例第三十五条" in body["detail"]
    clock.set(date(2025, 9, 29))
    for app_id in (silent, unreasonable):
        r = await act(requests_client, desk.handler, app_id, "request-explanation", ASK)
    assert r.json()["explanation_due_on"] == "2025-10-13"  # 5 working days after 9/29, over 国庆
    clock.set(date(2025, 10, 13))  # the window's last day: still running
    await act(requests_client, desk.handler, silent, "draft-reply", draft,
              expect=409, expect_code="explanation_period_running")
    # No reasons: a deferral is impossible, a 不予处理 is not.
    clock.set(date(2025, 10, 14))
    await act(requests_client, desk.approver, silent, "defer", {"due_on": "2025-12-01", "comment": "理由合理"},
              expect=409, expect_code="explanation_reasons_missing")
    r = await act(requests_client, desk.handler, silent, "draft-reply", draft)
    assert r.json()["explanation_judgement"] == "none_given"
    await act(requests_client, desk.approver, silent, "approve-reply", {})
    _, pdf = await letter(requests_client, desk, silent, "reply")
    for phrase in ("本机关已于2025年9月29日要求您说明理由", "未在期限内说明理由", "第三十五条", "本机关不予处理"):
        assert phrase in pdf, phrase

    await act(requests_client, desk.handler, unreasonable, "record-explanation",
              {"on": "2025-10-10", "comment": "想了解情况"})
    r = await act(requests_client, desk.handler, unreasonable, "draft-reply", draft)
    assert r.json()["explanation_judgement"] == "unreasonable"
    await act(requests_client, desk.approver, unreasonable, "approve-reply", {})
    _, pdf = await letter(requests_client, desk, unreasonable, "reply")
    assert "您说明的理由不合理" in pdf


async def test_the_steps_are_taken_before_the_period_runs_out(requests_client, request_db, desk):
    app_id = await accepted(requests_client, request_db, desk, EXPIRED_RECEIPT)
    body = assert_problem(await act(requests_client, desk.handler, app_id, "request-explanation", ASK,
                                    expect=409, expect_code="reply_period_expired"), 409, "reply_period_expired")
    assert "条例第三十五条" in body["detail"] and "2025-10-30" in body["detail"]
    await act(requests_client, desk.handler, app_id, "record-explanation", REASONS,
              expect=409, expect_code="explanation_not_requested")


# --- withholding grounds (第十四、十五、十六条, 第三十六条, 第三十七条) -------------------------------------------


async def test_a_ground_outside_the_statute_is_refused(requests_client, request_db, desk):
    app_id = await accepted(requests_client, request_db, desk, recent())
    for part, field in (({"description": "附件2", "ground": "领导不同意"}, "ground"),
                        ({"description": "附件2", "ground": "third_party_rights", "article": "条例第十六条"},
                         "article")):
        body = assert_problem(await act(requests_client, desk.handler, app_id, "draft-reply",
                                        {"outcome": "partially_granted", "comment": "区分处理",
                                         "withheld_parts": [part]},
                                        expect=422, expect_code="withholding_ground_invalid"),
                              422, "withholding_ground_invalid")
        assert "第十四、十五、十六条" in body["detail"], body
        assert body["errors"][0]["loc"] == ["body", "withheld_parts", 0, field]
    after = await read(requests_client, desk, app_id)
    assert after["status"] == "accepted" and after["outcome"] is None


async def test_letters_quote_the_grounds_article(requests_client, request_db, desk):
    # A withholding that cites another article only: the ground's own article is cited too.
    withheld = await accepted(requests_client, request_db, desk, recent())
    r = await act(requests_client, desk.handler, withheld, "draft-reply", {
        "outcome": "withheld.process_information", "articles": ["第三十六条第（三）项"],
        "comment": "该信息为内部讨论记录"})
    assert r.json()["reply_articles"] == ["条例第十六条第二款", "第三十六条第（三）项"]
    await act(requests_client, desk.approver, withheld, "approve-reply", {})
    _, pdf = await letter(requests_client, desk, withheld, "reply")
    assert ("《中华人民共和国政府信息公开条例》第十六条第二款、第三十六条第（三）项的规定，"
            "本机关决定不予公开") in pdf, pdf

    # A withheld part: the ground from the vocabulary, its article and label; the reason only explains.
    partial = await accepted(requests_client, request_db, desk, recent())
    r = await act(requests_client, desk.handler, partial, "draft-reply", {
        "outcome": "partially_granted", "comment": "区分处理",
        "withheld_parts": [{"description": "附件2中的个人信息", "ground": "third_party_rights",
                            "reason": "公开会泄露他人身份证号码"}]})
    assert r.json()["withheld_parts"] == [{
        "description": "附件2中的个人信息", "ground": "third_party_rights",
        "ground_label": "保护第三方合法权益（商业秘密、个人隐私等）", "article": "条例第十五条",
        "reason": "公开会泄露他人身份证号码"}]
    await act(requests_client, desk.approver, partial, "approve-reply", {})
    _, pdf = await letter(requests_client, desk, partial, "reply")
    assert ("附件2中的个人信息：保护第三方合法权益（商业秘密、个人隐私等），"
            "依据《中华人民共和国政府信息公开条例》第十五条的规定不予公开") in pdf, pdf


async def test_the_grounds_vocabulary_names_article_and_report_row(requests_client):
    r = await requests_client.get(f"{API}/withholding-grounds")
    assert r.status_code == 200, r.text
    grounds = {g["code"]: g for g in r.json()["items"]}
    assert grounds["third_party_rights"]["article"] == "条例第十五条"
    assert grounds["third_party_rights"]["report_row"] == "withheld.third_party_rights"
    assert grounds["process_information"]["article"] == "条例第十六条第二款"
    assert grounds["administrative_query"]["article"] == "条例第三十六条第（七）项"
    assert grounds["not_government_information"]["report_row"] is None
    assert all(g["zh"] and g["en"] for g in grounds.values())
    vocab = (await requests_client.get(f"{API}/vocabularies")).json()["vocabularies"]
    assert {t["code"] for t in vocab["refusal_ground"]} == set(grounds)


# --- 正当理由 and the dates of automatic closures (第三十条) ------------------------------------------------------


async def _sweep(request_db, on: date) -> None:
    from request_service.config import Settings
    from request_service.domain.handling import expire

    async with request_db.transaction() as session:
        await expire(session, on, Settings())


async def test_the_sweep_dates_a_closure_the_day_the_period_ran_out(requests_client, request_db, desk):
    """A sweep that was down for weeks — over New Year — closes on the last day of the period, not on its own day."""
    unsupplemented = await accepted(requests_client, request_db, desk, EXPIRED_RECEIPT)
    r = await act(requests_client, desk.handler, unsupplemented, "request-supplement",
                  {"items": ["请明确所需信息的名称"], "on": "2025-10-09", "days": 10})
    assert r.json()["supplement_due_on"] == "2025-10-22"
    unpaid = await accepted(requests_client, request_db, desk, "2025-11-24")
    r = await act(requests_client, desk.handler, unpaid, "notify-fee",
                  {"fee_method": "per_volume", "pages": 250, "on": "2025-12-01"})
    assert r.json()["fee_due_on"] == "2025-12-29"
    await _sweep(request_db, date(2026, 1, 6))
    closed = await read(requests_client, desk, unsupplemented)
    assert (closed["status"], closed["outcome"], closed["closed_on"]) == ("closed", "other.no_supplement",
                                                                          "2025-10-22")
    closed = await read(requests_client, desk, unpaid)
    assert (closed["status"], closed["outcome"], closed["closed_on"]) == ("closed", "other.fee_unpaid",
                                                                          "2025-12-29")  # the 2025 report


async def test_good_cause_reopens_a_deemed_abandoned_application(requests_client, request_db, stats, stats_db, desk):
    """The handler's recorded 正当理由 re-opens a 视为放弃 closure; the 2025 report moves it back to open, and the
    published 2025 report shows the change as a discrepancy (its snapshot stays as signed off)."""
    from tests.stats_service.helpers import Feed, drain, organ

    app_id = await accepted(requests_client, request_db, desk, EXPIRED_RECEIPT)
    await act(requests_client, desk.handler, app_id, "request-supplement",
              {"items": ["请明确所需信息的名称"], "on": "2025-10-09", "days": 10})
    await _sweep(request_db, date(2025, 10, 27))
    assert (await read(requests_client, desk, app_id))["closed_on"] == "2025-10-22"

    catalog, requests = Feed(), Feed()
    organ(catalog, desk.organ, "测试市财政局")
    seen: set[int] = set()

    async def feed_stats() -> None:
        events = (await requests_client.get("/internal/v1/events", headers=auth("service"),
                                            params={"limit": 1000})).json()["items"]
        for e in events:
            if e["entity_id"] == app_id and e["id"] not in seen:
                seen.add(e["id"])
                requests.add(e["type"], e["entity_type"], e["entity_id"], e["version"], e["payload"])
        await drain(stats_db, catalog, requests)

    await feed_stats()
    reports = f"/api/v1/stats/annual-reports/{desk.organ}/2025"
    officer, head = auth("stats_officer", organ=desk.organ), auth("unit_head", organ=desk.organ)
    report = (await stats.get(reports, headers=officer)).json()["section3"]["rows"]
    assert report["other.no_supplement"]["total"] == 1 and report["carried_forward"]["total"] == 0
    etag = (await stats.get(f"{reports}/status", headers=officer)).headers["etag"]
    r = await stats.post(f"{reports}/submit", headers={**officer, "If-Match": etag})
    r = await stats.post(f"{reports}/publish", headers={**head, "If-Match": r.headers["etag"]})
    assert r.json()["status"] == "published"

    # Only with the good reason recorded; only a 视为放弃 closure.
    await act(requests_client, desk.handler, app_id, "accept-late-supplement", {"on": "2025-10-24"},
              expect=422, expect_code="validation_error")
    r = await act(requests_client, desk.handler, app_id, "accept-late-supplement",
                  {"on": "2025-10-24", "comment": "申请人住院治疗，有医院证明"})
    body = r.json()
    assert (body["status"], body["outcome"], body["closed_on"]) == ("accepted", None, None)
    assert body["supplement_received_on"] == "2025-10-24" and body["reopened_closure_on"] == "2025-10-22"
    assert body["good_cause_reason"] == "申请人住院治疗，有医院证明"
    assert body["good_cause_decided_by"] == f"handler@{desk.organ}"
    assert body["good_cause_decided_on"] == today().isoformat()
    restarted = (await requests_client.get(f"{API}/calendar/add-working-days",
                                           params={"start": "2025-10-24", "days": 20})).json()
    assert body["due_on"] == restarted["date"]  # the 20 working days count again from the supplement
    history = (await requests_client.get(f"{API}/applications/{app_id}/history", headers=desk.handler,
                                         params={"limit": 100})).json()["items"]
    assert history[-1]["action"] == "accept_late_supplement"
    assert history[-1]["comment"] == "申请人住院治疗，有医院证明"

    await feed_stats()
    live = (await stats.get(reports, headers=officer))
    assert live.json()["section3"]["rows"]["other.no_supplement"]["total"] == 1  # published: frozen
    found = (await stats.get(f"{reports}/discrepancies", headers=officer)).json()["items"]
    assert {"cell": "section3.rows.other.no_supplement.total", "published": 1, "live": 0} in found
    assert {"cell": "section3.rows.carried_forward.total", "published": 0, "live": 1} in found


async def test_good_cause_reopens_only_a_deemed_abandoned_closure(requests_client, request_db, desk):
    app_id = await accepted(requests_client, request_db, desk, "2025-11-24")
    await act(requests_client, desk.handler, app_id, "notify-fee",
              {"fee_method": "per_volume", "pages": 250, "on": "2025-12-01"})
    await _sweep(request_db, date(2026, 1, 6))
    body = assert_problem(await act(requests_client, desk.handler, app_id, "accept-late-supplement",
                                    {"on": "2026-01-05", "comment": "有正当理由"},
                                    expect=409, expect_code="invalid_transition"), 409, "invalid_transition")
    assert "条例第三十条" in body["detail"]


# --- delivery of notices (送达): windows run from the applicant's receipt ---------------------------------------------


async def _notices(client, desk: Desk, app_id: str) -> dict[str, dict]:
    letters = (await client.get(f"{API}/applications/{app_id}/letters", headers=desk.handler)).json()["items"]
    return {item["kind"]: item for item in letters}


async def _undelivered(client, desk: Desk) -> set[str]:
    r = await client.get(f"{API}/applications", params={"view": "notices_not_delivered", "limit": 100},
                         headers=desk.handler)
    assert r.status_code == 200, r.text
    return {item["id"] for item in r.json()["items"]}


async def test_an_electronic_notice_is_delivered_the_day_it_is_sent(requests_client, request_db, desk):
    app_id = await accepted(requests_client, request_db, desk, EXPIRED_RECEIPT, delivery="email")
    r = await act(requests_client, desk.handler, app_id, "request-supplement",
                  {"items": ["请明确所需信息的名称"], "on": "2025-10-09", "days": 10})
    assert r.json()["supplement_due_on"] == "2025-10-22"
    notice = (await _notices(requests_client, desk, app_id))["supplement_notice"]
    assert (notice["delivery_channel"], notice["delivered_on"]) == ("electronic", "2025-10-09")
    assert app_id not in await _undelivered(requests_client, desk)


async def test_a_posted_supplement_notice_counts_from_the_day_signed_for(requests_client, request_db, desk):
    app_id = await accepted(requests_client, request_db, desk, EXPIRED_RECEIPT, delivery="mail")
    r = await act(requests_client, desk.handler, app_id, "request-supplement",
                  {"items": ["请明确所需信息的名称"], "on": "2025-10-09", "days": 10})
    assert r.json()["status"] == "supplement_requested" and r.json()["supplement_due_on"] is None
    notice = (await _notices(requests_client, desk, app_id))["supplement_notice"]
    assert (notice["delivery_channel"], notice["delivered_on"]) == ("post", None)
    page, pdf = await letter(requests_client, desk, app_id, "supplement_notice")
    assert "自收到本告知书之日起10个工作日内" in pdf
    assert app_id in await _undelivered(requests_client, desk)
    # Until delivery is recorded the period has not started: no closure, and the sweep leaves it alone.
    body = assert_problem(await act(requests_client, desk.handler, app_id, "close-unsupplemented",
                                    {"on": "2025-12-01"}, expect=409, expect_code="notice_not_delivered"),
                          409, "notice_not_delivered")
    assert "条例第三十条" in body["detail"]
    await _sweep(request_db, date(2025, 12, 1))
    assert (await read(requests_client, desk, app_id))["status"] == "supplement_requested"
    # Signed for on 10/15: ten working days from then (10/11 was a 调休 working Saturday, before it).
    await act(requests_client, desk.clerk, app_id, "record-delivery",
              {"letter_id": notice["id"], "on": "2025-10-08"}, expect=422, expect_code="validation_error")
    r = await act(requests_client, desk.clerk, app_id, "record-delivery",
                  {"letter_id": notice["id"], "on": "2025-10-15", "comment": "EMS1234567890"})
    assert r.json()["supplement_due_on"] == "2025-10-29"
    notice = (await _notices(requests_client, desk, app_id))["supplement_notice"]
    assert notice["delivered_on"] == "2025-10-15"
    assert app_id not in await _undelivered(requests_client, desk)
    await act(requests_client, desk.clerk, app_id, "record-delivery", {"letter_id": notice["id"], "on": "2025-10-16"},
              expect=409, expect_code="invalid_transition")
    await _sweep(request_db, date(2025, 12, 1))
    closed = await read(requests_client, desk, app_id)
    assert (closed["status"], closed["closed_on"]) == ("closed", "2025-10-29")


async def test_a_posted_fee_notice_counts_from_the_day_signed_for(requests_client, request_db, desk):
    app_id = await accepted(requests_client, request_db, desk, "2025-09-26", delivery="mail")
    r = await act(requests_client, desk.handler, app_id, "notify-fee",
                  {"fee_method": "per_volume", "pages": 250, "on": "2025-10-13"})
    assert r.json()["fee_due_on"] is None
    body = assert_problem(await act(requests_client, desk.handler, app_id, "close-unpaid", {"on": "2025-12-01"},
                                    expect=409, expect_code="notice_not_delivered"), 409, "notice_not_delivered")
    assert "国办函〔2020〕109号" in body["detail"]
    notice = (await _notices(requests_client, desk, app_id))["fee_notice"]
    r = await act(requests_client, desk.handler, app_id, "record-delivery",
                  {"letter_id": notice["id"], "on": "2025-10-17"})
    window = (await requests_client.get(f"{API}/calendar/add-working-days",
                                        params={"start": "2025-10-17", "days": 20})).json()
    assert r.json()["fee_due_on"] == window["date"]  # not 2025-11-10, counted from the notice's drafting
