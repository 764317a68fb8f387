"""Prometheus metrics of the gateway, on a registry of its own (one per app, so tests can build many apps).

Label children are bound once up front: the hot path does a dict look-up and an `inc`/`observe`, never a
`labels(...)` call with its string joining and locking.
"""

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "ERROR_KINDS", "METHODS", "GatewayMetrics"]

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "OTHER")
STATUS_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")
ERROR_KINDS = ("connect_error", "connect_timeout", "read_timeout", "timeout", "disconnected", "protocol_error",
               "body_too_large", "client_disconnected", "failover")
# Sub-millisecond buckets: the hop itself is ~0.3 ms; upstream work dominates the upper buckets.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class GatewayMetrics:
    def __init__(self, upstreams: tuple[str, ...]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        requests = Counter("gateway_requests", "Requests answered by the gateway",
                           ("upstream", "method", "status_class"), registry=self.registry)
        latency = Histogram("gateway_request_duration_seconds", "Time from request to last response byte",
                            ("upstream",), buckets=LATENCY_BUCKETS, registry=self.registry)
        errors = Counter("gateway_upstream_errors", "Upstream failures seen by the gateway",
                         ("upstream", "kind"), registry=self.registry)
        labels = (*upstreams, "gateway", "none")
        self._requests = {(u, m, c): requests.labels(u, m, STATUS_CLASSES[c - 1])
                          for u in labels for m in METHODS for c in range(1, 6)}
        self._latency = {u: latency.labels(u) for u in labels}
        self._errors = {(u, k): errors.labels(u, k) for u in labels for k in ERROR_KINDS}

    def observe(self, upstream: str, method: str, status: int, seconds: float) -> None:
        status_class = status // 100
        if not 1 <= status_class <= 5:
            status_class = 5
        child = self._requests.get((upstream, method, status_class))
        if child is None:  # unusual method: one bounded bucket instead of a label per spelling
            child = self._requests[(upstream, "OTHER", status_class)]
        child.inc()
        self._latency[upstream].observe(seconds)

    def error(self, upstream: str, kind: str) -> None:
        self._errors[(upstream, kind)].inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
