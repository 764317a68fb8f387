from fastapi import FastAPI

from services.app import create_service_app
from services.db import Database
from services.me import make_me_router
from services.outbox import make_event_feed_router
from stats_service.api import router
from stats_service.config import Settings
from stats_service.consumers import consumers_hook
from stats_service.metrics import router as metrics_router
from stats_service.models import audit, outbox
from stats_service.policy import POLICY


def create_app(settings: Settings | None = None, database: Database | None = None) -> FastAPI:
    settings = settings or Settings()
    return create_service_app(
        name="stats",
        title="Gongkai statistics service · 统计与年度报告",
        description="Annual reports in the official 2021 format and live dashboards, from the event feeds.",
        settings=settings,
        database=database,
        policy=POLICY,
        audit=audit,
        routers=[make_me_router("/api/v1/stats", POLICY), router,
                 metrics_router, make_event_feed_router(outbox, tag="internal")],
        hooks=[consumers_hook(settings, run=database is None and settings.consume)],
    )


app = create_app()
