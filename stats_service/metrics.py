"""Prometheus /metrics of the statistics service: consumer lag (events and seconds) per feed."""

from fastapi import APIRouter, Request, Response
from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from services.replicas import ReplicaCollector

router = APIRouter(tags=["health"])


@router.get("/metrics", summary="Prometheus metrics (consumer lag)", include_in_schema=False)
async def get_metrics(request: Request) -> Response:
    registry = CollectorRegistry()
    events = Gauge("gongkai_stats_consumer_lag_events", "Events the consumer has not applied yet", ["feed"],
                   registry=registry)
    seconds = Gauge("gongkai_stats_consumer_lag_seconds", "Age of the oldest unapplied event", ["feed"],
                    registry=registry)
    for consumer in getattr(request.state, "consumers", []):
        lag = consumer.lag()
        events.labels(consumer.name).set(lag["events"])
        seconds.labels(consumer.name).set(lag["seconds"])
    if getattr(request.state, "replicas", None) is not None:  # 只读副本: lag and rotation per replica, fallbacks
        registry.register(ReplicaCollector(request.state.replicas))
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
