"""考评 · organ scorecards against an indicator sheet, their drill-down, sibling ranking, and the sheets themselves.
What each figure counts: stats_service.domain.scorecard."""

from datetime import date
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status

from services.auth import PrincipalDep
from services.db import SessionDep
from services.errors import Forbidden, Unauthorized, UnprocessableEntity, problem_responses
from services.pagination import PageParams, page_of, page_params
from stats_service.domain import access, scorecard, scorecard_exports
from stats_service.domain.dates import today
from stats_service.schemas import (
    MetricName,
    RankingRead,
    RemindersRead,
    ScorecardRead,
    ScoreRecordsRead,
    SeriesRead,
    SheetIn,
    SheetRead,
    SheetsRead,
)

PREFIX = "/api/v1/stats"
router = APIRouter(prefix=PREFIX, tags=["scorecards"])
ROLES = {"stats_officer", "auditor", "admin", "unit_head"}
OrganCode = Annotated[str, Path(min_length=9, max_length=18, pattern="^[0-9A-Z]+$")]
AsOf = Annotated[date | None, Query(description="The day D (default today, Beijing): only facts dated on or before D "
                                                "count, so a past day's scorecard is reproducible")]
From = Annotated[date | None, Query(alias="from", description="First day of the period (default 1 January of D's "
                                                              "year)")]
SheetId = Annotated[str | None, Query(pattern="^[a-z0-9][a-z0-9-]{1,63}$",
                                      description=f"indicator sheet (default `{scorecard.DEFAULT_SHEET}`)")]
SheetVersion = Annotated[int | None, Query(ge=1, le=1_000_000, description="sheet version (default the latest)")]
Subordinates = Annotated[bool, Query(description="roll up the organ's subordinates (default false: its own records)")]
_ERRORS = problem_responses(401, 403, 404, 422)


def _period(date_from: date | None, as_of: date | None) -> tuple[date | None, date]:
    day = as_of or today()
    if date_from is not None and date_from > day:
        raise UnprocessableEntity("`from` must not be after `as_of`.",
                                  errors=[{"loc": ["query", "from"], "msg": "after as_of", "type": "value_error"}])
    return date_from, day


@router.get("/scorecards/{organ_code}", summary="An organ's scorecard (考评) on day D against an indicator sheet",
            response_model=ScorecardRead, responses=_ERRORS)
async def get_scorecard(organ_code: OrganCode, session: SessionDep, principal: PrincipalDep, as_of: AsOf = None,
                        date_from: From = None, sheet: SheetId = None, sheet_version: SheetVersion = None,
                        include_subordinates: Subordinates = False) -> dict:
    """Every indicator of the sheet with its figure, pass/fail, points, whether it is 单项否决 and vetoes the card,
    its source, and the URL of the records behind it; the total, the pass mark and the verdict (pass / fail /
    vetoed). Staff of the organ or a superior organ."""
    await access.require_scope(session, principal, organ_code, ROLES)
    start, day = _period(date_from, as_of)
    return await scorecard.scorecard(session, organ_code, include_subordinates, start, day, sheet, sheet_version)


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _file_headers(card: dict, ext: str, *, attachment: bool) -> dict[str, str]:
    ascii_name = f"scorecard-{card['organ_code']}-{card['as_of'].isoformat()}.{ext}"
    return {"Content-Disposition": f"{'attachment' if attachment else 'inline'}; filename=\"{ascii_name}\"; "
                                   f"filename*=UTF-8''{quote(f'{scorecard_exports.title(card)}.{ext}')}"}


@router.get("/scorecards/{organ_code}/export.xlsx", summary="The scorecard as XLSX", response_class=Response,
            responses={200: {"content": {XLSX: {"schema": {"type": "string", "format": "binary"}}}}, **_ERRORS})
async def export_scorecard_xlsx(organ_code: OrganCode, session: SessionDep, principal: PrincipalDep,
                                as_of: AsOf = None, date_from: From = None, sheet: SheetId = None,
                                sheet_version: SheetVersion = None,
                                include_subordinates: Subordinates = False) -> Response:
    """The same card as the JSON (same parameters, same access): one row per indicator, numbers as numbers."""
    card = await get_scorecard(organ_code, session, principal, as_of, date_from, sheet, sheet_version,
                               include_subordinates)
    return Response(scorecard_exports.render_xlsx(card), media_type=XLSX,
                    headers=_file_headers(card, "xlsx", attachment=True))


@router.get("/scorecards/{organ_code}/export.html", summary="The scorecard as a printable page with its chart",
            response_class=Response,
            responses={200: {"content": {"text/html": {"schema": {"type": "string"}}}}, **_ERRORS})
async def export_scorecard_html(organ_code: OrganCode, session: SessionDep, principal: PrincipalDep,
                                as_of: AsOf = None, date_from: From = None, sheet: SheetId = None,
                                sheet_version: SheetVersion = None,
                                include_subordinates: Subordinates = False) -> Response:
    """For the leadership meeting: verdict, points per indicator as a bar chart drawn on the server (inline SVG,
    nothing from a CDN, no script), the table with sources; print rules inline."""
    card = await get_scorecard(organ_code, session, principal, as_of, date_from, sheet, sheet_version,
                               include_subordinates)
    return Response(scorecard_exports.render_html(card), media_type="text/html; charset=utf-8",
                    headers=_file_headers(card, "html", attachment=False))


@router.get("/scorecards/{organ_code}/metrics/{metric}/records",
            summary="The records behind a scorecard figure (drill-down)", response_model=ScoreRecordsRead,
            responses=_ERRORS)
async def list_scorecard_records(organ_code: OrganCode, metric: MetricName, session: SessionDep,
                                 principal: PrincipalDep, request: Request, response: Response,
                                 paging: Annotated[PageParams, Depends(page_params(50, 200))], as_of: AsOf = None,
                                 date_from: From = None, include_subordinates: Subordinates = False) -> dict:
    """Count metrics: the counted records (`total` equals the figure). Rates: every record of the denominator with
    `counted` (in the numerator or not); `total` equals the denominator."""
    await access.require_scope(session, principal, organ_code, ROLES)
    start, day = _period(date_from, as_of)
    records, figure = await scorecard.metric_records(session, organ_code, include_subordinates, start, day, metric)
    return page_of(request, response, records, paging, key=lambda r: f"{r['record_type']}:{r['id']}", **figure)


@router.get("/scorecards/{organ_code}/ranking", summary="Ranking of an organ's direct subordinates (排名)",
            response_model=RankingRead, responses=_ERRORS)
async def get_scorecard_ranking(organ_code: OrganCode, session: SessionDep, principal: PrincipalDep,
                                as_of: AsOf = None, date_from: From = None, sheet: SheetId = None,
                                sheet_version: SheetVersion = None) -> dict:
    """Each direct subordinate scored over its whole subtree (roll-up) on the same sheet and day, not vetoed before
    vetoed, then by points; equal cards share a rank."""
    await access.require_scope(session, principal, organ_code, ROLES)
    start, day = _period(date_from, as_of)
    return await scorecard.ranking(session, organ_code, start, day, sheet, sheet_version)


Month = Annotated[str | None, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM")]


def _month(value: str) -> tuple[int, int]:
    year, month = value.split("-")
    return int(year), int(month)


@router.get("/scorecards/{organ_code}/series", summary="The scorecard month by month (月度走势)",
            response_model=SeriesRead, responses=_ERRORS)
async def get_scorecard_series(organ_code: OrganCode, session: SessionDep, principal: PrincipalDep,
                               month_from: Annotated[Month, Query(alias="from")] = None,
                               month_to: Annotated[Month, Query(alias="to")] = None, sheet: SheetId = None,
                               sheet_version: SheetVersion = None,
                               include_subordinates: Subordinates = False) -> dict:
    """The card as of each month's last day (the current month: today) from `from` to `to` (default: January to
    this month), each over its year to date; at most 36 months."""
    await access.require_scope(session, principal, organ_code, ROLES)
    day = today()
    last = _month(month_to) if month_to else (day.year, day.month)
    first = _month(month_from) if month_from else (last[0], 1)
    months = (last[0] - first[0]) * 12 + last[1] - first[1] + 1
    if months < 1 or months > scorecard.MAX_SERIES_MONTHS:
        raise UnprocessableEntity(f"`from` must not be after `to`, and at most {scorecard.MAX_SERIES_MONTHS} months.",
                                  errors=[{"loc": ["query", "from"], "msg": "1 to 36 months", "type": "value_error"}])
    return await scorecard.series(session, organ_code, include_subordinates, first, last, day, sheet, sheet_version)


@router.get("/scorecards/{organ_code}/reminders", summary="What to fix first (提醒清单): the failing indicators",
            response_model=RemindersRead, responses=_ERRORS)
async def get_scorecard_reminders(organ_code: OrganCode, session: SessionDep, principal: PrincipalDep,
                                  as_of: AsOf = None, date_from: From = None, sheet: SheetId = None,
                                  sheet_version: SheetVersion = None, include_subordinates: Subordinates = False,
                                  top: Annotated[int, Query(ge=1, le=50, description="records per indicator")] = 5,
                                  ) -> dict:
    """Failing indicators, 单项否决 first, then by points lost; each with its first records to fix (for a rule
    `<=` the counted records, for `>=` the uncounted ones) and the drill-down URL for all of them."""
    await access.require_scope(session, principal, organ_code, ROLES)
    start, day = _period(date_from, as_of)
    return await scorecard.reminders(session, organ_code, include_subordinates, start, day, sheet, sheet_version,
                                     top)


@router.get("/scorecard-sheets", summary="Indicator sheets (考评指标表)", response_model=SheetsRead,
            responses=problem_responses(401, 403))
async def list_scorecard_sheets(session: SessionDep, principal: PrincipalDep) -> dict:
    _require_any(principal, ROLES)
    return {"sheets": await scorecard.list_sheets(session)}


@router.get("/scorecard-sheets/{sheet_id}", summary="One indicator sheet", response_model=SheetRead,
            responses=problem_responses(401, 403, 404, 422))
async def get_scorecard_sheet(sheet_id: Annotated[str, Path(pattern="^[a-z0-9][a-z0-9-]{1,63}$")],
                              session: SessionDep, principal: PrincipalDep, version: SheetVersion = None) -> dict:
    _require_any(principal, ROLES)
    return await scorecard.load_sheet(session, sheet_id, version)


@router.post("/scorecard-sheets", summary="Load a province's indicator sheet (a new version of its id)",
             status_code=status.HTTP_201_CREATED, response_model=SheetRead,
             responses=problem_responses(401, 403, 409, 422))
async def create_scorecard_sheet(body: SheetIn, session: SessionDep, principal: PrincipalDep) -> dict:
    """Admins only. The sheet is data: indicators naming metrics, pass rules, points, 单项否决 flags and sources;
    a built-in id is refused (409 `sheet_builtin`). Earlier versions stay, so past scorecards can be reproduced."""
    _require_any(principal, {"admin"})
    return await scorecard.store_sheet(session, body.model_dump(), principal.sub)


def _require_any(principal, roles: set[str]) -> None:
    if principal.is_anonymous:
        raise Unauthorized("This operation needs a bearer token.", code="authentication_required")
    if not principal.has_any(roles):
        raise Forbidden(f"This needs one of the roles: {', '.join(sorted(roles))}.")
