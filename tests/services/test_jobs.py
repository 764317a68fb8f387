"""services.jobs.periodic: rounds keep coming after a failure, and the task stops with the block."""

import asyncio
import uuid
from collections import Counter
from contextlib import asynccontextmanager
from types import SimpleNamespace

import pytest
from sqlalchemy import text

from services.db import Database, make_engine
from services.jobs import periodic
from tests.support import acreate_database, adrop_database


class FakeDatabase:
    def transaction(self):
        @asynccontextmanager
        async def unit_of_work():
            # A session of the embedded (SQLite) backend: every round is this instance's.
            yield SimpleNamespace(bind=SimpleNamespace(dialect=SimpleNamespace(name="sqlite")))

        return unit_of_work()


async def test_a_failing_round_does_not_stop_the_job_and_exit_cancels_it():
    rounds: list[int] = []

    async def step(session):
        rounds.append(1)
        if len(rounds) == 2:
            raise ConnectionError("the database is briefly away")
        return 1

    async with periodic("test job", FakeDatabase(), step, 0.01):
        await asyncio.sleep(0.15)
    ran = len(rounds)
    assert ran >= 3  # went on after the failing second round
    await asyncio.sleep(0.05)
    assert len(rounds) == ran  # nothing runs after the block


async def test_not_run_when_switched_off():
    rounds: list[int] = []

    async def step(session):
        rounds.append(1)
        return 0

    async with periodic("off", FakeDatabase(), step, 0.01, run=False):
        await asyncio.sleep(0.05)
    assert rounds == []


@pytest.mark.postgres_only
async def test_two_instances_never_run_a_round_of_one_job_at_once(tmp_path):
    """Two instances (two engines: separate connections, as two processes have) run the same job's loop: a round
    holds the job's advisory lock until it commits, so the other instance skips its round meanwhile. Without the
    lock both would be inside a round together within a few rounds. A differently named job is not held up."""
    url = await acreate_database(f"jobs{uuid.uuid4().hex[:6]}", tmp_path)
    databases = [Database(make_engine(url)) for _ in range(3)]
    inside: Counter[str] = Counter()
    most: Counter[str] = Counter()
    rounds: Counter[str] = Counter()

    def step_of(job: str):
        async def step(session):
            await session.execute(text("SELECT 1"))
            inside[job] += 1
            most[job] = max(most[job], inside[job])
            try:
                await asyncio.sleep(0.05)  # the round's work, while its transaction is open
            finally:
                inside[job] -= 1
            rounds[job] += 1
            return 0

        return step

    try:
        async with periodic("twin job", databases[0], step_of("twin"), 0.005), \
                periodic("twin job", databases[1], step_of("twin"), 0.005), \
                periodic("other job", databases[2], step_of("other"), 0.005):
            await asyncio.sleep(1.5)
        assert rounds["twin"] >= 5 and rounds["other"] >= 5, rounds
        assert most["twin"] == 1, "two instances were inside a round of the same job at once"
    finally:
        for database in databases:
            await database.dispose()
        await adrop_database(url)
