"""The two feed consumers of the statistics service, run from the lifespan. Each reads a producer's
`/internal/v1/events` over HTTP with a service token and applies batches with its cursor in one transaction."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI

from services.auth import ServiceToken
from services.db import Database
from services.errors import UpstreamUnavailable
from services.outbox import FeedConsumer, FeedPage, running_consumers
from stats_service.config import Settings
from stats_service.domain.ingest import apply_catalog_events, apply_request_events
from stats_service.models import outbox

__all__ = ["HttpFeed", "consumers_hook", "make_consumers"]


class HttpFeed:
    """Reads one producer's event feed; the service token is re-minted before it expires."""

    def __init__(self, client: httpx.AsyncClient, settings: Settings) -> None:
        self.client = client
        self.token = ServiceToken(settings.auth, sub="stats-service")

    async def __call__(self, after: int, limit: int) -> FeedPage:
        try:
            response = await self.client.get("/internal/v1/events", params={"after": after, "limit": limit},
                                             headers={"Authorization": f"Bearer {self.token.get()}"})
        except httpx.TransportError as exc:  # not up yet, or away: the consumer says so once and retries
            raise UpstreamUnavailable(f"{self.client.base_url} is unreachable ({type(exc).__name__})") from exc
        if response.status_code >= 500:
            raise UpstreamUnavailable(f"{self.client.base_url} answered {response.status_code}")
        response.raise_for_status()
        return FeedPage.model_validate(response.json())


def make_consumers(database: Database, settings: Settings, catalog: Any, requests: Any) -> list[FeedConsumer]:
    return [
        FeedConsumer("catalog", database, outbox, catalog, apply_catalog_events,
                     batch_size=settings.consumer_batch_size),
        FeedConsumer("request", database, outbox, requests, apply_request_events,
                     batch_size=settings.consumer_batch_size),
    ]


def consumers_hook(settings: Settings, *, run: bool):
    @asynccontextmanager
    async def hook(app: FastAPI, state: dict[str, Any]) -> AsyncIterator[None]:
        if not run:
            state["consumers"] = []
            yield
            return
        timeout = httpx.Timeout(10.0, connect=2.0)
        async with httpx.AsyncClient(base_url=settings.catalog_url, timeout=timeout) as catalog, \
                httpx.AsyncClient(base_url=settings.request_url, timeout=timeout) as requests:
            consumers = make_consumers(state["database"], settings, HttpFeed(catalog, settings),
                                       HttpFeed(requests, settings))
            state["consumers"] = consumers
            for consumer in consumers:
                state["readiness_probes"][f"consumer_{consumer.name}"] = _probe(consumer)
            async with running_consumers(consumers, idle_seconds=settings.consumer_idle_seconds):
                yield

    return hook


def _probe(consumer: FeedConsumer):
    async def probe() -> dict[str, Any]:
        # Lag is reported, not judged: a consumer catching up is still ready to serve reports.
        return {"ok": True, "lag": consumer.lag()}

    return probe
