"""Background jobs of the request service, started from the lifespan (style.md: jobs.py)."""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

from fastapi import FastAPI

from request_service.config import Settings
from request_service.domain.applications import today
from request_service.domain.handling import expire
from services.db import Database

log = logging.getLogger("gongkai.request.jobs")


def expiry_hook(settings: Settings, *, run: bool):
    """The expiry sweep: consultations without reply, and 补正 / fee deadlines passed (视为放弃)."""

    @asynccontextmanager
    async def hook(app: FastAPI, state: dict[str, Any]) -> AsyncIterator[None]:
        task = asyncio.create_task(_sweep(state["database"], settings)) if run else None
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task

    return hook


async def _sweep(database: Database, settings: Settings) -> None:
    while True:
        try:
            async with database.transaction() as session:
                changed = await expire(session, today(), settings)
            if changed:
                log.info("expiry sweep changed %d applications", changed)
        except Exception:  # the database may be briefly away; the next round catches up
            log.warning("expiry sweep failed", exc_info=True)
        await asyncio.sleep(settings.job_interval_seconds)
