"""Dashboards for staff: time series and breakdowns over a date range (at most 3 years), from the facts tables.

Every query is bounded the same way: the organ scope (an indexed `organ_code IN (…)`), a date range of at most three
years on an indexed date column (`received_on`, `closed_on`, `fee_noticed_on`, `fee_paid_on`, `published_at`), and
GROUP BY dates, periods or a small dimension, never one row per application. On PostgreSQL closures and reply times
are grouped by period in the database, with the working-day numbers of the range passed as an array (_Calendar);
on SQLite (development, tests) they are grouped by day and bucketed here — same figures, checked by the tests on
both backends. What remains proportional to the data is the scan of the facts in range: at 1 M applications a
city-wide three-year series reads ~1 M rows (bench-results/stats.md); pre-aggregating per organ and month at ingest
would be the next step if that is needed interactively.

Definitions (what each figure counts):
- received: applications whose receipt date (收到申请之日, or the submission date before receipt is confirmed) is in
  the period; closed: applications replied (replied) or closed without a reply (closed: deemed abandoned) in it.
- on-time rate = closed with closed_on ≤ due_on / closed with a due date (due_on is the request service's
  deadline, extensions and suspensions included).
- working days to reply, over *replied* applications: working days after the receipt date up to the reply date
  (legal-rules §6.3 counting), from the `chinese-calendar` package (stats_service.domain.workdays). The statistics
  service does not receive the clock ledger, so suspended time (补正, 征求意见, 待缴费) is NOT deducted: this is
  elapsed working time, an upper bound of the statutory clock.
- overdue now: open applications (not replied or closed) with due_on before today.
- Publication timeliness of proactive documents (条例第二十六条: within 20 working days of 形成或者变更之日), over
  public documents by the day they were published (Asia/Shanghai): on time = published on or before
  `publication_due_on`, late = after it, no due date = the catalogue announced none (no formation date recorded, or
  the document's events predate the field). on-time rate = on time / (on time + late); days late, over late
  documents, in calendar days and in working days after the due date. Due dates and publication dates are the
  catalogue's, as of each document's latest public version (a document changed and re-published carries its new
  due date). Documents not yet published cannot be seen here (the catalogue announces public records only): the
  catalogue's own work-list of overdue records covers them.
"""

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import ARRAY, Date, Integer, bindparam, case, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import Grouping

from services.errors import UnprocessableEntity
from stats_service.domain.labels import APPLICANT_LABELS, CHANNEL_LABELS
from stats_service.domain.report import organ_scope
from stats_service.domain.workdays import SOURCE, is_provisional, working_day_number, working_days_between
from stats_service.models import ApplicationFact, DocumentFact, OrganFact

__all__ = ["BREAKDOWNS", "GRANULARITIES", "WORKING_DAYS_NOTE", "breakdown", "default_range", "overdue",
           "publication_timeliness", "timeseries", "validate_range"]

SHANGHAI = ZoneInfo("Asia/Shanghai")
CLOSED = ("replied", "closed")
GRANULARITIES = ("month", "quarter", "year")
BREAKDOWNS = ("organ", "channel", "applicant_type")
MAX_YEARS = 3
REPLY_LOOKBACK_YEARS = 3
WORKING_DAYS_NOTE = ("Working days after the receipt date up to the reply date, replied applications only (received "
                     "at most 3 whole years before `from`); suspended time (补正, 征求意见, 待缴费) is not deducted.")


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def default_range(today: date) -> tuple[date, date]:
    """The last twelve months, whole months: the first day of the month eleven months ago → today."""
    month = today.year * 12 + today.month - 1 - 11
    return date(month // 12, month % 12 + 1, 1), today


def validate_range(date_from: date, date_to: date) -> None:
    if date_to < date_from:
        raise UnprocessableEntity("`to` is before `from`.", errors=[
            {"loc": ["query", "to"], "msg": "must not be before `from`", "type": "value_error"}])
    if date_to >= _add_years(date_from, MAX_YEARS):
        raise UnprocessableEntity(f"The range is longer than {MAX_YEARS} years.", errors=[
            {"loc": ["query", "to"], "msg": f"at most {MAX_YEARS} years after `from`", "type": "value_error"}])


def _period(day: date, granularity: str) -> str:
    if granularity == "month":
        return f"{day.year}-{day.month:02d}"
    if granularity == "quarter":
        return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
    return str(day.year)


def _periods(start: date, end: date, granularity: str) -> list[tuple[str, date, date]]:
    """(label, first day, last day) of every period touching [start, end], clipped to the range."""
    out, day = [], start
    while day <= end:
        step = {"month": 1, "quarter": 3, "year": 12}[granularity]
        first_month = (day.month - 1) // step * step + 1
        nxt = date(day.year + (first_month - 1 + step) // 12, (first_month - 1 + step) % 12 + 1, 1)
        out.append((_period(day, granularity), day, min(nxt - timedelta(days=1), end)))
        day = nxt
    return out


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _money(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(Decimal("0.01"))


@dataclass
class Figures:
    received: int = 0
    closed: int = 0
    replied: int = 0
    closed_with_due: int = 0
    closed_on_time: int = 0
    days: Counter = field(default_factory=Counter)  # working days to reply → replied applications
    outcomes: Counter = field(default_factory=Counter)
    fees_noticed: int = 0
    fees_noticed_yuan: Decimal = Decimal("0.00")
    fees_collected_yuan: Decimal = Decimal("0.00")
    documents_published: int = 0

    def add_closed(self, status: str, outcome: str | None, has_due: int, on_time: int, n: int) -> None:
        self.closed += n
        self.replied += n if status == "replied" else 0
        self.closed_with_due += n if has_due else 0
        self.closed_on_time += n if has_due and on_time else 0
        if outcome is not None:
            self.outcomes[outcome] += n

    def as_dict(self, *, with_money: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "received": self.received, "closed": self.closed, "replied": self.replied,
            "closed_with_due": self.closed_with_due, "closed_on_time": self.closed_on_time,
            "on_time_rate": round(self.closed_on_time / self.closed_with_due, 4) if self.closed_with_due else None,
            "avg_working_days": _mean(self.days), "median_working_days": _median(self.days),
        }
        if with_money:
            out.update(outcomes=dict(sorted(self.outcomes.items())), fees_noticed=self.fees_noticed,
                       fees_noticed_yuan=f"{self.fees_noticed_yuan:.2f}",
                       fees_collected_yuan=f"{self.fees_collected_yuan:.2f}",
                       documents_published=self.documents_published)
        return out


def _mean(histogram: Counter) -> float | None:
    n = sum(histogram.values())
    return round(sum(k * v for k, v in histogram.items()) / n, 2) if n else None


def _median(histogram: Counter) -> float | None:
    n = sum(histogram.values())
    if not n:
        return None
    lower, upper, seen = None, None, 0
    for value in sorted(histogram):
        seen += histogram[value]
        if lower is None and seen >= (n + 1) // 2:
            lower = value
        if seen >= n // 2 + 1:
            upper = value
            break
    assert lower is not None and upper is not None
    return float(lower) if n % 2 else (lower + upper) / 2


def _flag(condition: Any) -> Any:
    # Literal 1/0, not bound parameters: PostgreSQL must see the same expression in SELECT and GROUP BY.
    return case((condition, literal_column("1")), else_=literal_column("0"))


def _closed_columns(*, labels: bool = False) -> list[Any]:
    a = ApplicationFact
    has_due, on_time = _flag(a.due_on.is_not(None)), _flag(a.closed_on <= a.due_on)
    if labels:
        has_due, on_time = has_due.label("has_due"), on_time.label("on_time")
    return [a.status, a.outcome, has_due, on_time]


def _closed_in(organs: list[str], date_from: date, date_to: date) -> list[Any]:
    a = ApplicationFact
    return [_in_scope(organs), a.closed_on.between(date_from, date_to), a.status.in_(CLOSED)]


def _earliest_receipt(date_from: date) -> date:
    """Reply times count applications received at most REPLY_LOOKBACK_YEARS whole years before the range."""
    return date(date_from.year - REPLY_LOOKBACK_YEARS, 1, 1)


def _replied_in(organs: list[str], date_from: date, date_to: date) -> list[Any]:
    a = ApplicationFact
    return [_in_scope(organs), a.closed_on.between(date_from, date_to), a.status == "replied",
            a.received_on.between(_earliest_receipt(date_from), date_to)]


def _reply_days(received_on: Any, closed_on: Any, cache: dict[tuple[Any, Any], int]) -> int:
    key = (received_on, closed_on)
    if key not in cache:
        cache[key] = working_days_between(_as_date(received_on), _as_date(closed_on))
    return cache[key]


class _Calendar:
    """PostgreSQL: the working-day number and the period index of every day from the earliest counted receipt to
    the end of the range, sent as two array parameters and read by subscript, so the database subtracts working-day
    numbers and groups by period: the result has periods × distinct reply times rows, and Python never sees one row
    per (receipt day, reply day) pair. (Array look-ups, not a join: no hash of the facts is built.)"""

    def __init__(self, date_from: date, date_to: date, period_index: Callable[[date], int]) -> None:
        numbers, periods = [], []
        self.first = day = _earliest_receipt(date_from)
        while day <= date_to:
            numbers.append(working_day_number(day))
            periods.append(period_index(day) if day >= date_from else -1)
            day += timedelta(days=1)
        self._numbers = Grouping(bindparam("cal_numbers", numbers, type_=ARRAY(Integer)))
        self._periods = Grouping(bindparam("cal_periods", periods, type_=ARRAY(Integer)))
        self._first = bindparam("cal_first", self.first, type_=Date)

    def _slot(self, day: Any) -> Any:
        return (day - self._first) + 1  # PostgreSQL: date − date is a number of days; arrays start at 1

    def period(self, day: Any) -> Any:
        return self._periods[self._slot(day)]

    def reply_days(self) -> Any:
        a = ApplicationFact
        return self._numbers[self._slot(a.closed_on)] - self._numbers[self._slot(a.received_on)]


def _on_postgresql(session: AsyncSession) -> bool:
    return session.bind.dialect.name == "postgresql"


def _in_scope(organs: list[str]) -> Any:
    return ApplicationFact.organ_code.in_(organs)


async def _scope(session: AsyncSession, organ_code: str, include_subordinates: bool) -> list[str]:
    return await organ_scope(session, organ_code, include_subordinates)


def _meta(organ_code: str, include_subordinates: bool, date_from: date, date_to: date) -> dict[str, Any]:
    return {"organ_code": organ_code, "include_subordinates": include_subordinates, "from": date_from,
            "to": date_to,
            "working_days": {"source": SOURCE, "note": WORKING_DAYS_NOTE,
                             "provisional_years": [y for y in range(date_from.year - 1, date_to.year + 1)
                                                   if is_provisional(y)]}}


async def timeseries(session: AsyncSession, organ_code: str, include_subordinates: bool, date_from: date,
                     date_to: date, granularity: Literal["month", "quarter", "year"]) -> dict[str, Any]:
    validate_range(date_from, date_to)
    organs = await _scope(session, organ_code, include_subordinates)
    periods = _periods(date_from, date_to, granularity)
    buckets: dict[str, Figures] = {label: Figures() for label, _, _ in periods}
    total = Figures()

    def both(day: Any) -> tuple[Figures, Figures]:
        return buckets[_period(_as_date(day), granularity)], total

    a = ApplicationFact
    for day, n in await session.execute(
            select(a.received_on, func.count()).where(_in_scope(organs), a.received_on.between(date_from, date_to))
            .group_by(a.received_on)):
        for f in both(day):
            f.received += n
    # Closures and reply times grouped by period in the database (PostgreSQL) or by day (SQLite): the number of rows
    # is bounded by the calendar, never by the number of applications.
    if _on_postgresql(session):
        labels = [label for label, _, _ in periods]
        index = {label: i for i, label in enumerate(labels)}
        cal = _Calendar(date_from, date_to, lambda day: index[_period(day, granularity)])
        closures = select(cal.period(a.closed_on).label("period"), *_closed_columns(labels=True)).where(
            *_closed_in(organs, date_from, date_to)).subquery()
        for i, status, outcome, has_due, on_time, n in await session.execute(
                select(*closures.c, func.count()).group_by(*closures.c)):
            for f in (buckets[labels[i]], total):
                f.add_closed(status, outcome, has_due, on_time, n)
        replies = select(cal.period(a.closed_on).label("period"), cal.reply_days().label("days")).where(
            *_replied_in(organs, date_from, date_to)).subquery()
        for i, days, n in await session.execute(select(*replies.c, func.count()).group_by(*replies.c)):
            for f in (buckets[labels[i]], total):
                f.days[days] += n
    else:
        for closed_on, status, outcome, has_due, on_time, n in await session.execute(
                select(a.closed_on, *_closed_columns(), func.count()).where(*_closed_in(organs, date_from, date_to))
                .group_by(a.closed_on, *_closed_columns())):
            for f in both(closed_on):
                f.add_closed(status, outcome, has_due, on_time, n)
        cache: dict[tuple[Any, Any], int] = {}
        for received_on, closed_on, n in await session.execute(
                select(a.received_on, a.closed_on, func.count()).where(*_replied_in(organs, date_from, date_to))
                .group_by(a.received_on, a.closed_on)):
            days = _reply_days(received_on, closed_on, cache)
            for f in both(closed_on):
                f.days[days] += n
    for day, n, amount in await session.execute(
            select(a.fee_noticed_on, func.count(), func.sum(a.fee_amount)).where(
                _in_scope(organs), a.fee_noticed_on.between(date_from, date_to)).group_by(a.fee_noticed_on)):
        for f in both(day):
            f.fees_noticed += n
            f.fees_noticed_yuan += _money(amount)
    for day, amount in await session.execute(
            select(a.fee_paid_on, func.sum(a.fee_paid_amount)).where(
                _in_scope(organs), a.fee_paid_on.between(date_from, date_to)).group_by(a.fee_paid_on)):
        for f in both(day):
            f.fees_collected_yuan += _money(amount)
    for day, n in await _documents_published(session, organs, date_from, date_to):
        for f in both(day):
            f.documents_published += n
    return {**_meta(organ_code, include_subordinates, date_from, date_to), "granularity": granularity,
            "series": [{"period": label, "start": start, "end": end, **buckets[label].as_dict()}
                       for label, start, end in periods],
            "totals": total.as_dict()}


def _published_window(date_from: date, date_to: date) -> tuple[datetime, datetime]:
    """[start, end) in UTC of the days date_from..date_to in Asia/Shanghai."""
    return (datetime.combine(date_from, time(), SHANGHAI).astimezone(UTC),
            datetime.combine(date_to + timedelta(days=1), time(), SHANGHAI).astimezone(UTC))


def _published_day(session: AsyncSession) -> Any:
    """The day (Asia/Shanghai) a document was published."""
    d = DocumentFact
    if session.bind.dialect.name == "postgresql":
        return func.date(func.timezone("Asia/Shanghai", d.published_at))
    return func.date(d.published_at, "+8 hours")  # stored as UTC text


async def _documents_published(session: AsyncSession, organs: list[str], date_from: date,
                               date_to: date) -> list[tuple[date, int]]:
    """Public catalogue records first published per day (Asia/Shanghai)."""
    start, end = _published_window(date_from, date_to)
    d = DocumentFact
    local_day = _published_day(session)
    rows = await session.execute(
        select(local_day, func.count()).where(d.organ_code.in_(organs), d.public.is_(True), d.published_at >= start,
                                              d.published_at < end).group_by(local_day))
    return [(_as_date(day), n) for day, n in rows]


@dataclass
class Timeliness:
    """Publication timeliness (条例第二十六条) of the public documents published in a period."""

    published: int = 0
    on_time: int = 0
    late: int = 0
    no_due_date: int = 0
    days_late: Counter = field(default_factory=Counter)  # calendar days after the due date → documents
    working_days_late: Counter = field(default_factory=Counter)

    def add(self, published_on: date, due_on: date | None, n: int) -> None:
        self.published += n
        if due_on is None:
            self.no_due_date += n
        elif published_on <= due_on:
            self.on_time += n
        else:
            self.late += n
            self.days_late[(published_on - due_on).days] += n
            self.working_days_late[working_days_between(due_on, published_on)] += n

    def as_dict(self) -> dict[str, Any]:
        with_due = self.on_time + self.late
        return {"published": self.published, "with_due_date": with_due, "on_time": self.on_time, "late": self.late,
                "no_due_date": self.no_due_date,
                "on_time_rate": round(self.on_time / with_due, 4) if with_due else None,
                "avg_days_late": _mean(self.days_late), "max_days_late": max(self.days_late, default=None),
                "avg_working_days_late": _mean(self.working_days_late)}


async def publication_timeliness(session: AsyncSession, organ_code: str, include_subordinates: bool,
                                 date_from: date, date_to: date,
                                 granularity: Literal["month", "quarter", "year"]) -> dict[str, Any]:
    """Documents published on time / late per period and per organ of the scope (module docstring)."""
    validate_range(date_from, date_to)
    organs = await _scope(session, organ_code, include_subordinates)
    periods = _periods(date_from, date_to, granularity)
    buckets: dict[str, Timeliness] = {label: Timeliness() for label, _, _ in periods}
    per_organ: dict[str, Timeliness] = defaultdict(Timeliness)
    total = Timeliness()
    start, end = _published_window(date_from, date_to)
    d = DocumentFact
    # Grouped by organ, publication day and due date in a subquery (PostgreSQL then groups by plain columns): the
    # rows are bounded by organs × days × due dates, never one per document.
    published = select(d.organ_code.label("organ_code"), _published_day(session).label("day"),
                       d.publication_due_on.label("due")).where(
        d.organ_code.in_(organs), d.public.is_(True), d.published_at >= start, d.published_at < end).subquery()
    for organ, day, due, n in await session.execute(select(*published.c, func.count()).group_by(*published.c)):
        published_on, due_on = _as_date(day), _as_date(due) if due is not None else None
        for t in (buckets[_period(published_on, granularity)], per_organ[organ], total):
            t.add(published_on, due_on, n)
    labels, extra = await _labels(session, "organ", organs)
    keys = [*labels, *sorted(k for k in per_organ if k not in labels)]
    return {**_meta(organ_code, include_subordinates, date_from, date_to), "granularity": granularity,
            "series": [{"period": label, "start": first, "end": last, **buckets[label].as_dict()}
                       for label, first, last in periods],
            "by_organ": [{"key": k, "label": labels.get(k, k), **extra.get(k, {}), **per_organ[k].as_dict()}
                         for k in keys],
            "totals": total.as_dict()}


async def breakdown(session: AsyncSession, organ_code: str, include_subordinates: bool, by: str, date_from: date,
                    date_to: date, today: date) -> dict[str, Any]:
    validate_range(date_from, date_to)
    organs = await _scope(session, organ_code, include_subordinates)
    a = ApplicationFact
    dim = {"organ": a.organ_code, "channel": a.channel, "applicant_type": a.applicant_type}[by]
    items: dict[str, Figures] = defaultdict(Figures)
    overdue_now: Counter = Counter()
    for key, n in await session.execute(
            select(dim, func.count()).where(_in_scope(organs), a.received_on.between(date_from, date_to))
            .group_by(dim)):
        items[key].received += n
    for key, status, outcome, has_due, on_time, n in await session.execute(
            select(dim, *_closed_columns(), func.count()).where(*_closed_in(organs, date_from, date_to))
            .group_by(dim, *_closed_columns())):
        items[key].add_closed(status, outcome, has_due, on_time, n)
    if _on_postgresql(session):
        replies = select(dim.label("key"), _Calendar(date_from, date_to, lambda day: 0).reply_days().label("days")
                         ).where(*_replied_in(organs, date_from, date_to)).subquery()
        for key, days, n in await session.execute(select(*replies.c, func.count()).group_by(*replies.c)):
            items[key].days[days] += n
    else:
        cache: dict[tuple[Any, Any], int] = {}
        for key, received_on, closed_on, n in await session.execute(
                select(dim, a.received_on, a.closed_on, func.count()).where(*_replied_in(organs, date_from, date_to))
                .group_by(dim, a.received_on, a.closed_on)):
            items[key].days[_reply_days(received_on, closed_on, cache)] += n
    for key, n in await session.execute(
            select(dim, func.count()).where(_in_scope(organs), *_open_overdue(today)).group_by(dim)):
        overdue_now[key] += n
    labels, extra = await _labels(session, by, organs)
    keys = list(labels)  # every organ of the scope / every code, zeros included: charts keep their categories
    keys += sorted(k for k in {*items, *overdue_now} if k not in labels)
    return {**_meta(organ_code, include_subordinates, date_from, date_to), "by": by, "as_of": today,
            "items": [{"key": k, "label": labels.get(k, k), **extra.get(k, {}),
                       **items[k].as_dict(with_money=False), "overdue_now": overdue_now[k]} for k in keys]}


async def _labels(session: AsyncSession, by: str,
                  organs: list[str]) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    if by == "channel":
        return CHANNEL_LABELS, {}
    if by == "applicant_type":
        return {k: v for k, v in APPLICANT_LABELS.items() if k != "total"}, {}
    rows = (await session.execute(select(OrganFact).where(OrganFact.code.in_(organs))
                                  .order_by(OrganFact.path))).scalars().all()
    return ({o.code: o.name for o in rows},
            {o.code: {"parent_code": o.parent_code, "depth": o.path.strip("/").count("/")} for o in rows})


def _open_overdue(today: date) -> list[Any]:
    a = ApplicationFact
    return [a.closed_on.is_(None), a.status.not_in(CLOSED), a.due_on < today]


async def overdue(session: AsyncSession, organ_code: str, include_subordinates: bool, today: date) -> dict[str, Any]:
    organs = await _scope(session, organ_code, include_subordinates)
    a = ApplicationFact
    rows = (await session.execute(
        select(a.organ_code, func.count(), func.min(a.due_on)).where(_in_scope(organs), *_open_overdue(today))
        .group_by(a.organ_code))).all()
    names = dict((await session.execute(select(OrganFact.code, OrganFact.name)
                                        .where(OrganFact.code.in_([r[0] for r in rows])))).all())
    items = sorted(({"organ_code": code, "organ_name": names.get(code, code), "overdue": n,
                     "oldest_due_on": _as_date(oldest), "max_days_overdue": (today - _as_date(oldest)).days}
                    for code, n, oldest in rows), key=lambda i: (-i["overdue"], i["organ_code"]))
    return {"organ_code": organ_code, "include_subordinates": include_subordinates, "as_of": today,
            "total": sum(i["overdue"] for i in items), "items": items}
