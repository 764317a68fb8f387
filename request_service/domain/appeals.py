"""行政复议 / 行政诉讼 · reconsideration and litigation cases about an application (annual report table 四).

Recorded by the organ's handler or reply approver. Rules:
- 复议后起诉 (litigation_after_reconsideration) needs a reconsideration (行政复议) of the same application filed on
  or before it;
- filed_on is not before the application's closing date (an appeal against a reply follows the reply; an appeal
  against a failure to reply — 不作为 — may come while the application is open, but not before it was submitted),
  and not in the future;
- decided_on is required for every outcome but `pending`, and is empty while pending; not before filed_on.
Each appeal has its own version (If-Match on updates); the application's version is left alone so a handler's
ETag stays valid. Every change publishes `application.appeal_changed` with the application's statistical
projection (which lists its appeals), so the statistics see appeal outcomes.
"""

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from request_service.domain.applications import SHANGHAI, is_handling_staff, today
from request_service.domain.events import emit_application_event
from request_service.errors import AppealNotFound, InvalidAppeal, ReconsiderationRequired, WrongRole
from request_service.models import Appeal, Application
from request_service.vocab import AppealKind, AppealOutcome
from services.auth import Principal
from services.concurrency import bump_version, require_if_match

__all__ = ["APPEAL_ROLES", "decide_appeal", "file_appeal", "list_appeals", "load_appeal"]

APPEAL_ROLES = frozenset({"handler", "reply_approver"})
EVENT = "application.appeal_changed"


def _require_role(principal: Principal) -> None:
    if not principal.has_any(APPEAL_ROLES):
        raise WrongRole("Recording appeals needs the role handler or reply_approver.")


def _invalid(field: str, msg: str) -> InvalidAppeal:
    return InvalidAppeal(msg, errors=[{"loc": ["body", field], "msg": msg, "type": "invalid_appeal"}])


async def list_appeals(session: AsyncSession, app: Application) -> list[Appeal]:
    return list((await session.execute(select(Appeal).where(Appeal.application_id == app.id)
                                       .order_by(Appeal.filed_on, Appeal.id))).scalars())


async def file_appeal(session: AsyncSession, app: Application, principal: Principal, *, kind: str,
                      filed_on: date, case_no: str | None = None, notes: str | None = None) -> Appeal:
    _require_role(principal)
    kind = AppealKind(kind).value
    if filed_on > today():
        raise _invalid("filed_on", "filed_on must not be in the future.")
    if app.closed_on is not None and filed_on < app.closed_on:
        raise _invalid("filed_on", f"filed_on must not be before the application was closed ({app.closed_on}).")
    submitted_on = app.submitted_at.astimezone(SHANGHAI).date() if app.submitted_at else None
    if submitted_on is not None and filed_on < submitted_on:
        raise _invalid("filed_on", f"filed_on must not be before the application was submitted ({submitted_on}).")
    if kind == AppealKind.LITIGATION_AFTER_RECONSIDERATION.value:
        prior = (await session.execute(select(Appeal.id).where(
            Appeal.application_id == app.id, Appeal.kind == AppealKind.RECONSIDERATION.value,
            Appeal.filed_on <= filed_on).limit(1))).scalar_one_or_none()
        if prior is None:
            raise ReconsiderationRequired(
                "复议后起诉 needs a reconsideration (行政复议) of this application filed on or before it.")
    appeal = Appeal(application_id=app.id, kind=kind, case_no=case_no, filed_on=filed_on,
                    outcome=AppealOutcome.PENDING.value, decided_on=None, notes=notes, version=1)
    session.add(appeal)
    await session.flush()
    await emit_application_event(session, app, EVENT)
    return appeal


async def load_appeal(session: AsyncSession, principal: Principal, appeal_id: str) -> tuple[Appeal, Application]:
    """The appeal and its application, if the caller handles applications of that organ; otherwise 404."""
    if not is_handling_staff(principal):
        raise AppealNotFound(f"Appeal {appeal_id} does not exist.")
    row = (await session.execute(
        select(Appeal, Application).join(Application, Application.id == Appeal.application_id)
        .where(Appeal.id == appeal_id, Application.organ_code == principal.organ))).one_or_none()
    if row is None:
        raise AppealNotFound(f"Appeal {appeal_id} does not exist.")
    return row[0], row[1]


async def decide_appeal(session: AsyncSession, principal: Principal, appeal_id: str, if_match: str | None,
                        changes: dict[str, Any]) -> Appeal:
    """Apply `changes` (outcome, decided_on, case_no, notes — only the keys given) under If-Match."""
    appeal, app = await load_appeal(session, principal, appeal_id)
    _require_role(principal)
    require_if_match(if_match, appeal.version)
    outcome = AppealOutcome(changes.get("outcome") or appeal.outcome).value
    decided_on = changes["decided_on"] if "decided_on" in changes else appeal.decided_on
    if outcome == AppealOutcome.PENDING.value:
        if "decided_on" in changes and changes["decided_on"] is not None:
            raise _invalid("decided_on", "A pending case has no decision date.")
        decided_on = None
    else:
        if decided_on is None:
            raise _invalid("decided_on", "decided_on is required unless the outcome is pending.")
        if decided_on < appeal.filed_on:
            raise _invalid("decided_on", f"decided_on must not be before filed_on ({appeal.filed_on}).")
        if decided_on > today():
            raise _invalid("decided_on", "decided_on must not be in the future.")
    expected = appeal.version
    appeal.outcome, appeal.decided_on = outcome, decided_on
    for key in ("case_no", "notes"):
        if key in changes:
            setattr(appeal, key, changes[key])
    await session.flush()
    await bump_version(session, appeal, expected)
    await emit_application_event(session, app, EVENT)
    return appeal
