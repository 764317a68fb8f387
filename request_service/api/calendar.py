"""The working-day calendar (工作日历): public arithmetic and year arrangements; admins load official years."""

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from request_service.domain import calendar_admin as domain
from services.auth import Principal, require_roles
from services.concurrency import etag
from services.db import SessionDep
from services.errors import problem_responses
from services.replicas import replica_session

PREFIX = "/api/v1/requests/calendar"
router = APIRouter(prefix=PREFIX, tags=["calendar"])

AdminDep = Annotated[Principal, Depends(require_roles("admin"))]
# Public look-ups of the calendar on a read replica (只读副本); the admin who loads a year reads the primary (the
# ETag of what they just loaded feeds their next If-Match).
CalendarReadSessionDep = Annotated[AsyncSession, Depends(replica_session(allowed=lambda p: not p.has_any({"admin"})),
                                                         scope="function")]
Year = Annotated[int, Path(ge=2000, le=2100, description="Calendar year, e.g. 2027")]
IfMatch = Annotated[str | None, Header(min_length=1,  # an empty one is no ETag: 422, not a 428 the route never sends
                                       description="Optional: ETag of the year you read; a stale one is a 412")]


class SkippedDay(BaseModel):
    date: dt.date
    reason: str = Field(description="weekend | holiday")
    name: str | None = Field(description="The holiday's name (春节, 国庆节 …); null for an ordinary weekend")


class WorkingDaysRead(BaseModel):
    start: dt.date
    days: int
    date: dt.date = Field(description="The N-th working day after start (day 1 = first working day after start)")
    provisional: bool = Field(description="True when a day counted or skipped lies in a year whose arrangement "
                                          "is not official yet (weekends and fixed-date holidays only)")
    skipped: list[SkippedDay] = Field(description="Non-working days passed over, in order")


class NamedDay(BaseModel):
    model_config = ConfigDict(extra="forbid")

    date: dt.date
    name: str = Field(min_length=1, max_length=50, description="e.g. 春节")


class CalendarYearRead(BaseModel):
    year: int
    status: str = Field(description="official (国务院办公厅 notice loaded) | provisional")
    source: str | None = Field(description="chinese-calendar (package data) | admin | null (no arrangement)")
    notice: str | None = Field(description="The notice, e.g. 国办发明电〔2024〕12号")
    loaded_by: str | None
    loaded_at: dt.datetime | None
    version: int = Field(description="0 for a year with no stored arrangement")
    holidays: list[NamedDay] = Field(description="Days off that are not ordinary weekends (and holiday weekends)")
    makeup_workdays: list[NamedDay] = Field(description="Weekend days worked (调休上班)")


class CalendarYearLoad(BaseModel):
    model_config = ConfigDict(extra="forbid")

    notice: str = Field(min_length=1, max_length=300,
                        description="国务院办公厅关于X年部分节假日安排的通知, with its 文号 where known")
    holidays: list[NamedDay] = Field(max_length=80)
    makeup_workdays: list[NamedDay] = Field(default_factory=list, max_length=40)


class RecomputedRead(BaseModel):
    application_id: str
    tracking_no: str
    due_on_before: dt.date | None
    due_on_after: dt.date | None
    provisional_before: bool
    provisional_after: bool


class CalendarYearLoaded(CalendarYearRead):
    recomputed: list[RecomputedRead] = Field(description="Open applications whose deadline changed")


def _year_read(view: domain.YearView) -> dict:
    return {"year": view.year, "status": view.status, "source": view.source, "notice": view.notice,
            "loaded_by": view.loaded_by, "loaded_at": view.loaded_at, "version": view.version,
            "holidays": [NamedDay(date=d, name=n) for d, n in view.holidays],
            "makeup_workdays": [NamedDay(date=d, name=n) for d, n in view.makeup_workdays]}


@router.get("/add-working-days", summary="The N-th working day after a date (工作日推算), with the days skipped",
            response_model=WorkingDaysRead, responses=problem_responses(422))
async def add_working_days(
    session: CalendarReadSessionDep,
    start: Annotated[dt.date, Query(description="Start date (YYYY-MM-DD), e.g. the receipt date; not counted")],
    days: Annotated[int, Query(ge=0, le=400, description="Working days to add (0–400)")],
) -> WorkingDaysRead:
    answer = await domain.add_working_days(session, start, days)
    return WorkingDaysRead(start=answer.start, days=answer.days, date=answer.date, provisional=answer.provisional,
                           skipped=[SkippedDay(date=d.day, reason=d.reason, name=d.name or None)
                                    for d in answer.skipped])


@router.get("/years/{year}", summary="A year's holiday arrangement (节假日安排) and whether it is official",
            response_model=CalendarYearRead, responses=problem_responses(422))
async def get_calendar_year(year: Year, session: CalendarReadSessionDep, response: Response) -> CalendarYearRead:
    view = await domain.year_view(session, year)
    response.headers["ETag"] = etag(view.version)
    return CalendarYearRead(**_year_read(view))


@router.put("/years/{year}", summary="Load a year's official arrangement from the State Council notice (admin)",
            response_model=CalendarYearLoaded, responses=problem_responses(401, 403, 412, 422))
async def put_calendar_year(year: Year, body: CalendarYearLoad, session: SessionDep, principal: AdminDep,
                            response: Response, if_match: IfMatch = None) -> CalendarYearLoaded:
    view, changed = await domain.load_year(
        session, principal, year, notice=body.notice, if_match=if_match,
        holidays=[(d.date, d.name) for d in body.holidays], makeups=[(d.date, d.name) for d in body.makeup_workdays])
    response.headers["ETag"] = etag(view.version)
    return CalendarYearLoaded(**_year_read(view), recomputed=[RecomputedRead(**vars(c)) for c in changed])
