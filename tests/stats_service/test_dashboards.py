"""Dashboards against a known event set: monthly series, on-time rate, working days to reply, fees, documents,
breakdowns by organ / channel / applicant type, overdue now; range limits and access."""

from datetime import date

import pytest

from stats_service.domain.workdays import working_days_between
from tests.stats_service.helpers import Apps, Feed, drain, organ
from tests.support import assert_problem, auth

API = "/api/v1/stats/dashboards"
CITY, DEPT, STREET, OTHER = "11440100MS0000001A", "11440100MS0000002B", "11440100MS0000003C", "11440100MS0000009Z"
TODAY = date(2026, 4, 1)
Q1 = {"from": "2026-01-01", "to": "2026-03-31"}


@pytest.fixture
async def known(stats_db, monkeypatch):
    monkeypatch.setattr("stats_service.api.dashboards.today", lambda: TODAY)
    catalog, requests = Feed(), Feed()
    organ(catalog, CITY, "示例市人民政府", "peoples_government")
    organ(catalog, DEPT, "示例市财政局", parent=CITY)
    organ(catalog, STREET, "示例街道", "township_street", parent=DEPT)
    organ(catalog, OTHER, "示例市教育局", parent=CITY)
    doc = {"public": True, "organ_code": DEPT, "genre": "notice", "validity": "in_force", "written_date": "2026-02-01"}
    catalog.add("document.published", "document", "d1", 1, {**doc, "published_at": "2026-03-31T18:00:00+00:00"})
    catalog.add("document.published", "document", "d2", 1, {**doc, "published_at": "2026-02-28T17:00:00+00:00"})
    apps = Apps(requests)

    def replied(received: str, closed: str, due: str, outcome: str = "granted", **kw) -> None:
        a = apps.put(organ_code=kw.pop("organ_code", DEPT), receipt_date=received, due_on=due, **kw)
        apps.put(a, status="replied", closed_on=closed, outcome=outcome)

    replied("2026-03-02", "2026-03-06", "2026-03-30")  # 4 working days, on time
    replied("2026-03-02", "2026-03-20", "2026-03-16", "partially_granted", applicant_type="commercial_enterprise",
            channel="email")  # 14, late
    a = apps.put(organ_code=STREET, receipt_date="2026-03-09", due_on="2026-04-07", applicant_type="other_org",
                 channel="in_person")
    apps.put(a, status="closed", closed_on="2026-03-31", outcome="other.no_supplement")  # abandoned: no reply time
    replied("2026-03-11", "2026-03-25", "2026-04-08")  # 10, on time
    apps.put(organ_code=DEPT, receipt_date="2026-02-25", due_on="2026-03-24")  # open, overdue on 1 April
    apps.put(organ_code=DEPT, receipt_date="2026-03-30", due_on="2026-04-28")  # open, not due yet
    replied("2026-03-03", "2026-03-04", "2026-03-31", organ_code=OTHER)  # another organ: outside the scope
    fee = apps.put(organ_code=DEPT, receipt_date="2026-01-19", due_on="2026-02-13", fee_amount="100.00",
                   fee_noticed_on="2026-01-20")
    apps.put(fee, fee_paid_amount="100.00", fee_paid_on="2026-02-02")
    apps.put(fee, status="replied", closed_on="2026-01-23", outcome="granted")  # 4, on time
    await drain(stats_db, catalog, requests)
    # The hand-counted working days hold for this calendar (no holiday or 调休 in these weeks of 2026).
    assert [working_days_between(date(2026, 3, d1), date(2026, 3, d2)) for d1, d2 in ((2, 6), (2, 20), (11, 25))] \
        == [4, 14, 10]
    assert working_days_between(date(2026, 1, 19), date(2026, 1, 23)) == 4


async def test_monthly_series(stats, known):
    r = await stats.get(f"{API}/{DEPT}/timeseries", headers=auth("stats_officer", organ=DEPT), params=Q1)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["from"] == "2026-01-01" and body["to"] == "2026-03-31" and body["granularity"] == "month"
    assert body["working_days"]["source"] == "chinese_calendar"
    jan, feb, mar = body["series"]
    assert (jan["period"], jan["start"], jan["end"]) == ("2026-01", "2026-01-01", "2026-01-31")
    assert [p["received"] for p in body["series"]] == [1, 1, 5]
    assert [p["closed"] for p in body["series"]] == [1, 0, 4]
    assert [p["replied"] for p in body["series"]] == [1, 0, 3]
    assert (jan["on_time_rate"], feb["on_time_rate"], mar["on_time_rate"]) == (1.0, None, 0.75)
    assert (mar["closed_with_due"], mar["closed_on_time"]) == (4, 3)
    assert (jan["avg_working_days"], jan["median_working_days"]) == (4.0, 4.0)
    assert (mar["avg_working_days"], mar["median_working_days"]) == (9.33, 10.0)
    assert feb["avg_working_days"] is None and feb["median_working_days"] is None
    assert mar["outcomes"] == {"granted": 2, "other.no_supplement": 1, "partially_granted": 1}
    assert (jan["fees_noticed"], jan["fees_noticed_yuan"], jan["fees_collected_yuan"]) == (1, "100.00", "0.00")
    assert feb["fees_collected_yuan"] == "100.00"
    assert [p["documents_published"] for p in body["series"]] == [0, 0, 1]  # d1 is 1 April in Beijing time
    totals = body["totals"]
    assert (totals["received"], totals["closed"], totals["replied"]) == (7, 5, 4)
    assert (totals["on_time_rate"], totals["avg_working_days"], totals["median_working_days"]) == (0.8, 8.0, 7.0)
    assert totals["outcomes"]["granted"] == 3
    # Without subordinates the street office's application is gone; quarters give one point with the same totals.
    own = (await stats.get(f"{API}/{DEPT}/timeseries", headers=auth("stats_officer", organ=DEPT),
                           params={**Q1, "include_subordinates": "false"})).json()
    assert own["totals"]["received"] == 6 and own["totals"]["closed"] == 4
    quarter = (await stats.get(f"{API}/{DEPT}/timeseries", headers=auth("auditor", organ=CITY),
                               params={**Q1, "granularity": "quarter"})).json()
    assert [p["period"] for p in quarter["series"]] == ["2026-Q1"]
    assert {k: v for k, v in quarter["series"][0].items() if k not in ("period", "start", "end")} == totals
    # Default range: the twelve months up to today.
    default = (await stats.get(f"{API}/{DEPT}/timeseries", headers=auth("admin"))).json()
    assert (default["from"], default["to"], len(default["series"])) == ("2025-05-01", "2026-04-01", 12)


async def test_breakdowns(stats, known):
    officer = auth("unit_head", organ=DEPT)
    by_organ = (await stats.get(f"{API}/{DEPT}/breakdown", headers=officer, params={**Q1, "by": "organ"})).json()
    assert [(i["key"], i["label"], i["depth"]) for i in by_organ["items"]] == [(DEPT, "示例市财政局", 1),
                                                                              (STREET, "示例街道", 2)]
    dept, street = by_organ["items"]
    assert (dept["received"], dept["closed"], dept["replied"], dept["on_time_rate"]) == (6, 4, 4, 0.75)
    assert (dept["median_working_days"], dept["overdue_now"], dept["parent_code"]) == (7.0, 1, CITY)
    assert (street["received"], street["closed"], street["replied"], street["on_time_rate"]) == (1, 1, 0, 1.0)
    by_channel = (await stats.get(f"{API}/{DEPT}/breakdown", headers=officer, params={**Q1, "by": "channel"})).json()
    channels = {i["key"]: i for i in by_channel["items"]}
    assert len(channels) == 7 and channels["fax"]["received"] == 0
    assert (channels["online"]["received"], channels["email"]["received"], channels["in_person"]["received"]) \
        == (5, 1, 1)
    assert channels["email"]["on_time_rate"] == 0.0 and channels["email"]["label"] == "电子邮件"
    by_type = (await stats.get(f"{API}/{DEPT}/breakdown", headers=officer,
                               params={**Q1, "by": "applicant_type"})).json()
    types = {i["key"]: (i["label"], i["received"]) for i in by_type["items"]}
    assert types["natural_person"] == ("自然人", 5) and types["commercial_enterprise"] == ("商业企业", 1)
    assert types["other_org"] == ("其他", 1) and "total" not in types
    assert_problem(await stats.get(f"{API}/{DEPT}/breakdown", headers=officer, params={**Q1, "by": "outcome"}), 422)


async def test_overdue_now(stats, known):
    body = (await stats.get(f"{API}/{CITY}/overdue", headers=auth("auditor", organ=CITY))).json()
    assert body["as_of"] == "2026-04-01" and body["total"] == 1
    assert body["items"] == [{"organ_code": DEPT, "organ_name": "示例市财政局", "overdue": 1,
                              "oldest_due_on": "2026-03-24", "max_days_overdue": 8}]


async def test_range_limits_and_access(stats, known):
    officer = auth("stats_officer", organ=DEPT)
    ok = await stats.get(f"{API}/{DEPT}/timeseries", headers=officer, params={"from": "2024-01-01", "to": "2026-12-31"})
    assert ok.status_code == 200 and len(ok.json()["series"]) == 36
    body = assert_problem(await stats.get(f"{API}/{DEPT}/timeseries", headers=officer,
                                          params={"from": "2024-01-01", "to": "2027-01-01"}), 422)
    assert body["errors"][0]["loc"] == ["query", "to"]
    assert_problem(await stats.get(f"{API}/{DEPT}/breakdown", headers=officer,
                                   params={"from": "2026-03-01", "to": "2026-02-01", "by": "organ"}), 422)
    assert_problem(await stats.get(f"{API}/{DEPT}/timeseries", headers=officer, params={"granularity": "week"}), 422)
    assert_problem(await stats.get(f"{API}/{DEPT}/timeseries"), 401)
    assert_problem(await stats.get(f"{API}/{CITY}/overdue", headers=officer), 403)  # a superior organ
    assert_problem(await stats.get(f"{API}/{DEPT}/overdue", headers=auth("stats_officer", organ=OTHER)), 403)
    assert_problem(await stats.get(f"{API}/{DEPT}/overdue", headers=auth("drafter", organ=DEPT)), 403)
    assert_problem(await stats.get(f"{API}/11440100MS0000404X/overdue", headers=auth("admin")), 404, "organ_not_found")
