"""Periodic jobs run from a service's lifespan, each round one unit of work.

Several instances (多实例: uvicorn workers, several hosts) each run every job's loop; on PostgreSQL a round first
takes a transaction-scoped advisory lock keyed by the job's name (`pg_try_advisory_xact_lock`), so one instance
does a round's work and the others skip theirs while it holds the lock — a scheduled record is published once, an
application closed once. The lock goes with the round's transaction (commit, rollback, or a connection lost with a
killed process), so there is nothing to release or expire; the next round of any instance picks up the work.
SQLite is the single-process embedded default: its one writer already serialises rounds."""

import asyncio
import logging
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress

from sqlalchemy import BigInteger, bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.db import Database

__all__ = ["job_lock_key", "periodic", "take_round"]

log = logging.getLogger("gongkai.jobs")
Step = Callable[[AsyncSession], Awaitable[int]]
_TRY_LOCK = text("SELECT pg_try_advisory_xact_lock(:key)").bindparams(bindparam("key", type_=BigInteger))


def job_lock_key(name: str) -> int:
    """The advisory-lock key of a job: stable across processes and releases (a hash of the name, in the same
    space as the outbox's ordering lock but in its own namespace)."""
    return zlib.crc32(f"gongkai.job.{name}".encode())


async def take_round(session: AsyncSession, name: str) -> bool:
    """Whether this instance does this round of job `name`: on PostgreSQL, whether it got the job's lock (held until
    the session's transaction ends); elsewhere always."""
    if session.bind.dialect.name != "postgresql":
        return True
    return bool((await session.execute(_TRY_LOCK, {"key": job_lock_key(name)})).scalar_one())


@asynccontextmanager
async def periodic(name: str, database: Database, step: Step, interval: float, *,
                   run: bool = True) -> AsyncIterator[None]:
    """While the block runs, call `step(session)` in its own transaction every `interval` seconds. A failing round
    (the database briefly away) is logged and the next round catches up; the task is cancelled on exit. A round
    another instance is doing right now is skipped (`take_round`)."""
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
                changed = await step(session) if await take_round(session, name) else 0
            if changed:
                log.info("%s: %d changed", name, changed)
        except Exception:
            log.warning("%s failed; retrying next round", name, exc_info=True)
        await asyncio.sleep(interval)
