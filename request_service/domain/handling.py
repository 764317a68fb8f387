"""Handling an application: the state machine with roles (legal-rules §1.12).

intake clerk (受理) registers and confirms receipt; handler (承办) processes, consults, requests supplements, sends
fee notices and drafts the reply; reply approver (答复审核签发) approves extensions and signs the reply off (never the
same person who drafted it). Every transition needs If-Match, is refused for a wrong role or another organ, is
logged as a HandlingStep and published on the event feed.
"""

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from request_service.domain import clock
from request_service.domain.applications import add_step, today
from request_service.domain.calendar import current_calendar
from request_service.domain.events import emit_application_event
from request_service.models import Application
from services.auth import Principal

__all__ = ["accept"]


async def accept(session: AsyncSession, app: Application, receipt_date: date, principal: Principal, *,
                 role: str, action: str = "accept", comment: str | None = None) -> None:
    """The 第三十一条 receipt date is known: the application is accepted and the 20-working-day clock starts."""
    status_before = app.status
    app.receipt_date = receipt_date
    app.status = "accepted"
    await clock.start(session, app, receipt_date)
    await clock.recompute(session, app, await current_calendar(session), today())
    await add_step(session, app, principal, action=action, role=role, status_before=status_before,
                   comment=comment)
    await emit_application_event(session, app, "application.accepted")
