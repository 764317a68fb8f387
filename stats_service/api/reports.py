"""Annual reports: the JSON contract, drill-down, figures entered by staff, sign-off, reminders."""

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response

from services.auth import PrincipalDep
from services.concurrency import etag
from services.db import SessionDep
from services.errors import NotFound, problem_responses
from services.pagination import Page, PageParams, ShortListPaging, page_of, page_params, paged
from services.replicas import ReplicaSessionDep
from services.vocab import ConsultationChannel, Term, vocabulary
from stats_service.deps import ReportReadSessionDep
from stats_service.domain import access, signoff
from stats_service.domain.dates import today
from stats_service.domain.report import build_report, drill_down, organ_scope
from stats_service.schemas import (
    AnnualReportRead,
    CellRead,
    Discrepancy,
    FiguresUpdate,
    Reminder,
    ReportLayoutRead,
    ReportStatusRead,
)
from stats_service.vocab import AppealKind, AppealOutcome, Table3Column, Table3Row

PREFIX = "/api/v1/stats"
router = APIRouter(prefix=PREFIX, tags=["annual reports"])
OrganCode = Annotated[str, Path(min_length=9, max_length=18, pattern="^[0-9A-Z]+$")]
Year = Annotated[int, Path(ge=2000, le=2100)]
Subordinates = Annotated[bool, Query(description="roll up over the organ and all its subordinates")]
IfMatch = Annotated[str | None, Header(description="ETag of the report's sign-off state (428 without it)")]


class ReportNotPublished(NotFound):
    code = "report_not_found"


@router.get("/annual-reports/layout", summary="Labels of the annual report's rows and columns (年度报告版式)",
            response_model=ReportLayoutRead)
async def get_report_layout() -> ReportLayoutRead:
    """Every row and column of tables 三 and 四 and every consultation channel with its zh/en label, in the official
    order: the report's own JSON keeps exactly the contract's keys, so its labels live here (and in /vocabularies)."""
    total = Term(code="total", zh="总计", en="Total")
    return ReportLayoutRead(
        format="2021",
        section3_columns=vocabulary(Table3Column)["table3_column"],
        section3_rows=vocabulary(Table3Row)["table3_row"],
        section4_rows=vocabulary(AppealKind)["appeal_kind"],
        section4_columns=[*vocabulary(AppealOutcome)["appeal_outcome"], total],
        consultation_channels=vocabulary(ConsultationChannel)["consultation_channel"])


@router.get("/annual-reports/{organ_code}/{year}", summary="Annual report (年度报告), 2021 format",
            response_model=AnnualReportRead, responses=problem_responses(404, 422))
async def get_annual_report(organ_code: OrganCode, year: Year, session: ReportReadSessionDep,
                            principal: PrincipalDep, response: Response,
                            include_subordinates: Subordinates = False) -> dict:
    """Staff of the organ (or a superior organ) see live figures while the report is a draft; once published,
    everyone gets the frozen published figures (later events show up at /discrepancies). The public sees
    published reports only."""
    report = await signoff.get_or_create(session, organ_code, year, include_subordinates)
    status = report.status if report else "draft"
    response.headers["X-Report-Status"] = status
    if report is not None and report.status == "published" and report.snapshot:
        return report.snapshot
    if not await access.can_read_drafts(session, principal, organ_code):
        raise ReportNotPublished(f"No published report of {organ_code} for {year}.")
    return await build_report(session, organ_code, year, include_subordinates)


@router.get("/annual-reports/{organ_code}/{year}/cells/{row}/{column}",
            summary="The records behind one figure (drill-down)", response_model=CellRead,
            responses=problem_responses(401, 403, 404, 422))
async def get_report_cell(organ_code: OrganCode, year: Year, row: str, column: str, session: ReplicaSessionDep,
                          principal: PrincipalDep, request: Request, response: Response,
                          paging: Annotated[PageParams, Depends(page_params(50))],
                          include_subordinates: Subordinates = False) -> dict:
    await access.require_scope(session, principal, organ_code, set(access.READERS))
    cell = await drill_down(session, organ_code, year, row, column, include_subordinates, paging.limit, paging.after)
    return paged(request, response, cell.pop("items"), cell.pop("next_cursor"), has_more=cell.pop("has_more"),
                 total=cell.pop("total"), **cell)


@router.put("/annual-reports/{organ_code}/{year}/figures", summary="Enter section 二 figures and the narrative",
            response_model=AnnualReportRead, responses=problem_responses(401, 403, 404, 409, 422))
async def put_report_figures(organ_code: OrganCode, year: Year, body: FiguresUpdate, session: SessionDep,
                             principal: PrincipalDep) -> dict:
    await access.require_scope(session, principal, organ_code, {"stats_officer", "integration", "admin"})
    await organ_scope(session, organ_code, False)
    values = body.model_dump(exclude_none=True)
    figures = {k if k not in ("overview", "problems_and_improvements", "other_matters") else f"narrative.{k}": str(v)
               for k, v in values.items()}
    await signoff.enter_figures(session, principal, organ_code, year, figures)
    return await build_report(session, organ_code, year, False)


def _signoff_route(action: str, roles: set[str], summary: str) -> None:
    async def endpoint(organ_code: OrganCode, year: Year, session: SessionDep, principal: PrincipalDep,
                       response: Response, include_subordinates: Subordinates = False,
                       if_match: IfMatch = None) -> ReportStatusRead:
        await access.require_scope(session, principal, organ_code, roles)
        await organ_scope(session, organ_code, include_subordinates)
        report = await signoff.transition(session, principal, organ_code, year, include_subordinates, action,
                                          if_match)
        response.headers["ETag"] = etag(report.version)
        return ReportStatusRead.model_validate(report)

    endpoint.__name__ = f"{action}_annual_report"
    router.post(f"/annual-reports/{{organ_code}}/{{year}}/{action}", summary=summary,
                response_model=ReportStatusRead,
                responses=problem_responses(401, 403, 404, 409, 412, 428))(endpoint)


_signoff_route("submit", {"stats_officer"}, "Submit the report for sign-off (报送)")
_signoff_route("publish", {"unit_head", "admin"}, "Publish the report (公布): its figures are frozen")
_signoff_route("reopen", {"unit_head", "admin"}, "Return a submitted report to draft")


# No 404: a report that was never started reads as a draft (signoff.get_or_create).
@router.get("/annual-reports/{organ_code}/{year}/status", summary="Sign-off status of a report",
            response_model=ReportStatusRead, responses=problem_responses(401, 403))
async def get_report_status(organ_code: OrganCode, year: Year, session: SessionDep, principal: PrincipalDep,
                            response: Response, include_subordinates: Subordinates = False) -> ReportStatusRead:
    await access.require_scope(session, principal, organ_code, set(access.READERS) | {"unit_head"})
    report = await signoff.get_or_create(session, organ_code, year, include_subordinates)
    status = ReportStatusRead(organ_code=organ_code, year=year, include_subordinates=include_subordinates,
                              status=report.status if report else "draft", version=report.version if report else 1)
    response.headers["ETag"] = etag(status.version)
    return status


@router.get("/annual-reports/{organ_code}/{year}/discrepancies",
            summary="Where live figures differ from the published report", response_model=Page[Discrepancy],
            responses=problem_responses(401, 403, 404, 422))
async def list_report_discrepancies(organ_code: OrganCode, year: Year, session: ReportReadSessionDep,
                                    principal: PrincipalDep, request: Request, response: Response,
                                    paging: ShortListPaging, include_subordinates: Subordinates = False) -> dict:
    await access.require_scope(session, principal, organ_code, set(access.READERS) | {"unit_head"})
    report = await signoff.get_or_create(session, organ_code, year, include_subordinates)
    if report is None or report.status != "published":
        raise ReportNotPublished("The report is not published; there is nothing frozen to compare with.")
    return page_of(request, response, await signoff.discrepancies(session, report), paging, lambda d: d["cell"])


@router.get("/annual-reports/reminders", summary="Reporting deadlines (条例第四十九条: 1月31日 / 3月31日)",
            response_model=Page[Reminder], responses=problem_responses(401, 403, 404, 422))
async def list_report_reminders(session: ReportReadSessionDep, principal: PrincipalDep, request: Request,
                                response: Response, year: Annotated[int, Query(ge=2000, le=2100)],
                                paging: ShortListPaging,
                                organ_code: Annotated[str | None, Query(max_length=18)] = None) -> dict:
    root = organ_code or principal.organ or ""
    await access.require_scope(session, principal, root, set(access.READERS) | {"unit_head"})
    reminders = await signoff.reminders(session, await organ_scope(session, root, True), year, today())
    return page_of(request, response, reminders, paging, lambda r: r["organ_code"])
