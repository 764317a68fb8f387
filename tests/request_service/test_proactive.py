"""依申请转主动 (条例第四十四条; issue 16 item 5): when REQUEST_PROACTIVE_THRESHOLD (3) different applicants asked one
organ for the same information (exact match of the normalised 名称 and 文号) and one application was granted, a
"consider proactive disclosure" task opens, due 20 working days later. It is checked when a reply is signed off,
whether the grant or the third applicant's reply comes last. The task closes with the catalogue record that
publishes the information, or a reason; the disclosure log lists granted applications without any applicant data;
the summary gives the share of grants later published."""

from request_service.domain.applications import today
from tests.request_service.helpers import act
from tests.request_service.intake_support import API, Desk, add_organ, applicant, assert_no_pii, register
from tests.support import assert_problem, auth

BUDGET = "2025年度部门预算执行情况"


async def apply(client, desk: Desk, title: str, who: dict | None = None) -> str:
    body = await register(client, desk, "in_person", submitted_on=today().isoformat(), info_title=title,
                          applicant=who or applicant(name="李四"))
    return body["id"]


async def grant(client, desk: Desk, app_id: str, outcome: str = "granted") -> None:
    await act(client, desk.handler, app_id, "draft-reply", {"outcome": outcome, "comment": "予以公开",
                                                            **({"articles": ["条例第十五条"]} if outcome != "granted"
                                                               else {})})
    await act(client, desk.approver, app_id, "approve-reply", {"comment": "同意"})


async def worklist(client, desk: Desk, **params) -> list[dict]:
    r = await client.get(f"{API}/worklists/proactive-disclosure", headers=desk.handler, params=params)
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def test_same_information_from_three_applicants_opens_a_task_and_the_log_is_de_identified(
        client, request_db, desk):
    same_person = applicant(name="王五")
    # Budget: 王五 twice and 赵六 — two applicants; 王五's first is granted: below the threshold, no task.
    a1 = await apply(client, desk, f"《{BUDGET}》", same_person)
    await apply(client, desk, BUDGET, same_person)
    await apply(client, desk, f"{BUDGET}。", applicant(name="赵六"))
    await grant(client, desk, a1)
    assert await worklist(client, desk) == []
    # A third applicant asks in full-width digits: the same information once normalised → the task opens when he
    # is answered (the count is checked at every reply).
    a4 = await apply(client, desk, "２０２５年度部门预算执行情况", applicant(name="孙七"))
    assert await worklist(client, desk) == []
    await grant(client, desk, a4)
    # Plan: three applicants, none granted yet → nothing; the grant of one (the last step) opens it.
    plans = [await apply(client, desk, "2026年重点项目计划", applicant(name=f"申请人{i}")) for i in range(3)]
    assert len(await worklist(client, desk)) == 1
    await grant(client, desk, plans[2])
    # Withheld information asked by three: never a task (not disclosable).
    secret = [await apply(client, desk, "某企业商业秘密材料", applicant(name=f"丙{i}")) for i in range(3)]
    await grant(client, desk, secret[0], "withheld.third_party_rights")

    day = today().isoformat()
    r = await client.get(f"{API}/calendar/add-working-days", params={"start": day, "days": 20})
    due = r.json()["date"]
    tasks = await worklist(client, desk)
    assert [(t["info_title"], t["applications"], t["applicants"], t["opened_on"], t["due_on"], t["status"],
             t["overdue"]) for t in sorted(tasks, key=lambda t: t["info_title"])] == [
        ("2026年重点项目计划", 3, 3, day, due, "open", False),
        ("２０２５年度部门预算执行情况", 4, 3, day, due, "open", False)]
    budget = next(t for t in tasks if t["granted_application_id"] == a4)
    plan = next(t for t in tasks if t["granted_application_id"] == plans[2])
    other = Desk(await add_organ(request_db))
    assert await worklist(client, other) == []

    # Closing: If-Match, one of record or reason, only once, own organ only.
    url = f"{API}/proactive-tasks/{budget['id']}/close"
    assert_problem(await client.post(url, headers=desk.handler, json={"document_id": "doc-1"}), 428,
                   "precondition_required")
    assert_problem(await client.post(url, headers={**desk.handler, "If-Match": '"1"'},
                                     json={"document_id": "doc-1", "reason": "两者都给"}), 422, "validation_error")
    assert_problem(await client.post(url, headers={**other.handler, "If-Match": '"1"'},
                                     json={"document_id": "doc-1"}), 404, "proactive_task_not_found")
    assert_problem(await client.post(url, headers={**desk.clerk, "If-Match": '"1"'},
                                     json={"document_id": "doc-1"}), 403, "wrong_role")
    r = await client.post(url, headers={**desk.handler, "If-Match": '"1"'}, json={"document_id": "doc-1"})
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["document_id"], r.json()["closed_on"], r.headers["etag"]) == (
        "published", "doc-1", day, '"2"')
    assert_problem(await client.post(url, headers={**desk.handler, "If-Match": '"2"'},
                                     json={"reason": "再次关闭"}), 409, "invalid_transition")
    r = await client.post(f"{API}/proactive-tasks/{plan['id']}/close", headers={**desk.approver, "If-Match": '"1"'},
                          json={"reason": "涉及项目调整，待定稿后主动公开"})
    assert (r.json()["status"], r.json()["status_label"]["zh"]) == ("declined", "不转为主动公开")
    assert await worklist(client, desk) == []
    assert [t["id"] for t in await worklist(client, desk, status="published")] == [budget["id"]]

    # The disclosure log: the three grants, what was asked — nothing about who asked.
    r = await client.get(f"{API}/disclosure-log", headers=desk.handler)
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert {(i["id"], i["outcome"], i["same_requests"], i["published_document_id"]) for i in items} == {
        (a1, "granted", 4, "doc-1"), (a4, "granted", 4, "doc-1"), (plans[2], "granted", 3, None)}
    assert set(items[0]) == {"id", "organ_code", "info_title", "info_doc_number", "outcome", "outcome_label",
                             "granted_on", "same_requests", "published_document_id"}
    assert_no_pii(r)
    assert not any(name in r.text for name in ("王五", "赵六", "孙七", "申请人", "zhangsan", "北京市东城区"))
    r = await client.get(f"{API}/disclosure-log", headers=other.handler)
    assert r.json()["items"] == []
    assert_problem(await client.get(f"{API}/disclosure-log", headers=auth("applicant", sub="x")), 403, "wrong_role")

    # Share of grants later published proactively: 2 of 3 (both budget grants).
    r = await client.get(f"{API}/proactive-disclosure/summary", headers=desk.handler)
    assert r.status_code == 200, r.text
    assert {k: r.json()[k] for k in ("granted", "published_later", "share", "open_tasks", "overdue_tasks")} == {
        "granted": 3, "published_later": 2, "share": 0.6667, "open_tasks": 0, "overdue_tasks": 0}


async def test_the_scorecard_scores_the_share_from_the_feed(client, request_db, stats, stats_db, desk):
    """考评 依申请转主动率: the statistics follow this service's feed (application snapshots with the information's
    digest, proactive_task events) with their production consumer, and score the share the summary gives."""
    from stats_service.config import Settings as StatsSettings
    from stats_service.consumers import HttpFeed, make_consumers
    from tests.stats_service.helpers import Feed, organ

    budget = [await apply(client, desk, BUDGET, applicant(name=f"甲{i}")) for i in range(3)]
    await grant(client, desk, budget[0])  # the third applicant is already in: the task opens at this reply
    await grant(client, desk, budget[1])
    await grant(client, desk, await apply(client, desk, "2026年重点项目计划"))  # one applicant: no task
    catalog = Feed()
    organ(catalog, desk.organ, "示例市财政局")
    settings = StatsSettings()
    consumers = make_consumers(stats_db, settings, catalog, HttpFeed(client, settings))

    async def share() -> tuple:
        for consumer in consumers:
            await consumer.drain()
        r = await stats.get(f"/api/v1/stats/scorecards/{desk.organ}", headers=desk.stats,
                            params={"as_of": today().isoformat()})
        assert r.status_code == 200, r.text
        ind = next(i for i in r.json()["indicators"] if i["key"] == "proactive_publication")
        return ind["value"], ind["numerator"], ind["denominator"]

    assert await share() == (0.0, 0, 3)
    task = (await worklist(client, desk))[0]
    r = await client.post(f"{API}/proactive-tasks/{task['id']}/close", headers={**desk.handler, "If-Match": '"1"'},
                          json={"document_id": "doc-budget"})
    assert r.status_code == 200, r.text
    assert await share() == (0.6667, 2, 3)
    summary = (await client.get(f"{API}/proactive-disclosure/summary", headers=desk.handler)).json()
    assert (summary["share"], summary["published_later"], summary["granted"]) == (0.6667, 2, 3)
