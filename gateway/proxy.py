"""The hot path: a plain ASGI reverse proxy for /api/* over one aiohttp.ClientSession per upstream.

No FastAPI routing and no BaseHTTPMiddleware on this path: performance.md §2.2 measured a FastAPI catch-all
route with httpx at 0.05× direct throughput and with aiohttp at 0.43×; each layer removed here is throughput.

Per request: route by path prefix → request id → bearer token check (cached) → rate limit → body limit →
forward (hop-by-hop headers stripped both ways) → stream the answer back. Every refusal is RFC 9457
problem+json built by services.errors.problem_body.
"""

import asyncio
import contextlib
import json
import logging
import os
import re
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import aiohttp
from yarl import URL

from gateway.balance import IDEMPOTENT_METHODS, Instance, Pool, connection_failed, never_delivered
from gateway.config import GatewaySettings
from gateway.edge import CorsPolicy, RateLimiter, TokenCache
from gateway.metrics import GatewayMetrics
from services.auth import TokenVerifier
from services.errors import PROBLEM_JSON, Unauthorized, problem_body
from services.forwarded import TrustedProxies

__all__ = ["ROUTES", "Proxy", "send_problem", "valid_request_id"]

log = logging.getLogger("gongkai.gateway")
access_log = logging.getLogger("gongkai.access")

# Path prefix → upstream name. Services serve these prefixes themselves, so paths are forwarded unchanged.
ROUTES: tuple[tuple[str, str], ...] = (
    ("/api/v1/catalog", "catalog"),
    ("/api/v1/requests", "request"),
    ("/api/v1/stats", "stats"),
)

# Same rule as services.observability: ids we accept from callers and pass on.
_REQUEST_ID_OK = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")

# Request headers never forwarded as-is. Hop-by-hop (RFC 9110 §7.6.1) plus the ones the gateway sets itself.
_DROP_REQUEST = frozenset({
    b"connection", b"keep-alive", b"te", b"trailer", b"transfer-encoding", b"upgrade", b"host", b"content-length",
    b"expect", b"x-request-id", b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host", b"forwarded",
})
# Response headers never passed back: hop-by-hop, framing (recomputed), and headers the gateway's own server
# or the gateway itself sets (uvicorn would otherwise send date/server twice).
_DROP_RESPONSE = frozenset({
    b"connection", b"keep-alive", b"te", b"trailer", b"transfer-encoding", b"upgrade", b"content-length",
    b"date", b"server", b"x-request-id",
})
# What talking to an upstream can raise (aiohttp wraps errors of our request-body reader in ClientError too).
# Anything else is a gateway bug: logged with its traceback and answered 500, never disguised as a 502.
_UPSTREAM_ERRORS = (aiohttp.ClientError, TimeoutError, OSError)
_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_NO_BODY_STATUSES = frozenset({204, 304})

# Bodies up to this size are read whole (one upstream write, exact Content-Length); larger ones stream.
_BUFFER_REQUEST_BYTES = 256 * 1024
# Responses with a Content-Length up to this size are read whole: one ASGI body message, and an upstream
# failure while reading still becomes a proper 502/504 instead of a truncated 200.
_BUFFER_RESPONSE_BYTES = 1024 * 1024
_STREAM_CHUNK = 64 * 1024


# "identity": a client that named no encoding gets none, whatever aiohttp would have asked for.
_UPSTREAM_DEFAULT_HEADERS = {"Accept": "*/*", "Accept-Encoding": "identity", "User-Agent": "gongkai-gateway"}


def valid_request_id(value: bytes | None) -> str:
    if value is not None:
        text = value.decode("latin-1")
        if _REQUEST_ID_OK.match(text):
            return text
    return new_request_id()


def new_request_id() -> str:
    """uuid.uuid4().hex without building a UUID object (a few µs on every request without an id)."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    return raw.hex()


async def send_problem(send: Any, status: int, detail: str, *, code: str | None, request_id: str,
                       instance: str | None = None, headers: list[tuple[bytes, bytes]] | None = None,
                       extra: dict[str, Any] | None = None) -> None:
    body = problem_body(status, detail, code=code, instance=instance)
    body["request_id"] = request_id  # problem_body reads the contextvar, which only services' middleware sets
    if extra:
        body.update(extra)
    raw = json.dumps(body, ensure_ascii=False).encode()
    out = [(b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(raw)).encode()),
           (b"x-request-id", request_id.encode()), (b"cache-control", b"no-store")]
    if headers:
        out.extend(headers)
    await send({"type": "http.response.start", "status": status, "headers": out})
    await send({"type": "http.response.body", "body": raw})


class _BodyTooLarge(Exception):
    pass


class _ClientGone(Exception):
    pass


class _UpstreamBroken(Exception):
    """The upstream failed after the response had started: the client connection must be cut."""


class _BodyReader:
    """Streams the client's request body to aiohttp, counting bytes against the limit."""

    __slots__ = ("limit", "receive", "too_large", "client_gone")

    def __init__(self, receive: Any, limit: int) -> None:
        self.receive = receive
        self.limit = limit
        self.too_large = False
        self.client_gone = False

    async def read_all(self) -> bytes:
        chunks = [chunk async for chunk in self.chunks()]
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def chunks(self) -> AsyncIterator[bytes]:
        seen = 0
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                self.client_gone = True
                raise _ClientGone
            chunk = message.get("body", b"")
            if chunk:
                seen += len(chunk)
                if seen > self.limit:
                    self.too_large = True
                    raise _BodyTooLarge
                yield chunk
            if not message.get("more_body", False):
                return


class Proxy:
    """ASGI app for /api/*. Sessions are opened by `start()` (from the lifespan) and closed by `close()`."""

    def __init__(self, settings: GatewaySettings, metrics: GatewayMetrics, cors: CorsPolicy) -> None:
        self.settings = settings
        self.metrics = metrics
        self.cors = cors
        # 多实例: every instance of each service (GATEWAY_<SERVICE>_URLS, else the single URL).
        self.pools = {name: Pool(urls, suspect_seconds=max(settings.health_interval_seconds, 1.0))
                      for name, urls in settings.upstream_pools().items()}
        self._health_task: asyncio.Task[None] | None = None
        self.sessions: dict[str, aiohttp.ClientSession] = {}
        self.tokens = TokenCache(TokenVerifier(settings.auth), settings.token_cache_size)
        self.limiter = RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst)
        self.trusted_proxies = TrustedProxies(settings.trusted_proxies)
        self.max_body = settings.max_body_bytes
        self.log_access = settings.access_log
        self._start_lock = asyncio.Lock()

    # -- lifecycle ---------------------------------------------------------------------------------------------

    async def start(self) -> None:
        async with self._start_lock:
            if self.sessions:
                return
            s = self.settings
            timeout = aiohttp.ClientTimeout(total=s.total_timeout, sock_connect=s.connect_timeout,
                                            sock_read=s.read_timeout)
            for name in self.pools:
                connector = aiohttp.TCPConnector(limit=s.pool_limit, keepalive_timeout=s.upstream_keepalive_timeout)
                self.sessions[name] = aiohttp.ClientSession(
                    connector=connector,
                    timeout=timeout,
                    # Pass bodies through byte for byte. The defaults below apply only when the client sent no
                    # such header (its own value replaces them); with all three present aiohttp adds none of
                    # its own, which is also cheaper than skip_auto_headers (a header copy per request).
                    auto_decompress=False,
                    headers=_UPSTREAM_DEFAULT_HEADERS,
                    # One session serves every client: it must never store or replay a cookie.
                    cookie_jar=aiohttp.DummyCookieJar(),
                    raise_for_status=False,
                    trust_env=False,
                )
            if s.health_interval_seconds > 0 and any(len(p.instances) > 1 for p in self.pools.values()):
                self._health_task = asyncio.create_task(self._probe_forever(s.health_interval_seconds),
                                                        name="gateway health probe")

    async def _probe_forever(self, interval: float) -> None:
        """The background /readyz probe of every instance: the rotation follows its verdicts."""
        while True:
            try:
                await self.readiness()
            except Exception:  # never let the probe die; the next round tries again
                log.warning("health probe failed", exc_info=True)
            await asyncio.sleep(interval)

    async def close(self) -> None:
        task, self._health_task = self._health_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        sessions, self.sessions = self.sessions, {}
        for session in sessions.values():
            await session.close()

    # -- readiness ---------------------------------------------------------------------------------------------

    async def readiness(self) -> dict[str, dict[str, Any]]:
        if not self.sessions:
            await self.start()
        timeout = aiohttp.ClientTimeout(total=self.settings.readiness_timeout)

        async def probe(name: str, instance: Instance) -> dict[str, Any]:
            url = f"{instance.url}/readyz"
            started = time.perf_counter()
            result: dict[str, Any] = {"ok": False, "url": url}
            try:
                async with self.sessions[name].get(url, timeout=timeout, allow_redirects=False) as resp:
                    result["status"] = resp.status
                    result["ok"] = resp.status == 200
                    try:
                        body = await resp.json(content_type=None)
                        if isinstance(body, dict) and isinstance(body.get("checks"), dict):
                            result["checks"] = body["checks"]
                    except (ValueError, aiohttp.ClientError):
                        pass
            except TimeoutError:
                result["error"] = "timeout"
            except aiohttp.ClientError as exc:
                result["error"] = type(exc).__name__
            result["latency_ms"] = round((time.perf_counter() - started) * 1000, 2)
            self.pools[name].probed(instance, result["ok"])
            return result

        async def service(name: str) -> dict[str, Any]:
            instances = self.pools[name].instances
            results = await asyncio.gather(*(probe(name, i) for i in instances))
            if len(results) == 1:
                return results[0]
            # Ready while one instance is: its details stand for the service, every instance is listed.
            best = next((r for r in results if r["ok"]), results[0])
            return {**best, "instances": results}

        names = list(self.pools)
        results = await asyncio.gather(*(service(n) for n in names))
        return dict(zip(names, results, strict=True))

    # -- the hot path ------------------------------------------------------------------------------------------

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        started = time.perf_counter()
        path: str = scope["path"]
        method: str = scope["method"]

        upstream = None
        for prefix, name in ROUTES:
            if path.startswith(prefix) and (len(path) == len(prefix) or path[len(prefix)] == "/"):
                upstream = name
                break

        # One pass over the request headers: collect what is forwarded, pick out what the gateway needs.
        forward: list[tuple[str, str]] = []
        request_id_raw = authorization = content_length = origin = forwarded_for = forwarded_proto = host = None
        connection = None
        chunked = False
        for name, value in scope["headers"]:
            if name in _DROP_REQUEST:
                if name == b"content-length":
                    content_length = value
                elif name == b"x-request-id":
                    request_id_raw = value
                elif name == b"transfer-encoding":
                    chunked = True
                elif name == b"host":
                    host = value
                elif name == b"x-forwarded-for":
                    forwarded_for = value
                elif name == b"x-forwarded-proto":
                    forwarded_proto = value
                elif name == b"connection":
                    connection = value
                continue
            if name.startswith(b"proxy-"):
                continue
            if name == b"authorization":
                authorization = value
            elif name == b"origin":
                origin = value
            forward.append((name.decode("latin-1"), value.decode("latin-1")))
        if connection is not None:  # headers named in Connection are hop-by-hop too
            named = {t.strip().lower().decode("latin-1") for t in connection.split(b",")}
            forward = [(k, v) for k, v in forward if k not in named]

        request_id = valid_request_id(request_id_raw)
        extra_headers: list[tuple[bytes, bytes]] = []
        if origin is not None and self.cors.enabled and self.cors.allows(origin):
            extra_headers = self.cors.response_headers(origin)
        label = upstream or "none"
        status = 500

        try:
            if upstream is None or _has_dot_segment(path):
                status = 404
                await send_problem(send, 404, f"No route matches {method} {path}.", code="route_not_found",
                                   request_id=request_id, instance=path, headers=extra_headers)
                return

            client = scope.get("client")
            peer = client[0] if client else "unknown"
            # The rate limit's client is the TCP peer; only a configured proxy may name another (X-Forwarded-For
            # from anyone else is the caller's own invention, and was a way round the limit: review item 9).
            if self.trusted_proxies.trusts(peer):
                client_ip = self.trusted_proxies.client_address(
                    peer, forwarded_for.decode("latin-1") if forwarded_for else None)
            else:
                client_ip, forwarded_for, forwarded_proto = peer, None, None
            subject = None
            if authorization:  # an empty Authorization header is no credentials, as the services read it
                try:
                    subject = await self.tokens.subject(authorization)
                except Unauthorized as exc:
                    # Failed attempts still cost the caller's address a token, and once its bucket is empty they
                    # are refused with 429 like any other request: guessing is rate limited too (a flood of bad
                    # tokens was answered 401 without end, each costing a verification; found by
                    # tests/security/test_limits.py).
                    wait = self.limiter.take(client_ip) if self.limiter.enabled else 0.0
                    if wait:
                        status = 429
                        await send_problem(send, 429, "Too many requests; retry after the time in Retry-After.",
                                           code="too_many_requests", request_id=request_id, instance=path,
                                           headers=[(b"retry-after", RateLimiter.retry_after(wait).encode()),
                                                    *extra_headers])
                        return
                    status = 401
                    await send_problem(send, 401, exc.detail, code=exc.code, request_id=request_id, instance=path,
                                       headers=[(b"www-authenticate", exc.headers["WWW-Authenticate"].encode()),
                                                *extra_headers])
                    return

            if self.limiter.enabled:
                wait = self.limiter.take(subject or client_ip)
                if wait:
                    status = 429
                    await send_problem(send, 429, "Too many requests; retry after the time in Retry-After.",
                                       code="too_many_requests", request_id=request_id, instance=path,
                                       headers=[(b"retry-after", RateLimiter.retry_after(wait).encode()),
                                                *extra_headers])
                    return

            # Request body: absent, read whole (small, known length) or streamed (large or chunked).
            body: Any = None
            reader = None
            if content_length is not None:
                try:
                    length = int(content_length)
                    if length < 0:
                        raise ValueError
                except ValueError:
                    status = 400
                    await send_problem(send, 400, "Invalid Content-Length header.", code="bad_request",
                                       request_id=request_id, instance=path, headers=extra_headers)
                    return
                if length > self.max_body:
                    status = 413
                    await send_problem(send, 413, f"The request body exceeds {self.max_body} bytes.",
                                       code="payload_too_large", request_id=request_id, instance=path,
                                       headers=extra_headers)
                    return
                if length:
                    reader = _BodyReader(receive, min(length, self.max_body))
                    if length <= _BUFFER_REQUEST_BYTES:
                        try:
                            body = await reader.read_all()
                        except _ClientGone:
                            status = 499
                            return
                        except _BodyTooLarge:
                            status = 400
                            await send_problem(send, 400, "The body is longer than its Content-Length.",
                                               code="bad_request", request_id=request_id, instance=path,
                                               headers=extra_headers)
                            return
                    else:
                        body = reader.chunks()
                        forward.append(("Content-Length", str(length)))
            elif chunked:
                reader = _BodyReader(receive, self.max_body)
                body = reader.chunks()

            forward.append(("X-Request-ID", request_id))
            forward.append(("X-Forwarded-For", f"{forwarded_for.decode('latin-1')}, {peer}"
                            if forwarded_for else peer))
            proto = forwarded_proto.decode("latin-1").strip().lower() if forwarded_proto else None
            forward.append(("X-Forwarded-Proto", proto if proto in ("http", "https") else scope.get("scheme", "http")))
            if host is not None:
                forward.append(("X-Forwarded-Host", host.decode("latin-1")))

            status = await self._forward(upstream, scope, method, forward, body, reader, send, request_id,
                                         extra_headers, path)
        except _UpstreamBroken:
            raise  # the response has started: uvicorn closes the connection, the client sees a short body
        except Exception:
            log.exception("gateway error", extra={"fields": {"request_id": request_id, "upstream": label}})
            status = 500
            try:
                await send_problem(send, 500, "An unexpected error occurred in the gateway.", code=None,
                                   request_id=request_id, instance=path, headers=extra_headers)
            except RuntimeError:  # a response had already begun
                raise _UpstreamBroken("gateway error after the response started") from None
        finally:
            elapsed = time.perf_counter() - started
            self.metrics.observe(label, method if method in _KNOWN_METHODS else "OTHER", status, elapsed)
            if self.log_access:
                access_log.info("%s %s %s", method, path, status, extra={"fields": {
                    "request_id": request_id, "method": method, "path": path, "status": status,
                    "duration_ms": round(elapsed * 1000, 2), "upstream": label}})

    async def _forward(self, upstream: str, scope: dict[str, Any], method: str, headers: list[tuple[str, str]],
                       body: Any, reader: _BodyReader | None, send: Any, request_id: str,
                       extra_headers: list[tuple[bytes, bytes]], path: str) -> int:
        session = self.sessions.get(upstream)
        if session is None:
            await self.start()
            session = self.sessions[upstream]
        target = _raw_target(scope)
        pool = self.pools[upstream]
        candidates = pool.order()
        # Another instance may be tried only with the body still in hand (a streamed upload is gone once sent),
        # and — unless the first connection never got established — only for a request that may be applied twice.
        replayable = body is None or isinstance(body, bytes)
        idempotent = method in IDEMPOTENT_METHODS or any(k.lower() == "idempotency-key" for k, _ in headers)
        for attempt, instance in enumerate(candidates):
            last = not replayable or attempt == len(candidates) - 1
            url = URL(instance.url + target, encoded=True)
            try:
                if body is None or isinstance(body, bytes):
                    resp = await session.request(method, url, headers=headers, data=body, allow_redirects=False)
                else:
                    # A streamed upload: aiohttp starts its read timeout only once the body is written, so an
                    # upstream that stops reading (its buffers full) held the request — and the client's upload —
                    # for ever. Each chunk must be taken within the read timeout, or the exchange ends in a 504.
                    async with asyncio.timeout(None) as watchdog:
                        data = _upload_watched(body, watchdog, self.settings.read_timeout)
                        resp = await session.request(method, url, headers=headers, data=data, allow_redirects=False)
            except _UPSTREAM_ERRORS as exc:
                if connection_failed(exc):
                    pool.failed(instance)
                if not last and (never_delivered(exc) or (idempotent and connection_failed(exc))):
                    self._failing_over(upstream, instance, exc, request_id)
                    continue
                return await self._upstream_failed(exc, upstream, reader, send, request_id, extra_headers, path)

            try:
                out = [(b"x-request-id", request_id.encode())]
                for name, value in resp.raw_headers:
                    lname = name.lower()
                    if lname not in _DROP_RESPONSE and not lname.startswith(b"proxy-"):
                        out.append((lname, value))
                if extra_headers:
                    out = [(n, v) for n, v in out if not n.startswith(b"access-control-")]
                    out.extend(extra_headers)
                status = resp.status
                length = resp.content_length
                if status in _NO_BODY_STATUSES or (status < 200):
                    await send({"type": "http.response.start", "status": status, "headers": out})
                    await send({"type": "http.response.body", "body": b""})
                    return status
                if method == "HEAD":
                    if length is not None:
                        out.append((b"content-length", str(length).encode()))
                    await send({"type": "http.response.start", "status": status, "headers": out})
                    await send({"type": "http.response.body", "body": b""})
                    return status
                if length is not None and length <= _BUFFER_RESPONSE_BYTES:
                    try:
                        data = await resp.read()
                    except _UPSTREAM_ERRORS as exc:
                        # Nothing is sent to the client yet: an idempotent request can still go elsewhere.
                        if connection_failed(exc):
                            pool.failed(instance)
                        if not last and idempotent and connection_failed(exc):
                            self._failing_over(upstream, instance, exc, request_id)
                            continue
                        return await self._upstream_failed(exc, upstream, None, send, request_id, extra_headers,
                                                           path)
                    out.append((b"content-length", str(len(data)).encode()))
                    await send({"type": "http.response.start", "status": status, "headers": out})
                    await send({"type": "http.response.body", "body": data})
                    return status
                if length is not None:
                    out.append((b"content-length", str(length).encode()))
                await send({"type": "http.response.start", "status": status, "headers": out})
                try:
                    async for chunk in resp.content.iter_chunked(_STREAM_CHUNK):
                        await send({"type": "http.response.body", "body": chunk, "more_body": True})
                except _UPSTREAM_ERRORS as exc:  # the status line is gone: all we can do is cut the connection
                    kind = _error_kind(exc)
                    self.metrics.error(upstream, kind)
                    log.warning("upstream %s failed mid-response: %s", upstream, kind,
                                extra={"fields": {"request_id": request_id, "upstream": upstream, "kind": kind}})
                    raise _UpstreamBroken(f"{upstream}: {kind}") from exc
                await send({"type": "http.response.body", "body": b""})
                return status
            finally:
                resp.release()
        raise AssertionError("unreachable: the last candidate returns")  # pragma: no cover

    def _failing_over(self, upstream: str, instance: Instance, exc: BaseException, request_id: str) -> None:
        kind = _error_kind(exc)
        self.metrics.error(upstream, "failover")
        log.warning("upstream %s instance %s failed (%s); trying another instance", upstream, instance.url, kind,
                    extra={"fields": {"request_id": request_id, "upstream": upstream, "instance": instance.url,
                                      "kind": kind}})

    async def _upstream_failed(self, exc: Exception, upstream: str, reader: _BodyReader | None, send: Any,
                               request_id: str, extra_headers: list[tuple[bytes, bytes]], path: str) -> int:
        if reader is not None and reader.too_large:
            self.metrics.error(upstream, "body_too_large")
            await send_problem(send, 413, f"The request body exceeds {self.max_body} bytes.",
                               code="payload_too_large", request_id=request_id, instance=path, headers=extra_headers)
            return 413
        if reader is not None and reader.client_gone:
            self.metrics.error(upstream, "client_disconnected")
            return 499
        kind = _error_kind(exc)
        self.metrics.error(upstream, kind)
        log.warning("upstream %s failed: %s (%s)", upstream, kind, type(exc).__name__,
                    extra={"fields": {"request_id": request_id, "upstream": upstream, "kind": kind}})
        service = f"{upstream}_service"
        if kind.endswith("timeout"):
            what = "connect to" if kind == "connect_timeout" else "answer from"
            await send_problem(send, 504, f"No {what} {service} within the gateway's time limit.",
                               code="upstream_timeout", request_id=request_id, instance=path,
                               headers=extra_headers, extra={"upstream": upstream})
            return 504
        if kind == "connect_error":
            detail = f"{service} is unavailable: the gateway could not connect to it."
        else:
            detail = f"{service} closed the connection or sent an invalid response."
        await send_problem(send, 502, detail, code="upstream_unavailable", request_id=request_id, instance=path,
                           headers=extra_headers, extra={"upstream": upstream})
        return 502


async def _upload_watched(chunks: AsyncIterator[bytes], watchdog: asyncio.Timeout, limit: float
                          ) -> AsyncIterator[bytes]:
    """The body's chunks, with `watchdog` armed while the upstream holds one it has not taken yet: aiohttp asks for
    the next chunk once it wrote (and drained) the last. Waiting for the client's next chunk is not timed here —
    a slow client is not a slow upstream."""
    loop = asyncio.get_running_loop()
    async for chunk in chunks:
        watchdog.reschedule(loop.time() + limit)
        yield chunk
        watchdog.reschedule(None)


def _error_kind(exc: BaseException) -> str:
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return "connect_timeout"
    if isinstance(exc, aiohttp.SocketTimeoutError):
        return "read_timeout"
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return "connect_error"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "disconnected"
    return "protocol_error"


def _raw_target(scope: dict[str, Any]) -> str:
    """Path and query exactly as the client sent them (already percent-encoded), for yarl's encoded=True."""
    raw = scope.get("raw_path")
    if raw:
        path = raw.decode("latin-1")
        if not raw.isascii():
            path = quote(path.encode("latin-1"), safe="/%:@!$&'()*+,;=-._~")
    else:
        path = quote(scope["path"], safe="/:@!$&'()*+,;=-._~")
    query = scope.get("query_string")
    if query:
        text = query.decode("latin-1")
        if not query.isascii():
            text = quote(query, safe="/?%:@!$&'()*+,;=-._~")
        return f"{path}?{text}"
    return path


def _has_dot_segment(path: str) -> bool:
    # "/api/v1/catalog/../../internal/..." must not reach an upstream that might normalise it.
    if "/." not in path:
        return False
    return any(segment in (".", "..") for segment in path.split("/"))
