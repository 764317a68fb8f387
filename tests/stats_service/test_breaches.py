"""Statutory breaches (违规记录, legal-rules §1.13) counted per organ, month and breach code (issue 13 item 6).

Fed from the request service's real events: applications go through its staff API (a 补正 notice sent on working
day 8 is accepted and recorded as a breach, 条例第三十条), and the statistics follow its feed with their production
consumer (stats_service.consumers.HttpFeed over `/internal/v1/events`, here over ASGI). The breaches dashboard
counts each breach once whatever the replays, rolls sub-organs up to their superior, and its drill-down lists
exactly the breaches (and their applications) behind each count.
"""

import pytest
from sqlalchemy import delete

from services.outbox import FeedConsumer
from stats_service.config import Settings as StatsSettings
from stats_service.consumers import HttpFeed, make_consumers
from stats_service.models import outbox
from tests.request_service.helpers import Desk, accepted, act, organ_code
from tests.stats_service.helpers import Feed, organ
from tests.support import assert_problem, auth

API = "/api/v1/stats/dashboards"
CITY = "11440100MS0000001A"
LATE = "late_supplement_notice"


@pytest.fixture
def desks() -> tuple[Desk, Desk]:
    return Desk(organ_code()), Desk(organ_code())


def stats_consumers(stats_db, catalog: Feed, requests_client) -> list[FeedConsumer]:
    settings = StatsSettings()
    return make_consumers(stats_db, settings, catalog, HttpFeed(requests_client, settings))


async def follow(consumers: list[FeedConsumer]) -> None:
    for consumer in consumers:
        await consumer.drain()


async def dashboard(stats, organ_code: str, who: dict, **params) -> dict:
    r = await stats.get(f"{API}/{organ_code}/breaches", headers=who, params=params)
    assert r.status_code == 200, r.text
    return r.json()


async def drill(stats, organ_code: str, who: dict, **params) -> dict:
    r = await stats.get(f"{API}/{organ_code}/breaches/applications", headers=who, params={**params, "limit": 100})
    assert r.status_code == 200, r.text
    return r.json()


async def late_notices(requests_client, request_db, desks: tuple[Desk, Desk]) -> dict[str, str]:
    """Finance bureau: one late 补正 notice in October 2025 and one on time; street office: one late in November."""
    dept, street = desks
    ids = {}
    # Received 2025-09-26: the notice is due by 2025-10-13 (working day 7, legal-rules §6.4 example 1).
    ids["on_time"] = await accepted(requests_client, request_db, dept, "2025-09-26")
    await act(requests_client, dept.handler, ids["on_time"], "request-supplement",
              {"items": ["请明确所需信息的名称"], "on": "2025-10-13"})
    ids["october"] = await accepted(requests_client, request_db, dept, "2025-09-26")
    r = await act(requests_client, dept.handler, ids["october"], "request-supplement",
                  {"items": ["请明确所需信息的名称"], "on": "2025-10-14"})  # working day 8: a breach
    assert [b["code"] for b in r.json()["breaches"]] == [LATE]
    # Received 2025-10-20 (Monday): due by 2025-10-29; sent on 2025-11-03.
    ids["november"] = await accepted(requests_client, request_db, street, "2025-10-20")
    r = await act(requests_client, street.handler, ids["november"], "request-supplement",
                  {"items": ["请说明所需信息的年度"], "on": "2025-11-03"})
    assert [(b["code"], b["on"], b["due_on"]) for b in r.json()["breaches"]] == [(LATE, "2025-11-03", "2025-10-29")]
    return ids


@pytest.fixture
async def fed(requests_client, request_db, stats_db, desks):
    dept, street = desks
    catalog = Feed()
    organ(catalog, CITY, "示例市人民政府", "peoples_government")
    organ(catalog, dept.organ, "示例市财政局", parent=CITY)
    organ(catalog, street.organ, "示例街道", "township_street", parent=dept.organ)
    ids = await late_notices(requests_client, request_db, desks)
    consumers = stats_consumers(stats_db, catalog, requests_client)
    await follow(consumers)
    return ids, consumers


async def test_a_late_supplement_notice_is_a_breach_of_its_organ_and_month(stats, fed, desks):
    ids, _ = fed
    dept, street = desks
    body = await dashboard(stats, dept.organ, auth("stats_officer", organ=dept.organ), year=2025,
                           include_subordinates="false")
    assert (body["organ_code"], body["year"], body["month"], body["include_subordinates"]) == (
        dept.organ, 2025, None, False)
    [code] = body["codes"]
    assert code["code"] == LATE and code["article"] == "条例第三十条"
    assert "7个工作日" in code["zh"] and "Art. 30" in code["en"]
    assert [m["period"] for m in body["months"]] == [f"2025-{m:02d}" for m in range(1, 13)]
    assert {m["period"]: m["by_code"] for m in body["months"] if m["total"]} == {"2025-10": {LATE: 1}}
    assert body["totals"] == {"total": 1, "by_code": {LATE: 1}}
    assert body["cells"] == [{"organ_code": dept.organ, "period": "2025-10", "code": LATE, "count": 1}]
    # The on-time notice is not a breach; the drill-down names the application behind the count.
    cell = await drill(stats, dept.organ, auth("stats_officer", organ=dept.organ), year=2025, month=10, code=LATE,
                       include_subordinates="false")
    assert cell["total"] == 1
    [item] = cell["items"]
    assert (item["application_id"], item["organ_code"], item["code"], item["article"]) == (
        ids["october"], dept.organ, LATE, "条例第三十条")
    assert (item["occurred_on"], item["due_on"], item["working_days_late"]) == ("2025-10-14", "2025-10-13", 1)
    # One month only: October has it, September has nothing.
    october = await dashboard(stats, dept.organ, auth("auditor", organ=dept.organ), year=2025, month=10,
                              include_subordinates="false")
    assert [m["period"] for m in october["months"]] == ["2025-10"] and october["totals"]["total"] == 1
    september = await dashboard(stats, dept.organ, auth("auditor", organ=dept.organ), year=2025, month=9)
    assert september["totals"] == {"total": 0, "by_code": {}} and september["cells"] == []
    assert (await dashboard(stats, dept.organ, auth("admin"), year=2024))["totals"]["total"] == 0


async def test_breaches_roll_up_to_the_superior_organ_and_drill_down_equals_the_count(stats, fed, desks):
    ids, _ = fed
    dept, street = desks
    city = auth("stats_officer", organ=CITY)
    body = await dashboard(stats, CITY, city, year=2025)
    assert body["include_subordinates"] is True
    assert body["totals"] == {"total": 2, "by_code": {LATE: 2}}
    assert {m["period"]: m["total"] for m in body["months"] if m["total"]} == {"2025-10": 1, "2025-11": 1}
    # Every organ of the scope in hierarchy order, zeros included; `total` is the organ's own, `subtree_total`
    # its roll-up over its subordinates.
    assert [(o["key"], o["label"], o["depth"], o["total"], o["subtree_total"]) for o in body["by_organ"]] == [
        (CITY, "示例市人民政府", 0, 0, 2), (dept.organ, "示例市财政局", 1, 1, 2), (street.organ, "示例街道", 2, 1, 1)]
    assert sorted((c["organ_code"], c["period"], c["count"]) for c in body["cells"]) == sorted(
        [(dept.organ, "2025-10", 1), (street.organ, "2025-11", 1)])
    assert (await dashboard(stats, CITY, city, year=2025, include_subordinates="false"))["totals"]["total"] == 0
    rolled = await dashboard(stats, dept.organ, auth("unit_head", organ=dept.organ), year=2025)
    assert rolled["totals"]["total"] == 2
    # Drill-down equals the count: for every cell, every month, every organ's roll-up and the whole scope.
    for c in body["cells"]:
        cell = await drill(stats, c["organ_code"], city, year=2025, month=int(c["period"][5:]), code=c["code"],
                           include_subordinates="false")
        assert cell["total"] == len(cell["items"]) == c["count"]
    for m in body["months"]:
        cell = await drill(stats, CITY, city, year=2025, month=int(m["period"][5:]))
        assert cell["total"] == len(cell["items"]) == m["total"], m
    for o in body["by_organ"]:
        cell = await drill(stats, o["key"], city, year=2025)
        assert cell["total"] == len(cell["items"]) == o["subtree_total"], o
    whole = await drill(stats, CITY, city, year=2025, code=LATE)
    assert {i["application_id"] for i in whole["items"]} == {ids["october"], ids["november"]}
    assert ids["on_time"] not in {i["application_id"] for i in whole["items"]}


async def test_each_breach_is_counted_once_under_later_events_and_replays(stats, stats_db, requests_client, fed,
                                                                         desks):
    ids, consumers = fed
    dept, _ = desks
    # The application moves on (补正 received): its next snapshot carries the same breach again.
    await act(requests_client, dept.clerk, ids["october"], "receive-supplement", {"on": "2025-10-20"})
    await follow(consumers)
    city = auth("admin")

    async def counted() -> tuple[int, int]:
        body = await dashboard(stats, CITY, city, year=2025)
        return body["totals"]["total"], (await drill(stats, CITY, city, year=2025))["total"]

    assert await counted() == (2, 2)
    # A rebuild from cursor 0 re-delivers every version of every application (older ones after newer ones are
    # applied, as a replay does): nothing is counted twice.
    for _ in range(2):
        async with stats_db.transaction() as session:
            await session.execute(delete(outbox.cursors).where(outbox.cursors.c.consumer == "request"))
        await follow(consumers)
        assert await counted() == (2, 2)


async def test_breaches_dashboard_access_and_validation(stats, fed, desks):
    dept, street = desks
    assert_problem(await stats.get(f"{API}/{dept.organ}/breaches", params={"year": 2025}), 401)
    officer = auth("stats_officer", organ=dept.organ)
    assert_problem(await stats.get(f"{API}/{CITY}/breaches", headers=officer, params={"year": 2025}), 403)
    assert_problem(await stats.get(f"{API}/{CITY}/breaches/applications", headers=officer, params={"year": 2025}),
                   403)
    assert_problem(await stats.get(f"{API}/{dept.organ}/breaches", headers=auth("handler", organ=dept.organ)), 403)
    street_officer = auth("stats_officer", organ=street.organ)
    assert_problem(await stats.get(f"{API}/{dept.organ}/breaches/applications", headers=street_officer), 403)
    assert_problem(await stats.get(f"{API}/{dept.organ}/breaches", headers=officer, params={"month": 13}), 422)
    assert_problem(await stats.get(f"{API}/{dept.organ}/breaches/applications", headers=officer,
                                   params={"code": "Not a code!"}), 422)
    assert_problem(await stats.get(f"{API}/11440100MS0000404X/breaches", headers=auth("admin")), 404,
                   "organ_not_found")
