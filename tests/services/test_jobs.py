"""services.jobs.periodic: rounds keep coming after a failure, and the task stops with the block."""

import asyncio
from contextlib import asynccontextmanager

from services.jobs import periodic


class FakeDatabase:
    def transaction(self):
        @asynccontextmanager
        async def unit_of_work():
            yield None

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
