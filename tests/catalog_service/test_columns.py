"""公开目录栏目 and the 解读 duty (issue 16 items 1–2) in the catalogue, and the scorecard the statistics service
computes from the catalogue's real event feed.

Columns: admins add them per organ with an update rule (interval / statutory date / when changed with a 备注说明),
records are placed by 体裁 / 主题分类 rules or explicitly (drafts, own organ's active columns only), every change is
announced. 解读: a 行政规范性文件 or a record flagged major policy is due a 解读 within
CATALOG_INTERPRETATION_DUE_WORKING_DAYS (3) working days of its publication; the work-list and the summary give
the overdue ones and the ratio; the scorecard's 解读 figures equal them.
"""

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from services.outbox import FeedConsumer, FeedPage
from stats_service.domain.ingest import apply_catalog_events
from stats_service.models import outbox as stats_outbox
from tests.catalog_service.helpers import API, Staff, draft, make_organ, publish, with_etag
from tests.catalog_service.test_sync import REVIEW, bulk, integration
from tests.support import assert_problem, auth

ADMIN = auth("admin")


def beijing_today() -> str:
    return datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()


async def add_column(catalog, organ: str, name: str, rule: str, **fields: Any) -> dict:
    r = await catalog.post(f"{API}/columns", headers=ADMIN, json={"organ_code": organ, "name": name, "rule": rule,
                                                                   **fields})
    assert r.status_code == 201, r.text
    return r.json()


async def events(catalog, entity_type: str) -> list[dict]:
    r = await catalog.get("/internal/v1/events", params={"after": 0, "limit": 1000}, headers=auth("service"))
    assert r.status_code == 200, r.text
    return [e for e in r.json()["items"] if e["entity_type"] == entity_type]


async def test_columns_are_managed_by_admins_and_announced(catalog):
    organ = await make_organ(catalog, "栏目测试局")
    news = await add_column(catalog, organ, "工作动态", "interval", every=2, unit="week")
    report = await add_column(catalog, organ, "年度报告", "statutory", statutory_date="01-31", genres=["report"])
    plans = await add_column(catalog, organ, "规划计划", "when_changed", note="本年度无新规划")
    assert (news["organ_code"], news["rule"], news["every"], news["unit"], news["version"]) == (
        organ, "interval", 2, "week", 1)
    assert (report["statutory_date"], report["genres"]) == ("01-31", ["report"])
    # Rule shapes, names unique per organ, admins only.
    r = await catalog.post(f"{API}/columns", headers=ADMIN, json={"organ_code": organ, "name": "x", "rule": "interval"})
    assert_problem(r, 422, "validation_error")
    r = await catalog.post(f"{API}/columns", headers=ADMIN,
                           json={"organ_code": organ, "name": "年报", "rule": "statutory", "statutory_date": "13-01"})
    assert_problem(r, 422, "validation_error")
    r = await catalog.post(f"{API}/columns", headers=ADMIN, json={"organ_code": organ, "name": "工作动态",
                                                                   "rule": "when_changed"})
    assert_problem(r, 409, "column_name_taken")
    r = await catalog.post(f"{API}/columns", headers=Staff(organ).unit_head,
                           json={"organ_code": organ, "name": "y", "rule": "when_changed"})
    assert_problem(r, 403, "wrong_role")
    # Public to read, paged; one organ's columns.
    r = await catalog.get(f"{API}/columns", params={"organ": organ, "limit": 2})
    assert r.status_code == 200, r.text
    first = r.json()
    assert [c["name"] for c in first["items"]] == ["工作动态", "年度报告"] and first["has_more"] is True
    # A change needs If-Match and is announced with the new version.
    r = await catalog.patch(f"{API}/columns/{plans['id']}", headers=ADMIN, json={"note": None})
    assert_problem(r, 428, "precondition_required")
    r = await catalog.patch(f"{API}/columns/{plans['id']}", headers=with_etag(ADMIN, '"1"'),
                            json={"rule": "interval"})
    assert_problem(r, 422, "invalid_reference")  # an interval rule needs its interval
    r = await catalog.patch(f"{API}/columns/{plans['id']}", headers=with_etag(ADMIN, '"1"'), json={"note": None})
    assert r.status_code == 200, r.text
    assert (r.json()["note"], r.json()["version"], r.headers["etag"]) == (None, 2, '"2"')
    announced = await events(catalog, "column")
    mine = [e for e in announced if e["payload"]["organ_code"] == organ]
    assert [(e["type"], e["payload"]["name"], e["version"]) for e in mine] == [
        ("column.created", "工作动态", 1), ("column.created", "年度报告", 1), ("column.created", "规划计划", 1),
        ("column.updated", "规划计划", 2)]
    assert mine[-1]["payload"]["note"] is None
    assert mine[0]["payload"]["created_on"] == beijing_today()  # the day of creation, in Beijing


async def test_records_are_placed_explicitly_in_their_own_organs_columns(catalog):
    organ, other = await make_organ(catalog, "放置测试局"), await make_organ(catalog, "他局")
    notices = await add_column(catalog, organ, "通知公告", "interval", every=6, unit="month")
    foreign = await add_column(catalog, other, "通知公告", "interval", every=6, unit="month")
    staff = Staff(organ)
    r = await catalog.post(f"{API}/documents", headers=staff.drafter, json={
        "title": "关于放置的通知", "body": "正文", "genre": "notice", "column_ids": [foreign["id"]]})
    assert_problem(r, 422, "invalid_reference")
    doc_id = await publish(catalog, staff, title="关于放置测试的通知", column_ids=[notices["id"]])
    r = await catalog.get(f"{API}/documents/{doc_id}/record", headers=staff.drafter)
    assert r.json()["column_ids"] == [notices["id"]]
    [published] = [e for e in await events(catalog, "document")
                   if e["entity_id"] == doc_id and e["type"] == "document.published"]
    p = published["payload"]
    assert (p["columns"], p["genre"], p["needs_interpretation"], p["interpretation_due_on"]) == (
        [notices["id"]], "notice", False, None)
    # A retired column takes no new records.
    r = await catalog.patch(f"{API}/columns/{notices['id']}", headers=with_etag(ADMIN, '"1"'), json={"active": False})
    assert r.json()["active"] is False
    doc2, etag = await draft(catalog, staff)
    r = await catalog.patch(f"{API}/documents/{doc2}", headers=with_etag(staff.drafter, etag),
                            json={"column_ids": [notices["id"]]})
    assert_problem(r, 422, "invalid_reference")


def migrated(n: int, published_at: str, **fields: Any) -> dict[str, Any]:
    return {"external_id": f"POL-{n}", "title": f"关于印发第{n}号管理办法的通知", "genre": "normative_document",
            "body": "各部门：现将办法印发给你们。", "written_date": "2026-03-02", "formed_on": "2026-03-02",
            "review": {**REVIEW, "reviewed_on": "2026-03-03"}, "history": {"published_at": published_at},
            **fields}


async def follow(catalog, stats_db) -> None:
    async def fetch(after: int, limit: int) -> FeedPage:
        r = await catalog.get("/internal/v1/events", params={"after": after, "limit": limit},
                              headers=auth("service"))
        assert r.status_code == 200, r.text
        return FeedPage.model_validate(r.json())

    await FeedConsumer("catalog", stats_db, stats_outbox, fetch, apply_catalog_events).drain()


async def test_interpretation_duty_and_the_scorecard_from_the_real_feed(catalog, stats, stats_db):
    organ = await make_organ(catalog, "解读测试局")
    staff, oa = Staff(organ), integration(organ)
    # Two 行政规范性文件 published on Friday 2026-03-13 (Beijing): a 解读 is due 3 working days later, 03-18.
    body = (await bulk(catalog, oa, [migrated(1, "2026-03-13T10:00:00+08:00"),
                                     migrated(2, "2026-03-13T11:00:00+08:00")])).json()
    p1, p2 = (r["document_id"] for r in body["results"])
    # p2 gets its 解读 (published 03-16); p1 none: overdue. A notice flagged major policy published today is due
    # one too, not yet overdue.
    body = (await bulk(catalog, oa, [{
        "external_id": "JD-2", "title": "《第2号管理办法》政策解读", "genre": "interpretation", "body": "解读正文",
        "interpretation_of": p2, "review": {**REVIEW, "reviewed_on": "2026-03-16"},
        "history": {"published_at": "2026-03-16T09:00:00+08:00"}}])).json()
    assert body["summary"]["published"] == 1, body
    major = await publish(catalog, staff, title="关于重大民生政策的通知", major_policy=True)
    for doc_id, due in ((p1, "2026-03-18"), (p2, "2026-03-18")):
        r = await catalog.get(f"{API}/documents/{doc_id}/record", headers=staff.drafter)
        assert (r.json()["interpretation_due_on"], r.json()["major_policy"]) == (due, False)
    r = await catalog.get(f"{API}/documents/{major}/record", headers=staff.drafter)
    assert r.json()["major_policy"] is True and r.json()["interpretation_due_on"] > beijing_today()

    r = await catalog.get(f"{API}/worklists/interpretation/summary", headers=staff.drafter)
    assert r.status_code == 200, r.text
    summary = r.json()
    assert (summary["organ_code"], summary["due_working_days"], summary["policies"], summary["interpreted"],
            summary["ratio"], summary["overdue"]) == (organ, 3, 3, 1, 0.3333, 1)
    r = await catalog.get(f"{API}/worklists/interpretation", headers=staff.drafter)
    assert [(i["id"], i["overdue"]) for i in r.json()["items"]] == [(p1, True), (major, False)]
    r = await catalog.get(f"{API}/worklists/interpretation", headers=staff.drafter, params={"overdue": "true"})
    assert [i["id"] for i in r.json()["items"]] == [p1]
    r = await catalog.get(f"{API}/worklists/interpretation", headers=Staff(await make_organ(catalog)).drafter)
    assert r.json()["items"] == []  # another organ's staff see their own duties only

    # Columns: 政策文件 placed by 体裁 (fresh: its last record, the major policy published today, is not one of
    # its 体裁; p1/p2 on 03-13 + 12 months), 财政预决算 empty without a note.
    await add_column(catalog, organ, "政策文件", "interval", every=12, unit="month", genres=["normative_document"])
    finance = await add_column(catalog, organ, "财政预决算", "when_changed")
    await follow(catalog, stats_db)
    who = auth("stats_officer", organ=organ)
    today = beijing_today()
    r = await stats.get(f"/api/v1/stats/scorecards/{organ}", headers=who,
                        params={"from": "2026-01-01", "as_of": today})
    assert r.status_code == 200, r.text
    card = {i["key"]: i for i in r.json()["indicators"]}
    assert (card["interpretation_ratio"]["numerator"], card["interpretation_ratio"]["denominator"]) == (
        summary["interpreted"], summary["policies"])
    assert card["interpretation_overdue"]["value"] == summary["overdue"] == 1
    assert card["blank_columns"]["value"] == 1 and card["columns_updated"]["value"] == 0
    r = await stats.get(card["interpretation_overdue"]["records_url"], headers=who)
    assert [i["id"] for i in r.json()["items"]] == [p1]
    # The 备注说明 explains the empty column: no longer blank once the feed is followed.
    r = await catalog.patch(f"{API}/columns/{finance['id']}", headers=with_etag(ADMIN, '"1"'),
                            json={"note": "本部门无财政预决算事项"})
    assert r.status_code == 200, r.text
    await follow(catalog, stats_db)
    r = await stats.get(f"/api/v1/stats/scorecards/{organ}", headers=who,
                        params={"from": "2026-01-01", "as_of": today})
    assert {i["key"]: i["value"] for i in r.json()["indicators"]}["blank_columns"] == 0
