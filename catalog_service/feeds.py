"""Lifespan wiring of the request service's feed: the per-process calendar cache (state["calendar_cache"]), the
"request-calendar" consumer that learns the working-day calendar from `calendar.year_loaded` events
(domain/calendar_feed.py), and the "request-applications" consumer that relays application status changes to the
webhook dispatcher (domain/application_feed.py), each with effects and cursor in one transaction.

The consumer runs as a background task (CATALOG_CALENDAR_FEED_ENABLED=false turns it off; tests drive it directly)
and stops with the app. Its readiness entry reports how far it is but never makes the catalogue unready: with the
request service away, deadlines are still computed (package data and the years learnt so far) and marked
provisional where no official data exists.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

import httpx
from fastapi import FastAPI

from catalog_service.clients import make_request_client
from catalog_service.config import Settings
from catalog_service.domain.application_feed import APPLICATION_FEED, relay_application_events
from catalog_service.domain.calendar import CalendarCache
from catalog_service.domain.calendar_feed import apply_calendar_events
from catalog_service.domain.webhooks import FANOUT_FEED, WebhookDispatcher
from catalog_service.models import outbox
from services.db import Database
from services.outbox import FeedConsumer, FetchEvents, running_consumers

__all__ = ["CALENDAR_FEED", "calendar_hook", "make_application_consumer", "make_calendar_consumer", "webhook_hook"]

CALENDAR_FEED = "request-calendar"


def make_calendar_consumer(database: Database, fetch: FetchEvents, *, batch_size: int = 500) -> FeedConsumer:
    return FeedConsumer(CALENDAR_FEED, database, outbox, fetch, apply_calendar_events, batch_size=batch_size)


def make_application_consumer(database: Database, fetch: FetchEvents, *, batch_size: int = 500) -> FeedConsumer:
    """The relay of application status changes for partner platforms' webhooks (domain/application_feed.py)."""
    return FeedConsumer(APPLICATION_FEED, database, outbox, fetch, relay_application_events, batch_size=batch_size)


def calendar_hook(settings: Settings, *, run_feed: bool, transport: httpx.AsyncBaseTransport | None = None):
    @asynccontextmanager
    async def hook(app: FastAPI, state: dict[str, Any]) -> AsyncIterator[None]:
        state["calendar_cache"] = CalendarCache()
        if not run_feed:
            yield
            return
        client = make_request_client(settings, transport)
        consumer = make_calendar_consumer(state["database"], client.fetch_events,
                                          batch_size=settings.calendar_feed_batch_size)
        # The same feed, a second cursor: the application status relay for the webhooks (its own position, so the
        # two never hold each other back).
        relay = make_application_consumer(state["database"], client.fetch_events,
                                          batch_size=settings.calendar_feed_batch_size)
        state["calendar_feed"], state["application_feed"] = consumer, relay
        state["readiness_probes"][CALENDAR_FEED] = consumer.readiness
        state["readiness_probes"][APPLICATION_FEED] = relay.readiness
        try:
            async with running_consumers([consumer, relay], idle_seconds=settings.calendar_feed_interval_seconds):
                yield
        finally:
            await client.aclose()

    return hook



def webhook_hook(settings: Settings, *, run: bool):
    """The webhook dispatcher (domain/webhooks.py) as a background task of every catalogue process: the fan-out
    consumer's cursor and the per-subscription leases let several processes run it at once. Tests drive it
    directly. Its readiness entry reports the fan-out's lag, never makes the catalogue unready."""

    @asynccontextmanager
    async def hook(app: FastAPI, state: dict[str, Any]) -> AsyncIterator[None]:
        if not run:
            yield
            return
        dispatcher = WebhookDispatcher(state["database"], settings)
        state["readiness_probes"][FANOUT_FEED] = dispatcher.fanout.readiness
        stop = asyncio.Event()
        task = asyncio.create_task(dispatcher.run(stop), name="webhook dispatcher")
        try:
            yield
        finally:
            stop.set()
            try:
                await asyncio.wait_for(task, timeout=settings.webhook_timeout_seconds + 5)
            except TimeoutError:  # an attempt in flight: its delivery is sent again by the next process
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task

    return hook
