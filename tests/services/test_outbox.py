"""The transactional outbox: events commit with their change or not at all; the feed is ordered; the consumer
applies each event exactly once even across crashes."""

import uuid

import pytest
from sqlalchemy import func, select

from services.outbox import EventRead, FeedConsumer, record_event
from tests.services.outbox_fixtures import mirror, outbox, thing
from tests.support import assert_problem, auth

ORGANS = "/api/v1/catalog/organs"
FEED = "/internal/v1/events"


async def write_thing(db, n: int, *, fail: bool = False) -> str:
    thing_id = str(uuid.uuid4())
    try:
        async with db.transaction() as session:
            await session.execute(thing.insert().values(id=thing_id, n=n))
            record_event(session, outbox, "thing.created", entity_type="thing", entity_id=thing_id, version=1,
                         payload={"n": n})
            if fail:
                raise RuntimeError("the change fails after the event was recorded")
    except RuntimeError:
        pass
    return thing_id


async def fetch_direct(db, after: int, limit: int) -> list[EventRead]:
    async with db.session(write=False) as session:
        rows = (await session.execute(select(outbox.events).where(outbox.events.c.id > after)
                                      .order_by(outbox.events.c.id).limit(limit))).mappings().all()
    return [EventRead.model_validate(dict(r)) for r in rows]


async def count(db, table) -> int:
    async with db.session(write=False) as session:
        return (await session.execute(select(func.count()).select_from(table))).scalar_one()


async def test_event_commits_with_the_change_and_not_without(lib_db):
    await write_thing(lib_db, 1)
    await write_thing(lib_db, 2, fail=True)
    assert await count(lib_db, thing) == 1
    events = await fetch_direct(lib_db, 0, 10)
    assert [e.payload["n"] for e in events] == [1]


async def test_feed_through_the_api(catalog):
    service = auth("service")
    before = (await catalog.get(FEED, headers=service)).json()
    codes = ["91350100M000100Y43", "000014349"]
    for code in codes:
        r = await catalog.post(ORGANS, headers=auth("admin"), json={"code": code, "name": f"机关{code}",
                                                                    "kind": "department"})
        assert r.status_code == 201
    # A failed change (duplicate code: 409) leaves no event behind.
    assert (await catalog.post(ORGANS, headers=auth("admin"), json={"code": codes[0], "name": "重复",
                                                                     "kind": "department"})).status_code == 409
    page = (await catalog.get(FEED, headers=service, params={"after": before["next_cursor"]})).json()
    assert [e["payload"]["code"] for e in page["items"]] == codes
    assert [e["type"] for e in page["items"]] == ["organ.created", "organ.created"]
    ids = [e["id"] for e in page["items"]]
    assert ids == sorted(ids) and page["next_cursor"] == str(ids[-1])
    first = (await catalog.get(FEED, headers=service, params={"after": before["next_cursor"], "limit": 1})).json()
    assert [e["id"] for e in first["items"]] == ids[:1] and first["next_cursor"] == str(ids[0])
    r = await catalog.get(FEED, headers=service, params={"after": ids[-1]})
    assert r.json() == {"items": [], "next_cursor": str(ids[-1]), "has_more": False, "total": None, "head": ids[-1]}
    assert r.headers["cache-control"] == "no-store"  # a cursor read must never come from a cache
    by_admin = await catalog.get(FEED, headers=auth("admin"), params={"after": before["next_cursor"]})
    assert [e["id"] for e in by_admin.json()["items"]] == ids


async def test_feed_is_internal(catalog):
    assert_problem(await catalog.get(FEED), 401, "authentication_required")
    assert_problem(await catalog.get(FEED, headers=auth("drafter", organ="X")), 403, "wrong_role")
    assert_problem(await catalog.get(FEED, headers=auth("service"), params={"limit": 5000}), 422, "validation_error")


async def test_consumer_applies_each_event_once_and_survives_a_crash(lib_db):
    for n in range(7):
        await write_thing(lib_db, n)
    crash_on = {"n": 4}

    async def apply(session, events):
        for event in events:
            if event.payload["n"] == crash_on["n"]:
                raise ConnectionError("consumer dies mid-batch")
            await session.execute(mirror.insert().values(event_id=event.id, entity_id=event.entity_id))

    consumer = FeedConsumer("mirror", lib_db, outbox, lambda a, n: fetch_direct(lib_db, a, n), apply, batch_size=3)
    assert await consumer.poll_once() == 3
    first = await cursor_row(lib_db, "mirror")
    with pytest.raises(ConnectionError):
        await consumer.poll_once()  # events 3..5: n=4 fails, so the whole batch (and its cursor) rolls back
    assert await count(lib_db, mirror) == 3
    assert await consumer.position() == (await fetch_direct(lib_db, 0, 10))[2].id
    crash_on["n"] = -1  # "restart": the same consumer name picks up where the committed cursor is
    restarted = FeedConsumer("mirror", lib_db, outbox, lambda a, n: fetch_direct(lib_db, a, n), apply, batch_size=3)
    assert await restarted.drain() == 4
    assert await count(lib_db, mirror) == 7
    moved = await cursor_row(lib_db, "mirror")  # the cursor row says when it last moved (operators read it)
    assert moved.position > first.position and moved.updated_at > first.updated_at
    # A stale batch replayed (e.g. a second consumer that fetched before the commit) is skipped event by event.
    stale = await fetch_direct(lib_db, 0, 100)
    replay = FeedConsumer("mirror", lib_db, outbox, lambda a, n: _return(stale), apply)
    assert await replay.poll_once() == 0
    assert await count(lib_db, mirror) == 7


async def cursor_row(db, consumer: str):
    async with db.session(write=False) as session:
        return (await session.execute(select(outbox.cursors).where(outbox.cursors.c.consumer == consumer))).one()


async def _return(value):
    return value


async def test_savepoints_keep_the_events_staged_around_them(lib_db):
    """A savepoint that rolls back drops only its own events; one that is released keeps them for the commit."""
    async with lib_db.transaction() as session:
        record_event(session, outbox, "before", entity_type="t", entity_id="1", version=1, payload={"n": 1})
        try:
            async with session.begin_nested():
                record_event(session, outbox, "inside-failed", entity_type="t", entity_id="2", version=1,
                             payload={"n": 2})
                raise RuntimeError("one record fails")
        except RuntimeError:
            pass
        async with session.begin_nested():
            record_event(session, outbox, "inside-kept", entity_type="t", entity_id="3", version=1,
                         payload={"n": 3})
        # A savepoint released inside one that then rolls back: its events go with the outer one.
        try:
            async with session.begin_nested():
                async with session.begin_nested():
                    record_event(session, outbox, "inner-of-failed", entity_type="t", entity_id="5", version=1,
                                 payload={"n": 5})
                raise RuntimeError("the outer savepoint fails after the inner one was released")
        except RuntimeError:
            pass
        # Both released: kept.
        async with session.begin_nested():
            async with session.begin_nested():
                record_event(session, outbox, "inner-of-kept", entity_type="t", entity_id="6", version=1,
                             payload={"n": 6})
        record_event(session, outbox, "after", entity_type="t", entity_id="4", version=1, payload={"n": 4})
    assert [e.type for e in await fetch_direct(lib_db, 0, 10)] == ["before", "inside-kept", "inner-of-kept", "after"]
    # Only a savepoint that rolled back, none released: the commit goes through with the events outside it.
    async with lib_db.transaction() as session:
        try:
            async with session.begin_nested():
                record_event(session, outbox, "alone-failed", entity_type="t", entity_id="7", version=1, payload={})
                raise RuntimeError("the only savepoint fails")
        except RuntimeError:
            pass
        record_event(session, outbox, "alone-after", entity_type="t", entity_id="8", version=1, payload={})
    assert [e.type for e in await fetch_direct(lib_db, 0, 10)][-1:] == ["alone-after"]


async def test_what_a_rolled_back_transaction_staged_does_not_outlive_it(lib_db):
    """A session used for a second transaction after a rollback (a retry, a job's next step) writes only the second
    transaction's events: the first one's are dropped with it, released savepoints and all."""
    async with lib_db.session() as session:
        try:
            async with session.begin():
                record_event(session, outbox, "rolled-back", entity_type="t", entity_id="1", version=1, payload={})
                async with session.begin_nested():
                    record_event(session, outbox, "rolled-back-in-savepoint", entity_type="t", entity_id="1",
                                 version=1, payload={})
                raise RuntimeError("the first attempt fails")
        except RuntimeError:
            pass
        async with session.begin():
            record_event(session, outbox, "committed", entity_type="t", entity_id="2", version=1, payload={})
    assert [e.type for e in await fetch_direct(lib_db, 0, 10)] == ["committed"]


async def test_an_event_holds_what_was_recorded(lib_db):
    """Each field of the row as staged: the entity id as text whatever its type, the given time or else now."""
    from datetime import UTC, datetime

    when = datetime(2025, 10, 9, 8, 30, tzinfo=UTC)
    before = datetime.now(UTC)
    async with lib_db.transaction() as session:
        record_event(session, outbox, "year.loaded", entity_type="calendar_year", entity_id=2026, version=3,
                     payload={"official": True}, occurred_at=when)
        record_event(session, outbox, "year.checked", entity_type="calendar_year", entity_id="2026", version=4,
                     payload={})
        # Code that runs on the synchronous session (inside run_sync) stages on the same transaction.
        await session.run_sync(lambda sync: record_event(sync, outbox, "year.synced", entity_type="calendar_year",
                                                         entity_id="2026", version=5, payload={}))
    loaded, checked, synced = await fetch_direct(lib_db, 0, 10)
    assert (synced.type, synced.version) == ("year.synced", 5)
    assert (loaded.type, loaded.entity_type, loaded.entity_id, loaded.version, loaded.payload, loaded.occurred_at) \
        == ("year.loaded", "calendar_year", "2026", 3, {"official": True}, when)
    assert (checked.type, checked.entity_id, checked.version, checked.payload) == ("year.checked", "2026", 4, {})
    assert before <= checked.occurred_at <= datetime.now(UTC)


async def test_a_page_of_the_feed(lib_db):
    """read_feed, which the feed endpoint returns: an empty feed has head 0 and keeps the cursor where it was."""
    from services.outbox import read_feed

    async with lib_db.session(write=False) as session:
        assert (await read_feed(session, outbox, 0, 10)).model_dump() == {
            "items": [], "next_cursor": "0", "has_more": False, "total": None, "head": 0}
    for n in range(3):
        await write_thing(lib_db, n)
    ids = [e.id for e in await fetch_direct(lib_db, 0, 10)]
    async with lib_db.session(write=False) as session:
        page = await read_feed(session, outbox, ids[0], 1)
        assert [e.id for e in page.items] == [ids[1]] and page.next_cursor == str(ids[1]) and page.head == ids[2]
        assert page.has_more is True
        rest = await read_feed(session, outbox, ids[1], 10)
        assert [e.payload["n"] for e in rest.items] == [2] and rest.next_cursor == str(ids[2])
        assert rest.has_more is False


async def test_running_consumers_apply_in_the_background_and_stop_with_the_block(lib_db, caplog):
    import asyncio
    import logging

    from services.outbox import running_consumers

    async def apply(session, events):
        for event in events:
            await session.execute(mirror.insert().values(event_id=event.id, entity_id=event.entity_id))

    stuck = asyncio.Event()

    async def hanging_fetch(after, limit):
        stuck.set()
        await asyncio.sleep(3600)  # a poll stuck on the network

    working = FeedConsumer("bg", lib_db, outbox, lambda a, n: fetch_direct(lib_db, a, n), apply)
    hanging = FeedConsumer("hang", lib_db, outbox, hanging_fetch, apply)
    for n in range(3):
        await write_thing(lib_db, n)
    loop = asyncio.get_running_loop()
    caplog.set_level(logging.WARNING, logger="gongkai.outbox")
    async with running_consumers([working, hanging], idle_seconds=0.01, grace_seconds=0.2):
        for _ in range(3000):  # up to 30 s on a busy machine, ended as soon as the feed is applied
            if await count(lib_db, mirror) == 3 and stuck.is_set():
                break
            await asyncio.sleep(0.01)
        assert await count(lib_db, mirror) == 3
        started = loop.time()
    # The idle consumer stops at once; the stuck one is cancelled after the grace period, not waited for: its poll
    # hangs for an hour, so leaving within 30 s (generous for a busy machine) proves the cancellation.
    assert loop.time() - started < 30
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("consumer ")]
    # Only the stuck one had to be cancelled: the idle one heard the stop and left by itself.
    assert [r.getMessage() for r in caplog.records] == ["consumer task consumer hang did not stop in time"]
    assert await working.position() == (await fetch_direct(lib_db, 0, 10))[-1].id


async def test_consumer_reports_its_lag_and_readiness(lib_db):
    """What /readyz shows of a feed consumer: nothing is owed before the first poll (but the entry is stale), the
    producer's head counts what is left after a partial batch, and a drained consumer owes nothing."""
    from datetime import UTC, datetime

    from services.outbox import FeedPage

    async def apply(session, events):
        for event in events:
            await session.execute(mirror.insert().values(event_id=event.id, entity_id=event.entity_id))

    async def fetch_page(after, limit):
        items = await fetch_direct(lib_db, after, limit)
        head = (await fetch_direct(lib_db, 0, 1000))[-1].id
        return FeedPage(items=items, next_cursor=str(items[-1].id if items else after), head=head)

    consumer = FeedConsumer("lagging", lib_db, outbox, fetch_page, apply, batch_size=2)
    assert consumer.lag() == {"events": 0, "seconds": 0.0, "last_success": None}
    assert await consumer.readiness() == {"ok": True, "lag": consumer.lag(), "head_seen": 0, "stale": True}

    for n in range(5):
        await write_thing(lib_db, n)
    ids = [e.id for e in await fetch_direct(lib_db, 0, 10)]
    assert await consumer.poll_once() == 2
    lag = consumer.lag()
    assert lag["events"] == 3 and lag["seconds"] > 0  # the head came with the page, not from the batch
    assert datetime.fromisoformat(lag["last_success"]) <= datetime.now(UTC)
    ready = await consumer.readiness()
    assert ready["ok"] is True and ready["stale"] is False and ready["head_seen"] == ids[-1]
    assert (await consumer.readiness(stale_after_seconds=0))["stale"] is True

    assert await consumer.poll_once() == 2
    assert await consumer.poll_once() == 1  # reaches the head: nothing is pending any more, without another poll
    assert consumer.lag()["events"] == 0 and consumer.lag()["seconds"] == 0.0
    assert await consumer.drain() == 0
    ready = await consumer.readiness()  # the last, empty poll succeeded too
    assert ready["head_seen"] == ids[-1] == await consumer.position() and ready["stale"] is False

    # A producer that pages smaller than our batch (its own limit): drain goes on until a poll brings nothing.
    seen: list[int] = []

    async def remember(session, events):
        seen.extend(event.id for event in events)

    small_pages = FeedConsumer("small-pages", lib_db, outbox, lambda a, n: fetch_direct(lib_db, a, 1), remember)
    assert await small_pages.drain() == 5 and seen == ids


async def test_a_running_consumer_backs_off_after_a_failure_and_keeps_polling(lib_db, caplog):
    """FeedConsumer.run: a failed poll (producer down) waits `idle_seconds` before the next one instead of spinning,
    and an idle consumer wakes up again to apply what was written meanwhile."""
    import asyncio
    import logging

    caplog.set_level(logging.WARNING, logger="gongkai.outbox")
    calls = {"n": 0, "limits": set()}

    async def fetch(after, limit):
        calls["n"] += 1
        calls["limits"].add(limit)
        if calls["n"] <= 2:
            raise ConnectionError("the producer is down")
        return await fetch_direct(lib_db, after, limit)

    async def apply(session, events):
        for event in events:
            await session.execute(mirror.insert().values(event_id=event.id, entity_id=event.entity_id))

    async def wait_for_rows(n: int) -> None:
        for _ in range(300):
            if await count(lib_db, mirror) == n:
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"the consumer did not apply {n} events in time")

    await write_thing(lib_db, 1)
    consumer = FeedConsumer("background", lib_db, outbox, fetch, apply)
    stop = asyncio.Event()
    started = asyncio.get_running_loop().time()
    task = asyncio.create_task(consumer.run(stop, idle_seconds=0.2))
    try:
        await wait_for_rows(1)
        # Two failures, each followed by the idle wait: the first event cannot be applied before 0.4 s.
        assert asyncio.get_running_loop().time() - started >= 0.4 and calls["n"] >= 3
        await write_thing(lib_db, 2)  # written while the consumer idles: picked up by a later poll
        await wait_for_rows(2)
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=2)
    assert calls["limits"] == {500}  # the default batch
    # An outage is logged once with the consumer's name and the error (the repeats at DEBUG: a quiet console), and
    # the recovery once, for whoever watches the producer's outage.
    records = [r for r in caplog.records if r.name == "gongkai.outbox" and r.levelno >= logging.WARNING]
    assert [r.getMessage() for r in records] == ["consumer background: poll failed"]
    assert records[0].exc_info and records[0].exc_info[0] is ConnectionError


async def test_two_pollers_of_one_consumer_apply_a_batch_once(lib_db):
    """The same consumer polling twice at once (two replicas, or a deploy overlap): the second waits for the first's
    cursor and skips what it applied — the cursor row is read FOR UPDATE on PostgreSQL; SQLite's single writer
    gives the same. Without the lock both would apply the batch and both commit."""
    import asyncio

    for n in range(3):
        await write_thing(lib_db, n)
    ids = [e.id for e in await fetch_direct(lib_db, 0, 10)]
    applied: list[int] = []

    async def apply(session, events):
        applied.extend(event.id for event in events)

    # The cursor row exists (a first poll), so the race is on reading it, not on inserting it.
    assert await FeedConsumer("twin", lib_db, outbox, lambda a, n: fetch_direct(lib_db, a, 1), apply).poll_once() == 1
    gate, inside, second_fetched = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def held_apply(session, events):
        inside.set()
        await gate.wait()  # the first poller holds its transaction open here
        await apply(session, events)

    async def second_fetch(after, limit):
        try:
            return await fetch_direct(lib_db, after, limit)
        finally:
            second_fetched.set()

    first = FeedConsumer("twin", lib_db, outbox, lambda a, n: fetch_direct(lib_db, a, n), held_apply)
    second = FeedConsumer("twin", lib_db, outbox, second_fetch, apply)
    first_poll = asyncio.create_task(first.poll_once())
    await asyncio.wait_for(inside.wait(), timeout=30)
    second_poll = asyncio.create_task(second.poll_once())
    await asyncio.wait_for(second_fetched.wait(), timeout=30)
    await asyncio.sleep(0.5)  # the second poller reaches the cursor (and waits there) before the first commits
    gate.set()
    assert await asyncio.wait_for(asyncio.gather(first_poll, second_poll), timeout=60) == [2, 0]
    assert applied == ids and await first.position() == ids[-1]
