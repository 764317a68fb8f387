"""有效期 · the validity lifecycle of 规范性文件 (issue 16 item 3; 国办发〔2018〕37号).

国办发〔2018〕37号《关于加强行政规范性文件制定和监督管理工作的通知》 asks that 规范性文件 carry a validity period
(有效期) — as a rule 5 years, 2 years for those marked 暂行 or 试行 — and be assessed (评估、清理) before it ends.

- `expires_on` (有效期届满日, the last day in force) is set when the record is published: the drafter's explicit
  `valid_until` if given, else derived for the genres CATALOG_VALIDITY_YEARS lists (行政规范性文件: 5 years) —
  CATALOG_VALIDITY_TRIAL_YEARS (2) when the title says 试行 or 暂行 — counted from 施行日期 (effective_date), else
  成文日期, else the publication day: start + N years − 1 day (施行 2020-01-01, 5 years → in force to 2024-12-31).
- The review reminder (评估提醒) opens CATALOG_VALIDITY_REVIEW_MONTHS (6) months before `expires_on`; the work-list
  shows the organ's public records in force whose window is open, `overdue` once `expires_on` has passed.
- `ceased_on` (the first day the record is no longer in force) is kept by the ORM hook in models.py for every write
  path: the earliest of the 废止日期 (repeal_date), the day after `expires_on`, and the first repealed/expired step of
  a migrated record's validity_history. "In force on D" is then plain SQL, right for any past day: started by D
  (施行日期, else 成文日期; none = no lower bound) and not ceased by D. A record marked expired (已失效) with no date
  at all is never in force (nothing says since when it was).
"""

from datetime import date, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog_service.config import Settings
from catalog_service.domain.visibility import public_condition, staff_condition
from catalog_service.models import Document
from catalog_service.schemas import InForceItem, ValidityReviewItem
from services.auth import Principal
from services.pagination import keyset_page

__all__ = ["add_months", "ceased_on", "in_force_condition", "in_force_register", "set_expiry",
           "validity_review_worklist"]

TRIAL_MARKS = ("试行", "暂行")
ENDING = ("repealed", "expired")


def add_months(day: date, months: int) -> date:
    """Calendar months, the day clipped to the month's end (08-31 + 6 months → 02-28/29)."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    for dd in (day.day, 30, 29, 28):
        try:
            return date(year, month, dd)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def set_expiry(doc: Document, settings: Settings) -> None:
    """At publication (after a migrated record's own publication date is applied): the explicit 有效期 or the derived
    one (module docstring)."""
    from catalog_service.domain.documents import SHANGHAI

    if doc.valid_until is not None:
        doc.expires_on = doc.valid_until
        return
    years = settings.validity_years.get(doc.genre or "")
    if not years:
        doc.expires_on = None
        return
    if any(mark in (doc.title or "") for mark in TRIAL_MARKS):
        years = settings.validity_trial_years
    published_on = doc.published_at.astimezone(SHANGHAI).date() if doc.published_at else None
    start = doc.effective_date or doc.written_date or published_on
    if start is None:
        doc.expires_on = None
        return
    doc.expires_on = add_months(start, 12 * years) - timedelta(days=1)


def ceased_on(doc: Any) -> date | None:
    """The first day the record is not in force, from what the record itself says (module docstring)."""
    days = [d for d in (doc.repeal_date, doc.expires_on + timedelta(days=1) if doc.expires_on else None) if d]
    for step in doc.validity_history or []:
        if step.get("validity") in ENDING:
            days.append(date.fromisoformat(step["since"]))
    return min(days) if days else None


def in_force_condition(day: date):
    start = func.coalesce(Document.effective_date, Document.written_date)
    return and_(or_(start.is_(None), start <= day),
                or_(Document.ceased_on > day, and_(Document.ceased_on.is_(None), Document.validity != "expired")))


async def validity_review_worklist(session: AsyncSession, principal: Principal, today: date, review_months: int,
                                   overdue_only: bool, cursor: str | None,
                                   limit: int) -> tuple[list[ValidityReviewItem], str | None]:
    """The caller's organ's public records still in force (现行有效 / 已修订) whose 有效期 ends within
    `review_months` months (or has ended): earliest expiry first."""
    stmt = select(Document).where(staff_condition(principal), public_condition(),
                                  Document.validity.in_(("in_force", "amended")), Document.repeal_date.is_(None),
                                  Document.expires_on <= add_months(today, review_months))
    if overdue_only:
        stmt = stmt.where(Document.expires_on < today)
    rows, next_cursor = await keyset_page(session, stmt, [(Document.expires_on, False), (Document.id, False)],
                                          cursor, limit, key=lambda d: [d.expires_on.isoformat(), d.id])
    return [ValidityReviewItem(
        id=d.id, index_no=d.index_no, title=d.title, genre=d.genre, doc_number=d.doc_number,
        effective_date=d.effective_date, expires_on=d.expires_on,
        review_from=add_months(d.expires_on, -review_months), overdue=d.expires_on < today) for d in rows], next_cursor


async def in_force_register(session: AsyncSession, principal: Principal, day: date, genre: str | None,
                            cursor: str | None, limit: int) -> tuple[list[InForceItem], str | None]:
    """现行有效 on `day`: the caller's organ's public records in force on that day (right on history)."""
    stmt = select(Document).where(staff_condition(principal), public_condition(), in_force_condition(day))
    if genre:
        stmt = stmt.where(Document.genre == genre)
    rows, next_cursor = await keyset_page(session, stmt, [(Document.published_at, False), (Document.id, False)],
                                          cursor, limit, key=lambda d: [d.published_at.isoformat(), d.id])
    return [InForceItem(id=d.id, index_no=d.index_no, title=d.title, genre=d.genre, doc_number=d.doc_number,
                        validity=d.validity, effective_date=d.effective_date or d.written_date,
                        expires_on=d.expires_on, ceased_on=d.ceased_on) for d in rows], next_cursor
