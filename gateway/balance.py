"""Several instances per service (多实例负载均衡): round robin over the instances in the rotation, health from the
background /readyz probe, and the rule for sending a failed request to another instance.

An instance leaves the rotation when its /readyz does not answer 200, or at once when a connection to it fails
(for `suspect_seconds`, until the next probe can judge it); it returns when a probe answers 200. When no instance is
in the rotation every one is still tried, in turn: a probe may be wrong, and a 502 helps nobody.
"""

import time
from dataclasses import dataclass, field

import aiohttp

__all__ = ["IDEMPOTENT_METHODS", "Instance", "Pool", "connection_failed", "never_delivered"]

# RFC 9110 §9.2.2: sending these twice has the effect of sending them once. POST and PATCH only with an
# Idempotency-Key, which the services honour (a replay answers the first result, Idempotent-Replayed).
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


@dataclass(eq=False)
class Instance:
    url: str
    ready: bool = True  # the last probe's verdict (optimistic until the first probe)
    suspect_until: float = 0.0  # a failed connection takes it out until then (monotonic time)
    last_probe: dict = field(default_factory=dict)

    @property
    def in_rotation(self) -> bool:
        return self.ready and time.monotonic() >= self.suspect_until


class Pool:
    """The instances of one service."""

    def __init__(self, urls: list[str], *, suspect_seconds: float = 5.0) -> None:
        self.instances = [Instance(url) for url in urls]
        self.suspect_seconds = suspect_seconds
        self._next = 0

    def order(self) -> list[Instance]:
        """The instances to try for one request: those in the rotation, round robin, then the others."""
        n = len(self.instances)
        if n == 1:
            return self.instances
        start, self._next = self._next, (self._next + 1) % n
        rotated = self.instances[start:] + self.instances[:start]
        healthy = [i for i in rotated if i.in_rotation]
        return healthy + [i for i in rotated if not i.in_rotation]

    def failed(self, instance: Instance) -> None:
        if len(self.instances) > 1:
            instance.suspect_until = time.monotonic() + self.suspect_seconds

    def probed(self, instance: Instance, ok: bool) -> None:
        instance.ready = ok
        if ok:
            instance.suspect_until = 0.0


def never_delivered(exc: BaseException) -> bool:
    """The connection was never established (refused, unreachable, connect timeout): the instance saw nothing, so
    any request, a POST included, may go to another instance."""
    return isinstance(exc, (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError))


def connection_failed(exc: BaseException) -> bool:
    """The connection failed or was reset (the instance died or was cut off), as opposed to a slow answer (a read
    timeout is never retried: the instance may still be working on it, and a retry would double the load)."""
    if never_delivered(exc):
        return True
    if isinstance(exc, aiohttp.SocketTimeoutError | TimeoutError):
        return False
    return isinstance(exc, (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError, aiohttp.ClientPayloadError,
                            ConnectionError))
