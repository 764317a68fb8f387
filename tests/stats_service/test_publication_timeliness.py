"""Publication timeliness of proactive documents (条例第二十六条) on the dashboards, from the catalogue's document
events with `formed_on` and `publication_due_on`: on time vs late by the publication day in Beijing time, per month
and per organ of the subtree, days late in calendar and working days; events without the fields count as "no due
date"; withdrawn documents and other organs' documents are left out."""

from datetime import date

import pytest
from sqlalchemy import select

from stats_service.domain.workdays import working_days_between
from stats_service.models import DocumentFact
from tests.stats_service.helpers import Feed, drain, organ
from tests.support import assert_problem, auth

API = "/api/v1/stats/dashboards"
CITY, DEPT, STREET, OTHER = "11440100MS0000001A", "11440100MS0000002B", "11440100MS0000003C", "11440100MS0000009Z"
Q1 = {"from": "2026-01-01", "to": "2026-03-31"}


def publish(catalog: Feed, doc_id: str, organ_code: str, published_at: str, due: str | None, *,
            version: int = 1, with_fields: bool = True) -> dict:
    payload = {"public": True, "organ_code": organ_code, "index_no": f"X-{doc_id}", "genre": "notice",
               "validity": "in_force", "written_date": "2026-01-05", "repeal_date": None,
               "published_at": published_at, "key_areas": []}
    if with_fields:  # the catalogue's payload since publication timeliness (formed_on + 20 working days = due)
        payload |= {"formed_on": "2026-01-05" if due else None, "publication_due_on": due}
    catalog.add("document.published", "document", doc_id, version, payload)
    return payload


@pytest.fixture
async def documents(stats_db):
    catalog = Feed()
    organ(catalog, CITY, "示例市人民政府", "peoples_government")
    organ(catalog, DEPT, "示例市财政局", parent=CITY)
    organ(catalog, STREET, "示例街道", "township_street", parent=DEPT)
    organ(catalog, OTHER, "示例市教育局", parent=CITY)
    publish(catalog, "d1", DEPT, "2026-01-20T02:00:00+00:00", "2026-01-29")  # on time
    publish(catalog, "d2", DEPT, "2026-01-29T15:00:00+00:00", "2026-01-29")  # 23:00 in Beijing: on the due day
    publish(catalog, "d3", DEPT, "2026-01-29T16:30:00+00:00", "2026-01-29")  # 00:30 on the 30th: 1 day late
    publish(catalog, "d5", DEPT, "2026-02-05T02:00:00+00:00", None, with_fields=False)  # an event before the fields
    publish(catalog, "d4", STREET, "2026-03-09T02:00:00+00:00", "2026-03-02")  # 7 days, 5 working days late
    publish(catalog, "d9", DEPT, "2026-03-05T02:00:00+00:00", "2026-03-02")  # 3 days, 3 working days late
    publish(catalog, "d6", OTHER, "2026-02-10T02:00:00+00:00", "2026-02-27")  # another bureau
    withdrawn = publish(catalog, "d7", DEPT, "2026-02-10T02:00:00+00:00", "2026-01-29")
    catalog.add("document.withdrawn", "document", "d7", 2, {"public": False})
    publish(catalog, "d8", DEPT, "2026-03-31T17:00:00+00:00", "2026-03-02")  # 1 April in Beijing: outside Q1
    # A changed document (变更) re-announced with its new formation date and deadline: the latest version counts.
    publish(catalog, "d10", DEPT, "2026-03-20T02:00:00+00:00", "2026-03-10")
    publish(catalog, "d10", DEPT, "2026-03-20T02:00:00+00:00", "2026-03-27", version=2)
    await drain(stats_db, catalog, Feed())
    assert withdrawn["publication_due_on"] == "2026-01-29"
    # The hand-counted working days hold for this calendar (no holiday or 调休 in these weeks of 2026).
    assert [working_days_between(date(2026, m, d1), date(2026, m, d2)) for m, d1, d2 in
            ((1, 29, 30), (3, 2, 9), (3, 2, 5))] == [1, 5, 3]


def figures(item: dict) -> tuple:
    return tuple(item[k] for k in ("published", "with_due_date", "on_time", "late", "no_due_date", "on_time_rate",
                                   "avg_days_late", "max_days_late", "avg_working_days_late"))


async def test_facts_keep_the_dates(stats_db, documents):
    async with stats_db.transaction(write=False) as session:
        facts = {d.document_id: d for d in (await session.execute(select(DocumentFact))).scalars()}
    assert (facts["d1"].formed_on, facts["d1"].publication_due_on) == (date(2026, 1, 5), date(2026, 1, 29))
    assert (facts["d5"].formed_on, facts["d5"].publication_due_on) == (None, None)
    assert (facts["d7"].public, facts["d7"].publication_due_on) == (False, None)  # withdrawn: nothing kept
    assert facts["d10"].publication_due_on == date(2026, 3, 27)


async def test_by_month_and_organ(stats, documents):
    r = await stats.get(f"{API}/{DEPT}/publication-timeliness", headers=auth("stats_officer", organ=DEPT), params=Q1)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["from"], body["to"], body["granularity"], body["include_subordinates"]) == \
        ("2026-01-01", "2026-03-31", "month", True)
    jan, feb, mar = body["series"]
    assert (jan["period"], jan["start"], jan["end"]) == ("2026-01", "2026-01-01", "2026-01-31")
    assert figures(jan) == (3, 3, 2, 1, 0, 0.6667, 1.0, 1, 1.0)
    assert figures(feb) == (1, 0, 0, 0, 1, None, None, None, None)
    assert figures(mar) == (3, 3, 1, 2, 0, 0.3333, 5.0, 7, 4.0)
    assert figures(body["totals"]) == (7, 6, 3, 3, 1, 0.5, 3.67, 7, 3.0)
    assert [(i["key"], i["label"], i["parent_code"], i["depth"]) for i in body["by_organ"]] == [
        (DEPT, "示例市财政局", CITY, 1), (STREET, "示例街道", DEPT, 2)]
    dept, street = body["by_organ"]
    assert figures(dept) == (6, 5, 3, 2, 1, 0.6, 2.0, 3, 2.0)
    assert figures(street) == (1, 1, 0, 1, 0, 0.0, 7.0, 7, 5.0)

    own = (await stats.get(f"{API}/{DEPT}/publication-timeliness", headers=auth("stats_officer", organ=DEPT),
                           params={**Q1, "include_subordinates": "false"})).json()
    assert figures(own["totals"]) == figures(dept) and [i["key"] for i in own["by_organ"]] == [DEPT]
    city = (await stats.get(f"{API}/{CITY}/publication-timeliness", headers=auth("unit_head", organ=CITY),
                            params={**Q1, "granularity": "quarter"})).json()
    assert [p["period"] for p in city["series"]] == ["2026-Q1"]
    assert figures(city["series"][0]) == figures(city["totals"]) == (8, 7, 4, 3, 1, 0.5714, 3.67, 7, 3.0)
    assert [i["key"] for i in city["by_organ"]] == [CITY, DEPT, STREET, OTHER]
    assert figures(city["by_organ"][0]) == (0, 0, 0, 0, 0, None, None, None, None)  # zeros kept for charts
    april = (await stats.get(f"{API}/{DEPT}/publication-timeliness", headers=auth("admin"),
                             params={"from": "2026-04-01", "to": "2026-04-30"})).json()
    assert figures(april["totals"]) == (1, 1, 0, 1, 0, 0.0, 30.0, 30, 22.0)  # 21 working days in March after the 2nd


async def test_range_and_access(stats, documents):
    officer = auth("stats_officer", organ=DEPT)
    body = assert_problem(await stats.get(f"{API}/{DEPT}/publication-timeliness", headers=officer,
                                          params={"from": "2024-01-01", "to": "2027-01-01"}), 422)
    assert body["errors"][0]["loc"] == ["query", "to"]
    assert_problem(await stats.get(f"{API}/{DEPT}/publication-timeliness", headers=officer,
                                   params={"granularity": "week"}), 422)
    assert_problem(await stats.get(f"{API}/{DEPT}/publication-timeliness"), 401)
    assert_problem(await stats.get(f"{API}/{CITY}/publication-timeliness", headers=officer), 403)
    assert_problem(await stats.get(f"{API}/{DEPT}/publication-timeliness", headers=auth("drafter", organ=DEPT)), 403)
