"""Compare-and-set of an appeal's version (行政复议/诉讼 decisions, PATCH /appeals/{id}): two writers holding the same
ETag, neither read under a row lock. See tests/catalog_service/test_compare_and_set.py for the method: on PostgreSQL
both requests read version 1 and are held at their first UPDATE until both are there, so only the version condition
of bump_version can refuse the second; on SQLite BEGIN IMMEDIATE serialises them before they read."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from request_service.app import create_app
from request_service.config import Settings
from request_service.models import Appeal, outbox
from services.db import Database, make_engine
from tests.request_service.helpers import API, Desk, organ_code
from tests.request_service.test_appeals import _replied, file
from tests.support import (
    acreate_database,
    adrop_database,
    assert_problem,
    holding_writers,
    lock_waiters,
    migrate,
    serve,
)


@pytest.fixture
async def system(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Database]]:
    """The request service on a database of its own with a real engine, so that two requests can race."""
    url = await acreate_database(f"cas_{uuid.uuid4().hex[:6]}", tmp_path)
    database = Database(make_engine(url))
    try:
        await asyncio.to_thread(migrate, "request", url)
        app = create_app(Settings(database_url=url, access_log=False, organ_feed_enabled=False,
                                  job_interval_seconds=0), database=database,
                         catalog_transport=httpx.MockTransport(lambda request: httpx.Response(503)))
        async with serve(app) as client:
            yield client, database
    finally:
        await database.dispose()
        await adrop_database(url)


async def test_two_decisions_on_one_appeal_with_the_same_etag_one_wins_the_other_is_412(system):
    client, database = system
    desk = Desk(organ_code())
    app_id = await _replied(database, desk.organ)
    appeal = await file(client, desk.handler, app_id, case_no="测复〔2026〕21号")
    path = f"{API}/appeals/{appeal['id']}"
    decisions = [{"outcome": "upheld", "decided_on": "2026-05-20", "notes": "维持"},
                 {"outcome": "corrected", "decided_on": "2026-05-21", "notes": "责令重新答复"}]

    async with holding_writers(database, Appeal, appeal["id"]):
        racing = [asyncio.create_task(client.patch(path, headers={**desk.approver, "If-Match": '"1"'}, json=body))
                  for body in decisions]
        await lock_waiters(database, 2)  # PostgreSQL: both read version 1 and wait at their first UPDATE
        assert not any(task.done() for task in racing)
    responses = await asyncio.gather(*racing)

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 412], [(r.status_code, r.text[:300]) for r in responses]
    won = next(i for i, r in enumerate(responses) if r.status_code == 200)
    assert_problem(responses[1 - won], 412, "precondition_failed")
    got = await client.get(path, headers=desk.clerk)
    assert got.headers["etag"] == '"2"'
    assert {k: got.json()[k] for k in decisions[won]} == decisions[won]  # the winner's decision whole
    async with database.session(write=False) as session:
        changes = (await session.execute(select(outbox.events.c.payload).where(
            outbox.events.c.entity_id == app_id, outbox.events.c.type == "application.appeal_changed")
            .order_by(outbox.events.c.id))).scalars().all()
    assert [c["appeals"][0]["outcome"] for c in changes] == ["pending", decisions[won]["outcome"]]
