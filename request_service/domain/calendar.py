"""The working-day calendar (工作日), owned by this service (legal-rules §6).

A day is a working day if it is Monday–Friday and not a holiday, or a weekend day announced as a 调休 make-up
working day. Years come from the database: `official` (the State Council's notice, seeded from chinese-calendar or
loaded by an admin) or, with no row at all, provisional — weekends plus the fixed-date holidays only. Every answer
that touches a provisional year says so.

`Calendar` is an immutable snapshot; `current_calendar(session)` returns a cached one and reloads it when any year
row changed (one small query, or none when the caller read the signature along with something else), so several
processes stay consistent without a message bus.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from weakref import WeakKeyDictionary

import chinese_calendar
from chinese_calendar import constants as cc_constants
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from request_service.models import CalendarDay, CalendarYear

__all__ = ["Calendar", "DayInfo", "HOLIDAY_NAMES_ZH", "YearData", "current_calendar", "ensure_seeded",
           "package_year", "signature_query"]

HOLIDAY_NAMES_ZH = {
    "New Year's Day": "元旦", "Spring Festival": "春节", "Tomb-sweeping Day": "清明节", "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节", "National Day": "国庆节", "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "抗战胜利70周年纪念日",
}
# 全国年节及纪念日放假办法: the holidays whose date is fixed in the solar calendar (used for provisional years).
FIXED_DATE_HOLIDAYS = {(1, 1): "元旦", (5, 1): "劳动节", (5, 2): "劳动节", (10, 1): "国庆节", (10, 2): "国庆节",
                       (10, 3): "国庆节"}


@dataclass(frozen=True)
class DayInfo:
    day: date
    working: bool
    provisional: bool
    reason: str  # workday | weekend | holiday | makeup_workday
    name: str = ""  # the holiday's name (春节, 国庆节 …) for holidays and make-up days


@dataclass(frozen=True)
class YearData:
    status: str  # official | provisional
    holidays: dict[date, str] = field(default_factory=dict)
    makeups: dict[date, str] = field(default_factory=dict)


def _provisional(year: int) -> YearData:
    holidays = {date(year, m, d): name for (m, d), name in FIXED_DATE_HOLIDAYS.items()}
    return YearData("provisional", holidays, {})


MEMO_DAYS = 20_000  # days answered from memory per snapshot: decades of deadlines, bounded against odd queries


@dataclass(frozen=True)
class Calendar:
    years: dict[int, YearData]
    signature: tuple = ()
    # The snapshot never changes, so each day's answer is kept: a deadline asks about the same few weeks every time.
    _days: dict[date, DayInfo] = field(default_factory=dict, compare=False, repr=False)

    def year(self, year: int) -> YearData:
        return self.years.get(year) or _provisional(year)

    def info(self, day: date) -> DayInfo:
        found = self._days.get(day)
        if found is None:
            found = self._info(day)
            if len(self._days) < MEMO_DAYS:
                self._days[day] = found
        return found

    def _info(self, day: date) -> DayInfo:
        data = self.year(day.year)
        provisional = data.status != "official"
        if day in data.holidays:
            return DayInfo(day, False, provisional, "holiday", data.holidays[day])
        if day in data.makeups:
            return DayInfo(day, True, provisional, "makeup_workday", data.makeups[day])
        if day.weekday() >= 5:
            return DayInfo(day, False, provisional, "weekend")
        return DayInfo(day, True, provisional, "workday")

    def is_working(self, day: date) -> bool:
        return self.info(day).working

    def days_after(self, start: date) -> Iterator[DayInfo]:
        current = start
        while True:
            current += timedelta(days=1)
            yield self.info(current)

    def add_working_days(self, start: date, days: int) -> tuple[date, bool, list[DayInfo]]:
        """Day 1 is the first working day after `start` (legal-rules §6.3). Returns the date, whether any day
        counted or skipped lies in a provisional year, and the skipped non-working days."""
        if days == 0:
            return start, self.year(start.year).status != "official", []
        skipped: list[DayInfo] = []
        provisional, counted = False, 0
        for info in self.days_after(start):
            provisional = provisional or info.provisional
            if info.working:
                counted += 1
                if counted == days:
                    return info.day, provisional, skipped
            else:
                skipped.append(info)
        raise AssertionError("unreachable")

    def working_days_between(self, after: date, until: date) -> int:
        """Working days d with after < d ≤ until."""
        n, current = 0, after
        while current < until:
            current += timedelta(days=1)
            n += self.is_working(current)
        return n


def package_year(year: int) -> YearData | None:
    """The official arrangement of `year` as shipped in the chinese-calendar package, if it covers the year."""
    try:
        chinese_calendar.is_workday(date(year, 6, 1))
    except NotImplementedError:
        return None
    holidays = {d: HOLIDAY_NAMES_ZH.get(n, n) for d, n in cc_constants.holidays.items() if d.year == year}
    makeups = {d: HOLIDAY_NAMES_ZH.get(n, n) for d, n in cc_constants.workdays.items() if d.year == year}
    return YearData("official", holidays, makeups)


async def ensure_seeded(session: AsyncSession, years: range | None = None) -> list[int]:
    """Insert the package's official years that the database does not have yet (never overwrites a year an
    admin loaded or corrected). Returns the years added."""
    have = set((await session.execute(select(CalendarYear.year))).scalars())
    added = []
    for year in years or range(2004, date.today().year + 2):
        if year in have:
            continue
        data = package_year(year)
        if data is None:
            continue
        session.add(CalendarYear(year=year, status="official", source="chinese-calendar",
                                 notice="国务院办公厅关于部分节假日安排的通知 (chinese-calendar package)"))
        await session.flush()
        session.add_all([CalendarDay(day=d, year=year, kind="holiday", name=n) for d, n in data.holidays.items()])
        session.add_all([CalendarDay(day=d, year=year, kind="makeup_workday", name=n)
                         for d, n in data.makeups.items()])
        added.append(year)
    await session.flush()
    return added


# One snapshot per connection pool — per process, as a process has one engine per database. Several instances run
# in one process (tests of 多实例) then keep apart what separate processes would: none sees another's reload.
_cache: WeakKeyDictionary[Any, Calendar] = WeakKeyDictionary()


def signature_query() -> Select[tuple[int, int, datetime | None]]:
    """One row that changes whenever any year does: how many years, the sum of their versions (every load or
    correction bumps its year's version) and the latest loaded_at (which tells apart two loads that reached the
    same versions, e.g. after a rollback). Intake reads it inside its one read (domain/intake.py)."""
    return select(func.count(CalendarYear.year).label("years"),
                  func.coalesce(func.sum(CalendarYear.version), 0).label("versions"),
                  func.max(CalendarYear.loaded_at).label("loaded_at"))


async def current_calendar(session: AsyncSession, signature: tuple | None = None) -> Calendar:
    """The calendar as stored now: a cached snapshot, reloaded only when the signature (signature_query, read here
    unless the caller already has it from this transaction) differs from the snapshot's."""
    if signature is None:
        signature = tuple((await session.execute(signature_query())).one())
    else:
        signature = tuple(signature)
    pool = session.bind.sync_engine.pool
    cached = _cache.get(pool)
    if cached is not None and cached.signature == signature:
        return cached
    # Plain columns, not entities: no stale objects from the session's identity map after a year is replaced.
    year_rows = (await session.execute(select(CalendarYear.year, CalendarYear.status))).all()
    rows = (await session.execute(select(CalendarDay.day, CalendarDay.year, CalendarDay.kind, CalendarDay.name)
                                  )).all()
    by_year: dict[int, tuple[dict[date, str], dict[date, str]]] = {}
    for day, year, kind, name in rows:
        holidays, makeups = by_year.setdefault(year, ({}, {}))
        (holidays if kind == "holiday" else makeups)[day] = name
    years: dict[int, YearData] = {}
    for year, status in year_rows:
        holidays, makeups = by_year.get(year, ({}, {}))
        years[year] = YearData(status, holidays, makeups) if status == "official" else _provisional(year)
    _cache[pool] = calendar = Calendar(years, signature)
    return calendar
