"""Compare-and-set of the version (乐观锁, services/concurrency.py) on its own, not hidden behind a row lock.

tests/faults/test_concurrency.py races 50 identical transitions per round, but a document is loaded FOR UPDATE and
SQLite serialises write transactions, so there every loser already reads the new version and fails the If-Match
check: removing the version condition from bump_version's UPDATE would go unnoticed. Here two writers both hold
version v *before* either writes:

- through the API: two PATCH /organs/{code} with the same If-Match. An organ is read without a row lock, so on
  PostgreSQL both requests read v and pass the If-Match check; a gate (a third transaction holding the organ's row)
  keeps both at their UPDATE until both are there. Only the UPDATE's `version = v` condition can then refuse the
  second one. On SQLite the gate is the database write lock, which both requests wait for before reading: the
  outcome is the same (one 200, one 412), but there it is BEGIN IMMEDIATE that decides, not the compare-and-set.
- at the domain level, on both databases: a writer whose copy of the record is stale calls bump_version directly.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from catalog_service.app import create_app
from catalog_service.config import Settings
from catalog_service.domain.organs import get_organ_by_code
from catalog_service.models import Organ, outbox
from services.concurrency import bump_version
from services.db import Database, make_engine
from services.errors import PreconditionFailed
from tests.catalog_service.helpers import API, make_organ, with_etag
from tests.support import (
    acreate_database,
    adrop_database,
    assert_problem,
    auth,
    holding_writers,
    lock_waiters,
    migrate,
    serve,
)

ADMIN = auth("admin")


@pytest.fixture
async def system(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Database]]:
    """The catalogue on a database of its own with a real engine (the shared test connection would serialise
    every request on one connection, so nothing could race)."""
    url = await acreate_database(f"cas_{uuid.uuid4().hex[:6]}", tmp_path)
    database = Database(make_engine(url))
    try:
        await asyncio.to_thread(migrate, "catalog", url)
        app = create_app(Settings(database_url=url, scheduler_interval_seconds=0, access_log=False,
                                  calendar_feed_enabled=False), database=database)
        async with serve(app) as client:
            yield client, database
    finally:
        await database.dispose()
        await adrop_database(url)


async def test_two_writers_holding_the_same_version_one_wins_the_other_is_412(system):
    client, database = system
    code = await make_organ(client, "比较并交换局")
    r = await client.get(f"{API}/organs/{code}")
    tag, organ_id = r.headers["etag"], r.json()["id"]
    assert tag == '"1"'

    async with holding_writers(database, Organ, organ_id):
        renames = [asyncio.create_task(client.patch(f"{API}/organs/{code}", headers=with_etag(ADMIN, tag),
                                                    json={"name": f"改名{i}局", "short_name": f"改{i}"}))
                   for i in range(2)]
        await lock_waiters(database, 2)  # both have read version 1 (PostgreSQL) and wait at their UPDATE
        assert not any(task.done() for task in renames)
    responses = await asyncio.gather(*renames)

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 412], [(r.status_code, r.text[:300]) for r in responses]
    won = next(i for i, r in enumerate(responses) if r.status_code == 200)
    assert_problem(responses[1 - won], 412, "precondition_failed")
    assert responses[won].headers["etag"] == '"2"'
    # The winner's change whole, nothing of the loser's; one version step and one event for it.
    after = await client.get(f"{API}/organs/{code}")
    assert (after.json()["name"], after.json()["short_name"], after.headers["etag"]) == (f"改名{won}局", f"改{won}",
                                                                                         '"2"')
    async with database.session(write=False) as session:
        updated = (await session.execute(select(outbox.events.c.version).where(
            outbox.events.c.entity_id == organ_id, outbox.events.c.type == "organ.updated"))).scalars().all()
    assert updated == [2]


async def test_bump_version_refuses_a_writer_whose_version_is_stale(system):
    """Domain level: writer A and writer B read version 1 in separate sessions; A bumps and commits; B's
    compare-and-set with the version it read finds no row and is a 412 — on both databases, no row lock involved."""
    client, database = system
    code = await make_organ(client, "并发写入局")
    async with database.session(write=True) as session_a:
        organ_a = await get_organ_by_code(session_a, code)
        async with database.session(write=False) as session_b:  # a reader beside A's open write transaction
            organ_b = await get_organ_by_code(session_b, code)
        assert organ_a.version == organ_b.version == 1
        await bump_version(session_a, organ_a, organ_a.version)
        await session_a.commit()

    async with database.session(write=True) as session_b:
        with pytest.raises(PreconditionFailed):
            await bump_version(session_b, organ_b, 1)
        await session_b.rollback()
    assert organ_b.version == 1  # the stale copy was not advanced either
    async with database.session(write=False) as session:
        assert (await session.execute(select(Organ.version).where(Organ.code == code))).scalar_one() == 2
