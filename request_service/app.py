from fastapi import FastAPI

from request_service.api import router
from request_service.config import Settings
from request_service.jobs import expiry_hook
from request_service.models import outbox
from services.app import create_service_app
from services.db import Database
from services.outbox import make_event_feed_router


def create_app(settings: Settings | None = None, database: Database | None = None) -> FastAPI:
    settings = settings or Settings()
    return create_service_app(
        name="request",
        title="Gongkai request service · 依申请公开",
        description="Applications for disclosure, the statutory clock, replies, fees, appeals and consultations.",
        settings=settings,
        database=database,
        routers=[router, make_event_feed_router(outbox, tag="internal")],
        hooks=[
            expiry_hook(settings, run=database is None and settings.job_interval_seconds > 0),
        ],
    )


app = create_app()
