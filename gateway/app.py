"""The gateway's ASGI entry point: `uvicorn gateway.app:app`.

A plain ASGI dispatcher in front of two apps: /api/* goes to the proxy (gateway.proxy, the hot path, no
framework), everything else to a small FastAPI app (gateway.local: health, readiness, metrics, OpenAPI, docs).
CORS preflights are answered here for both. The lifespan opens one aiohttp session per upstream and computes
the merged OpenAPI document once from the services' apps built in-process.
"""

import asyncio
import gc
import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from gateway.config import GatewaySettings
from gateway.edge import CorsPolicy
from gateway.local import make_local_app
from gateway.metrics import GatewayMetrics
from gateway.openapi import TITLE, load_service_specs, merge
from gateway.proxy import Proxy, send_problem, valid_request_id
from services.observability import (
    ROUTINE_PATHS,
    RequestContextMiddleware,
    configure_logging,
    keep_personal_data_out_of_logs,
)

__all__ = ["GatewayApp", "app", "create_app"]

log = logging.getLogger("gongkai.gateway")
access_log = logging.getLogger("gongkai.access")

SpecSource = Mapping[str, dict[str, Any]] | Callable[[], Mapping[str, dict[str, Any]]]


class GatewayApp:
    """The ASGI app. `openapi_specs` replaces the in-process service apps as the source of the merged
    document (tests use stand-in services); `manage_logging=False` leaves the root logger alone."""

    title = TITLE

    def __init__(self, settings: GatewaySettings, *, openapi_specs: SpecSource | None = None,
                 manage_logging: bool = True) -> None:
        self.settings = settings
        self.metrics = GatewayMetrics(tuple(settings.upstream_urls()))
        self.cors = CorsPolicy(settings.cors_origins, settings.cors_max_age)
        self.proxy = Proxy(settings, self.metrics, self.cors)
        self.local_app = make_local_app(self)
        # The shared middleware sets the request-id contextvar (problem bodies carry it), echoes the id and
        # enforces the body limit; the gateway writes its own access line (with `upstream`) below.
        self._local = RequestContextMiddleware(self.local_app, log_access=False,
                                               max_body_bytes=settings.max_body_bytes)
        self._specs_source = openapi_specs
        self._openapi: bytes | None = None
        self._openapi_lock = asyncio.Lock()
        self._manage_logging = manage_logging

    # -- ASGI --------------------------------------------------------------------------------------------------

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind == "http":
            if scope["method"] == "OPTIONS" and self.cors.enabled and await self._preflight(scope, send):
                return
            path = scope["path"]
            if path.startswith("/api/") or path == "/api":
                await self.proxy(scope, receive, send)
            else:
                await self._serve_local(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        else:  # websockets are not part of the API
            await receive()
            await send({"type": "websocket.close", "code": 1003})

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:
                    log.exception("gateway startup failed")
                    await send({"type": "lifespan.startup.failed", "message": f"{type(exc).__name__}: {exc}"})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def startup(self) -> None:
        if self._manage_logging:
            configure_logging("gateway", self.settings.log_level, self.settings.log_format)
            # The JSON lines carry no thread, process or source-line fields: skip collecting them on every
            # record (the logging HOWTO's "Optimization" knobs). The access line is per request.
            logging.logThreads = False
            logging.logProcesses = False
            logging.logMultiprocessing = False
            logging._srcfile = None  # type: ignore[attr-defined]  # no caller-frame walk (documented knob)
        await self.openapi_bytes()  # fail at start, not on the first /docs visit, if the specs do not merge
        await self.proxy.start()
        # Everything built so far (the service apps imported for their OpenAPI, the merged document) lives as
        # long as the process: move it out of the collector's sight so full collections stay short (p99).
        gc.collect()
        gc.freeze()
        log.info("gateway ready", extra={"fields": {"upstreams": self.settings.upstream_urls()}})

    async def shutdown(self) -> None:
        await self.proxy.close()

    async def _preflight(self, scope: dict[str, Any], send: Any) -> bool:
        origin = request_method = requested_headers = request_id = None
        for name, value in scope["headers"]:
            if name == b"origin":
                origin = value
            elif name == b"access-control-request-method":
                request_method = value
            elif name == b"access-control-request-headers":
                requested_headers = value
            elif name == b"x-request-id":
                request_id = value
        if origin is None or request_method is None:
            return False  # a plain OPTIONS request: forwarded like any other
        rid = valid_request_id(request_id)
        started = time.perf_counter()
        if self.cors.allows(origin):
            status = 204
            headers = [*self.cors.preflight_headers(origin, requested_headers), (b"x-request-id", rid.encode())]
            await send({"type": "http.response.start", "status": 204, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
        else:
            status = 403
            await send_problem(send, 403, f"Origin {origin.decode('latin-1')} is not allowed to call this API.",
                               code="cors_origin_not_allowed", request_id=rid, instance=scope["path"])
        self._log(scope, "gateway", status, rid, started)
        return True

    async def _serve_local(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        started = time.perf_counter()
        cors_headers = None
        if self.cors.enabled:
            for name, value in scope["headers"]:
                if name == b"origin":
                    if self.cors.allows(value):
                        cors_headers = self.cors.response_headers(value)
                    break
        state: list[Any] = [500, None]

        async def send_wrapper(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                state[0] = message["status"]
                headers = message.get("headers", [])
                for name, value in headers:
                    if name == b"x-request-id":
                        state[1] = value.decode("latin-1")
                if cors_headers:
                    message["headers"] = [*headers, *cors_headers]
            await send(message)

        try:
            await self._local(scope, receive, send_wrapper)
        finally:
            self._log(scope, "gateway", state[0], state[1], started)

    def _log(self, scope: dict[str, Any], upstream: str, status: int, request_id: str | None,
             started: float) -> None:
        elapsed = time.perf_counter() - started
        method = scope["method"]
        self.metrics.observe(upstream, method, status, elapsed)
        if self.settings.access_log:  # health probes and metrics scrapes are routine: DEBUG
            routine = scope["path"] in ROUTINE_PATHS and method == "GET" and status < 400
            access_log.log(logging.DEBUG if routine else logging.INFO, "%s %s %s", method, scope["path"], status,
                           extra={"fields": {
                "request_id": request_id, "method": method, "path": scope["path"], "status": status,
                "duration_ms": round(elapsed * 1000, 2), "upstream": upstream}})

    # -- what the local routes need (gateway.local.LocalBackend) -----------------------------------------------

    async def readiness(self) -> dict[str, dict[str, Any]]:
        return await self.proxy.readiness()

    def metrics_text(self) -> bytes:
        return self.metrics.render()

    async def openapi_bytes(self) -> bytes:
        if self._openapi is None:
            async with self._openapi_lock:
                if self._openapi is None:
                    self._openapi = json.dumps(self.openapi(), ensure_ascii=False).encode()
        return self._openapi

    def openapi(self) -> dict[str, Any]:
        source = self._specs_source
        if source is None:
            specs = load_service_specs()
        elif callable(source):
            specs = source()
        else:
            specs = source
        return merge(specs)


def create_app(settings: GatewaySettings | None = None, *, openapi_specs: SpecSource | None = None,
               manage_logging: bool = True) -> GatewayApp:
    keep_personal_data_out_of_logs()  # also when the process's logging is someone else's (manage_logging=False)
    return GatewayApp(settings or GatewaySettings(), openapi_specs=openapi_specs, manage_logging=manage_logging)


app = create_app()
