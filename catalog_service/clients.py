"""Typed client of the request service (style.md §7.10): its event feed, where the working-day calendar it owns is
announced (`calendar.year_loaded`). One httpx.AsyncClient opened in the lifespan, explicit timeouts, X-Request-ID
forwarded, a service token re-minted before it expires, transport failures mapped to UpstreamTimeout /
UpstreamUnavailable. Tests pass a transport (httpx.MockTransport, or an ASGI transport to a real request app).
"""

from typing import Any

import httpx
from pydantic import ValidationError

from catalog_service.config import Settings
from services.auth import ServiceToken
from services.errors import UpstreamTimeout, UpstreamUnavailable
from services.observability import current_request_id
from services.outbox import FeedPage

__all__ = ["RequestServiceClient", "make_request_client"]

EVENTS_PATH = "/internal/v1/events"


class RequestServiceClient:
    def __init__(self, http: httpx.AsyncClient, token: ServiceToken) -> None:
        self.http = http
        self.token = token

    async def _get(self, path: str, params: dict[str, Any]) -> Any:
        headers = {"Authorization": f"Bearer {self.token.get()}"}
        request_id = current_request_id()
        if request_id:
            headers["X-Request-ID"] = request_id
        try:
            response = await self.http.get(path, params=params, headers=headers)
        except httpx.TimeoutException as exc:
            raise UpstreamTimeout("The request service did not answer in time.") from exc
        except httpx.TransportError as exc:
            raise UpstreamUnavailable("The request service is unreachable.") from exc
        if response.status_code != 200:
            raise UpstreamUnavailable(f"The request service answered {response.status_code}.")
        try:
            return response.json()
        except ValueError as exc:
            raise UpstreamUnavailable("The request service answered with something that is not JSON.") from exc

    async def fetch_events(self, after: int, limit: int) -> FeedPage:
        """The request service's event feed after `after` (FeedConsumer's fetch)."""
        body = await self._get(EVENTS_PATH, {"after": after, "limit": limit})
        try:
            return FeedPage.model_validate(body)
        except ValidationError as exc:
            raise UpstreamUnavailable("The request service's event feed has an unexpected shape.") from exc

    async def aclose(self) -> None:
        await self.http.aclose()


def make_request_client(settings: Settings, transport: httpx.AsyncBaseTransport | None = None) -> RequestServiceClient:
    timeout = httpx.Timeout(settings.request_timeout_seconds, connect=settings.request_connect_timeout_seconds)
    http = httpx.AsyncClient(base_url=settings.request_url, timeout=timeout, transport=transport,
                             follow_redirects=False, limits=httpx.Limits(max_connections=4))
    return RequestServiceClient(http, ServiceToken(settings.auth, sub="catalog-service"))
