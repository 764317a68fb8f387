"""Prometheus /metrics of the request service: tracking look-ups (申请进度查询) that failed or met the lock.

Failed look-ups are anonymous traffic, so they are counted here rather than chained into the audit log (which is
for changes and privileged reads; services/audit.py); the per-number lockout (domain/tracking.py) limits them.
The counts are per process and start at zero, as Prometheus counters do; a scrape sums the workers."""

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from services.replicas import ReplicaCollector

__all__ = ["LookupCounters", "metrics_hook", "router"]

router = APIRouter(tags=["health"])


@dataclass
class LookupCounters:
    failures: int = 0  # wrong tracking number or 查询码 (one 404 for both)
    locked: int = 0  # refused while the number was locked (429)


@asynccontextmanager
async def metrics_hook(app: FastAPI, state: dict[str, Any]) -> AsyncIterator[None]:
    state["lookup_counters"] = LookupCounters()
    yield


class _Collector:
    def __init__(self, counters: LookupCounters) -> None:
        self.counters = counters

    def collect(self) -> Iterator[Metric]:
        yield CounterMetricFamily("gongkai_request_tracking_lookup_failures",
                                  "Tracking look-ups with a wrong tracking number or query code",
                                  value=self.counters.failures)
        yield CounterMetricFamily("gongkai_request_tracking_lookups_locked",
                                  "Tracking look-ups refused because the tracking number was locked",
                                  value=self.counters.locked)


@router.get("/metrics", summary="Prometheus metrics (tracking look-ups)", include_in_schema=False)
async def get_metrics(request: Request) -> Response:
    registry = CollectorRegistry()
    registry.register(_Collector(request.state.lookup_counters))
    if getattr(request.state, "replicas", None) is not None:  # 只读副本: lag and rotation per replica, fallbacks
        registry.register(ReplicaCollector(request.state.replicas))
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
