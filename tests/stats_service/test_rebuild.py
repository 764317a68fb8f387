"""Ingest is a pure function of the feeds: rebuilding from cursor 0 gives exactly the incremental result; a consumer
that crashes mid-stream applies nothing of the failed batch and, restarted, ends where a clean rebuild ends; stale
and duplicate deliveries change nothing."""

import random

import pytest
from sqlalchemy import delete, func, select

from services.outbox import FeedConsumer
from stats_service.domain.ingest import apply_catalog_events, apply_request_events
from stats_service.domain.report import build_report
from stats_service.models import (
    AppealFact,
    ApplicationFact,
    BreachFact,
    ConsultationFact,
    DocumentFact,
    OrganFact,
    ReportCounter,
    outbox,
)
from tests.stats_service import scenarios
from tests.stats_service.scenarios import CITY, DEPT, ORGANS, YEARS
from tests.support import auth

API = "/api/v1/stats/annual-reports"
FACTS = (ApplicationFact, AppealFact, BreachFact, ConsultationFact, DocumentFact, OrganFact, ReportCounter)


async def reports(db) -> dict:
    """Every organ × year × roll-up, as the JSON contract minus generated_at."""
    out = {}
    async with db.transaction(write=False) as session:
        for organ in ORGANS:
            for year in YEARS:
                for sub in (False, True):
                    report = await build_report(session, organ, year, sub)
                    report.pop("generated_at")
                    assert all(c["ok"] for c in report["checks"]), (organ, year, sub, report["checks"])
                    out[(organ, year, sub)] = report
    return out


async def state(db) -> dict:
    """The stored facts and the non-zero counters (a counter decremented to 0 may stay as a row)."""
    async with db.transaction(write=False) as session:
        out = {}
        for model in FACTS:
            stmt = select(model)
            if model is ReportCounter:
                stmt = stmt.where(ReportCounter.count != 0)
            rows = (await session.execute(stmt)).scalars().all()
            out[model.__tablename__] = sorted(
                tuple((c.key, getattr(r, c.key)) for c in model.__table__.columns if c.key != "updated_at")
                for r in rows)
        out["cursors"] = sorted((await session.execute(select(outbox.cursors.c.consumer, outbox.cursors.c.position)
                                                       )).all())
    return out


async def wipe(db) -> None:
    async with db.transaction() as session:
        for model in FACTS:
            await session.execute(delete(model))
        await session.execute(delete(outbox.cursors))


async def rebuild(db, catalog, requests) -> None:
    """From cursor 0, each feed in one batch."""
    await wipe(db)
    for name, feed, apply in (("catalog", catalog, apply_catalog_events), ("request", requests, apply_request_events)):
        consumer = FeedConsumer(name, db, outbox, feed, apply, batch_size=100_000)
        assert await consumer.poll_once() == len(feed.events)
        assert await consumer.poll_once() == 0


@pytest.fixture
def feeds():
    return scenarios.build()


async def test_rebuild_from_zero_equals_incremental_ingest(stats, stats_db, feeds):
    catalog, requests = feeds
    await FeedConsumer("catalog", stats_db, outbox, catalog, apply_catalog_events, batch_size=4).drain()
    consumer = FeedConsumer("request", stats_db, outbox, requests, apply_request_events, batch_size=3)
    officer = auth("stats_officer", organ=CITY)
    polls = 0
    while await consumer.poll_once():
        polls += 1
        if polls % 25 == 0:  # reports read while ingest goes on, as staff would
            r = await stats.get(f"{API}/{DEPT}/2025", headers=officer)
            assert r.status_code == 200 and all(c["ok"] for c in r.json()["checks"])
            r = await stats.get(f"{API}/{CITY}/2026", headers=officer, params={"include_subordinates": "true"})
            assert r.status_code == 200 and all(c["ok"] for c in r.json()["checks"])
    assert polls > 100
    incremental, incremental_state = await reports(stats_db), await state(stats_db)
    assert sum(r["section3"]["rows"]["new_received"]["total"] for (o, _, sub), r in incremental.items() if not sub) \
        == len({e.entity_id for e in requests.events if e.entity_type == "application"})

    await rebuild(stats_db, catalog, requests)
    assert await reports(stats_db) == incremental
    assert await state(stats_db) == incremental_state


class Crash(RuntimeError):
    pass


async def test_crash_mid_stream_then_restart_equals_clean_rebuild(stats_db, feeds):
    catalog, requests = feeds
    await FeedConsumer("catalog", stats_db, outbox, catalog, apply_catalog_events).drain()
    calls = 0

    async def crashing(session, events):
        nonlocal calls
        calls += 1
        await apply_request_events(session, events)  # the batch's writes happen, then the process dies
        if calls == 40:
            raise Crash("killed mid-batch")

    consumer = FeedConsumer("request", stats_db, outbox, requests, crashing, batch_size=7)
    for _ in range(39):
        assert await consumer.poll_once() == 7
    before = await state(stats_db)
    assert dict(before["cursors"])["request"] == 39 * 7
    with pytest.raises(Crash):
        await consumer.poll_once()
    assert await state(stats_db) == before  # nothing of the 40th batch: facts, counters and cursor as they were

    restarted = FeedConsumer("request", stats_db, outbox, requests, apply_request_events, batch_size=11)
    assert await restarted.drain() == len(requests.events) - 39 * 7
    after_restart, restart_state = await reports(stats_db), await state(stats_db)

    await rebuild(stats_db, catalog, requests)
    assert await reports(stats_db) == after_restart
    assert await state(stats_db) == restart_state


async def test_stale_and_duplicate_deliveries_change_nothing(stats_db, feeds):
    catalog, requests = feeds
    created = next(e for e in catalog.events if e.entity_type == "organ" and e.payload["code"] == DEPT)
    catalog.add("organ.updated", "organ", created.entity_id, 2, {**created.payload, "name": "示例市财政局（更名）"})
    await FeedConsumer("catalog", stats_db, outbox, catalog, apply_catalog_events).drain()
    await FeedConsumer("request", stats_db, outbox, requests, apply_request_events, batch_size=50).drain()
    expected, expected_state = await reports(stats_db), await state(stats_db)
    rng = random.Random(3)

    # At-least-once redelivery straight to apply: everything again, reversed, shuffled, in odd batches.
    replay = list(requests.events)
    rng.shuffle(replay)
    async with stats_db.transaction() as session:
        await apply_request_events(session, list(reversed(requests.events)))
        for i in range(0, len(replay), 13):
            await apply_request_events(session, replay[i:i + 13])
        await apply_request_events(session, replay + replay)  # duplicates inside one batch
        await apply_catalog_events(session, catalog.events[::-1])
    assert await reports(stats_db) == expected

    # A producer that re-publishes older versions with new event ids (e.g. after restoring a backup): the
    # consumer applies them, and versions keep the snapshots as they were.
    for event in rng.sample(requests.events, 120):
        requests.add(event.type, event.entity_type, event.entity_id, event.version, event.payload)
    for event in catalog.events[:-1]:  # the organs' and documents' older versions
        catalog.add(event.type, event.entity_type, event.entity_id, event.version, event.payload)
    assert await FeedConsumer("request", stats_db, outbox, requests, apply_request_events,
                              batch_size=17).drain() == 120
    assert await FeedConsumer("catalog", stats_db, outbox, catalog, apply_catalog_events, batch_size=5).drain()
    assert await reports(stats_db) == expected
    now = await state(stats_db)
    assert {k: v for k, v in now.items() if k != "cursors"} == \
        {k: v for k, v in expected_state.items() if k != "cursors"}
    async with stats_db.transaction(write=False) as session:
        versions = dict((await session.execute(select(ApplicationFact.application_id, ApplicationFact.version))).all())
        latest = {}
        for e in requests.events:
            if e.entity_type == "application":
                latest[e.entity_id] = max(latest.get(e.entity_id, 0), e.version)
        assert versions == latest
        assert (await session.get(OrganFact, DEPT)).name == "示例市财政局（更名）"
        assert (await session.execute(select(func.count()).select_from(ConsultationFact))).scalar_one() == \
            len({e.entity_id for e in requests.events if e.entity_type == "consultation"})
        # Breaches (违规记录): one row per breach of each application's latest snapshot, whatever the redeliveries.
        breaches = sorted((await session.execute(select(BreachFact.application_id, BreachFact.code))).all())
        published = {(e.entity_id, b["code"]) for e in requests.events if e.entity_type == "application"
                     for b in e.payload.get("breaches", [])}
        assert breaches and breaches == sorted(published)
