"""考评 scorecards (issue 16) on a hand-scored fixture: every indicator of the built-in sheet (国办秘函〔2019〕19号
as adapted) with its exact figure, points and 单项否决; the drill-down of each figure equal to it; a past day D
reproduced after later events; a province's own sheet loaded (versioned); the ranking of sibling organs.

Fed as the producers publish (the catalogue's column and document events, the request service's application
snapshots) through the production consumers' apply functions (tests.stats_service.helpers.Feed).

Hand count, organ DEPT, period 2026-01-01 … D = 2026-06-30:
- columns: 工作动态 (every 2 weeks, last update 06-20 → due 07-04: fresh), 通知公告 (every 6 months, last update
  2025-11-10 → due 2026-05-10: STALE), 年度报告 (by 01-31 each year, published 2026-01-20: fresh), 规划计划 (when
  changed, empty, with a 备注说明: fine), 财政预决算 (when changed, empty, no note: BLANK), 重大项目 (monthly, created
  06-10 → due 07-10: fresh, but empty and no note: BLANK), 专项工作 (monthly since 01-01; its one record was withdrawn
  06-28: STALE and BLANK), 政策文件 (every 6 months, placed by 体裁 行政规范性文件: p3 on 06-29, fresh) → stale 2,
  blank 3.
- publication (20 working days): n1 on time, r1 late, p1 p2 p3 p4 on time; i1 i2 (解读) have no deadline; w1 was
  withdrawn; n2 is from 2025 → 5 / 6 = 0.8333.
- 解读: p1 (解读 i1 on time), p2 (none, due 04-06: OVERDUE), p3 (none, due 07-02: not yet), p4 (i2, late but there)
  → ratio 2 / 4 = 0.5, overdue 1.
- replies: a1 on time, a2 late, a3 closed after D, a4 open → 1 / 2 = 0.5; breaches: a2's (03-01) → 1 (a3's is after D).
- appeals decided by D: a1 corrected, a2 upheld → 1 / 2 = 0.5 (a3's corrected one is decided after D).
Points (default sheet): 20−5×2=10 (veto: fails), 10−2×3=4, 20×0.8333=16.67, 20×0.5=10, 10−2×1=8, 10×0.5=5, 5−2×1=3,
0 (0.5 > 0.2) → 56.67 / 100 on the sheet's version 1; version 2 adds 有效期届满未清理 (no record has a 有效期 here: 0,
5 points) → 61.67 / 105; version 3 adds 依申请转主动率 (a1, a2 granted, not published later: 0 / 2, 0 points),
附件无法打开 (0, 5) and 标准目录覆盖率 (nothing adopted here: not applicable, 5 points) → 71.67 / 120, vetoed by
columns_updated.
"""

from datetime import UTC, datetime

import pytest

from tests.stats_service.helpers import Apps, Feed, drain, organ
from tests.support import assert_problem, auth

API = "/api/v1/stats"
CITY, DEPT, OTHER = "11440100MS0000001A", "11440100MS0000002B", "11440100MS0000009Z"
D = "2026-06-30"
STAFF = auth("stats_officer", organ=DEPT)
CITY_STAFF = auth("stats_officer", organ=CITY)


def column(catalog: Feed, column_id: str, name: str, rule: str, created_on: str, *, every: int | None = None,
           unit: str | None = None, statutory_date: str | None = None, note: str | None = None,
           genres: tuple[str, ...] = (), organ_code: str = DEPT, version: int = 1) -> None:
    catalog.add("column.created" if version == 1 else "column.updated", "column", column_id, version,
                {"id": column_id, "organ_code": organ_code, "name": name, "rule": rule, "every": every, "unit": unit,
                 "statutory_date": statutory_date, "note": note, "genres": list(genres), "subject_categories": [],
                 "created_on": created_on, "active": True})


def doc(catalog: Feed, doc_id: str, published: str, due: str | None, *, columns: tuple[str, ...] = (),
        genre: str = "notice", needs_interpretation: bool = False, interpretation_due: str | None = None,
        interpretation_of: str | None = None, organ_code: str = DEPT, version: int = 1) -> None:
    catalog.add("document.published", "document", doc_id, version, {
        "public": True, "organ_code": organ_code, "index_no": f"X-{doc_id}", "genre": genre, "validity": "in_force",
        "written_date": None, "repeal_date": None, "published_at": f"{published}T02:00:00+00:00", "key_areas": [],
        "formed_on": None, "publication_due_on": due, "publication_due_provisional": False,
        "columns": list(columns), "needs_interpretation": needs_interpretation,
        "interpretation_due_on": interpretation_due, "interpretation_of": interpretation_of})


def withdraw(catalog: Feed, doc_id: str, on: str, version: int = 2) -> None:
    catalog.add("document.withdrawn", "document", doc_id, version, {"public": False},
                occurred_at=datetime.fromisoformat(f"{on}T03:00:00+00:00").astimezone(UTC))


def base_events() -> tuple[Feed, Feed, Apps]:
    catalog, requests = Feed(), Feed()
    apps = Apps(requests)
    organ(catalog, CITY, "示例市人民政府", "peoples_government")
    organ(catalog, DEPT, "示例市财政局", parent=CITY)
    organ(catalog, OTHER, "示例市教育局", parent=CITY)
    column(catalog, "c_news", "工作动态", "interval", "2026-01-05", every=2, unit="week")
    column(catalog, "c_notice", "通知公告", "interval", "2025-10-01", every=6, unit="month")
    column(catalog, "c_report", "年度报告", "statutory", "2025-01-01", statutory_date="01-31")
    column(catalog, "c_plan", "规划计划", "when_changed", "2025-01-01", note="本年度无新编制规划")
    column(catalog, "c_fin", "财政预决算", "when_changed", "2025-01-01")
    column(catalog, "c_proj", "重大项目", "interval", "2026-06-10", every=1, unit="month")
    column(catalog, "c_old", "专项工作", "interval", "2026-01-01", every=1, unit="month")
    # Placed by 体裁 (no explicit placement): p1, p4, p3 are its records; last update 06-29, fresh.
    column(catalog, "c_policy", "政策文件", "interval", "2025-01-01", every=6, unit="month",
           genres=("normative_document",))
    column(catalog, "c_other", "其他机关栏目", "when_changed", "2025-01-01", note="无", genres=("notice",),
           organ_code=OTHER)  # another organ's column: DEPT's notices are not in it
    doc(catalog, "n1", "2026-06-20", "2026-06-25", columns=("c_news",))
    doc(catalog, "n2", "2025-11-10", "2025-11-20", columns=("c_notice",))
    doc(catalog, "r1", "2026-01-20", "2026-01-15", columns=("c_report",))
    doc(catalog, "w1", "2026-06-25", "2026-06-26", columns=("c_old",))
    withdraw(catalog, "w1", "2026-06-28")
    doc(catalog, "p1", "2026-03-02", "2026-03-10", genre="normative_document", needs_interpretation=True,
        interpretation_due="2026-03-05")
    doc(catalog, "i1", "2026-03-04", None, genre="interpretation", interpretation_of="p1")
    doc(catalog, "p2", "2026-04-01", "2026-04-01", needs_interpretation=True, interpretation_due="2026-04-06")
    doc(catalog, "p3", "2026-06-29", "2026-07-01", genre="normative_document", needs_interpretation=True,
        interpretation_due="2026-07-02")
    doc(catalog, "p4", "2026-05-01", "2026-05-10", genre="normative_document", needs_interpretation=True,
        interpretation_due="2026-05-08")
    doc(catalog, "i2", "2026-05-20", None, genre="interpretation", interpretation_of="p4")
    appeal = {"kind": "reconsideration", "filed_on": "2026-03-01"}
    apps.put("a1", organ_code=DEPT, status="replied", receipt_date="2026-01-20", due_on="2026-02-20",
             closed_on="2026-02-10", outcome="granted",
             appeals=[{"id": "ap1", **appeal, "outcome": "corrected", "decided_on": "2026-04-01"}])
    apps.put("a2", organ_code=DEPT, status="replied", receipt_date="2026-02-09", due_on="2026-03-10",
             closed_on="2026-03-15", outcome="granted",
             breaches=[{"code": "late_supplement_notice", "article": "条例第三十条", "on": "2026-03-01",
                        "due_on": "2026-02-27"}],
             appeals=[{"id": "ap2", **appeal, "outcome": "upheld", "decided_on": "2026-05-01"}])
    apps.put("a3", organ_code=DEPT, status="replied", receipt_date="2026-06-10", due_on="2026-07-08",
             closed_on="2026-07-05", outcome="granted",
             breaches=[{"code": "late_supplement_notice", "article": "条例第三十条", "on": "2026-07-02",
                        "due_on": "2026-06-19"}],
             appeals=[{"id": "ap3", **appeal, "outcome": "corrected", "decided_on": "2026-07-10"}])
    apps.put("a4", organ_code=DEPT, status="accepted", receipt_date="2026-04-01", due_on="2026-05-01")
    return catalog, requests, apps


@pytest.fixture
async def fed(stats_db):
    catalog, requests, apps = base_events()
    await drain(stats_db, catalog, requests)
    return catalog, requests, apps


async def card(stats, organ_code: str = DEPT, who: dict = STAFF, **params) -> dict:
    r = await stats.get(f"{API}/scorecards/{organ_code}", headers=who, params={"as_of": D, **params})
    assert r.status_code == 200, r.text
    return r.json()


def figures(body: dict) -> dict:
    return {i["key"]: (i["value"], i["numerator"], i["denominator"], i["status"], i["points"], i["vetoes"])
            for i in body["indicators"]}


HAND_SCORED = {
    "columns_updated": (2, 2, None, "fail", 10.0, True),
    "blank_columns": (3, 3, None, "pass", 4.0, False),
    "publication_timeliness": (0.8333, 5, 6, "fail", 16.67, False),
    "reply_timeliness": (0.5, 1, 2, "fail", 10.0, False),
    "statutory_breaches": (1, 1, None, "fail", 8.0, False),
    "interpretation_ratio": (0.5, 2, 4, "fail", 5.0, False),
    "interpretation_overdue": (1, 1, None, "fail", 3.0, False),
    "validity_reviews": (0, 0, None, "pass", 5.0, False),
    "standard_catalogue_coverage": (None, 0, 0, "not_applicable", 5.0, False),
    "appeal_correction": (0.5, 1, 2, "fail", 0.0, False),
    # Version 3 (test_scorecard_feeds.py scores them in detail): a1, a2 granted, neither published later; no
    # attachment found failing.
    "proactive_publication": (0.0, 0, 2, "fail", 0.0, False),
    "broken_attachments": (0, 0, None, "pass", 5.0, False),
}
V3 = ("proactive_publication", "broken_attachments", "standard_catalogue_coverage")


async def test_each_indicator_on_the_hand_scored_fixture(stats, fed):
    body = await card(stats)
    assert (body["organ_code"], body["organ_name"], body["from"], body["as_of"], body["include_subordinates"]) == (
        DEPT, "示例市财政局", "2026-01-01", D, False)
    assert body["sheet"]["id"] == "gb-2019-19" and body["sheet"]["builtin"] is True
    assert "国办秘函〔2019〕19号" in body["sheet"]["source"]
    assert figures(body) == HAND_SCORED
    assert (body["total_points"], body["max_points"], body["pass_mark"]) == (71.67, 120.0, 60.0)
    second = await card(stats, sheet_version="2")
    assert (second["sheet"]["version"], second["total_points"], second["max_points"]) == (2, 61.67, 105.0)
    assert figures(second) == {k: v for k, v in HAND_SCORED.items() if k not in V3}
    # The built-in sheet's earlier version is kept: the card as it was scored before 有效期 was an indicator.
    first = await card(stats, sheet_version="1")
    assert (first["sheet"]["version"], first["total_points"], first["max_points"]) == (1, 56.67, 100.0)
    assert figures(first) == {k: v for k, v in HAND_SCORED.items() if k not in ("validity_reviews", *V3)}
    assert (body["veto_items"], body["verdict"]) == (["columns_updated"], "vetoed")
    veto = {i["key"] for i in body["indicators"] if i["veto"]}
    assert veto == {"columns_updated", "blank_columns"}
    assert all(i["source"] for i in body["indicators"])


async def drill(stats, url: str, who: dict = STAFF) -> dict:
    r = await stats.get(f"{url}&limit=200", headers=who)
    assert r.json()["has_more"] is False
    assert r.status_code == 200, r.text
    return r.json()


async def test_the_drill_down_of_every_figure_equals_it(stats, fed):
    body = await card(stats)
    ids = {}
    for ind in body["indicators"]:
        records = await drill(stats, ind["records_url"])
        counted = [r["id"] for r in records["items"] if r["counted"]]
        assert (records["value"], records["numerator"], records["denominator"]) == (
            ind["value"], ind["numerator"], ind["denominator"]), ind["key"]
        if ind["kind"] == "count":
            assert records["total"] == len(records["items"]) == ind["value"] == len(counted), ind["key"]
        else:
            assert records["total"] == len(records["items"]) == ind["denominator"], ind["key"]
            assert len(counted) == ind["numerator"], ind["key"]
        ids[ind["key"]] = (sorted(counted), sorted(r["id"] for r in records["items"]))
    assert ids["columns_updated"][0] == ["c_notice", "c_old"]
    assert ids["blank_columns"][0] == ["c_fin", "c_old", "c_proj"]
    assert ids["publication_timeliness"] == (["n1", "p1", "p2", "p3", "p4"], ["n1", "p1", "p2", "p3", "p4", "r1"])
    assert ids["reply_timeliness"] == (["a1"], ["a1", "a2"])
    assert ids["statutory_breaches"][0] == ["a2#0"]
    assert ids["interpretation_ratio"] == (["p1", "p4"], ["p1", "p2", "p3", "p4"])
    assert ids["interpretation_overdue"][0] == ["p2"]
    assert ids["appeal_correction"] == (["ap1"], ["ap1", "ap2"])
    stale = await drill(stats, f"{API}/scorecards/{DEPT}/metrics/stale_columns/records?as_of={D}")
    notice = next(r for r in stale["items"] if r["id"] == "c_notice")
    assert (notice["day"], notice["due_on"], notice["detail"]["name"]) == ("2025-11-10", "2026-05-10", "通知公告")
    # Paged like every list (after / limit): the pages together are the records, the total exact on each.
    url = f"{API}/scorecards/{DEPT}/metrics/publication_on_time_rate/records"
    seen, after = [], None
    while True:
        page = (await stats.get(url, headers=STAFF, params={"as_of": D, "limit": 4, **({"after": after} if after
                                                                                       else {})})).json()
        assert page["total"] == 6
        seen += [i["id"] for i in page["items"]]
        if not page["has_more"]:
            break
        after = page["next_cursor"]
    assert sorted(seen) == ["n1", "p1", "p2", "p3", "p4", "r1"]


async def test_a_past_day_is_reproduced_after_later_events(stats, stats_db, fed):
    catalog, requests, apps = fed
    before = await card(stats)
    # After D: p2 gets its 解读, 通知公告 is updated, n1 withdrawn, a new column, a4 closed, a new breach, a new
    # appeal decision, and a changed sheet of nothing (the built-in one cannot change).
    doc(catalog, "i3", "2026-07-03", None, genre="interpretation", interpretation_of="p2")
    doc(catalog, "n3", "2026-07-02", "2026-07-03", columns=("c_notice",))
    withdraw(catalog, "n1", "2026-07-06")
    column(catalog, "c_new", "新栏目", "when_changed", "2026-07-01")
    apps.put("a4", status="replied", closed_on="2026-07-08", outcome="granted")
    await drain(stats_db, catalog, requests)
    assert await card(stats) == before
    for ind in before["indicators"]:
        assert (await drill(stats, ind["records_url"]))["total"] in (ind["value"], ind["denominator"])
    later = figures(await card(stats, as_of="2026-07-10"))
    assert later["interpretation_overdue"][0] == 1  # p2 is interpreted now, p3 (due 07-02) is overdue
    assert later["columns_updated"][0] == 2  # 通知公告 fresh again; 工作动态 lost its record (n1) and is stale
    assert later["blank_columns"][0] == 5  # + 工作动态 (emptied) + 新栏目
    assert later["reply_timeliness"][:3] == (0.5, 2, 4)  # + a3 on time (07-05 ≤ 07-08), a4 late (07-08 > 05-01)


async def test_a_province_loads_its_own_sheet(stats, fed):
    sheet = {"id": "gd-2026", "name": "广东省政务公开考评指标（示例）", "source": "示例省政务公开办 2026年考评方案",
             "pass_mark": 60, "indicators": [
                 {"key": "columns", "metric": "stale_columns", "name_zh": "栏目更新", "name_en": "Columns",
                  "pass_if": {"op": "<=", "value": 2}, "points": 50, "source": "方案第一条"},
                 {"key": "replies", "metric": "reply_on_time_rate", "name_zh": "按期答复", "name_en": "Replies",
                  "pass_if": {"op": ">=", "value": 0.5}, "points": 50, "veto": True, "source": "方案第二条"}]}
    admin = auth("admin")
    r = await stats.post(f"{API}/scorecard-sheets", json=sheet, headers=admin)
    assert r.status_code == 201, r.text
    assert (r.json()["id"], r.json()["version"], r.json()["builtin"]) == ("gd-2026", 1, False)
    body = await card(stats, sheet="gd-2026")
    assert body["sheet"] == {"id": "gd-2026", "version": 1, "name": sheet["name"], "source": sheet["source"],
                             "builtin": False}
    assert figures(body) == {"columns": (2, 2, None, "pass", 50.0, False),
                             "replies": (0.5, 1, 2, "pass", 50.0, False)}
    assert (body["total_points"], body["verdict"]) == (100.0, "pass")
    # Version 2 tightens the reply rule; version 1 still gives the old card.
    sheet["indicators"][1]["pass_if"]["value"] = 0.9
    r = await stats.post(f"{API}/scorecard-sheets", json=sheet, headers=admin)
    assert r.json()["version"] == 2
    tighter = await card(stats, sheet="gd-2026")
    assert (tighter["sheet"]["version"], tighter["veto_items"], tighter["verdict"], tighter["total_points"]) == (
        2, ["replies"], "vetoed", 50.0)
    assert await card(stats, sheet="gd-2026", sheet_version=1) == body
    listed = (await stats.get(f"{API}/scorecard-sheets", headers=STAFF)).json()["sheets"]
    assert [(s["id"], s["version"]) for s in listed] == [("gb-2019-19", 3), ("gd-2026", 2)]
    # Only admins load sheets; a built-in id is refused; a sheet naming an unknown metric is invalid.
    r = await stats.post(f"{API}/scorecard-sheets", json=sheet, headers=STAFF)
    assert_problem(r, 403, "wrong_role")
    r = await stats.post(f"{API}/scorecard-sheets", json={**sheet, "id": "gb-2019-19"}, headers=admin)
    assert_problem(r, 409, "sheet_builtin")
    bad = {**sheet, "indicators": [{**sheet["indicators"][0], "metric": "site_reachable"}]}
    assert_problem(await stats.post(f"{API}/scorecard-sheets", json=bad, headers=admin), 422, "validation_error")
    r = await stats.get(f"{API}/scorecards/{DEPT}", headers=STAFF, params={"sheet": "nope"})
    assert_problem(r, 404, "sheet_not_found")


async def test_ranking_of_siblings_and_roll_up(stats, fed):
    rolled = await card(stats, CITY, CITY_STAFF, include_subordinates="true")
    assert figures(rolled) == HAND_SCORED  # the city has nothing of its own; 教育局 nothing at all
    own = await card(stats, CITY, CITY_STAFF)
    assert (own["total_points"], own["verdict"]) == (120.0, "pass")  # nothing to score: full points
    r = await stats.get(f"{API}/scorecards/{CITY}/ranking", headers=CITY_STAFF, params={"as_of": D})
    assert r.status_code == 200, r.text
    assert [(i["rank"], i["organ_code"], i["total_points"], i["verdict"]) for i in r.json()["organs"]] == [
        (1, OTHER, 120.0, "pass"), (2, DEPT, 71.67, "vetoed")]


async def test_access_and_inputs(stats, fed):
    r = await stats.get(f"{API}/scorecards/{CITY}", headers=STAFF, params={"as_of": D})
    assert_problem(r, 403, "forbidden")  # a department cannot see its superior's card
    r = await stats.get(f"{API}/scorecards/{DEPT}", params={"as_of": D})
    assert_problem(r, 401, "authentication_required")
    r = await stats.get(f"{API}/scorecards/{DEPT}", headers=STAFF, params={"as_of": D, "from": "2026-07-01"})
    assert_problem(r, 422, "validation_error")
    r = await stats.get(f"{API}/scorecards/{DEPT}/metrics/nope/records", headers=STAFF)
    assert_problem(r, 422, "validation_error")


async def test_xlsx_and_printable_html_carry_the_same_figures(stats, fed):
    import io
    import re

    from openpyxl import load_workbook

    body = await card(stats)
    r = await stats.get(f"{API}/scorecards/{DEPT}/export.xlsx", headers=STAFF, params={"as_of": D})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert f'filename="scorecard-{DEPT}-{D}.xlsx"' in r.headers["content-disposition"]
    ws = load_workbook(io.BytesIO(r.content)).active
    table = [[c.value for c in row] for row in ws.iter_rows(min_row=5, max_row=4 + len(body["indicators"]))]
    assert [(row[0], row[5], row[6]) for row in table] == [
        (i["name_zh"], i["points"], i["max_points"]) for i in body["indicators"]]
    assert [row[2] for row in table][:3] == ["2", "3", "83.33%"]
    total = [c.value for c in ws[5 + len(body["indicators"])]]
    assert (total[0], total[5], total[6], total[7]) == ("合计", 71.67, 120.0, "单项否决")

    r = await stats.get(f"{API}/scorecards/{DEPT}/export.html", headers=STAFF, params={"as_of": D})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert "总分 71.67 / 120.0" in html and "单项否决" in html and "栏目更新（超期未更新栏目数）" in html
    # The chart is drawn on the server: one scored bar per indicator, widths proportional to the points.
    bars = re.findall(r'<rect class="(ok|bad|veto)" x="200" y="[\d.]+" width="([\d.]+)"', html)
    maxima = re.findall(r'<rect class="max" x="200" y="[\d.]+" width="([\d.]+)"', html)
    assert len(bars) == len(maxima) == len(body["indicators"])
    assert [css for css, _ in bars][0] == "veto"
    for (_, width), full, ind in zip(bars, maxima, body["indicators"], strict=True):
        assert abs(float(width) / float(full) - ind["points"] / ind["max_points"]) < 0.01, ind["key"]
    # Nothing fetched from elsewhere when printed: no script, no external stylesheet, font or image.
    assert "<script" not in html and "<link" not in html
    assert re.findall(r'(?:src|href)="', html) == []
    assert set(re.findall(r'https?://[^"\s)]+', html)) <= {"http://www.w3.org/2000/svg"}


async def test_a_rebuild_from_cursor_zero_in_one_batch_gives_the_same_cards(stats, stats_db, fed):
    """Publication and withdrawal of one record in the same batch: the record was public between the two, so a
    past day's card must still count it (a fold to the record's latest event alone would lose it)."""
    from sqlalchemy import delete

    from services.outbox import FeedConsumer
    from stats_service.domain.ingest import apply_catalog_events, apply_request_events
    from stats_service.models import (
        AppealFact,
        ApplicationFact,
        BreachFact,
        ColumnFact,
        DocumentColumnFact,
        DocumentFact,
        OrganFact,
        ReportCounter,
        ScoreDocumentFact,
        outbox,
    )

    catalog, requests, apps = fed
    withdraw(catalog, "n1", "2026-07-06")  # after D: n1 (工作动态's record) still counts on D
    await drain(stats_db, catalog, requests)
    days = (D, "2026-06-27", "2026-07-10")
    before = [await card(stats, as_of=day) for day in days]
    async with stats_db.transaction() as session:
        for model in (ScoreDocumentFact, DocumentColumnFact, ColumnFact, DocumentFact, OrganFact, ApplicationFact,
                      AppealFact, BreachFact, ReportCounter):
            await session.execute(delete(model))
        await session.execute(delete(outbox.cursors))
    for name, feed, apply in (("catalog", catalog, apply_catalog_events), ("request", requests, apply_request_events)):
        assert await FeedConsumer(name, stats_db, outbox, feed, apply, batch_size=100_000).poll_once() == len(
            feed.events)
    assert [await card(stats, as_of=day) for day in days] == before
    # On 06-27 w1 (withdrawn 06-28) was still public: 专项工作 was neither stale nor blank then.
    assert figures(before[1])["columns_updated"][0] == 1 and figures(before[1])["blank_columns"][0] == 2


async def test_monthly_series_is_the_card_of_each_months_last_day(stats, fed):
    r = await stats.get(f"{API}/scorecards/{DEPT}/series", headers=STAFF, params={"from": "2026-01", "to": "2026-06"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["organ_code"], body["sheet"]["id"], body["sheet"]["version"]) == (DEPT, "gb-2019-19", 3)
    assert [(m["month"], m["as_of"]) for m in body["months"]] == [
        ("2026-01", "2026-01-31"), ("2026-02", "2026-02-28"), ("2026-03", "2026-03-31"), ("2026-04", "2026-04-30"),
        ("2026-05", "2026-05-31"), ("2026-06", "2026-06-30")]
    for month in body["months"]:
        same = await card(stats, as_of=month["as_of"])
        assert (month["total_points"], month["max_points"], month["verdict"], month["veto_items"]) == (
            same["total_points"], same["max_points"], same["verdict"], same["veto_items"]), month["month"]
        assert month["indicators"] == [{k: i[k] for k in ("key", "value", "status", "status_label", "points")}
                                       for i in same["indicators"]], month["month"]
    june = body["months"][-1]
    assert (june["total_points"], june["verdict"]) == (71.67, "vetoed")
    # 1 March: p1 published, not yet interpreted, its deadline (03-05) not passed; by 31 March p2 not yet published.
    march = {i["key"]: i["value"] for i in body["months"][2]["indicators"]}
    assert (march["interpretation_ratio"], march["interpretation_overdue"], march["reply_timeliness"]) == (1.0, 0, 0.5)
    for params in ({"from": "2026-06", "to": "2026-01"}, {"from": "2023-01", "to": "2026-06"}, {"from": "2026-13"}):
        r = await stats.get(f"{API}/scorecards/{DEPT}/series", headers=STAFF, params=params)
        assert_problem(r, 422, "validation_error")
    r = await stats.get(f"{API}/scorecards/{CITY}/series", headers=STAFF)
    assert_problem(r, 403, "forbidden")


async def test_reminders_list_what_to_fix_first(stats, fed):
    r = await stats.get(f"{API}/scorecards/{DEPT}/reminders", headers=STAFF, params={"as_of": D, "top": 1})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["verdict"], body["total_points"], body["as_of"], body["from"]) == (
        "vetoed", 71.67, D, "2026-01-01")
    # 单项否决 first, then by points lost, ties in the sheet's order; passing indicators are not listed.
    assert [(i["key"], i["vetoes"], i["points_lost"], i["to_fix"]) for i in body["reminders"]] == [
        ("columns_updated", True, 10.0, 2), ("reply_timeliness", False, 10.0, 1),
        ("interpretation_ratio", False, 5.0, 2), ("appeal_correction", False, 5.0, 1),
        ("proactive_publication", False, 5.0, 2),
        ("publication_timeliness", False, 3.33, 1), ("statutory_breaches", False, 2.0, 1),
        ("interpretation_overdue", False, 2.0, 1)]
    # The records to fix: where the rule caps the figure the counted ones, where it asks a minimum the others —
    # the first of the drill-down's own list.
    first = {i["key"]: [rec["id"] for rec in i["records"]] for i in body["reminders"]}
    assert first == {"columns_updated": ["c_old"], "reply_timeliness": ["a2"], "interpretation_ratio": ["p2"],
                     "appeal_correction": ["ap1"], "proactive_publication": ["a1"],
                     "publication_timeliness": ["r1"], "statutory_breaches": ["a2#0"],
                     "interpretation_overdue": ["p2"]}
    for item in body["reminders"]:
        records = (await drill(stats, item["records_url"]))["items"]
        bad = [rec for rec in records if rec["counted"] == (item["pass_if"]["op"] == "<=")]
        assert (len(bad), bad[:1]) == (item["to_fix"], item["records"]), item["key"]
    r = await stats.get(f"{API}/scorecards/{DEPT}/reminders", headers=STAFF, params={"as_of": D})
    assert [len(i["records"]) for i in r.json()["reminders"]][:3] == [2, 1, 2]  # top 5 by default
    r = await stats.get(f"{API}/scorecards/{OTHER}/reminders", headers=CITY_STAFF, params={"as_of": D})
    assert (r.json()["verdict"], r.json()["reminders"]) == ("pass", [])
    assert_problem(await stats.get(f"{API}/scorecards/{DEPT}/reminders", params={"as_of": D}), 401,
                   "authentication_required")
