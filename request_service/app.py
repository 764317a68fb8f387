import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

import httpx
from fastapi import FastAPI

from request_service.api import router
from request_service.api.public import mine_router
from request_service.config import Settings
from request_service.domain.calendar_admin import seed_calendar, seed_calendar_until_done
from request_service.feeds import catalog_hook
from request_service.jobs import expiry_hook
from request_service.metrics import metrics_hook
from request_service.metrics import router as metrics_router
from request_service.models import audit, outbox
from request_service.policy import POLICY
from services.app import create_service_app
from services.db import Database
from services.me import make_me_router
from services.outbox import make_event_feed_router


@asynccontextmanager
async def calendar_seed_hook(app: FastAPI, state: dict[str, Any]) -> AsyncIterator[None]:
    """Seed the official calendar years shipped in chinese-calendar that the database lacks (never overwrites an
    admin's year). If the database is not reachable yet, serve anyway and keep retrying in the background."""
    database = state["database"]
    task = None
    try:
        await seed_calendar(database)
    except Exception:
        task = asyncio.create_task(seed_calendar_until_done(database))
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task


def create_app(settings: Settings | None = None, database: Database | None = None,
               catalog_transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    """`database` and `catalog_transport` (an httpx.MockTransport standing in for the catalogue) are for tests."""
    settings = settings or Settings()
    return create_service_app(
        name="request",
        title="Gongkai request service · 依申请公开",
        description="Applications for disclosure, the statutory clock, replies, fees, appeals and consultations.",
        settings=settings,
        database=database,
        policy=POLICY,
        audit=audit,
        # mine_router first: GET /applications/mine must not be taken for GET /applications/{application_id}.
        routers=[make_me_router("/api/v1/requests", POLICY), mine_router,
                 router, metrics_router, make_event_feed_router(outbox, tag="internal")],
        hooks=[
            metrics_hook,
            calendar_seed_hook,  # first: the expiry sweep's first round already counts working days
            expiry_hook(settings, run=database is None and settings.job_interval_seconds > 0),
            # The catalogue client, and the organ-directory consumer outside tests (they feed KnownOrgan directly).
            catalog_hook(settings, run_feed=database is None and settings.organ_feed_enabled,
                         transport=catalog_transport),
        ],
    )


app = create_app()
