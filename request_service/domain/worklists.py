"""Staff work-lists (待办): due within N working days, overdue, waiting on the applicant, waiting on a third
party, awaiting confirmation, notices sent by post not yet signed for — all scoped to the caller's organ and
keyset-paginated."""

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from request_service.domain.applications import today
from request_service.domain.calendar import current_calendar
from request_service.models import Application, Letter
from services.auth import Principal
from services.pagination import keyset_page

__all__ = ["VIEWS", "worklist"]

VIEWS = ("all", "due_soon", "overdue", "waiting_applicant", "waiting_third_party", "awaiting_confirmation",
         "awaiting_sign_off", "notices_not_delivered")
RUNNING = ("accepted", "reply_drafted")


async def worklist(session: AsyncSession, principal: Principal, view: str, within: int, cursor: str | None,
                   limit: int, *, tracking_no: str | None = None, assigned_to: str | None = None,
                   applicant_key: str | None = None) -> tuple[list[Application], str | None]:
    """The organ's applications in `view`, narrowed by the look-ups staff make (all optional, combined): a tracking
    number (申请编号), the handler assigned (承办人 `sub`), an applicant (the stored identity key, computed by the
    caller from what the applicant gave — never accepted from a client)."""
    base = select(Application).where(Application.organ_code == principal.organ)
    if tracking_no is not None:
        base = base.where(Application.tracking_no == tracking_no)
    if assigned_to is not None:
        base = base.where(Application.handler_sub == assigned_to)
    if applicant_key is not None:
        base = base.where(Application.applicant_key == applicant_key)
    now = today()
    stmt: Select
    if view in ("due_soon", "overdue"):
        if view == "overdue":
            stmt = base.where(Application.status.in_(RUNNING), Application.due_on < now)
        else:
            horizon = (await current_calendar(session)).add_working_days(now, within)[0]
            stmt = base.where(Application.status.in_(RUNNING), Application.due_on >= now,
                              Application.due_on <= horizon)
        return await keyset_page(session, stmt, [(Application.due_on, False), (Application.id, False)], cursor,
                                 limit, key=lambda a: [a.due_on.isoformat(), a.id])
    if view == "notices_not_delivered":
        # Sent by post, not yet signed for: the window the law runs from the applicant's receipt has not started.
        undelivered = select(Letter.application_id).where(Letter.delivery_channel == "post",
                                                          Letter.delivered_on.is_(None))
        stmt = base.where(Application.id.in_(undelivered),
                          Application.status.in_(("supplement_requested", "awaiting_fee", "accepted", "consulting")))
        return await keyset_page(session, stmt, [(Application.submitted_at, True), (Application.id, True)], cursor,
                                 limit, key=lambda a: [a.submitted_at.isoformat(), a.id])
    statuses = {"waiting_applicant": ("supplement_requested", "awaiting_fee"), "waiting_third_party": ("consulting",),
                "awaiting_confirmation": ("received",), "awaiting_sign_off": ("reply_drafted",)}.get(view)
    stmt = base.where(Application.status.in_(statuses)) if statuses else base
    return await keyset_page(session, stmt, [(Application.submitted_at, True), (Application.id, True)], cursor,
                             limit, key=lambda a: [a.submitted_at.isoformat(), a.id])
