import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import httpx
from fastapi import FastAPI

from catalog_service.api import router
from catalog_service.config import Settings
from catalog_service.domain.query import warm_up
from catalog_service.domain.search import check_search_support
from catalog_service.domain.synonyms import VocabularyCache
from catalog_service.domain.workflow import publish_due
from catalog_service.feeds import calendar_hook
from catalog_service.models import audit, outbox
from catalog_service.policy import POLICY
from services.app import create_service_app
from services.db import Database
from services.jobs import periodic
from services.me import make_me_router
from services.outbox import make_event_feed_router


def make_lifespan_hook(settings: Settings, *, run_jobs: bool):
    @asynccontextmanager
    async def hook(app: FastAPI, state: dict[str, Any]) -> AsyncIterator[None]:
        state["readiness_probes"]["search"] = _search_probe(state["database"])
        state["search_vocabulary"] = VocabularyCache()  # the search dictionary, per process (domain/synonyms.py)
        await asyncio.to_thread(warm_up)  # the segmenter's dictionary, once per process, off the event loop
        # 定时发布: publish records whose scheduled time has come (idempotent per record).
        async with periodic("scheduled publication", state["database"], partial(publish_due, settings=settings),
                            settings.scheduler_interval_seconds, run=run_jobs):
            yield

    return hook


def _search_probe(database: Database):
    """Ready only if CJK search can work: on PostgreSQL the database LC_CTYPE must be UTF-8 (performance.md §3.1)."""

    async def probe() -> dict[str, Any]:
        try:
            async with database.session(write=False) as session:
                await check_search_support(session)
        except RuntimeError as exc:
            return {"ok": False, "error": str(exc)}
        except Exception:  # the database itself is down: its own check reports that
            return {"ok": True, "skipped": "database unavailable"}
        return {"ok": True}

    return probe


def create_app(settings: Settings | None = None, database: Database | None = None,
               request_transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    """`database` and `request_transport` (standing in for the request service) are for tests."""
    settings = settings or Settings()
    return create_service_app(
        name="catalog",
        title="Gongkai catalogue service · 政府信息公开目录",
        description="Organs, documents, confidentiality review, publication, search and the change feed.",
        settings=settings,
        database=database,
        policy=POLICY,
        audit=audit,
        routers=[make_me_router("/api/v1/catalog", POLICY), router, make_event_feed_router(outbox, tag="internal")],
        hooks=[
            # The calendar cache first: the scheduled-publication job and every request may compute deadlines.
            # The feed consumer runs outside tests (they drive it directly, as feeds.make_calendar_consumer).
            calendar_hook(settings, run_feed=database is None and settings.calendar_feed_enabled,
                          transport=request_transport),
            make_lifespan_hook(settings, run_jobs=database is None and settings.scheduler_interval_seconds > 0),
        ],
    )


app = create_app()
