"""The annual report in the official layout (政府信息公开工作年度报告, 2021 format, 国办公开办函〔2021〕30号):
CSV, XLSX and a printable HTML page, with the same figures as the JSON report.

Each table (二, 三, 四) is described once as rows of cells with rowspan/colspan, exactly as the official table
(legal-rules §3.2–3.4); the three renderers place those cells on a grid (the HTML table algorithm), so XLSX merges
and HTML spans come from the same description. The figures come from `readable_report`: the frozen snapshot once
published, else the live build for staff who may read drafts (same rule as GET of the JSON report).
"""

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter
from sqlalchemy.ext.asyncio import AsyncSession

from services.auth import Principal
from services.errors import NotFound
from stats_service.domain import access, signoff
from stats_service.domain.labels import (
    APPEAL_OUTCOME_LABELS,
    APPLICANT_LABELS,
    CONSULTATION_CHANNEL_LABELS,
    SECTION_TITLES,
    TABLE3_GROUPS,
    TABLE3_ROW_LABELS,
)
from stats_service.domain.report import APPEAL_KINDS, APPEAL_OUTCOMES, APPLICANT_COLUMNS, RESULT_ROWS, build_report
from stats_service.models import OrganFact

__all__ = ["ExportedReport", "ReportNotPublished", "Table", "readable_report", "render_csv", "render_html",
           "render_xlsx", "tables"]

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
TABLE3_CORNER = "（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）"
STATUS_LABELS = {"draft": "草稿（未公布）", "submitted": "已报送，待公布", "published": "已公布"}


class ReportNotPublished(NotFound):
    code = "report_not_found"


@dataclass(frozen=True)
class ExportedReport:
    report: dict[str, Any]
    status: str
    organ_name: str

    @property
    def title(self) -> str:
        return f"{self.organ_name}{self.report['year']}年政府信息公开工作年度报告"

    @property
    def status_line(self) -> str:
        scope = "（含下属机关汇总）" if self.report.get("include_subordinates") else ""
        return (f"报告状态：{STATUS_LABELS.get(self.status, self.status)}{scope}；"
                f"数据生成时间：{self.report.get('generated_at', '')}")


async def readable_report(session: AsyncSession, principal: Principal, organ_code: str, year: int,
                          include_subordinates: bool) -> ExportedReport:
    """The figures the caller may see: published → the frozen snapshot, for anyone; a draft → the live figures,
    for staff in scope only; otherwise ReportNotPublished (404), as GET of the JSON report."""
    stored = await signoff.get_or_create(session, organ_code, year, include_subordinates)
    if stored is not None and stored.status == "published" and stored.snapshot:
        report, status = stored.snapshot, "published"
    elif await access.can_read_drafts(session, principal, organ_code):
        report, status = await build_report(session, organ_code, year, include_subordinates), \
            stored.status if stored else "draft"
    else:
        raise ReportNotPublished(f"No published report of {organ_code} for {year}.")
    organ = await session.get(OrganFact, organ_code)
    return ExportedReport(report=report, status=status, organ_name=organ.name if organ else organ_code)


# --- the official tables as cells --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Cell:
    value: str | int | Decimal
    rowspan: int = 1
    colspan: int = 1
    kind: str = "label"  # head | label | number | amount


@dataclass
class Table:
    key: str
    title: str
    width: int
    head: list[list[Cell]] = field(default_factory=list)
    body: list[list[Cell]] = field(default_factory=list)
    widths: list[float] = field(default_factory=list)  # XLSX column widths (characters)

    def placed(self) -> Iterator[tuple[int, int, Cell]]:
        """(row, column, cell), 0-based, each cell at its top-left position, skipping positions covered by
        a span from an earlier row (the HTML table model)."""
        taken: set[tuple[int, int]] = set()
        for r, row in enumerate([*self.head, *self.body]):
            c = 0
            for cell in row:
                while (r, c) in taken:
                    c += 1
                yield r, c, cell
                taken.update((r + dr, c + dc) for dr in range(cell.rowspan) for dc in range(cell.colspan))
                c += cell.colspan

    def grid(self) -> list[list[str | int | Decimal]]:
        rows = len(self.head) + len(self.body)
        out: list[list[str | int | Decimal]] = [[""] * self.width for _ in range(rows)]
        for r, c, cell in self.placed():
            out[r][c] = cell.value
        return out


def _n(value: Any) -> Cell:
    return Cell(int(value or 0), kind="number")


def _head(text: str, rowspan: int = 1, colspan: int = 1) -> Cell:
    return Cell(text, rowspan, colspan, kind="head")


def table_two(report: dict[str, Any]) -> Table:
    s2 = report["section2"]
    t = Table("section2", SECTION_TITLES["2"], 4, widths=[24, 18, 18, 18])
    t.body += [
        [_head("第二十条第（一）项", colspan=4)],
        [_head("信息内容"), _head("本年制发件数"), _head("本年废止件数"), _head("现行有效件数")],
        [Cell("规章"), *(_n(s2["regulations"][k]) for k in ("issued", "repealed", "in_force"))],
        [Cell("行政规范性文件"), *(_n(s2["normative_documents"][k]) for k in ("issued", "repealed", "in_force"))],
        [_head("第二十条第（五）项", colspan=4)],
        [_head("信息内容"), _head("本年处理决定数量", colspan=3)],
        [Cell("行政许可"), Cell(int(s2["administrative_licensing"]["decisions"]), colspan=3, kind="number")],
        [_head("第二十条第（六）项", colspan=4)],
        [_head("信息内容"), _head("本年处理决定数量", colspan=3)],
        [Cell("行政处罚"), Cell(int(s2["administrative_penalty"]["decisions"]), colspan=3, kind="number")],
        [Cell("行政强制"), Cell(int(s2["administrative_coercion"]["decisions"]), colspan=3, kind="number")],
        [_head("第二十条第（八）项", colspan=4)],
        [_head("信息内容"), _head("本年收费金额（单位：万元）", colspan=3)],
        [Cell("行政事业性收费"), Cell(Decimal(s2["administrative_fees"]["amount_10k_yuan"]), colspan=3,
                                      kind="amount")],
    ]
    return t


def table_three(report: dict[str, Any]) -> Table:
    rows = report["section3"]["rows"]
    columns = [*APPLICANT_COLUMNS, "total"]
    t = Table("section3", SECTION_TITLES["3"], 10, widths=[9, 16, 44, *[11] * 7])
    t.head = [
        [_head(TABLE3_CORNER, rowspan=3, colspan=3), _head("申请人情况", colspan=7)],
        [_head(APPLICANT_LABELS["natural_person"], rowspan=2), _head("法人或其他组织", colspan=5),
         _head(APPLICANT_LABELS["total"], rowspan=2)],
        [_head(APPLICANT_LABELS[c]) for c in APPLICANT_COLUMNS[1:]],
    ]

    def numbers(row: str) -> list[Cell]:
        return [_n(rows[row][c]) for c in columns]

    t.body.append([Cell(TABLE3_ROW_LABELS["new_received"], colspan=3), *numbers("new_received")])
    t.body.append([Cell(TABLE3_ROW_LABELS["carried_over"], colspan=3), *numbers("carried_over")])
    result_rows = [*RESULT_ROWS, "results_total"]
    group_open: set[str] = set()
    for i, row in enumerate(result_rows):
        cells: list[Cell] = []
        if i == 0:
            cells.append(Cell("三、本年度办理结果", rowspan=len(result_rows)))
        group = row.split(".")[0] if "." in row else None
        if group is None:
            cells.append(Cell(TABLE3_ROW_LABELS[row], colspan=2))
        else:
            if group not in group_open:
                group_open.add(group)
                cells.append(Cell(TABLE3_GROUPS[group], rowspan=sum(r.startswith(f"{group}.") for r in RESULT_ROWS)))
            cells.append(Cell(TABLE3_ROW_LABELS[row]))
        t.body.append([*cells, *numbers(row)])
    t.body.append([Cell(TABLE3_ROW_LABELS["carried_forward"], colspan=3), *numbers("carried_forward")])
    return t


def table_four(report: dict[str, Any]) -> Table:
    s4 = report["section4"]
    outcomes = [*APPEAL_OUTCOMES, "total"]
    t = Table("section4", SECTION_TITLES["4"], 15, widths=[10] * 15)
    t.head = [
        [_head("行政复议", colspan=5), _head("行政诉讼", colspan=10)],
        [*(_head(APPEAL_OUTCOME_LABELS[o], rowspan=2) for o in outcomes),
         _head("未经复议直接起诉", colspan=5), _head("复议后起诉", colspan=5)],
        [_head(APPEAL_OUTCOME_LABELS[o]) for _ in range(2) for o in outcomes],
    ]
    t.body = [[_n(s4[kind][o]) for kind in APPEAL_KINDS for o in outcomes]]
    return t


def tables(report: dict[str, Any]) -> list[Table]:
    return [table_two(report), table_three(report), table_four(report)]


def other_matters(report: dict[str, Any]) -> list[tuple[str, str | int | Decimal]]:
    """六、其他需要报告的事项: the processing fees (信息处理费), as label/value lines."""
    fees = report["fees"]
    return [
        ("本年度发出信息处理费收费通知件数", int(fees["notices_issued"])),
        ("收费通知金额（元）", Decimal(fees["amount_noticed_yuan"])),
        ("实际收取信息处理费金额（元）", Decimal(fees["amount_collected_yuan"])),
    ]


def consultation_lines(report: dict[str, Any]) -> list[tuple[str, int]]:
    c = report["consultations"]
    return [("本年度政府信息公开咨询总数（件）", int(c["total"])),
            *((f"其中：{CONSULTATION_CHANNEL_LABELS.get(k, k)}", int(v)) for k, v in c["by_channel"].items())]


# --- CSV ---------------------------------------------------------------------------------------------------------

def render_csv(exported: ExportedReport) -> bytes:
    """UTF-8 with a BOM (Excel opens Chinese correctly only then), CRLF lines; one block per table."""
    report = exported.report
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([f"《{exported.title}》"])
    writer.writerow([exported.status_line])
    for table in tables(report):
        writer.writerow([])
        writer.writerow([table.title])
        writer.writerows(table.grid())
    writer.writerow([])
    writer.writerow([SECTION_TITLES["6"]])
    writer.writerows([label, value] for label, value in other_matters(report))
    writer.writerows([label, value] for label, value in consultation_lines(report))
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


# --- XLSX --------------------------------------------------------------------------------------------------------

_THIN = Side(style="thin", color="000000")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)
_LEFT = Alignment(horizontal="left", vertical="center", wrap_text=True)
SHEET_NAMES = {"section2": "二 主动公开", "section3": "三 依申请公开", "section4": "四 复议诉讼"}
FIRST_TABLE_ROW = 4  # 1: title, 2: status, 3: table title


def render_xlsx(exported: ExportedReport) -> bytes:
    """One sheet per table with merged cells as in the official table, numbers as numbers, a title row
    《…年度报告》; then a sheet for 六 (fees and consultations)."""
    wb = Workbook()
    wb.remove(wb.active)
    for table in tables(exported.report):
        ws = wb.create_sheet(SHEET_NAMES[table.key])
        _banner(ws, exported, table.title, table.width)
        for r, c, cell in table.placed():
            row, col = FIRST_TABLE_ROW + r, 1 + c
            target = ws.cell(row=row, column=col, value=cell.value)
            if cell.kind == "amount":
                target.number_format = "0.00"
            target.alignment = _LEFT if cell.kind == "label" and cell.rowspan == 1 else _CENTER
            if cell.kind == "head":
                target.font = Font(bold=True)
            if cell.rowspan > 1 or cell.colspan > 1:
                ws.merge_cells(start_row=row, start_column=col, end_row=row + cell.rowspan - 1,
                               end_column=col + cell.colspan - 1)
        last_row = FIRST_TABLE_ROW + len(table.head) + len(table.body) - 1
        for row_cells in ws.iter_rows(min_row=FIRST_TABLE_ROW, max_row=last_row, max_col=table.width):
            for target in row_cells:  # every cell, so merged ranges get their outline too
                target.border = _BORDER
        for i, width in enumerate(table.widths, start=1):
            ws.column_dimensions[get_column_letter(i)].width = width
        for r in range(len(table.head)):
            ws.row_dimensions[FIRST_TABLE_ROW + r].height = 30
        _print_setup(ws, landscape=table.width > 4)
    ws = wb.create_sheet("六 其他事项")
    _banner(ws, exported, SECTION_TITLES["6"], 2)
    row = FIRST_TABLE_ROW
    for label, value in [*other_matters(exported.report), *consultation_lines(exported.report)]:
        ws.cell(row=row, column=1, value=label).alignment = _LEFT
        target = ws.cell(row=row, column=2, value=value)
        if isinstance(value, Decimal):
            target.number_format = "#,##0.00"
        row += 1
    ws.column_dimensions["A"].width, ws.column_dimensions["B"].width = 40, 16
    _print_setup(ws, landscape=False)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def _banner(ws: Any, exported: ExportedReport, heading: str, width: int) -> None:
    span = max(width, 4)
    for row, text, font in ((1, f"《{exported.title}》", Font(bold=True, size=14)),
                            (2, exported.status_line, Font(size=9, italic=True)),
                            (3, heading, Font(bold=True, size=12))):
        cell = ws.cell(row=row, column=1, value=text)
        cell.font = font
        cell.alignment = Alignment(horizontal="center" if row == 1 else "left", vertical="center")
        ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=span)
    ws.row_dimensions[1].height = 28


def _print_setup(ws: Any, *, landscape: bool) -> None:
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = "landscape" if landscape else "portrait"
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True


# --- HTML --------------------------------------------------------------------------------------------------------

_env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html"]),
                   trim_blocks=True, lstrip_blocks=True)


def _paragraphs(text: str) -> list[str]:
    return [p.strip() for p in (text or "").splitlines() if p.strip()]


def render_html(exported: ExportedReport) -> str:
    report = exported.report
    narrative = report.get("narrative", {})
    return _env.get_template("annual_report.html").render(
        title=exported.title, status=exported.status, status_line=exported.status_line, sections=SECTION_TITLES,
        tables={t.key: t for t in tables(report)}, overview=_paragraphs(narrative.get("overview", "")),
        problems=_paragraphs(narrative.get("problems_and_improvements", "")),
        other=_paragraphs(narrative.get("other_matters", "")), fees=other_matters(report),
        consultations=consultation_lines(report))
