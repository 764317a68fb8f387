"""Working days (工作日) for the publication deadline (条例第二十六条).

The request service owns the calendar (official holidays, 调休 make-up days, admin corrections) and announces every
year an admin loads as `calendar.year_loaded` on its event feed; the catalogue learns those years
(domain/calendar_feed.py) into `calendar_year` / `calendar_day`. The request service does *not* announce the years it
seeds at startup from the `chinese-calendar` package, so that package stays the fallback here: a year the feed never
announced is answered from the package (the same data the request service seeded), a year announced overrides it.
A year neither knows is provisional: weekends plus the fixed-date holidays only (the request service's rule too).
Counting follows legal-rules §6.3: day 1 is the first working day after the start date.

Deadlines are computed on every document create, so the calendar is an immutable in-memory snapshot (FeedCalendar)
cached per process (CalendarCache) under the generation it was read at; one primary-key read of `calendar_state`
per use tells whether it is still current. The feed consumer bumps the generation in the transaction that changes a
year, which invalidates the snapshot of every process at its next use.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Protocol

from chinese_calendar import constants as cc_constants
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog_service.models import CalendarDay, CalendarState, CalendarYear

__all__ = ["CalendarCache", "ChineseCalendarSource", "DueDate", "FeedCalendar", "LearntYear", "WorkingCalendar",
           "add_working_days", "load_calendar", "package_year", "read_generation"]

# Fixed-date statutory holidays (全国年节及纪念日放假办法): used only for years without official data.
_FIXED_HOLIDAYS = {(1, 1), (5, 1), (5, 2), (10, 1), (10, 2), (10, 3)}
STATE_ROW = 1


class WorkingCalendar(Protocol):
    def is_working_day(self, day: date) -> tuple[bool, bool]:
        """(is a working day, the answer is provisional)"""
        ...


@dataclass(frozen=True)
class LearntYear:
    """A year's arrangement: its holidays and 调休 make-up working days (announced by the request service, or
    shipped in the package)."""

    status: str  # official | provisional
    holidays: frozenset[date]
    makeups: frozenset[date]

    def is_working(self, day: date) -> bool:
        return day in self.makeups or (day.weekday() < 5 and day not in self.holidays)


_PACKAGE_FIRST, _PACKAGE_LAST = min(cc_constants.holidays).year, max(cc_constants.holidays).year


@lru_cache(maxsize=256)
def package_year(year: int) -> LearntYear | None:
    """The package's official arrangement of `year`, if it covers the year. Built once per year: the package's own
    is_workday() takes the min and max of all its dates on every call (~25 µs a day, ~0.6 ms a deadline)."""
    if not _PACKAGE_FIRST <= year <= _PACKAGE_LAST:
        return None
    return LearntYear("official", frozenset(d for d in cc_constants.holidays if d.year == year),
                      frozenset(d for d in cc_constants.workdays if d.year == year))


class ChineseCalendarSource:
    """The chinese-calendar package: official years it ships, provisional (weekends + fixed dates) beyond them."""

    def is_working_day(self, day: date) -> tuple[bool, bool]:
        known = package_year(day.year)
        if known is not None:
            return known.is_working(day), False
        return day.weekday() < 5 and (day.month, day.day) not in _FIXED_HOLIDAYS, True


class FeedCalendar:
    """A snapshot of the learnt years at one generation; other years go to `fallback` (the package)."""

    __slots__ = ("fallback", "generation", "years")

    def __init__(self, years: Mapping[int, LearntYear], generation: int,
                 fallback: WorkingCalendar | None = None) -> None:
        self.years = dict(years)
        self.generation = generation
        self.fallback = fallback or ChineseCalendarSource()

    def is_working_day(self, day: date) -> tuple[bool, bool]:
        learnt = self.years.get(day.year)
        if learnt is None:
            return self.fallback.is_working_day(day)
        return learnt.is_working(day), learnt.status != "official"


@dataclass(frozen=True)
class DueDate:
    date: date
    provisional: bool


def add_working_days(calendar: WorkingCalendar, start: date, days: int) -> DueDate:
    current, counted, provisional = start, 0, False
    while counted < days:
        current += timedelta(days=1)
        working, guess = calendar.is_working_day(current)
        provisional = provisional or guess
        if working:
            counted += 1
    return DueDate(current, provisional)


# Core statements built once: on every document create the ORM-enabled equivalent cost ~250 µs against ~100 µs.
_state = CalendarState.__table__
_GENERATION = select(_state.c.generation).where(_state.c.id == STATE_ROW)
_GENERATION_LOCKED = _GENERATION.with_for_update(read=True, key_share=True)


async def read_generation(session: AsyncSession, *, lock: bool = False) -> int:
    """The learnt calendar's generation. `lock` (a transaction about to store deadlines) takes the state row
    FOR KEY SHARE on PostgreSQL: the feed consumer's FOR UPDATE then waits for that transaction to commit before it
    recomputes stored deadlines (so it sees the new record), and a transaction starting meanwhile waits for the new
    calendar. Key-share locks do not block each other, so concurrent drafters never wait for one another. SQLite
    needs nothing: write transactions are serialised (BEGIN IMMEDIATE)."""
    stmt = _GENERATION_LOCKED if lock and session.bind.dialect.name == "postgresql" else _GENERATION
    value = (await session.execute(stmt)).scalar_one_or_none()
    return int(value or 0)


async def load_calendar(session: AsyncSession, generation: int,
                        fallback: WorkingCalendar | None = None) -> FeedCalendar:
    """Every learnt year as the session sees it now (two small queries: a few years of ~30 exception days)."""
    statuses: dict[int, str] = dict((await session.execute(select(CalendarYear.year, CalendarYear.status))).all())
    days: dict[int, tuple[set[date], set[date]]] = {year: (set(), set()) for year in statuses}
    # Plain columns, not entities: no stale objects from the session's identity map after a year is replaced.
    for day, year, kind in (await session.execute(select(CalendarDay.day, CalendarDay.year, CalendarDay.kind))):
        holidays, makeups = days.setdefault(year, (set(), set()))
        (holidays if kind == "holiday" else makeups).add(day)
    years = {year: LearntYear(status, frozenset(days[year][0]), frozenset(days[year][1]))
             for year, status in statuses.items()}
    return FeedCalendar(years, generation, fallback)


class CalendarCache:
    """The current FeedCalendar of one process (kept in the app's lifespan state, not a module global: each app —
    and each test app on its own database — has its own)."""

    def __init__(self, fallback: WorkingCalendar | None = None) -> None:
        self.fallback = fallback or ChineseCalendarSource()
        self._snapshot: FeedCalendar | None = None
        self.loads = 0  # how often the snapshot was (re)built: observability and tests

    async def current(self, session: AsyncSession, *, lock: bool = False) -> FeedCalendar:
        generation = await read_generation(session, lock=lock)
        snapshot = self._snapshot
        if snapshot is not None and snapshot.generation == generation:
            return snapshot
        # Read after the generation: the rows are at least as new as the label, so a snapshot is never older than
        # the generation it is cached under (a newer one only costs a reload at the next use).
        snapshot = await load_calendar(session, generation, self.fallback)
        self._snapshot = snapshot
        self.loads += 1
        return snapshot
