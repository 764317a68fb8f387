import asyncio
import os
import sys
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from catalog_service.api import router
from catalog_service.config import Settings
from catalog_service.domain.attachment_checks import check_attachments
from catalog_service.domain.blobs import make_blob_store
from catalog_service.domain.indexer import IndexReader, SearchEngine, prune_revocations
from catalog_service.domain.query import warm_up
from catalog_service.domain.synonyms import VocabularyCache
from catalog_service.domain.workflow import publish_due
from catalog_service.feeds import calendar_hook, webhook_hook
from catalog_service.metrics import router as metrics_router
from catalog_service.models import audit, outbox
from catalog_service.policy import POLICY
from services.app import create_service_app
from services.db import Database
from services.jobs import periodic
from services.me import make_me_router
from services.outbox import make_event_feed_router


def make_lifespan_hook(settings: Settings, *, run_jobs: bool, run_indexer: bool):
    @asynccontextmanager
    async def hook(app: FastAPI, state: dict[str, Any]) -> AsyncIterator[None]:
        state["search_vocabulary"] = VocabularyCache()  # the search dictionary, per process (domain/synonyms.py)
        state["search_pool"] = ThreadPoolExecutor(max_workers=settings.search_threads or usable_cores(),
                                                  thread_name_prefix="search")
        await asyncio.to_thread(warm_up)  # the segmenter's dictionary, once per process, off the event loop
        # 检索索引 (domain/indexer.py). In a directory: the host's shared index, written by an indexer process
        # (started here, a standby if another holds the directory) — the web process serves at once. In memory:
        # this process's own index, built from the database before serving and kept by a background task; tests
        # drive it (catch-up) on their one connection.
        engine: SearchEngine | IndexReader
        indexer = None
        stop = asyncio.Event()
        if settings.search_index_dir:
            engine = IndexReader(state["database"], Path(settings.search_index_dir),
                                 indexer_command=_indexer_command(settings) if run_indexer else None,
                                 # the database URL (its password) in the environment, never on a command line
                                 indexer_env={**os.environ, "CATALOG_DATABASE_URL": settings.database_url})
            await engine.start()
        else:
            engine = SearchEngine(state["database"], None, background=run_indexer,
                                  analysis_processes=settings.search_index_processes)
            await engine.start()
            if run_indexer:
                indexer = asyncio.create_task(engine.run(stop, settings.search_index_interval_seconds))
        state["search_engine"] = engine
        state["readiness_probes"]["search_index"] = _search_probe(engine, settings.search_index_max_lag_seconds)
        blob_store = make_blob_store(settings.attachment_store, settings.attachment_dir)
        try:
            # 定时发布: publish records whose scheduled time has come (idempotent per record).
            async with (periodic("scheduled publication", state["database"], partial(publish_due, settings=settings),
                                 settings.scheduler_interval_seconds, run=run_jobs),
                        periodic("search revocation pruning", state["database"], prune_revocations, 3600,
                                 run=run_jobs),
                        # 附件无法打开: re-read and hash the attachments of public records, a batch a round.
                        periodic("attachment check", state["database"],
                                 partial(check_attachments, store=blob_store, batch=settings.attachment_check_batch),
                                 settings.attachment_check_interval_seconds,
                                 run=run_jobs and settings.attachment_check_interval_seconds > 0)):
                yield
        finally:
            stop.set()
            if indexer is not None:
                await indexer
            engine.close()
            state["search_pool"].shutdown(wait=False, cancel_futures=True)

    return hook


def usable_cores() -> int:
    """The cores this process may run on (a container pinned to 2 of a host's 64 sees 2), else the machine's."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _indexer_command(settings: Settings) -> list[str]:
    assert settings.search_index_dir
    return [sys.executable, "-m", "catalog_service.indexer_process", "--index-dir", settings.search_index_dir,
            "--interval", str(settings.search_index_interval_seconds),
            "--analysis-processes", str(settings.search_index_processes),
            "--parent", str(os.getpid()), "--log-level", settings.log_level, "--log-format", settings.log_format]


def _search_probe(engine: SearchEngine | IndexReader, max_lag_seconds: float):
    """Ready while the search index lags the catalogue by at most `max_lag_seconds` (age of the oldest change not
    yet indexed); the lag is shown either way."""

    async def probe() -> dict[str, Any]:
        try:
            status = await engine.status()
        except Exception:  # the database itself is down: its own check reports that
            return {"ok": True, "skipped": "database unavailable"}
        if status["location"] == "none":
            return {"ok": False, "error": "the search index is not built yet"}
        return {"ok": status["lag_seconds"] <= max_lag_seconds,
                **{k: status[k] for k in ("position", "head", "lag_events", "lag_seconds", "entries")}}

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
        routers=[make_me_router("/api/v1/catalog", POLICY), router, metrics_router,
                 make_event_feed_router(outbox, tag="internal")],
        hooks=[
            # The calendar cache first: the scheduled-publication job and every request may compute deadlines.
            # The feed consumer runs outside tests (they drive it directly, as feeds.make_calendar_consumer).
            calendar_hook(settings, run_feed=database is None and settings.calendar_feed_enabled,
                          transport=request_transport),
            make_lifespan_hook(settings, run_jobs=database is None and settings.scheduler_interval_seconds > 0,
                               run_indexer=database is None),
            webhook_hook(settings, run=database is None and settings.webhooks_enabled),
        ],
    )


app = create_app()
