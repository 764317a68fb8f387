"""HTTP surface of the statistics service."""

from fastapi import APIRouter

from stats_service.api import reports, vocabularies

PREFIX = "/api/v1/stats"
router = APIRouter()
router.include_router(vocabularies.router)
router.include_router(reports.router)
from stats_service.api import exports  # noqa: E402

router.include_router(exports.router)
from stats_service.api import dashboards  # noqa: E402

router.include_router(dashboards.router)
from stats_service.api import scorecards  # noqa: E402

router.include_router(scorecards.router)
