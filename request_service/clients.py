"""Typed client of the catalogue service (style.md §7.10): one httpx.AsyncClient opened in the lifespan, explicit
short timeouts, X-Request-ID forwarded, transport failures mapped to UpstreamTimeout (504) / UpstreamUnavailable
(502). Its read models ignore fields they do not know, so the catalogue can grow without breaking us.

Tests replace the transport with httpx.MockTransport (create_app(catalog_transport=...)).

A circuit breaker stops calling a catalogue that is down (CircuitBreaker): intake asks it on every submission, and
without the breaker each one would pay for a refused connection, or wait out the connect timeout when the host
does not answer at all.
"""

import logging
import time
from collections.abc import Callable
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from request_service.config import Settings
from services.auth import ServiceToken
from services.errors import UpstreamTimeout, UpstreamUnavailable
from services.observability import current_request_id
from services.outbox import FeedPage

__all__ = ["CatalogAway", "CatalogClient", "CatalogDocument", "CircuitBreaker", "make_catalog_client"]

log = logging.getLogger("gongkai.request.catalog")
SEARCH_PATH = "/api/v1/catalog/documents"
EVENTS_PATH = "/internal/v1/events"
MAX_QUERY_CHARS = 100  # titles can be long; the catalogue's search caps the query length anyway


class CatalogDocument(BaseModel):
    """A published record as the catalogue's search returns it (only the fields intake keeps)."""

    model_config = ConfigDict(extra="ignore")

    id: str
    index_no: str | None = None
    title: str
    doc_number: str | None = None
    organ_code: str | None = None


class CatalogAway(UpstreamUnavailable):
    """Raised without calling: the circuit breaker saw the catalogue fail and waits before trying it again."""


class CircuitBreaker:
    """After `threshold` failures in a row (no connection, timeout, 5xx) the circuit opens: calls fail at once for
    `cooldown` seconds. Then one call is let through as a probe (the others keep failing fast meanwhile); its
    success closes the circuit, its failure opens it for another `cooldown`. Any answer below 500 is a success."""

    def __init__(self, *, threshold: int = 3, cooldown_seconds: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.threshold = threshold
        self.cooldown = cooldown_seconds
        self.clock = clock
        self.failures = 0
        self.open_until = 0.0

    def allow(self) -> bool:
        if self.failures < self.threshold:
            return True
        now = self.clock()
        if now < self.open_until:
            return False
        self.open_until = now + self.cooldown  # this call probes; the next ones wait for its outcome or the cooldown
        return True

    def succeeded(self) -> None:
        if self.failures >= self.threshold:
            log.info("catalogue reachable again")
        self.failures = 0

    def failed(self) -> None:
        self.failures += 1
        if self.failures >= self.threshold:
            self.open_until = self.clock() + self.cooldown
            if self.failures == self.threshold:  # logged once per outage, not once per call
                log.warning("catalogue unreachable: not called for %.0f s at a time until it answers", self.cooldown)


class CatalogClient:
    def __init__(self, http: httpx.AsyncClient, token: ServiceToken, breaker: CircuitBreaker | None = None) -> None:
        self.http = http
        self.token = token
        self.breaker = breaker or CircuitBreaker()

    async def _get(self, path: str, params: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
        if not self.breaker.allow():
            raise CatalogAway("The catalogue failed just now; it is not called again for a few seconds.")
        headers = dict(headers or {})
        request_id = current_request_id()
        if request_id:
            headers["X-Request-ID"] = request_id
        try:
            response = await self.http.get(path, params=params, headers=headers)
        except httpx.TimeoutException as exc:
            self.breaker.failed()
            raise UpstreamTimeout("The catalogue did not answer in time.") from exc
        except httpx.TransportError as exc:
            self.breaker.failed()
            raise UpstreamUnavailable("The catalogue is unreachable.") from exc
        if response.status_code >= 500:
            self.breaker.failed()
        else:
            self.breaker.succeeded()
        if response.status_code != 200:
            raise UpstreamUnavailable(f"The catalogue answered {response.status_code}.")
        try:
            return response.json()
        except ValueError as exc:
            raise UpstreamUnavailable("The catalogue answered with something that is not JSON.") from exc

    async def search_documents(self, q: str, *, limit: int = 5) -> list[CatalogDocument]:
        """Published records matching `q` (GET /api/v1/catalog/documents?q=&limit=), best first."""
        q = " ".join(q.split())[:MAX_QUERY_CHARS]
        if not q:
            return []
        body = await self._get(SEARCH_PATH, {"q": q, "limit": limit})
        items = body.get("items", []) if isinstance(body, dict) else body
        try:
            return [CatalogDocument.model_validate(item) for item in list(items)[:limit]]
        except (ValidationError, TypeError) as exc:
            raise UpstreamUnavailable("The catalogue's search answer has an unexpected shape.") from exc

    async def fetch_events(self, after: int, limit: int) -> FeedPage:
        """The catalogue's event feed after `after` (a service token is sent; the feed is internal)."""
        body = await self._get(EVENTS_PATH, {"after": after, "limit": limit},
                               {"Authorization": f"Bearer {self.token.get()}"})
        try:
            return FeedPage.model_validate(body)
        except ValidationError as exc:
            raise UpstreamUnavailable("The catalogue's event feed has an unexpected shape.") from exc

    async def aclose(self) -> None:
        await self.http.aclose()


def make_catalog_client(settings: Settings, transport: httpx.AsyncBaseTransport | None = None) -> CatalogClient:
    timeout = httpx.Timeout(settings.catalog_timeout_seconds, connect=settings.catalog_connect_timeout_seconds)
    http = httpx.AsyncClient(base_url=settings.catalog_url, timeout=timeout, transport=transport,
                             follow_redirects=False, limits=httpx.Limits(max_connections=20))
    breaker = CircuitBreaker(threshold=settings.catalog_breaker_failures,
                             cooldown_seconds=settings.catalog_breaker_cooldown_seconds)
    return CatalogClient(http, ServiceToken(settings.auth, sub="request-service"), breaker)
