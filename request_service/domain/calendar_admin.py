"""The calendar's use cases (legal-rules §6): working-day arithmetic for anyone, a year's arrangement, loading a year
from the State Council's notice (国务院办公厅关于X年部分节假日安排的通知), and seeding at startup.

Loading a year makes it official, replaces its days, publishes `calendar.year_loaded` (the catalogue's publication
deadlines consume it) and recomputes the deadline of every open application whose clock can touch that year: where
the due date or its provisional flag changes, the application gets a HandlingStep `calendar_recomputed`, a new
version (its representation changed: a handler's stale ETag must not overwrite it) and `application.deadline_changed`.
"""

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from request_service.domain import clock
from request_service.domain.applications import add_step, today
from request_service.domain.calendar import Calendar, DayInfo, current_calendar, ensure_seeded
from request_service.domain.events import emit_application_event
from request_service.errors import InvalidCalendarYear
from request_service.models import Application, CalendarDay, CalendarYear, outbox
from services.auth import Principal
from services.concurrency import require_if_match
from services.db import Database, utcnow
from services.errors import PreconditionFailed
from services.outbox import record_event

__all__ = ["CLOSED_STATUSES", "Recomputed", "WorkingDaysAnswer", "YearView", "add_working_days", "load_year",
           "seed_calendar", "seed_calendar_until_done", "year_view"]

log = logging.getLogger("gongkai.request.calendar")
CLOSED_STATUSES = ("replied", "closed")


@dataclass(frozen=True)
class WorkingDaysAnswer:
    start: date
    days: int
    date: date
    provisional: bool
    skipped: list[DayInfo]


@dataclass(frozen=True)
class YearView:
    year: int
    status: str  # official | provisional
    source: str | None  # chinese-calendar | admin | None (no arrangement known: weekends + fixed-date holidays)
    notice: str | None
    loaded_by: str | None
    loaded_at: object
    version: int  # 0 when the year has no row
    holidays: list[tuple[date, str]] = field(default_factory=list)
    makeup_workdays: list[tuple[date, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Recomputed:
    application_id: str
    tracking_no: str
    due_on_before: date | None
    due_on_after: date | None
    provisional_before: bool
    provisional_after: bool


async def add_working_days(session: AsyncSession, start: date, days: int) -> WorkingDaysAnswer:
    """Day 1 is the first working day after `start` (legal-rules §6.3)."""
    calendar = await current_calendar(session)
    end, provisional, skipped = calendar.add_working_days(start, days)
    return WorkingDaysAnswer(start, days, end, provisional, skipped)


def _view(year: int, row: CalendarYear | None, calendar: Calendar) -> YearView:
    data = calendar.year(year)
    holidays, makeups = sorted(data.holidays.items()), sorted(data.makeups.items())
    if row is None:
        return YearView(year, "provisional", None, None, None, None, 0, holidays, makeups)
    return YearView(year, data.status, row.source, row.notice, row.loaded_by, row.loaded_at, row.version,
                    holidays, makeups)


async def year_view(session: AsyncSession, year: int) -> YearView:
    row = await session.get(CalendarYear, year)
    return _view(year, row, await current_calendar(session))


def _validate(year: int, holidays: list[tuple[date, str]], makeups: list[tuple[date, str]]) -> None:
    errors: list[dict] = []
    seen: dict[date, str] = {}
    for field_name, entries in (("holidays", holidays), ("makeup_workdays", makeups)):
        for i, (day, _name) in enumerate(entries):
            loc = ["body", field_name, i, "date"]
            if day.year != year:
                errors.append({"loc": loc, "msg": f"{day} is not in {year}", "type": "outside_year"})
            if day in seen:
                what = ("listed twice" if seen[day] == field_name
                        else "is both a holiday and a make-up working day")
                errors.append({"loc": loc, "msg": f"{day} {what}", "type": "duplicate_date"})
            seen.setdefault(day, field_name)
            if field_name == "makeup_workdays" and day.weekday() < 5:
                errors.append({"loc": loc, "msg": f"{day} is a weekday: a make-up working day (调休上班) is a "
                                                  "Saturday or Sunday", "type": "makeup_on_weekday"})
    if errors:
        raise InvalidCalendarYear(f"The arrangement of {year} is not consistent; see `errors`.", errors=errors)


async def _store_year(session: AsyncSession, principal: Principal, year: int, notice: str,
                      holidays: list[tuple[date, str]], makeups: list[tuple[date, str]],
                      if_match: str | None) -> int:
    stmt = select(CalendarYear).where(CalendarYear.year == year)
    if session.bind.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    row = (await session.execute(stmt)).scalar_one_or_none()
    expected = row.version if row is not None else 0
    if if_match is not None:
        require_if_match(if_match, expected)
    values = {"status": "official", "source": "admin", "notice": notice, "loaded_by": principal.sub,
              "loaded_at": utcnow()}
    if row is None:
        session.add(CalendarYear(year=year, version=1, **values))
    else:
        result = await session.execute(
            update(CalendarYear).where(CalendarYear.year == year, CalendarYear.version == expected)
            .values(version=expected + 1, **values).execution_options(synchronize_session=False))
        if result.rowcount != 1:
            raise PreconditionFailed("The calendar year was changed by someone else; read it again and retry.")
    await session.flush()
    # Core statements, not ORM objects: the replaced days may share primary keys (dates) with the new ones.
    await session.execute(delete(CalendarDay).where(CalendarDay.year == year)
                          .execution_options(synchronize_session=False))
    days = ([{"day": d, "year": year, "kind": "holiday", "name": n} for d, n in holidays]
            + [{"day": d, "year": year, "kind": "makeup_workday", "name": n} for d, n in makeups])
    if days:
        await session.execute(insert(CalendarDay.__table__), days)
    return expected + 1


def _shown(due: date | None, provisional: bool) -> str:
    return "无" if due is None else f"{due.isoformat()}{'（暂定）' if provisional else ''}"


async def _recompute_open(session: AsyncSession, principal: Principal, year: int, notice: str,
                          calendar: Calendar) -> list[Recomputed]:
    first, last = date(year, 1, 1), date(year, 12, 31)
    # An application whose clock and 补正 notice date both ended before the year cannot change.
    stmt = (select(Application)
            .where(Application.status.not_in(CLOSED_STATUSES), Application.receipt_date.is_not(None),
                   Application.receipt_date <= last,
                   or_(Application.due_on.is_(None), Application.due_on >= first,
                       Application.supplement_notice_due_on.is_(None),
                       Application.supplement_notice_due_on >= first))
            .order_by(Application.id))
    if session.bind.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    changed: list[Recomputed] = []
    as_of = today()
    for app in (await session.execute(stmt)).scalars().all():
        before = (app.due_on, bool(app.due_provisional))
        await clock.recompute(session, app, calendar, as_of)
        after = (app.due_on, bool(app.due_provisional))
        if before == after:
            continue
        app.version += 1
        await add_step(session, app, principal, action="calendar_recomputed", role="admin", status_before=app.status,
                       comment=f"{year}年工作日历已载入（{notice}）：答复期限 {_shown(*before)} → {_shown(*after)}")
        await session.flush()
        await emit_application_event(session, app, "application.deadline_changed")
        changed.append(Recomputed(app.id, app.tracking_no, before[0], after[0], before[1], after[1]))
    return changed


async def load_year(session: AsyncSession, principal: Principal, year: int, *, notice: str,
                    holidays: list[tuple[date, str]], makeups: list[tuple[date, str]],
                    if_match: str | None = None) -> tuple[YearView, list[Recomputed]]:
    """Store `year` as official from an admin's entry of the notice (replacing its days), publish
    calendar.year_loaded, and recompute open applications' deadlines. If-Match is checked when given."""
    _validate(year, holidays, makeups)
    holidays, makeups = sorted(holidays), sorted(makeups)
    version = await _store_year(session, principal, year, notice, holidays, makeups, if_match)
    record_event(session, outbox, "calendar.year_loaded", entity_type="calendar_year", entity_id=str(year),
                 version=version, payload={
                     "year": year, "status": "official", "notice": notice,
                     "holidays": [{"date": d.isoformat(), "name": n} for d, n in holidays],
                     "makeups": [{"date": d.isoformat(), "name": n} for d, n in makeups]})
    calendar = await current_calendar(session)
    changed = await _recompute_open(session, principal, year, notice, calendar)
    row = (await session.execute(select(CalendarYear).where(CalendarYear.year == year)
                                 .execution_options(populate_existing=True))).scalar_one()
    return _view(year, row, calendar), changed


async def seed_calendar(database: Database) -> list[int]:
    """Insert the official years shipped in chinese-calendar that the database lacks (never overwrites)."""
    try:
        async with database.transaction() as session:
            added = await ensure_seeded(session)
    except IntegrityError:  # another process seeded the same years at the same moment
        log.info("calendar years were seeded concurrently by another process")
        return []
    if added:
        log.info("seeded official calendar years %s", added)
    return added


async def seed_calendar_until_done(database: Database, retry_seconds: float = 30.0) -> None:
    """Startup seeding that survives a database that is not reachable (or not migrated) yet: retry until done."""
    while True:
        try:
            await seed_calendar(database)
            return
        except Exception:
            log.warning("seeding the working-day calendar failed; retrying in %.0fs", retry_seconds, exc_info=True)
            await asyncio.sleep(retry_seconds)
