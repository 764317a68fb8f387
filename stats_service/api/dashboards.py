"""Dashboards for staff (JSON for charts): time series, breakdowns by organ / channel / applicant type, overdue now,
publication timeliness of proactive documents, statutory breaches (违规记录) per organ and month.
Definitions of every figure are in stats_service.domain.dashboards (breaches: stats_service.domain.breaches)."""

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from services.auth import PrincipalDep
from services.errors import problem_responses
from services.replicas import ReplicaSessionDep
from stats_service.domain import access, breaches, dashboards
from stats_service.domain.dates import today
from stats_service.schemas import (
    BreachesRead,
    BreachRecordsRead,
    BreakdownRead,
    OverdueRead,
    TimelinessRead,
    TimeseriesRead,
)

PREFIX = "/api/v1/stats"
router = APIRouter(prefix=f"{PREFIX}/dashboards", tags=["dashboards"])
ROLES = {"stats_officer", "auditor", "admin", "unit_head"}
OrganCode = Annotated[str, Path(min_length=9, max_length=18, pattern="^[0-9A-Z]+$")]
From = Annotated[date | None, Query(alias="from", description="First day (default: the 1st of the month 11 months "
                                                              "before `to`)")]
To = Annotated[date | None, Query(alias="to", description="Last day, included (default: today); at most 3 years "
                                                          "after `from` (422 beyond)")]
Subordinates = Annotated[bool, Query(description="include all subordinate organs (default true)")]

_WD = {"source": "chinese_calendar", "provisional_years": [], "note": dashboards.WORKING_DAYS_NOTE}
_FIGURES = {"received": 41, "closed": 38, "replied": 35, "closed_with_due": 38, "closed_on_time": 36,
            "on_time_rate": 0.9474, "avg_working_days": 12.4, "median_working_days": 11.0}
_PERIOD = {**_FIGURES, "outcomes": {"granted": 20, "partially_granted": 6, "unable.not_held": 9,
                                    "other.no_supplement": 3},
           "fees_noticed": 1, "fees_noticed_yuan": "100.00", "fees_collected_yuan": "100.00",
           "documents_published": 57}
TIMESERIES_EXAMPLE = {
    "organ_code": "11440100MS0000001A", "include_subordinates": True, "from": "2026-01-01", "to": "2026-02-28",
    "working_days": _WD, "granularity": "month",
    "series": [{"period": "2026-01", "start": "2026-01-01", "end": "2026-01-31", **_PERIOD},
               {"period": "2026-02", "start": "2026-02-01", "end": "2026-02-28", **_PERIOD}],
    "totals": {**_PERIOD, "received": 82, "closed": 76, "replied": 70, "closed_with_due": 76, "closed_on_time": 72,
               "outcomes": {"granted": 40, "partially_granted": 12, "unable.not_held": 18, "other.no_supplement": 6},
               "fees_noticed": 2, "fees_noticed_yuan": "200.00", "fees_collected_yuan": "200.00",
               "documents_published": 114},
}
BREAKDOWN_EXAMPLE = {
    "organ_code": "11440100MS0000001A", "include_subordinates": True, "from": "2026-01-01", "to": "2026-12-31",
    "working_days": _WD, "by": "organ", "as_of": "2026-11-22",
    "items": [{"key": "11440100MS0000001A", "label": "示例市人民政府", "parent_code": None, "depth": 0, **_FIGURES,
               "overdue_now": 0},
              {"key": "11440100MS0000002B", "label": "示例市财政局", "parent_code": "11440100MS0000001A", "depth": 1,
               **_FIGURES, "overdue_now": 2}],
}
OVERDUE_EXAMPLE = {
    "organ_code": "11440100MS0000001A", "include_subordinates": True, "as_of": "2026-11-22", "total": 3,
    "items": [{"organ_code": "11440100MS0000002B", "organ_name": "示例市财政局", "overdue": 2,
               "oldest_due_on": "2026-11-02", "max_days_overdue": 20},
              {"organ_code": "11440100MS0000003C", "organ_name": "示例街道", "overdue": 1,
               "oldest_due_on": "2026-11-20", "max_days_overdue": 2}],
}

_ON_TIME = {"published": 12, "with_due_date": 11, "on_time": 9, "late": 2, "no_due_date": 1, "on_time_rate": 0.8182,
            "avg_days_late": 4.5, "max_days_late": 6, "avg_working_days_late": 3.0}
_LATE = {"published": 3, "with_due_date": 3, "on_time": 2, "late": 1, "no_due_date": 0, "on_time_rate": 0.6667,
         "avg_days_late": 3.0, "max_days_late": 3, "avg_working_days_late": 2.0}
TIMELINESS_EXAMPLE = {
    "organ_code": "11440100MS0000001A", "include_subordinates": True, "from": "2026-01-01", "to": "2026-02-28",
    "working_days": _WD, "granularity": "month",
    "series": [{"period": "2026-01", "start": "2026-01-01", "end": "2026-01-31", **_ON_TIME},
               {"period": "2026-02", "start": "2026-02-01", "end": "2026-02-28", **_LATE}],
    "by_organ": [{"key": "11440100MS0000001A", "label": "示例市人民政府", "parent_code": None, "depth": 0,
                  **_ON_TIME},
                 {"key": "11440100MS0000002B", "label": "示例市财政局", "parent_code": "11440100MS0000001A",
                  "depth": 1, **_LATE}],
    "totals": {"published": 15, "with_due_date": 14, "on_time": 11, "late": 3, "no_due_date": 1,
               "on_time_rate": 0.7857, "avg_days_late": 4.0, "max_days_late": 6, "avg_working_days_late": 2.67},
}


def _example(example: dict) -> dict:
    return {200: {"content": {"application/json": {"example": example}}}, **problem_responses(401, 403, 404, 422)}


async def _range(session: ReplicaSessionDep, principal: PrincipalDep, organ_code: str, date_from: date | None,
                 date_to: date | None) -> tuple[date, date]:
    await access.require_scope(session, principal, organ_code, ROLES)
    end = date_to or today()
    return date_from or dashboards.default_range(end)[0], end


@router.get("/{organ_code}/timeseries", summary="Applications, replies, on-time rate, fees per period",
            response_model=TimeseriesRead, responses=_example(TIMESERIES_EXAMPLE))
async def get_dashboard_timeseries(
        organ_code: OrganCode, session: ReplicaSessionDep, principal: PrincipalDep, date_from: From = None,
        date_to: To = None, include_subordinates: Subordinates = True,
        granularity: Annotated[Literal["month", "quarter", "year"], Query()] = "month") -> dict:
    """Per period (every period of the range, zeros included) and in total: received, closed and replied, outcomes,
    on-time rate (closed on or before due_on / closed with a due date), mean and median working days from receipt
    to reply, fee notices and amounts, public documents published. Staff of the organ or a superior organ."""
    start, end = await _range(session, principal, organ_code, date_from, date_to)
    return await dashboards.timeseries(session, organ_code, include_subordinates, start, end, granularity)


@router.get("/{organ_code}/breakdown", summary="The same figures by organ, channel or applicant type",
            response_model=BreakdownRead, responses=_example(BREAKDOWN_EXAMPLE))
async def get_dashboard_breakdown(
        organ_code: OrganCode, session: ReplicaSessionDep, principal: PrincipalDep,
        by: Annotated[Literal["organ", "channel", "applicant_type"], Query()], date_from: From = None,
        date_to: To = None, include_subordinates: Subordinates = True) -> dict:
    """One item per organ of the subtree (in hierarchy order, with parent and depth), per intake channel or per
    applicant type (every code, zeros included), with the figures over the range and the open applications overdue
    today."""
    start, end = await _range(session, principal, organ_code, date_from, date_to)
    return await dashboards.breakdown(session, organ_code, include_subordinates, by, start, end, today())


@router.get("/{organ_code}/overdue", summary="Open applications past their due date, by organ",
            response_model=OverdueRead, responses=_example(OVERDUE_EXAMPLE))
async def get_dashboard_overdue(organ_code: OrganCode, session: ReplicaSessionDep, principal: PrincipalDep,
                                include_subordinates: Subordinates = True) -> dict:
    await access.require_scope(session, principal, organ_code, ROLES)
    return await dashboards.overdue(session, organ_code, include_subordinates, today())


@router.get("/{organ_code}/publication-timeliness",
            summary="Proactive documents published on time or late (条例第二十六条), by period and organ",
            response_model=TimelinessRead, responses=_example(TIMELINESS_EXAMPLE))
async def get_dashboard_publication_timeliness(
        organ_code: OrganCode, session: ReplicaSessionDep, principal: PrincipalDep, date_from: From = None,
        date_to: To = None, include_subordinates: Subordinates = True,
        granularity: Annotated[Literal["month", "quarter", "year"], Query()] = "month") -> dict:
    """Public documents by the day they were published (Asia/Shanghai): on time (on or before the catalogue's
    publication_due_on, 20 working days after 形成或者变更之日), late, or without a due date; on-time rate and
    days late (calendar and working days, late documents only) per period, per organ of the subtree (hierarchy
    order, zeros included) and in total. Unpublished overdue records are the catalogue's work-list."""
    start, end = await _range(session, principal, organ_code, date_from, date_to)
    return await dashboards.publication_timeliness(session, organ_code, include_subordinates, start, end,
                                                   granularity)


_LATE = {"code": "late_supplement_notice", "count": 1}
BREACHES_EXAMPLE = {
    "organ_code": "11440100MS0000001A", "include_subordinates": True, "year": 2025, "month": 10,
    "codes": [{"code": "late_supplement_notice", "zh": "补正告知超过收到申请之日起7个工作日（条例第三十条）",
               "en": "Supplement notice later than 7 working days after receipt (Art. 30)", "article": "条例第三十条"}],
    "months": [{"period": "2025-10", "start": "2025-10-01", "end": "2025-10-31", "total": 2,
                "by_code": {"late_supplement_notice": 2}}],
    "by_organ": [{"key": "11440100MS0000001A", "label": "示例市人民政府", "parent_code": None, "depth": 0, "total": 0,
                  "by_code": {}, "subtree_total": 2},
                 {"key": "11440100MS0000002B", "label": "示例市财政局", "parent_code": "11440100MS0000001A", "depth": 1,
                  "total": 2, "by_code": {"late_supplement_notice": 2}, "subtree_total": 2}],
    "cells": [{"organ_code": "11440100MS0000002B", "period": "2025-10", **_LATE, "count": 2}],
    "totals": {"total": 2, "by_code": {"late_supplement_notice": 2}},
}
Year = Annotated[int | None, Query(ge=2000, le=2100, description="Calendar year (default: this year)")]
Month = Annotated[int | None, Query(ge=1, le=12, description="One month of the year (default: every month)")]


@router.get("/{organ_code}/breaches", summary="Statutory breaches (违规记录) per organ, month and breach code",
            response_model=BreachesRead, responses=_example(BREACHES_EXAMPLE))
async def get_dashboard_breaches(organ_code: OrganCode, session: ReplicaSessionDep, principal: PrincipalDep,
                                 year: Year = None, month: Month = None,
                                 include_subordinates: Subordinates = True) -> dict:
    """Acts the 条例 allows but makes breaches, as the request service recorded them on applications (legal-rules
    §1.13; e.g. a 补正 notice later than 7 working days after receipt, 条例第三十条), by the day of the act: per
    month (zeros included), per organ of the scope (hierarchy order, own and subtree counts), per organ × month ×
    code (non-zero cells), and in total, with the zh/en label and article of every code. Each count has its
    drill-down at `…/breaches/applications`. Staff of the organ or a superior organ."""
    await access.require_scope(session, principal, organ_code, ROLES)
    return await breaches.breaches(session, organ_code, include_subordinates, year or today().year, month)


@router.get("/{organ_code}/breaches/applications", summary="The breaches (and applications) behind a breach count",
            response_model=BreachRecordsRead, responses=_example({
                "organ_code": "11440100MS0000002B", "include_subordinates": False, "year": 2025, "month": 10,
                "code": "late_supplement_notice", "total": 1,
                "items": [{"application_id": "0b7d6a2e-3f1c-4c55-9a53-6d1f2f0e8a11", "organ_code": "11440100MS0000002B",
                           "code": "late_supplement_notice", "article": "条例第三十条", "occurred_on": "2025-10-14",
                           "due_on": "2025-10-13", "working_days_late": 1}]}))
async def list_dashboard_breach_records(
        organ_code: OrganCode, session: ReplicaSessionDep, principal: PrincipalDep, year: Year = None,
        month: Month = None,
        code: Annotated[str | None, Query(pattern="^[a-z_]{1,48}$", description="one breach code (default: all)")]
        = None, include_subordinates: Subordinates = True, limit: Annotated[int, Query(ge=1, le=100)] = 50,
        offset: Annotated[int, Query(ge=0, le=100_000)] = 0) -> dict:
    """One item per breach (its application, organ, article, the day of the act, the day it was due by and the
    working days between), for the same scope, year or month and code as a count of `…/breaches`: `total` equals
    that count. No personal data: the application is named by its id."""
    await access.require_scope(session, principal, organ_code, ROLES)
    return await breaches.breach_records(session, organ_code, include_subordinates, year or today().year, month,
                                         code, limit, offset)
