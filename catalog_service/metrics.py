"""Prometheus /metrics of the catalogue: the search index's lag behind the catalogue's changes (检索索引滞后) —
position, head, lag in events and seconds, entries. Per process: each instance has its own index, and a scrape of
every instance shows which one lags. With read replicas, their lag and rotation (services/replicas.py)."""

from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from services.replicas import ReplicaCollector

__all__ = ["router"]

router = APIRouter(tags=["health"])


class _SearchIndexCollector:
    def __init__(self, status: dict[str, Any]) -> None:
        self.status = status

    def collect(self) -> Iterator[Metric]:
        for key, help_ in (("position", "Last catalogue change event applied to this process's search index"),
                           ("head", "Newest catalogue change event"),
                           ("lag_events", "Change events not yet applied to the search index"),
                           ("lag_seconds", "Age of the oldest change not yet applied to the search index"),
                           ("entries", "Records in this process's search index")):
            yield GaugeMetricFamily(f"gongkai_catalog_search_index_{key}", help_, value=float(self.status[key]))


@router.get("/metrics", summary="Prometheus metrics (search index lag)", include_in_schema=False)
async def get_metrics(request: Request) -> Response:
    registry = CollectorRegistry()
    registry.register(_SearchIndexCollector(await request.state.search_engine.status()))
    if request.state.replicas is not None:  # 只读副本: lag and rotation per replica, reads that fell back
        registry.register(ReplicaCollector(request.state.replicas))
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
