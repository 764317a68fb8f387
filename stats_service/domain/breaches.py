"""Statutory breaches (违规记录, legal-rules §1.13) per organ, month and breach code, for supervision (条例第四十七条
督促整改) and the organ scorecards; and the drill-down to the breaches behind each count.

What is counted: the breaches the request service recorded on applications (BreachFact, one row per entry of an
application's `breaches`, as of its latest snapshot), by the day of the act (`occurred_on`, e.g. the day a late 补正
notice was sent) and under the application's organ. Each breach counts once, whatever replays the feed had (ingest
replaces an application's rows). Roll-ups follow the current hierarchy, as every report and dashboard does
(report.organ_scope): `include_subordinates` counts the organ and all its subordinates, and per organ the response
gives both its own count and its subtree's.

Queries are bounded like the other dashboards: the organ scope (`organ_code IN (…)`) and one year or month on the
indexed (organ_code, occurred_on); grouped by organ, day and code, never one row per application, except the
drill-down, which pages.
"""

from collections import Counter, defaultdict
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from stats_service.domain.report import organ_scope
from stats_service.domain.workdays import working_days_between
from stats_service.models import BreachFact, OrganFact
from stats_service.vocab import BREACH_ARTICLES, Breach

__all__ = ["breach_records", "breaches"]


def _months(year: int, month: int | None) -> list[tuple[str, date, date]]:
    """(label, first day, last day) of each month of the year, or of the one month asked for."""
    out = []
    for m in [month] if month else range(1, 13):
        first = date(year, m, 1)
        last = date(year + m // 12, m % 12 + 1, 1) - timedelta(days=1)
        out.append((f"{year}-{m:02d}", first, last))
    return out


def _counts(counter: Counter) -> dict[str, Any]:
    return {"total": sum(counter.values()), "by_code": {code: n for code, n in sorted(counter.items()) if n}}


async def breaches(session: AsyncSession, organ_code: str, include_subordinates: bool, year: int,
                   month: int | None) -> dict[str, Any]:
    organs = await organ_scope(session, organ_code, include_subordinates)
    months = _months(year, month)
    start, end = months[0][1], months[-1][2]
    b = BreachFact
    per_month: dict[str, Counter] = {label: Counter() for label, _, _ in months}
    per_organ: dict[str, Counter] = defaultdict(Counter)
    cells: Counter = Counter()
    total: Counter = Counter()
    articles: dict[str, str] = {}
    for organ, day, code, article, n in await session.execute(
            select(b.organ_code, b.occurred_on, b.code, b.article, func.count())
            .where(b.organ_code.in_(organs), b.occurred_on.between(start, end))
            .group_by(b.organ_code, b.occurred_on, b.code, b.article)):
        period = f"{day.year}-{day.month:02d}"
        per_month[period][code] += n
        per_organ[organ][code] += n
        cells[(organ, period, code)] += n
        total[code] += n
        articles.setdefault(code, article)
    rows = (await session.execute(select(OrganFact.code, OrganFact.name, OrganFact.parent_code, OrganFact.path)
                                  .where(OrganFact.code.in_(organs)).order_by(OrganFact.path))).all()
    # An organ's subtree: every organ of the scope whose path passes through it.
    subtree: Counter = Counter()
    for code, _, _, path in rows:
        n = sum(per_organ[code].values())
        for ancestor in path.strip("/").split("/"):
            subtree[ancestor] += n
    known = {str(term): {"code": str(term), "zh": term.zh, "en": term.en, "article": BREACH_ARTICLES[term]}
             for term in Breach}
    # A code the request service records but this list does not know yet is counted all the same, under its code.
    unknown = {code: {"code": code, "zh": code, "en": code, "article": articles[code]}
               for code in sorted(articles) if code not in known}
    return {
        "organ_code": organ_code, "include_subordinates": include_subordinates, "year": year, "month": month,
        "codes": [*known.values(), *unknown.values()],
        "months": [{"period": label, "start": first, "end": last, **_counts(per_month[label])}
                   for label, first, last in months],
        "by_organ": [{"key": code, "label": name, "parent_code": parent, "depth": path.strip("/").count("/"),
                      **_counts(per_organ[code]), "subtree_total": subtree[code]}
                     for code, name, parent, path in rows],
        "cells": [{"organ_code": organ, "period": period, "code": code, "count": n}
                  for (organ, period, code), n in sorted(cells.items())],
        "totals": _counts(total),
    }


async def breach_records(session: AsyncSession, organ_code: str, include_subordinates: bool, year: int,
                         month: int | None, code: str | None, limit: int, offset: int) -> dict[str, Any]:
    """The breaches behind one count of `breaches` (same scope, year or month, and code): `total` equals it."""
    organs = await organ_scope(session, organ_code, include_subordinates)
    months = _months(year, month)
    b = BreachFact
    stmt = select(b).where(b.organ_code.in_(organs), b.occurred_on.between(months[0][1], months[-1][2]))
    if code:
        stmt = stmt.where(b.code == code)
    total = (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    facts = (await session.execute(stmt.order_by(b.occurred_on, b.application_id, b.seq).limit(limit)
                                   .offset(offset))).scalars()
    items = [{"application_id": f.application_id, "organ_code": f.organ_code, "code": f.code, "article": f.article,
              "occurred_on": f.occurred_on, "due_on": f.due_on,
              "working_days_late": working_days_between(f.due_on, f.occurred_on) if f.due_on else None}
             for f in facts]
    return {"organ_code": organ_code, "include_subordinates": include_subordinates, "year": year, "month": month,
            "code": code, "total": total, "items": items}
