"""Working days (工作日) for the publication deadline (条例第二十六条).

The request service owns the calendar (official holidays, 调休 make-up days, admin corrections). Until the
catalogue follows its event feed, the `chinese-calendar` package is the source, behind this one interface so the
source can be swapped. Counting follows legal-rules §6.3: day 1 is the first working day after the start date.
Years the package does not cover are provisional: weekends plus fixed-date holidays only.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Protocol

import chinese_calendar

__all__ = ["ChineseCalendarSource", "DueDate", "WorkingCalendar", "add_working_days"]

# Fixed-date statutory holidays (全国年节及纪念日放假办法): used only for years without official data.
_FIXED_HOLIDAYS = {(1, 1), (5, 1), (5, 2), (10, 1), (10, 2), (10, 3)}


class WorkingCalendar(Protocol):
    def is_working_day(self, day: date) -> tuple[bool, bool]:
        """(is a working day, the answer is provisional)"""
        ...


class ChineseCalendarSource:
    def is_working_day(self, day: date) -> tuple[bool, bool]:
        try:
            return chinese_calendar.is_workday(day), False
        except NotImplementedError:
            return day.weekday() < 5 and (day.month, day.day) not in _FIXED_HOLIDAYS, True


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
