from fastapi import FastAPI

from catalog_service.api import router
from catalog_service.config import Settings
from catalog_service.models import outbox
from services.app import create_service_app
from services.db import Database
from services.outbox import make_event_feed_router


def create_app(settings: Settings | None = None, database: Database | None = None) -> FastAPI:
    settings = settings or Settings()
    return create_service_app(
        name="catalog",
        title="Gongkai catalogue service · 政府信息公开目录",
        description="Organs, documents, confidentiality review, publication, search and the change feed.",
        settings=settings,
        database=database,
        routers=[router, make_event_feed_router(outbox, tag="internal")],
    )


app = create_app()
