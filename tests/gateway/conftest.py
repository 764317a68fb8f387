"""Real servers on free 127.0.0.1 ports: stand-in upstreams and the gateway, both under in-process uvicorn.

The gateway is tested through real HTTP (httpx) because its hot path is plain ASGI over real aiohttp
connections: timeouts, refused connections and hop-by-hop headers only mean something on a socket.
"""

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from gateway.app import create_app
from gateway.config import GatewaySettings


def free_port() -> int:
    """A port nothing listens on (bound, then released): connecting to it is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _TestServer(uvicorn.Server):
    """uvicorn without its 0.1 s polling: tests start and stop dozens of servers, and teardown time adds up."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.stop_event = asyncio.Event()

    @contextmanager
    def capture_signals(self) -> Iterator[None]:  # leave pytest's signal handlers alone
        yield

    async def main_loop(self) -> None:
        await self.on_tick(0)  # sets the default date/server headers
        await self.stop_event.wait()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        for _ in range(100):
            if not self.server_state.connections and not self.server_state.tasks:
                break
            await asyncio.sleep(0.01)
        for task in self.server_state.tasks:
            task.cancel()
        await self.lifespan.shutdown()


@asynccontextmanager
async def run_server(app: Any, *, lifespan: str = "off") -> AsyncIterator[str]:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    # proxy_headers off, as the real processes are started (scripts/run_all.py): the apps decide whom to trust.
    server = _TestServer(uvicorn.Config(app, lifespan=lifespan, log_level="warning", access_log=False,
                                        proxy_headers=False))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("server stopped during startup")
            await asyncio.sleep(0.005)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop_event.set()
        await task
        sock.close()


class Upstream:
    """A stand-in service (raw ASGI): echoes what it received as JSON, plus a few special paths.

    .../slow?delay=S   answers after S seconds          .../big?size=N   streams N bytes in 64 KiB chunks
    .../status/NNN     answers with that status         /readyz          200, or 503 when .ready is False
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.ready = True
        self.seen: list[dict[str, Any]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path = scope["path"]
        query = dict(parse_qsl(scope["query_string"].decode()))
        record = {
            "upstream": self.name, "method": scope["method"], "path": path,
            "raw_path": scope.get("raw_path", b"").decode("latin-1"),
            "query_string": scope["query_string"].decode("latin-1"),
            "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in scope["headers"]],
            "body": body.decode("utf-8", "replace"), "body_length": len(body),
        }
        self.seen.append(record)
        status = 200
        if path == "/readyz":
            status = 200 if self.ready else 503
            record = {"status": "ok" if self.ready else "not ready", "service": self.name,
                      "checks": {"database": {"ok": self.ready}}}
        elif path.endswith("/slow"):
            await asyncio.sleep(float(query.get("delay", "1")))
        elif path.endswith("/big"):
            size = int(query.get("size", str(2 * 1024 * 1024)))
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/octet-stream")]})
            chunk = b"x" * 65536
            sent = 0
            while sent < size:
                part = chunk[: min(65536, size - sent)]
                sent += len(part)
                await send({"type": "http.response.body", "body": part, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
            return
        elif "/status/" in path:
            status = int(path.rsplit("/", 1)[1])
        payload = json.dumps(record, ensure_ascii=False).encode() if status not in (204, 304) else b""
        headers = [
            (b"content-type", b"application/json"),
            # Hop-by-hop and gateway-owned headers the gateway must not pass back to its client.
            (b"keep-alive", b"timeout=5"),
            (b"proxy-authenticate", b"Basic"),
            (b"trailer", b"X-Checksum"),
            (b"x-request-id", b"upstream-must-not-win"),
            (b"x-upstream", self.name.encode()),
            (b"etag", b'"v1"'),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})


def standin_spec(name: str, prefix: str) -> dict[str, Any]:
    """A small FastAPI app's OpenAPI, shaped like a service's (health, internal feed and public routes)."""
    app = FastAPI(title=name, generate_unique_id_function=lambda route: f"{name}-{route.name}")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/internal/v1/events")
    async def list_events() -> dict[str, str]:
        return {}

    @app.get(f"{prefix}/items", tags=[f"{name}-items"])
    async def list_items() -> dict[str, str]:
        return {}

    return app.openapi()


STANDIN_SPECS = {
    "catalog": standin_spec("catalog", "/api/v1/catalog"),
    "request": standin_spec("request", "/api/v1/requests"),
    "stats": standin_spec("stats", "/api/v1/stats"),
}


class Env:
    def __init__(self, stack: AsyncExitStack) -> None:
        self.stack = stack
        self.upstreams = {name: Upstream(name) for name in ("catalog", "request", "stats")}
        self.urls: dict[str, str] = {}

    async def start_upstreams(self, *down: str) -> None:
        for name, upstream in self.upstreams.items():
            if name in down:
                self.urls[name] = f"http://127.0.0.1:{free_port()}"
            else:
                self.urls[name] = await self.stack.enter_async_context(run_server(upstream))

    async def gateway(self, **overrides: Any) -> httpx.AsyncClient:
        """Start a gateway in front of the upstreams; returns an httpx client on it."""
        values: dict[str, Any] = {"catalog_url": self.urls["catalog"], "request_url": self.urls["request"],
                                  "stats_url": self.urls["stats"], "access_log": False,
                                  "rate_limit_per_second": 0}
        values.update(overrides)
        app = create_app(GatewaySettings(**values), openapi_specs=STANDIN_SPECS, manage_logging=False)
        base = await self.stack.enter_async_context(run_server(app, lifespan="on"))
        client = httpx.AsyncClient(base_url=base, timeout=10)
        self.stack.push_async_callback(client.aclose)
        return client


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    async with AsyncExitStack() as stack:
        yield Env(stack)


@pytest.fixture
async def gw(env: Env) -> httpx.AsyncClient:
    """A gateway with all three stand-in upstreams up and default settings (limiter off)."""
    await env.start_upstreams()
    return await env.gateway()


GatewayFactory = Callable[..., Awaitable[httpx.AsyncClient]]
