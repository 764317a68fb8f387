"""Typed client of the catalogue service (style.md §7.10): one httpx.AsyncClient opened in the lifespan, explicit
short timeouts, X-Request-ID forwarded, transport failures mapped to UpstreamTimeout (504) / UpstreamUnavailable
(502). Its read models ignore fields they do not know, so the catalogue can grow without breaking us.

Tests replace the transport with httpx.MockTransport (create_app(catalog_transport=...)).
"""

import logging
import time
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from request_service.config import Settings
from services.auth import mint_token
from services.errors import UpstreamTimeout, UpstreamUnavailable
from services.observability import current_request_id
from services.outbox import FeedPage
from services.settings import AuthSettings

__all__ = ["CatalogClient", "CatalogDocument", "ServiceToken", "make_catalog_client"]

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


class ServiceToken:
    """The request service's own bearer token for the catalogue's internal feed, re-minted before it expires."""

    def __init__(self, auth: AuthSettings, *, ttl_seconds: int = 900, renew_before_seconds: int = 120) -> None:
        self.auth = auth
        self.ttl = ttl_seconds
        self.renew_before = renew_before_seconds
        self._token: str | None = None
        self._expires_at = 0.0

    def get(self) -> str:
        now = time.time()
        if self._token is None or now >= self._expires_at - self.renew_before:
            self._token = mint_token(self.auth, sub="request-service", roles=["service"], ttl_seconds=self.ttl)
            self._expires_at = now + self.ttl
        return self._token


class CatalogClient:
    def __init__(self, http: httpx.AsyncClient, token: ServiceToken) -> None:
        self.http = http
        self.token = token

    async def _get(self, path: str, params: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
        headers = dict(headers or {})
        request_id = current_request_id()
        if request_id:
            headers["X-Request-ID"] = request_id
        try:
            response = await self.http.get(path, params=params, headers=headers)
        except httpx.TimeoutException as exc:
            raise UpstreamTimeout("The catalogue did not answer in time.") from exc
        except httpx.TransportError as exc:
            raise UpstreamUnavailable("The catalogue is unreachable.") from exc
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
    return CatalogClient(http, ServiceToken(settings.auth))
