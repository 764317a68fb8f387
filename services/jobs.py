"""Periodic jobs run from a service's lifespan, each round one unit of work."""

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress

from sqlalchemy.ext.asyncio import AsyncSession

from services.db import Database

__all__ = ["periodic"]

log = logging.getLogger("gongkai.jobs")
Step = Callable[[AsyncSession], Awaitable[int]]


@asynccontextmanager
async def periodic(name: str, database: Database, step: Step, interval: float, *,
                   run: bool = True) -> AsyncIterator[None]:
    """While the block runs, call `step(session)` in its own transaction every `interval` seconds. A failing round
    (the database briefly away) is logged and the next round catches up; the task is cancelled on exit."""
    task = asyncio.create_task(_loop(name, database, step, interval)) if run else None
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task


async def _loop(name: str, database: Database, step: Step, interval: float) -> None:
    while True:
        try:
            async with database.transaction() as session:
                changed = await step(session)
            if changed:
                log.info("%s: %d changed", name, changed)
        except Exception:
            log.warning("%s failed; retrying next round", name, exc_info=True)
        await asyncio.sleep(interval)
