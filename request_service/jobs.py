"""Background jobs of the request service, started from the lifespan (style.md: jobs.py)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from request_service.config import Settings
from request_service.domain.applications import today
from request_service.domain.handling import expire
from services.jobs import periodic


def expiry_hook(settings: Settings, *, run: bool):
    """The expiry sweep: consultations without reply, and 补正 / fee deadlines passed (视为放弃)."""

    @asynccontextmanager
    async def hook(app: FastAPI, state: dict[str, Any]) -> AsyncIterator[None]:
        async with periodic("expiry sweep", state["database"], lambda session: expire(session, today(), settings),
                            settings.job_interval_seconds, run=run):
            yield

    return hook
