"""Exports of the annual report in the official table layout: CSV, XLSX, printable HTML.

The paths end in `/export.<ext>` rather than `{year}.<ext>`: `/annual-reports/{organ_code}/{year}` is registered
first and its `{year}` segment matches `2026.csv` too (Starlette matches the path before FastAPI validates `year`
as an int), so `…/2026.csv` would answer 422 from the JSON route.
"""

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Response

from services.auth import PrincipalDep
from services.errors import problem_responses
from stats_service.deps import ReportReadSessionDep
from stats_service.domain.exports import ExportedReport, readable_report, render_csv, render_html, render_xlsx

PREFIX = "/api/v1/stats"
router = APIRouter(prefix=PREFIX, tags=["annual reports"])
OrganCode = Annotated[str, Path(min_length=9, max_length=18, pattern="^[0-9A-Z]+$")]
Year = Annotated[int, Path(ge=2000, le=2100)]
Subordinates = Annotated[bool, Query(description="roll up over the organ and all its subordinates")]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ACCESS = ("Same figures and access rule as the JSON report: a published report (its frozen figures) for anyone, "
          "a draft only for statistics staff of the organ or a superior organ; otherwise 404.")


def _headers(exported: ExportedReport, ext: str, *, attachment: bool) -> dict[str, str]:
    """The Chinese file name (RFC 6266 filename*), with an ASCII one for old clients."""
    report = exported.report
    ascii_name = f"annual-report-{report['organ_code']}-{report['year']}.{ext}"
    disposition = "attachment" if attachment else "inline"
    return {"X-Report-Status": exported.status,
            "Content-Disposition": f"{disposition}; filename=\"{ascii_name}\"; "
                                   f"filename*=UTF-8''{quote(f'{exported.title}.{ext}')}"}


@router.get("/annual-reports/{organ_code}/{year}/export.csv", summary="Annual report as CSV (official layout)",
            description=f"{ACCESS} UTF-8 with a BOM so that Excel shows the Chinese labels; one block per table "
                        "(二, 三, 四) with the official header rows, then the fees and consultations lines.",
            response_class=Response,
            responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}, **problem_responses(404, 422)})
async def export_annual_report_csv(organ_code: OrganCode, year: Year, session: ReportReadSessionDep,
                                   principal: PrincipalDep, include_subordinates: Subordinates = False) -> Response:
    exported = await readable_report(session, principal, organ_code, year, include_subordinates)
    return Response(render_csv(exported), media_type="text/csv; charset=utf-8",
                    headers=_headers(exported, "csv", attachment=True))


@router.get("/annual-reports/{organ_code}/{year}/export.xlsx", summary="Annual report as XLSX (official layout)",
            description=f"{ACCESS} One sheet per table with the official merged header cells, numbers as numbers, "
                        "and a sheet for 六 (fees, consultations).",
            response_class=Response,
            responses={200: {"content": {XLSX: {"schema": {"type": "string", "format": "binary"}}}},
                       **problem_responses(404, 422)})
async def export_annual_report_xlsx(organ_code: OrganCode, year: Year, session: ReportReadSessionDep,
                                    principal: PrincipalDep, include_subordinates: Subordinates = False) -> Response:
    exported = await readable_report(session, principal, organ_code, year, include_subordinates)
    return Response(render_xlsx(exported), media_type=XLSX,
                    headers=_headers(exported, "xlsx", attachment=True))


@router.get("/annual-reports/{organ_code}/{year}/export.html", summary="Annual report as a printable HTML page",
            description=f"{ACCESS} All six sections, tables with the official merged headers; inline CSS with "
                        "print rules, no external assets.",
            response_class=Response,
            responses={200: {"content": {"text/html": {"schema": {"type": "string"}}}}, **problem_responses(404, 422)})
async def export_annual_report_html(organ_code: OrganCode, year: Year, session: ReportReadSessionDep,
                                    principal: PrincipalDep, include_subordinates: Subordinates = False) -> Response:
    exported = await readable_report(session, principal, organ_code, year, include_subordinates)
    return Response(render_html(exported), media_type="text/html; charset=utf-8",
                    headers=_headers(exported, "html", attachment=False))
