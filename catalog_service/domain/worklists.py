"""Work-lists (待办): publication deadlines (条例第二十六条) and re-evaluation of withheld records (第十八条)."""

from datetime import date, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog_service.domain.calendar import WorkingCalendar, add_working_days
from catalog_service.domain.documents import today_shanghai
from catalog_service.domain.visibility import staff_condition
from catalog_service.models import Document
from catalog_service.schemas import WorklistItem
from services.auth import Principal
from services.pagination import keyset_page

__all__ = ["publication_worklist", "reevaluation_worklist"]


def _item(doc: Document, due: date | None, today: date) -> WorklistItem:
    return WorklistItem(
        id=doc.id, index_no=doc.index_no, title=doc.title, status=doc.status, attribute=doc.attribute,
        formed_on=doc.formed_on, publication_due_on=doc.publication_due_on,
        publication_due_provisional=doc.publication_due_provisional, reevaluation_due_on=doc.reevaluation_due_on,
        overdue=due is not None and due < today)


async def publication_worklist(session: AsyncSession, principal: Principal, calendar: WorkingCalendar,
                               within_working_days: int, cursor: str | None,
                               limit: int) -> tuple[list[WorklistItem], str | None]:
    """Records meant for 主动公开 and not yet published, due within N working days or already overdue."""
    today = today_shanghai()
    horizon = add_working_days(calendar, today, within_working_days).date
    stmt = select(Document).where(
        staff_condition(principal), Document.classified.is_(False),
        Document.status.notin_(("published", "withdrawn")),
        or_(Document.attribute == "proactive",
            and_(Document.attribute.is_(None), Document.proposed_attribute.in_(("proactive",)))),
        Document.publication_due_on.is_not(None), Document.publication_due_on <= horizon)
    rows, next_cursor = await keyset_page(
        session, stmt, [(Document.publication_due_on, False), (Document.id, False)], cursor, limit,
        key=lambda d: [d.publication_due_on.isoformat(), d.id])
    return [_item(d, d.publication_due_on, today) for d in rows], next_cursor


async def reevaluation_worklist(session: AsyncSession, principal: Principal, within_days: int, cursor: str | None,
                                limit: int) -> tuple[list[WorklistItem], str | None]:
    """依申请公开/不予公开 records whose periodic re-evaluation (动态调整) is due."""
    today = today_shanghai()
    stmt = select(Document).where(
        staff_condition(principal), Document.status == "approved",
        Document.attribute.in_(("on_request", "withheld")),
        Document.reevaluation_due_on <= today + timedelta(days=within_days))
    rows, next_cursor = await keyset_page(
        session, stmt, [(Document.reevaluation_due_on, False), (Document.id, False)], cursor, limit,
        key=lambda d: [d.reevaluation_due_on.isoformat(), d.id])
    return [_item(d, d.reevaluation_due_on, today) for d in rows], next_cursor
