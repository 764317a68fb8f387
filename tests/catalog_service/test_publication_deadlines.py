"""Publication deadlines (条例第二十六条) on the calendar the request service owns: years learnt from its event feed
(calendar.year_loaded) override the chinese-calendar package, records not yet published are recomputed and say why
in their review log, redelivery changes nothing; and document events carry formed_on / publication_due_on."""

from datetime import UTC, date, datetime

import httpx
import pytest
from chinese_calendar import constants

from catalog_service.app import create_app
from catalog_service.clients import make_request_client
from catalog_service.config import Settings
from catalog_service.domain.calendar import CalendarCache, ChineseCalendarSource
from catalog_service.feeds import CALENDAR_FEED, make_calendar_consumer
from catalog_service.models import CalendarYear
from services.outbox import EventRead, FeedPage
from tests.catalog_service.helpers import API, Staff, draft, make_organ, publish
from tests.support import auth, serve

ADMIN = auth("admin", sub="calendar-admin", name="系统管理员")
# 2027 is beyond the chinese-calendar package (provisional: weekends + fixed-date holidays); as an admin might enter
# it from the (hypothetical here) State Council notice, with 春节 on weekdays 2/8–2/12 and two 调休 Saturdays/Sundays.
NOTICE_2027 = "国务院办公厅关于2027年部分节假日安排的通知（测试数据）"
HOLIDAYS_2027 = [{"date": "2027-01-01", "name": "元旦"}] + [{"date": f"2027-02-{d:02d}", "name": "春节"}
                                                           for d in range(6, 13)]
MAKEUPS_2027 = [{"date": "2027-01-31", "name": "春节"}, {"date": "2027-02-20", "name": "春节"}]


async def record(client, staff: Staff, doc_id: str) -> httpx.Response:
    r = await client.get(f"{API}/documents/{doc_id}/record", headers=staff.drafter)
    assert r.status_code == 200, r.text
    return r


def due(r: httpx.Response) -> tuple[str, bool]:
    body = r.json()
    return body["publication_due_on"], body["publication_due_provisional"]


def year_event(event_id: int, year: int, holidays: list[dict], makeups: list[dict], *, version: int = 1,
               notice: str = "测试通知") -> EventRead:
    return EventRead(id=event_id, type="calendar.year_loaded", entity_type="calendar_year", entity_id=str(year),
                     version=version, occurred_at=datetime(2026, 12, 1, tzinfo=UTC),
                     payload={"year": year, "status": "official", "notice": notice, "holidays": holidays,
                              "makeups": makeups})


def other_event(event_id: int) -> EventRead:
    return EventRead(id=event_id, type="application.created", entity_type="application", entity_id="a-1", version=1,
                     occurred_at=datetime(2026, 12, 1, tzinfo=UTC), payload={"organ_code": "x"})


class FakeFeed:
    """The request service's feed as a list; `ignore_cursor` redelivers everything on every call."""

    def __init__(self, events: list[EventRead], *, ignore_cursor: bool = False) -> None:
        self.events = events
        self.ignore_cursor = ignore_cursor

    async def __call__(self, after: int, limit: int) -> FeedPage:
        items = [e for e in self.events if self.ignore_cursor or e.id > after][:limit]
        head = self.events[-1].id if self.events else 0
        return FeedPage(items=items, next_cursor=str(items[-1].id if items else after), head=head)


async def review_actions(client, staff: Staff, doc_id: str) -> list[dict]:
    r = await client.get(f"{API}/documents/{doc_id}/review-log", headers=staff.drafter)
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def test_a_year_loaded_in_the_request_service_moves_deadlines_provisional_to_official(
        catalog, catalog_db, requests_client):
    staff = Staff(await make_organ(catalog))
    # Counts reaching into 2027 are provisional until the request service announces 2027.
    spring, _ = await draft(catalog, staff, formed_on="2027-01-20")  # its 20 days cross 春节
    new_year, _ = await draft(catalog, staff, formed_on="2026-12-20")  # same date either way, only the flag moves
    earlier, _ = await draft(catalog, staff, formed_on="2025-03-03")  # ended long before 2027
    published = await publish(catalog, staff, formed_on="2027-01-20")  # past its deadline's concern
    before = {d: await record(catalog, staff, d) for d in (spring, new_year, earlier, published)}
    assert due(before[spring]) == ("2027-02-17", True)
    assert due(before[new_year]) == ("2027-01-18", True)
    assert due(before[earlier]) == ("2025-03-31", False)

    # An admin loads 2027 in the request service: it publishes calendar.year_loaded on its feed.
    r = await requests_client.put("/api/v1/requests/calendar/years/2027", headers=ADMIN,
                                  json={"notice": NOTICE_2027, "holidays": HOLIDAYS_2027,
                                        "makeup_workdays": MAKEUPS_2027})
    assert r.status_code == 200, r.text

    # The catalogue's consumer follows that feed over HTTP (here: the real request app through its ASGI transport).
    client = make_request_client(Settings(), transport=requests_client._transport)
    consumer = make_calendar_consumer(catalog_db, client.fetch_events, batch_size=2)
    assert await consumer.drain() >= 1
    assert await consumer.position() == consumer.head_seen and consumer.lag()["events"] == 0

    after = {d: await record(catalog, staff, d) for d in before}
    assert due(after[spring]) == ("2027-02-22", False)  # 2/8–2/12 off, 1/31 and 2/20 worked
    assert due(after[new_year]) == ("2027-01-18", False)
    for doc_id in (spring, new_year):  # a new version: an ETag read before the recomputation is stale
        assert after[doc_id].json()["version"] == before[doc_id].json()["version"] + 1
        assert after[doc_id].headers["etag"] != before[doc_id].headers["etag"]
    for doc_id in (earlier, published):
        assert after[doc_id].json() == before[doc_id].json()
    step = (await review_actions(catalog, staff, spring))[-1]
    assert step["action"] == "calendar_recomputed" and step["role"] == "system"
    assert step["actor_sub"] == "system:calendar-feed" and step["status_before"] == step["status_after"] == "draft"
    assert NOTICE_2027 in step["comment"] and "2027-02-17（暂定） → 2027-02-22" in step["comment"]
    assert [s["action"] for s in await review_actions(catalog, staff, earlier)] == ["create"]

    # A record drafted now gets the official date at once (the cached calendar was invalidated).
    fresh, _ = await draft(catalog, staff, formed_on="2027-01-20")
    assert due(await record(catalog, staff, fresh)) == ("2027-02-22", False)

    # Redelivery: the consumer's cursor skips what it applied; an idempotent apply ignores it even without one.
    assert await consumer.poll_once() == 0
    events = [e for e in (await client.fetch_events(0, 1000)).items if e.type == "calendar.year_loaded"]
    replay = make_calendar_consumer(catalog_db, FakeFeed(events, ignore_cursor=True))
    replay.name = "replay-from-scratch"
    assert await replay.poll_once() == len(events)
    again = {d: await record(catalog, staff, d) for d in (spring, new_year)}
    assert all(again[d].json() == after[d].json() for d in again)
    assert [s["action"] for s in await review_actions(catalog, staff, spring)].count("calendar_recomputed") == 1
    await client.aclose()


async def test_a_year_from_the_feed_overrides_the_package_and_other_events_are_skipped(catalog, catalog_db):
    staff = Staff(await make_organ(catalog))
    doc_id, _ = await draft(catalog, staff, formed_on="2026-05-06")
    assert due(await record(catalog, staff, doc_id)) == ("2026-06-02", False)  # 2026 is in the package

    # The request service corrects 2026 (an extra holiday on Wednesday 20 May); 2026's package data is replaced.
    holidays = [{"date": d.isoformat(), "name": n} for d, n in constants.holidays.items() if d.year == 2026]
    makeups = [{"date": d.isoformat(), "name": n} for d, n in constants.workdays.items() if d.year == 2026]
    corrected = [*holidays, {"date": "2026-05-20", "name": "测试补充假日"}]
    assert ChineseCalendarSource().is_working_day(date(2026, 5, 20)) == (True, False)
    feed = FakeFeed([other_event(1), year_event(2, 2026, corrected, makeups, notice="更正通知"), other_event(3)])
    consumer = make_calendar_consumer(catalog_db, feed)
    assert await consumer.drain() == 3 and await consumer.position() == 3
    assert due(await record(catalog, staff, doc_id)) == ("2026-06-03", False)

    # The same days again under a newer event (a corrected notice): nothing can move, nothing is recomputed.
    feed.events.append(year_event(4, 2026, corrected, makeups, version=2, notice="再次更正的通知"))
    version = (await record(catalog, staff, doc_id)).json()["version"]
    assert await consumer.drain() == 1
    assert (await record(catalog, staff, doc_id)).json()["version"] == version
    async with catalog_db.transaction() as session:
        row = await session.get(CalendarYear, 2026)
        assert (row.notice, row.source_event_id, row.source_version) == ("再次更正的通知", 4, 2)

    # An older event arriving late (e.g. a consumer rebuilt from scratch) does not undo the newer one.
    stale = make_calendar_consumer(catalog_db, FakeFeed([year_event(2, 2026, holidays, makeups)]))
    stale.name = "late"
    assert await stale.drain() == 1
    assert due(await record(catalog, staff, doc_id)) == ("2026-06-03", False)


async def test_a_malformed_event_is_skipped_and_the_feed_goes_on(catalog, catalog_db):
    staff = Staff(await make_organ(catalog))
    doc_id, _ = await draft(catalog, staff, formed_on="2027-01-20")
    bad = year_event(1, 2027, [{"date": "2028-01-01", "name": "元旦"}], [])  # a day outside its year
    broken = EventRead(**{**year_event(2, 2027, [], []).model_dump(), "payload": {"status": "official"}})
    good = year_event(3, 2027, HOLIDAYS_2027, MAKEUPS_2027)
    consumer = make_calendar_consumer(catalog_db, FakeFeed([bad, broken]))
    assert await consumer.drain() == 2
    assert due(await record(catalog, staff, doc_id)) == ("2027-02-17", True)
    consumer.fetch = FakeFeed([bad, broken, good])
    assert await consumer.drain() == 1
    assert due(await record(catalog, staff, doc_id)) == ("2027-02-22", False)


async def test_the_calendar_snapshot_is_reused_until_a_year_changes(catalog_db):
    cache = CalendarCache()
    async with catalog_db.transaction() as session:
        first = await cache.current(session)
        assert await cache.current(session, lock=True) is first and cache.loads == 1
        assert first.is_working_day(date(2027, 2, 8)) == (True, True)  # provisional guess: a Monday
    await make_calendar_consumer(catalog_db, FakeFeed([year_event(1, 2027, HOLIDAYS_2027, MAKEUPS_2027)])).drain()
    async with catalog_db.transaction() as session:
        second = await cache.current(session)
        assert second is not first and second.generation == first.generation + 1 and cache.loads == 2
        assert second.is_working_day(date(2027, 2, 8)) == (False, False)  # 春节, official
        assert second.is_working_day(date(2027, 2, 20)) == (True, False)  # 调休 Saturday
        assert second.is_working_day(date(2026, 10, 1)) == (False, False)  # 2026: still the package
        assert await cache.current(session) is second and cache.loads == 2


async def test_readiness_reports_the_feed_but_never_fails_on_it(database_urls):
    """With the request service answering 503, the catalogue is still ready; the entry says the feed is stale."""
    down = httpx.MockTransport(lambda request: httpx.Response(503, json={"detail": "down"}))
    settings = Settings(database_url=database_urls["catalog"], scheduler_interval_seconds=0, access_log=False,
                        calendar_feed_interval_seconds=0.05)
    async with serve(create_app(settings, request_transport=down)) as client:
        body = (await client.get("/readyz")).json()
    assert body["status"] == "ok", body
    entry = body["checks"][CALENDAR_FEED]
    assert entry["ok"] is True and entry["stale"] is True and entry["lag"]["last_success"] is None


async def test_the_feed_can_be_turned_off(database_urls):
    settings = Settings(database_url=database_urls["catalog"], scheduler_interval_seconds=0, access_log=False,
                        calendar_feed_enabled=False)
    calls: list[httpx.Request] = []
    spy = httpx.MockTransport(lambda request: calls.append(request) or httpx.Response(503))
    async with serve(create_app(settings, request_transport=spy)) as client:
        assert CALENDAR_FEED not in (await client.get("/readyz")).json()["checks"]
    assert calls == []


@pytest.mark.parametrize("formed_on", ["2026-03-02", None])
async def test_document_events_carry_formation_and_deadline_when_public(catalog, formed_on):
    staff = Staff(await make_organ(catalog))
    fields = {"formed_on": formed_on} if formed_on else {}
    doc_id = await publish(catalog, staff, **fields)
    draft_id, _ = await draft(catalog, staff, **fields)
    feed = (await catalog.get("/internal/v1/events", headers=auth("service"), params={"limit": 1000})).json()
    published = [e for e in feed["items"] if e["entity_id"] == doc_id and e["type"] == "document.published"][-1]
    expected_due = {"2026-03-02": "2026-03-30", None: None}[formed_on]
    assert published["payload"]["formed_on"] == formed_on
    assert published["payload"]["publication_due_on"] == expected_due
    assert published["payload"]["publication_due_provisional"] is False
    # A record that is not public is announced with nothing but public: false (no dates either).
    drafted = [e for e in feed["items"] if e["entity_id"] == draft_id]
    assert drafted and all(e["payload"] == {"public": False} for e in drafted)


@pytest.mark.postgres_only
async def test_a_draft_committed_while_a_year_is_learnt_is_not_missed(tmp_path):
    """Deterministic interleaving on real connections: a drafter's transaction has computed a deadline from the old
    calendar and not committed yet when the consumer applies the new year. The consumer waits for it (the state row's
    KEY SHARE / FOR UPDATE), so its recomputation sees the record instead of leaving a stale provisional deadline."""
    import asyncio
    import uuid

    from catalog_service.domain.documents import create_document
    from catalog_service.domain.organs import create_organ
    from catalog_service.models import Document
    from catalog_service.schemas import DocumentCreate, OrganCreate
    from services.auth import Principal
    from services.db import Database, make_engine
    from tests.catalog_service.helpers import new_code
    from tests.support import acreate_database, adrop_database, migrate

    url = await acreate_database(f"cal_race_{uuid.uuid4().hex[:6]}", tmp_path)
    database = Database(make_engine(url))
    try:
        await asyncio.to_thread(migrate, "catalog", url)
        code = new_code()
        async with database.transaction() as session:
            await create_organ(session, OrganCreate(code=code, name="并发测试局", kind="department"))
        drafter = Principal(sub="drafter-1", roles=frozenset({"drafter"}), organ=code)
        consumer = make_calendar_consumer(database, FakeFeed([year_event(1, 2027, HOLIDAYS_2027, MAKEUPS_2027)]))

        drafting = database.session()
        calendar = await CalendarCache().current(drafting, lock=True)
        doc = await create_document(drafting, drafter, DocumentCreate(title="并发起草的文件", formed_on="2027-01-20"),
                                    calendar)
        assert (doc.publication_due_on, doc.publication_due_provisional) == (date(2027, 2, 17), True)
        learning = asyncio.create_task(consumer.drain())
        await asyncio.sleep(0.5)
        assert not learning.done()  # waiting for the drafter's transaction
        await drafting.commit()
        await drafting.close()
        assert await asyncio.wait_for(learning, timeout=10) == 1
        async with database.transaction(write=False) as session:
            stored = await session.get(Document, doc.id)
            assert (stored.publication_due_on, stored.publication_due_provisional) == (date(2027, 2, 22), False)
            # And a transaction starting now computes from the new calendar at once.
            fresh = await CalendarCache().current(session)
            assert fresh.is_working_day(date(2027, 2, 8)) == (False, False)
    finally:
        await database.dispose()
        await adrop_database(url)
