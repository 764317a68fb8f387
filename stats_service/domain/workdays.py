"""Working days (工作日) for the dashboards' reply-time figures.

The request service owns the authoritative calendar (with admins' corrections); the statistics service gets no
copy of it on its feed. So, like the catalogue, it reads the `chinese-calendar` package (official holidays and 调休
make-up days, 2004–2026 in 1.11.0) behind this one module, so the source can be swapped. Years outside the
package's data are *provisional*: weekends plus the fixed-date holidays only.

Counting follows legal-rules §6.3: day 1 is the first working day after the start date, so
`working_days_between(received, replied)` is the number of working days in (received, replied].
"""

from datetime import date, timedelta
from functools import cache, lru_cache

import chinese_calendar

__all__ = ["SOURCE", "is_provisional", "working_day_number", "working_days_between"]

SOURCE = "chinese_calendar"
_FIXED_HOLIDAYS = {(1, 1), (5, 1), (5, 2), (10, 1), (10, 2), (10, 3)}
_BASE_YEAR = 1990


@cache
def is_provisional(year: int) -> bool:
    try:
        chinese_calendar.is_workday(date(year, 6, 1))
    except NotImplementedError:
        return True
    return False


def _is_working_day(day: date) -> bool:
    if is_provisional(day.year):
        return day.weekday() < 5 and (day.month, day.day) not in _FIXED_HOLIDAYS
    return chinese_calendar.is_workday(day)


@lru_cache(maxsize=256)
def _prefix(year: int) -> tuple[int, ...]:
    """prefix[n] = working days among the first n days of the year."""
    counts, day, n = [0], date(year, 1, 1), 0
    while day.year == year:
        n += _is_working_day(day)
        counts.append(n)
        day += timedelta(days=1)
    return tuple(counts)


@lru_cache(maxsize=256)
def _before(year: int) -> int:
    """Working days from the base year up to the end of year − 1."""
    if year <= _BASE_YEAR:
        return 0
    return _before(year - 1) + _prefix(year - 1)[-1]


def _cumulative(day: date) -> int:
    return _before(day.year) + _prefix(day.year)[day.timetuple().tm_yday]


def working_day_number(day: date) -> int:
    """Working days from a fixed origin up to and including `day`: differences of these numbers are
    `working_days_between` (used to let the database subtract them)."""
    return _cumulative(day)


def working_days_between(start: date, end: date) -> int:
    """Working days after `start` up to and including `end` (negative if end < start)."""
    return _cumulative(end) - _cumulative(start)
