"""Feeding the statistics service events as the producers publish them (same payload shapes)."""

import itertools
import uuid
from datetime import UTC, datetime

import httpx

from services.outbox import EventRead, FeedConsumer, FeedPage
from stats_service.domain.ingest import apply_catalog_events, apply_request_events
from stats_service.models import outbox


class Feed:
    """An in-memory producer feed."""

    def __init__(self) -> None:
        self.events: list[EventRead] = []
        self._ids = itertools.count(1)

    def add(self, type_: str, entity_type: str, entity_id: str, version: int, payload: dict,
            occurred_at: datetime | None = None) -> None:
        self.events.append(EventRead(id=next(self._ids), type=type_, entity_type=entity_type, entity_id=entity_id,
                                     version=version, payload=payload, occurred_at=occurred_at or datetime.now(UTC)))

    async def __call__(self, after: int, limit: int) -> FeedPage:
        items = [e for e in self.events if e.id > after][:limit]
        return FeedPage(items=items, next_cursor=str(items[-1].id if items else after),
                        head=self.events[-1].id if self.events else 0)


def organ(feed: Feed, code: str, name: str, kind: str = "department", parent: str | None = None) -> None:
    feed.add("organ.created", "organ", str(uuid.uuid4()), 1,
             {"code": code, "name": name, "kind": kind, "parent_code": parent})


class Apps:
    """Builds application events with the request service's projection."""

    def __init__(self, feed: Feed) -> None:
        self.feed = feed
        self.versions: dict[str, int] = {}
        self.state: dict[str, dict] = {}

    def put(self, app_id: str | None = None, **changes) -> str:
        app_id = app_id or str(uuid.uuid4())
        state = self.state.setdefault(app_id, {
            "organ_code": None, "applicant_type": "natural_person", "channel": "online", "status": "accepted",
            "receipt_date": None, "submitted_on": None, "closed_on": None, "outcome": None, "due_on": None,
            "fee_method": None, "fee_amount": None, "fee_noticed_on": None, "fee_paid_amount": None,
            "fee_paid_on": None, "fee_waived": False, "appeals": []})
        state.update(changes)
        self.versions[app_id] = self.versions.get(app_id, 0) + 1
        self.feed.add("application.changed", "application", app_id, self.versions[app_id], dict(state))
        return app_id


def consumers(db, catalog: Feed, requests: Feed) -> list[FeedConsumer]:
    return [FeedConsumer("catalog", db, outbox, catalog, apply_catalog_events, batch_size=7),
            FeedConsumer("request", db, outbox, requests, apply_request_events, batch_size=7)]


async def drain(db, catalog: Feed, requests: Feed) -> None:
    for consumer in consumers(db, catalog, requests):
        await consumer.drain()


class Forward(httpx.AsyncBaseTransport):
    """An httpx transport that sends requests to another app's test client (e.g. the catalogue over ASGI), so a
    service's own HTTP client (the request service's CatalogClient) reaches the real app in tests."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        forwarded = self.client.build_request(request.method, request.url.raw_path.decode(),
                                              headers=request.headers, content=await request.aread())
        response = await self.client.send(forwarded)
        return httpx.Response(response.status_code, headers=response.headers, content=response.content)
