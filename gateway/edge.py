"""Edge checks that run before a request is forwarded: token verification (cached), rate limit, CORS."""

import math
import time

from services.auth import TokenVerifier, bearer_token

__all__ = ["CorsPolicy", "RateLimiter", "TokenCache"]


class TokenCache:
    """Verifies bearer tokens with services.auth.TokenVerifier and remembers the good ones until they expire.

    Keyed by the raw Authorization header value, so a cache hit costs one dict look-up and one clock read.
    Failures are never cached: they raise services.errors.Unauthorized with a specific `code` each time.
    """

    def __init__(self, verifier: TokenVerifier, max_size: int = 10_000) -> None:
        self.verifier = verifier
        self.max_size = max_size
        self._cache: dict[bytes, tuple[float, str]] = {}

    async def subject(self, authorization: bytes) -> str:
        hit = self._cache.get(authorization)
        if hit is not None:
            if hit[0] > time.time():
                return hit[1]
            del self._cache[authorization]
        token = bearer_token(authorization.decode("latin-1"))
        assert token is not None  # the caller only asks when the header is present
        principal = await self.verifier.verify(token)
        if self.max_size:
            if len(self._cache) >= self.max_size:
                self._evict()
            self._cache[authorization] = (float(principal.claims["exp"]), principal.sub)
        return principal.sub

    def _evict(self) -> None:
        now = time.time()
        for key in [k for k, (exp, _) in self._cache.items() if exp <= now]:
            del self._cache[key]
        if len(self._cache) >= self.max_size:  # all still valid: start over rather than track recency
            self._cache.clear()


class RateLimiter:
    """Token bucket per client key: `rate` requests per second on average, bursts up to `burst`.

    `take(key)` returns 0.0 when the request may pass, else the seconds until one token is available.
    """

    max_clients = 100_000

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = float(burst)
        self._buckets: dict[str, list[float]] = {}
        self._refill_seconds = self.burst / rate if rate > 0 else 0.0

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def take(self, key: str) -> float:
        now = time.monotonic()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_clients:
                self._evict(now)
            self._buckets[key] = [self.burst - 1.0, now]
            return 0.0
        tokens = bucket[0] + (now - bucket[1]) * self.rate
        if tokens > self.burst:
            tokens = self.burst
        bucket[1] = now
        if tokens < 1.0:
            bucket[0] = tokens
            return (1.0 - tokens) / self.rate
        bucket[0] = tokens - 1.0
        return 0.0

    @staticmethod
    def retry_after(wait: float) -> str:
        return str(max(1, math.ceil(wait)))

    def _evict(self, now: float) -> None:
        # A bucket idle long enough to be full again carries no state worth keeping.
        idle = [k for k, (_, last) in self._buckets.items() if now - last >= self._refill_seconds]
        for key in idle:
            del self._buckets[key]
        if len(self._buckets) >= self.max_clients:
            self._buckets.clear()


class CorsPolicy:
    """An allow-list of origins. Preflights are answered at the gateway; services never see them."""

    allow_methods = b"GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
    default_allow_headers = b"Authorization, Content-Type, If-Match, If-None-Match, Idempotency-Key, X-Request-ID"
    # What a browser app must be able to read: the version to send back (ETag), the next page (Link), a created
    # resource (Location), a download's file name (Content-Disposition), and the rest of the contract.
    expose_headers = (b"Content-Disposition, ETag, Idempotent-Replayed, Link, Location, Retry-After, X-Report-Status, "
                      b"X-Request-ID")

    def __init__(self, origins: list[str], max_age: int = 600) -> None:
        self.any_origin = "*" in origins
        self.origins = frozenset(o.rstrip("/").encode("latin-1") for o in origins if o != "*")
        self.enabled = bool(origins)
        self.max_age = str(max_age).encode()

    def allows(self, origin: bytes) -> bool:
        return self.any_origin or origin in self.origins

    def response_headers(self, origin: bytes) -> list[tuple[bytes, bytes]]:
        return [(b"access-control-allow-origin", b"*" if self.any_origin else origin),
                (b"access-control-expose-headers", self.expose_headers),
                (b"vary", b"Origin")]

    def preflight_headers(self, origin: bytes, requested_headers: bytes | None) -> list[tuple[bytes, bytes]]:
        return [(b"access-control-allow-origin", b"*" if self.any_origin else origin),
                (b"access-control-allow-methods", self.allow_methods),
                (b"access-control-allow-headers", requested_headers or self.default_allow_headers),
                (b"access-control-max-age", self.max_age),
                (b"vary", b"Origin, Access-Control-Request-Method, Access-Control-Request-Headers")]
