"""Lifespan wiring of the catalogue: the CatalogClient (state["catalog_client"]) and the "catalog-organs" consumer
that keeps KnownOrgan in step with the catalogue's organ.created / organ.updated events (architecture.md: the
request service learns the organ directory from the catalogue's event feed) and drops records the catalogue
withdraws from the stored catalogue suggestions (domain/withdrawals.py).

The consumer runs as a background task and stops with the app. Its readiness entry reports how far it is
(cursor, lag, time since the last good poll) but never makes the service unready: a catalogue outage must not
stop applicants from tracking their applications; intake only refuses organs it has not learnt yet.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI, Request

from request_service.clients import CatalogClient, make_catalog_client
from request_service.config import Settings
from request_service.domain.withdrawals import apply_catalog_events
from request_service.models import outbox
from services.outbox import FeedConsumer, running_consumers

__all__ = ["ORGAN_FEED", "catalog_hook", "get_catalog_client"]

ORGAN_FEED = "catalog-organs"


async def get_catalog_client(request: Request) -> CatalogClient:  # async: no thread-pool hop (services/db.py)
    return request.state.catalog_client


def catalog_hook(settings: Settings, *, run_feed: bool, transport: httpx.AsyncBaseTransport | None = None):
    @asynccontextmanager
    async def hook(app: FastAPI, state: dict[str, Any]) -> AsyncIterator[None]:
        client = make_catalog_client(settings, transport)
        state["catalog_client"] = client
        # Organ events, and withdrawals of catalogue records (domain/withdrawals.py: drop stored suggestions).
        consumer = FeedConsumer(ORGAN_FEED, state["database"], outbox, client.fetch_events, apply_catalog_events,
                                batch_size=200)
        state["organ_feed"] = consumer
        if run_feed:
            state["readiness_probes"][ORGAN_FEED] = consumer.readiness
        try:
            async with running_consumers([consumer] if run_feed else [],
                                         idle_seconds=settings.organ_feed_interval_seconds):
                yield
        finally:
            await client.aclose()

    return hook

