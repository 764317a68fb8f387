"""基层政务公开标准目录 (issue 16 item 4): a standard catalogue imported as JSON (admin), adopted by an organ, records
mapped to its items by 体裁 / 主题分类 / 标题关键词 rules or explicitly by the organ's staff; per item the last
publication and the next due date on the working-day calendar; coverage % per organ with the records behind it; and
the scorecard's coverage indicator computed by the statistics service from the catalogue's real event feed.

Hand-scored fixture (adopted 2026-01-01; records imported with their historical publication days):
  A 预算公开  rule 体裁 report            ← r1 published 2026-03-10
  B 决算公开  rule 标题关键词 决算          ← r2 published 2026-08-20
  C 三公经费  explicit mapping (made today) ← r3 published 2026-09-15
  D 债务信息  rule 体裁 announcement, monthly, 10 working days after the month's end ← r4 published 2026-09-15
  E 绩效评价  rule 标题关键词 绩效, every year by 03-31 ← r5 published 2026-09-20, imported before the adoption
  F 债务限额  rule 标题关键词 限额, every year by 06-30 ← nothing
As of 2026-10-09: A, B, D, E covered (C's mapping did not exist yet) → 4/6 = 0.6667. As of today: 5/6 = 0.8333.
D's next due: 10 working days after 2026-09-30 across the National Day holiday (10-01…10-07 off, 10-10 a make-up
working day) = 2026-10-20 (2026-10-14 without the holiday). E's: 2027-03-31 (the first after its last
publication); F's: 2026-06-30 (the first after the adoption), overdue on 2026-10-09.
"""

import json
from pathlib import Path
from typing import Any

from tests.catalog_service.helpers import API, Staff, make_organ
from tests.catalog_service.test_columns import beijing_today, follow
from tests.catalog_service.test_sync import REVIEW, bulk, integration
from tests.support import assert_problem, auth

ADMIN = auth("admin")
DEMO = Path(__file__).parents[2] / "catalog_service" / "demo_data" / "standard_catalogue_finance.json"


def item(key: str, title: str, time_limit: dict[str, Any], **match: Any) -> dict[str, Any]:
    return {"key": key, "level1": "财政预决算", "title": title, "content": f"{title}的公开内容",
            "basis": "《中华人民共和国预算法》", "time_limit_text": "见规则", "time_limit": time_limit,
            "publisher": "乡镇人民政府", "channels": ["政府网站"], "audience": ["全社会"], "modes": ["主动"],
            "match": match}


def catalogue(code: str) -> dict[str, Any]:
    return {"code": code, "area": "财政预决算", "title": "财政预决算领域基层政务公开标准目录（测试）",
            "source": {"title": "测试用目录", "issuer": "测试", "date": "2026-01-01", "url": None,
                       "note": "illustrative, not an official list"},
            "entries": [
                item("A", "预算公开", {"kind": "on_change", "working_days": 20}, genres=["report"]),
                item("B", "决算公开", {"kind": "after_event", "days": 20, "event": "本级人大常委会批准"},
                     keywords=["决算"]),
                item("C", "三公经费", {"kind": "on_change", "working_days": 20}),
                item("D", "债务信息", {"kind": "periodic", "every": 1, "unit": "month", "working_days": 10},
                     genres=["announcement"]),
                item("E", "绩效评价", {"kind": "yearly", "by": "03-31"}, keywords=["绩效"]),
                item("F", "债务限额", {"kind": "yearly", "by": "06-30"}, keywords=["限额"])]}


def migrated(n: str, title: str, genre: str, published_at: str) -> dict[str, Any]:
    return {"external_id": f"STD-{n}", "title": title, "genre": genre, "body": "正文。",
            "review": {**REVIEW, "reviewed_on": published_at[:10]}, "history": {"published_at": published_at}}


async def test_import_list_get_and_a_bad_catalogue(catalog):
    r = await catalog.post(f"{API}/standard-catalogues", headers=ADMIN, json=catalogue("test-finance"))
    assert r.status_code == 201, r.text
    first = r.json()
    assert (first["code"], first["version"], len(first["entries"]), first["entries"][3]["time_limit"]["unit"]) == (
        "test-finance", 1, 6, "month")
    r = await catalog.post(f"{API}/standard-catalogues", headers=ADMIN, json=catalogue("test-finance"))
    assert r.json()["version"] == 2  # a re-import is the next version; the first stays
    r = await catalog.get(f"{API}/standard-catalogues", params={"limit": 1})
    assert r.status_code == 200, r.text
    assert len(r.json()["items"]) == 1 and r.json()["has_more"] is True
    r = await catalog.get(f"{API}/standard-catalogues/{first['id']}")
    assert r.status_code == 200 and r.json()["entries"][0]["title"] == "预算公开"
    # The shipped demo catalogue imports as it is, with its source named.
    demo = json.loads(DEMO.read_text(encoding="utf-8"))
    r = await catalog.post(f"{API}/standard-catalogues", headers=ADMIN, json=demo)
    assert r.status_code == 201, r.text
    assert r.json()["source"]["url"].startswith("http") and r.json()["area"] == "财政预决算"
    # A bad catalogue: 422 problem pointing at the field; duplicate item keys; admins only.
    bad = catalogue("bad")
    bad["entries"][3]["time_limit"] = {"kind": "periodic", "every": 1}
    body = assert_problem(await catalog.post(f"{API}/standard-catalogues", headers=ADMIN, json=bad), 422,
                          "validation_error")
    assert any(e["loc"][:4] == ["body", "entries", 3, "time_limit"] for e in body["errors"]), body
    bad = catalogue("bad")
    bad["entries"][1]["key"] = "A"
    body = assert_problem(await catalog.post(f"{API}/standard-catalogues", headers=ADMIN, json=bad), 422)
    assert "重复" in json.dumps(body, ensure_ascii=False)
    organ = await make_organ(catalog, "标准目录测试局")
    assert_problem(await catalog.post(f"{API}/standard-catalogues", headers=Staff(organ).unit_head,
                                      json=catalogue("x")), 403, "wrong_role")
    assert_problem(await catalog.get(f"{API}/standard-catalogues/00000000-0000-0000-0000-000000000000"), 404,
                   "standard_catalogue_not_found")


async def test_adopt_map_coverage_next_due_and_the_scorecard(catalog, stats, stats_db):
    organ = await make_organ(catalog, "财政预决算测试镇")
    other = await make_organ(catalog, "别的镇")
    staff = Staff(organ)
    cat = (await catalog.post(f"{API}/standard-catalogues", headers=ADMIN, json=catalogue("fixture"))).json()
    # Published before the adoption: its event named no keyword; the adoption names it (by its public title).
    body = (await bulk(catalog, integration(organ), [
        migrated("5", "2025年度整体支出绩效自评报告", "notice", "2026-09-20T10:00:00+08:00")])).json()
    r5 = body["results"][0]["document_id"]
    r = await catalog.post(f"{API}/standard-adoptions", headers=ADMIN,
                           json={"organ_code": organ, "catalogue_id": cat["id"], "adopted_on": "2026-01-01"})
    assert r.status_code == 201, r.text
    adoption = r.json()
    assert adoption["item_keys"] == ["A", "B", "C", "D", "E", "F"]
    assert_problem(await catalog.post(f"{API}/standard-adoptions", headers=ADMIN, json={
        "organ_code": organ, "catalogue_id": cat["id"], "item_keys": ["Z"]}), 422, "invalid_reference")
    body = (await bulk(catalog, integration(organ), [
        migrated("1", "2026年部门预算公开", "report", "2026-03-10T10:00:00+08:00"),
        migrated("2", "2025年度部门决算公开说明", "notice", "2026-08-20T10:00:00+08:00"),
        migrated("3", "关于2026年因公出国经费的说明", "notice", "2026-09-15T10:00:00+08:00"),
        migrated("4", "2026年8月政府债务情况", "announcement", "2026-09-15T11:00:00+08:00")])).json()
    r1, r2, r3, r4 = (x["document_id"] for x in body["results"])
    # Another organ's 报告 is not this organ's record.
    await bulk(catalog, integration(other), [migrated("9", "别镇预算", "report", "2026-03-10T10:00:00+08:00")])

    report = await coverage(catalog, organ, "2026-10-09")
    assert (report["adopted"], report["covered"], report["coverage"]) == (6, 4, 0.6667)
    by_key = {i["key"]: i for i in report["entries"]}
    assert [d["id"] for d in by_key["A"]["records"]] == [r1]
    assert [d["id"] for d in by_key["B"]["records"]] == [r2]
    assert by_key["C"]["records"] == [] and by_key["C"]["covered"] is False
    assert (by_key["D"]["last_published_on"], by_key["D"]["next_due_on"], by_key["D"]["overdue"]) == (
        "2026-09-15", "2026-10-20", False)
    assert ([d["id"] for d in by_key["E"]["records"]], by_key["E"]["next_due_on"], by_key["E"]["overdue"]) == (
        [r5], "2027-03-31", False)
    assert (by_key["F"]["next_due_on"], by_key["F"]["overdue"], by_key["F"]["covered"]) == (
        "2026-06-30", True, False)

    # Explicit mapping by the organ's staff: their organ's records only; another organ's staff cannot.
    assert_problem(await catalog.post(f"{API}/standard-adoptions/{adoption['id']}/mappings",
                                      headers=Staff(other).drafter, json={"item_key": "C", "document_id": r3}),
                   404, "standard_adoption_not_found")
    assert_problem(await catalog.post(f"{API}/standard-adoptions/{adoption['id']}/mappings",
                                      headers=staff.drafter, json={"item_key": "Z", "document_id": r3}),
                   422, "invalid_reference")
    r = await catalog.post(f"{API}/standard-adoptions/{adoption['id']}/mappings", headers=staff.drafter,
                           json={"item_key": "C", "document_id": r3})
    assert r.status_code == 201, r.text
    today = beijing_today()
    report = await coverage(catalog, organ, today)
    assert (report["covered"], report["coverage"]) == (5, 0.8333)
    assert [d["id"] for d in {i["key"]: i for i in report["entries"]}["C"]["records"]] == [r3]
    assert (await coverage(catalog, organ, "2026-10-09"))["coverage"] == 0.6667  # a past day stays as it was

    # The scorecard's indicator (statistics, from the feed) equals the report, its drill-down the items.
    await follow(catalog, stats_db)
    who = auth("stats_officer", organ=organ)
    for day, expected in (("2026-10-09", report_then := await coverage(catalog, organ, "2026-10-09")),
                          (today, report)):
        r = await stats.get(f"/api/v1/stats/scorecards/{organ}", headers=who, params={"as_of": day})
        assert r.status_code == 200, r.text
        card = {i["key"]: i for i in r.json()["indicators"]}["standard_catalogue_coverage"]
        assert (card["value"], card["numerator"], card["denominator"]) == (
            expected["coverage"], expected["covered"], expected["adopted"])
        r = await stats.get(card["records_url"] + "&limit=100", headers=who)
        assert r.status_code == 200, r.text
        assert [(x["id"], x["counted"]) for x in r.json()["items"]] == [
            (f"{adoption['id']}:{i['key']}", i["covered"]) for i in expected["entries"]]
        assert sum(x["counted"] for x in r.json()["items"]) == card["numerator"]
    assert report_then["covered"] == 4
    # The earlier sheet version stays loadable, without the indicator.
    r = await stats.get(f"/api/v1/stats/scorecards/{organ}", headers=who, params={"sheet_version": 2})
    assert r.status_code == 200, r.text
    assert "standard_catalogue_coverage" not in {i["key"] for i in r.json()["indicators"]}


async def coverage(catalog, organ: str, as_of: str) -> dict[str, Any]:
    r = await catalog.get(f"{API}/standard-coverage/{organ}", params={"as_of": as_of})
    assert r.status_code == 200, r.text
    return r.json()
