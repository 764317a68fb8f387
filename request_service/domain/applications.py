"""Loading applications with organ scope, and the audited handling log."""

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import inspect, select
from sqlalchemy.ext.asyncio import AsyncSession

from request_service.errors import ApplicationNotFound
from request_service.models import Application, HandlingStep
from services.auth import Principal
from services.db import utcnow

__all__ = ["HANDLING_ROLES", "SHANGHAI", "add_step", "is_handling_staff", "is_unsaved", "load_application", "staged",
           "today"]

SHANGHAI = ZoneInfo("Asia/Shanghai")
HANDLING_ROLES = frozenset({"intake_clerk", "handler", "reply_approver"})


def today() -> date:
    return datetime.now(SHANGHAI).date()


def is_handling_staff(principal: Principal) -> bool:
    return principal.organ is not None and principal.has_any(HANDLING_ROLES)


async def load_application(session: AsyncSession, principal: Principal, application_id: str, *,
                           for_update: bool = False) -> Application:
    """The application if the caller handles applications of its organ; otherwise 404 (no existence oracle)."""
    if not is_handling_staff(principal):
        raise ApplicationNotFound(f"Application {application_id} does not exist.")
    stmt = select(Application).where(Application.id == application_id,
                                     Application.organ_code == principal.organ)
    if for_update and session.bind.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    app = (await session.execute(stmt)).scalar_one_or_none()
    if app is None:
        raise ApplicationNotFound(f"Application {application_id} does not exist.")
    return app


def is_unsaved(app: Application) -> bool:
    """True while `app` is new and not written yet (intake builds the whole application, its steps, clock and
    events before writing any of it; the application itself is not even added to the session, domain/intake.py).
    None of its rows can be in the database then, so the look-ups of its steps, clock segments or appeals are
    answered from the session instead of costing a round trip each."""
    state = inspect(app)
    return state.transient or state.pending


def staged(session: AsyncSession, model: type, app: Application) -> list[Any]:
    """The `model` rows of `app` added in this session and not flushed yet."""
    return [obj for obj in session.new if isinstance(obj, model) and obj.application_id == app.id]


async def add_step(session: AsyncSession, app: Application, principal: Principal, *, action: str, role: str,
                   status_before: str | None, comment: str | None = None) -> None:
    if is_unsaved(app):
        seq = len(staged(session, HandlingStep, app)) + 1
    else:
        seq = len((await session.execute(select(HandlingStep.id).where(HandlingStep.application_id == app.id)
                                         )).all()) + 1
    session.add(HandlingStep(application_id=app.id, seq=seq, action=action, actor_sub=principal.sub or "applicant",
                             role=role, status_before=status_before, status_after=app.status, comment=comment,
                             at=utcnow()))
