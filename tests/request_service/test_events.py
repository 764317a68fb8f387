"""The statistics projection of an application: dates are Beijing calendar days (Asia/Shanghai)."""

from datetime import UTC, date, datetime

from request_service.domain.events import stats_projection
from request_service.models import Application
from tests.request_service.helpers import insert_application, organ_code


async def test_submitted_on_is_the_beijing_day(request_db):
    app_id = await insert_application(request_db, organ_code(), submitted=date(2025, 12, 31))
    async with request_db.transaction() as session:
        app = await session.get(Application, app_id)
        app.submitted_at = datetime(2025, 12, 31, 17, 30, tzinfo=UTC)  # 2026-01-01 01:30 in Beijing
        assert (await stats_projection(session, app))["submitted_on"] == "2026-01-01"
        app.submitted_at = datetime(2025, 12, 31, 15, 59, tzinfo=UTC)  # 23:59 on 31 December in Beijing
        assert (await stats_projection(session, app))["submitted_on"] == "2025-12-31"
