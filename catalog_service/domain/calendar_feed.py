"""Learning the working-day calendar from the request service's event feed (`calendar.year_loaded`).

The request service owns the calendar; when an admin loads or corrects a year it publishes the whole arrangement
(year, status, notice, holidays, make-up days). Applying one event, in the consumer's transaction (cursor included):
- a redelivered or older event for the year (source event id not newer than the stored one) changes nothing;
- the same days again (a notice corrected) only update the year's notice and source, no deadline can move;
- otherwise the year's days are replaced, the calendar generation is bumped (every process's cached snapshot is
  stale from the commit on), and the publication deadline (条例第二十六条) of every record not yet published whose
  20-working-day count touches that year is recomputed. Where the date or its provisional flag changes, the record
  gets a new version and a `calendar_recomputed` entry in its review log (审查记录): the deadline is part of the
  record staff are accountable for, and the log is where they and auditors read why it moved. No outbox event: a
  record that is not public is announced as `{"public": false}` only, so an event would tell consumers nothing; the
  deadline reaches the statistics service in the payload of `document.published` (publication_due_on).

Other request-service events on the same feed (applications …) are skipped; the cursor still moves past them.
"""

import logging
from dataclasses import dataclass
from datetime import date

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog_service.domain.calendar import STATE_ROW, FeedCalendar, load_calendar
from catalog_service.domain.documents import add_review_step, publication_due
from catalog_service.models import CalendarDay, CalendarState, CalendarYear, Document
from services.auth import Principal
from services.db import utcnow
from services.outbox import EventRead

__all__ = ["CALENDAR_ACTOR", "YEAR_LOADED", "Recomputed", "apply_calendar_events", "apply_year_loaded",
           "recompute_publication_deadlines"]

log = logging.getLogger("gongkai.catalog.calendar")
YEAR_LOADED = "calendar.year_loaded"
# The review-log actor of recomputations: no person acted, the calendar owned by the request service changed.
CALENDAR_ACTOR = Principal(sub="system:calendar-feed", name="工作日历同步 (calendar feed)", roles=frozenset({"system"}))
NOT_YET_PUBLISHED_EXCLUDED = ("published", "withdrawn")  # as the publication work-list: these are past the deadline


@dataclass(frozen=True)
class YearLoaded:
    year: int
    status: str
    notice: str | None
    holidays: dict[date, str]
    makeups: dict[date, str]


@dataclass(frozen=True)
class Recomputed:
    document_id: str
    due_before: date | None
    due_after: date | None
    provisional_before: bool
    provisional_after: bool


def _parse(event: EventRead) -> YearLoaded | None:
    """The payload of calendar_admin.load_year; None (logged) if it is not one: a malformed event must not stop the
    consumer for good, and the year then simply keeps what we had (package data or an earlier load)."""
    payload = event.payload
    try:
        year = int(payload["year"])
        days: list[dict[date, str]] = []
        for key in ("holidays", "makeups"):
            entries = {date.fromisoformat(d["date"]): str(d.get("name") or "")[:50] for d in payload.get(key) or []}
            if any(day.year != year for day in entries):
                raise ValueError(f"{key} outside {year}")
            days.append(entries)
        if set(days[0]) & set(days[1]):
            raise ValueError("a day is both a holiday and a make-up working day")
        status = payload.get("status") or "official"
        return YearLoaded(year, "official" if status == "official" else "provisional", payload.get("notice"),
                          days[0], days[1])
    except (KeyError, TypeError, ValueError) as exc:
        log.error("calendar event %s is malformed and was skipped: %s", event.id, exc)
        return None


async def _lock_state(session: AsyncSession) -> CalendarState:
    # FOR UPDATE (PostgreSQL): waits for transactions that read the calendar to store deadlines (FOR KEY SHARE in
    # read_generation) to commit, so the recomputation below sees their records; new ones wait for this commit.
    stmt = select(CalendarState).where(CalendarState.id == STATE_ROW)
    if session.bind.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    state = (await session.execute(stmt)).scalar_one_or_none()
    if state is None:  # the migration inserts the row; a database made otherwise gets it here
        state = CalendarState(id=STATE_ROW, generation=0, updated_at=utcnow())
        session.add(state)
        await session.flush()
    return state


async def _stored_days(session: AsyncSession, year: int) -> tuple[dict[date, str], dict[date, str]]:
    holidays: dict[date, str] = {}
    makeups: dict[date, str] = {}
    rows = await session.execute(select(CalendarDay.day, CalendarDay.kind, CalendarDay.name)
                                 .where(CalendarDay.year == year))
    for day, kind, name in rows:
        (holidays if kind == "holiday" else makeups)[day] = name
    return holidays, makeups


async def apply_year_loaded(session: AsyncSession, event: EventRead) -> list[Recomputed]:
    """Apply one `calendar.year_loaded`; returns the records whose deadline changed."""
    loaded = _parse(event)
    if loaded is None:
        return []
    state = await _lock_state(session)
    row = await session.get(CalendarYear, loaded.year, populate_existing=True)
    if row is not None and row.source_event_id >= event.id:
        return []  # redelivered, or older than what we have
    same_days = (row is not None and row.status == loaded.status
                 and await _stored_days(session, loaded.year) == (loaded.holidays, loaded.makeups))
    values = {"status": loaded.status, "notice": loaded.notice, "source_event_id": event.id,
              "source_version": event.version, "learnt_at": utcnow()}
    if row is None:
        session.add(CalendarYear(year=loaded.year, **values))
    else:
        for key, value in values.items():
            setattr(row, key, value)
    await session.flush()
    if same_days:
        return []
    # Core statements: the replaced days may share primary keys (dates) with the new ones.
    await session.execute(delete(CalendarDay).where(CalendarDay.year == loaded.year)
                          .execution_options(synchronize_session=False))
    rows = ([{"day": d, "year": loaded.year, "kind": "holiday", "name": n} for d, n in loaded.holidays.items()]
            + [{"day": d, "year": loaded.year, "kind": "makeup_workday", "name": n}
               for d, n in loaded.makeups.items()])
    if rows:
        await session.execute(insert(CalendarDay.__table__), rows)
    state.generation += 1
    state.updated_at = utcnow()
    await session.flush()
    calendar = await load_calendar(session, state.generation)
    changed = await recompute_publication_deadlines(session, calendar, loaded.year, loaded.notice)
    log.info("calendar year %s learnt from event %s: %d publication deadlines changed", loaded.year, event.id,
             len(changed))
    return changed


async def apply_calendar_events(session: AsyncSession, events: list[EventRead]) -> None:
    """FeedConsumer's apply: the calendar events of a batch, in feed order."""
    for event in events:
        if event.type == YEAR_LOADED:
            await apply_year_loaded(session, event)


def _shown(due: date | None, provisional: bool) -> str:
    return "无" if due is None else f"{due.isoformat()}{'（暂定）' if provisional else ''}"


async def recompute_publication_deadlines(session: AsyncSession, calendar: FeedCalendar, year: int,
                                          notice: str | None) -> list[Recomputed]:
    """Recompute the deadline of records not yet published whose count (formed_on, due] reaches into `year`: a
    count that ended before the year, or starts after it, cannot change."""
    first, last = date(year, 1, 1), date(year, 12, 31)
    stmt = (select(Document)
            .where(Document.status.notin_(NOT_YET_PUBLISHED_EXCLUDED), Document.formed_on < last,
                   Document.publication_due_on >= first)
            .order_by(Document.id))
    if session.bind.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    changed: list[Recomputed] = []
    for doc in (await session.execute(stmt)).scalars().all():
        before = (doc.publication_due_on, bool(doc.publication_due_provisional))
        publication_due(calendar, doc)
        after = (doc.publication_due_on, bool(doc.publication_due_provisional))
        if before == after:
            continue
        doc.version += 1  # the representation changed: an ETag read before must not overwrite it
        await add_review_step(session, doc, CALENDAR_ACTOR, action="calendar_recomputed", role="system",
                              status_before=doc.status, attribute_before=doc.attribute,
                              comment=f"{year}年工作日历已载入（{notice or '未注明通知'}）："
                                      f"公开期限 {_shown(*before)} → {_shown(*after)}")
        changed.append(Recomputed(doc.id, before[0], after[0], before[1], after[1]))
    await session.flush()
    return changed
