"""Pydantic I/O of the statistics service. The annual report's keys are a public contract
(annual-report-contract.md): exactly these, in every output."""

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, computed_field

from services.inputs import JsonTypes
from services.pagination import Page
from services.vocab import LabeledEnum, Term
from stats_service.vocab import Table3Column, Table3Row


class Counts(BaseModel):
    issued: int
    repealed: int
    in_force: int


class Decisions(BaseModel):
    decisions: int


class FeeAmount(BaseModel):
    amount_10k_yuan: str = Field(description="本年收费金额（单位：万元）, two decimals")


class Section2(BaseModel):
    """二、主动公开政府信息情况"""

    regulations: Counts = Field(description="规章")
    normative_documents: Counts = Field(description="行政规范性文件")
    administrative_licensing: Decisions = Field(description="行政许可")
    administrative_penalty: Decisions = Field(description="行政处罚")
    administrative_coercion: Decisions = Field(description="行政强制")
    administrative_fees: FeeAmount = Field(description="行政事业性收费")


class Section3(BaseModel):
    """三、收到和处理政府信息公开申请情况: rows × applicant columns, each row and column with its labels"""

    columns: list[str]
    rows: dict[str, dict[str, int]]

    @computed_field(description="表三各列 · the label of each column, in the order of `columns`")  # type: ignore[prop-decorator]
    @property
    def column_labels(self) -> dict[str, Term]:
        return {column: _term(Table3Column, column) for column in self.columns}

    @computed_field(description="表三各行 · the label of each row of `rows` (zh as printed in the official table)")  # type: ignore[prop-decorator]
    @property
    def row_labels(self) -> dict[str, Term]:
        return {row: _term(Table3Row, row) for row in self.rows}


def _term(enum: type[LabeledEnum], code: str) -> Term:
    """The code's labels; a code the vocabulary does not know yet is labelled with itself, never dropped."""
    try:
        member = enum(code)
    except ValueError:
        return Term(code=code, zh=code, en=code)
    return Term(code=code, zh=member.zh, en=member.en)


class AppealCounts(BaseModel):
    upheld: int
    corrected: int
    other: int
    pending: int
    total: int


class Section4(BaseModel):
    """四、政府信息公开行政复议、行政诉讼情况"""

    reconsideration: AppealCounts
    litigation_direct: AppealCounts
    litigation_after_reconsideration: AppealCounts


class Fees(BaseModel):
    notices_issued: int
    amount_noticed_yuan: str
    amount_collected_yuan: str


class Consultations(BaseModel):
    total: int
    by_channel: dict[str, int]


class Narrative(BaseModel):
    overview: str
    problems_and_improvements: str
    other_matters: str


class Check(BaseModel):
    rule: str
    column: str
    ok: bool


class AnnualReportRead(BaseModel):
    """政府信息公开工作年度报告 (2021 format). Sign-off status is in the X-Report-Status header."""

    organ_code: str
    year: int
    format: str
    generated_at: str
    include_subordinates: bool
    section2: Section2
    section3: Section3
    section4: Section4
    fees: Fees
    consultations: Consultations
    narrative: Narrative
    checks: list[Check]


class FiguresUpdate(JsonTypes):  # JSON types as the schema says, nothing unstorable (services/inputs.py)
    """Figures staff enter (or agency systems push) for section 二 and the narrative sections."""

    model_config = ConfigDict(extra="forbid")

    administrative_licensing: int | None = Field(None, ge=0, description="行政许可 本年处理决定数量")
    administrative_penalty: int | None = Field(None, ge=0, description="行政处罚 本年处理决定数量")
    administrative_coercion: int | None = Field(None, ge=0, description="行政强制 本年处理决定数量")
    administrative_fees_10k_yuan: str | None = Field(None, pattern=r"^\d{1,9}(\.\d{1,2})?$",
                                                     description="行政事业性收费 本年收费金额（万元）")
    overview: str | None = Field(None, max_length=20000, description="一、总体情况")
    problems_and_improvements: str | None = Field(None, max_length=20000, description="五、存在的主要问题及改进情况")
    other_matters: str | None = Field(None, max_length=20000, description="六、其他需要报告的事项")


class ReportStatusRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    organ_code: str
    year: int
    include_subordinates: bool
    status: str
    version: int


class CellRead(Page[dict[str, Any]]):
    """The records behind one figure, in the common list envelope (services/pagination.py), exact `total`."""

    row: str
    column: str
    total: int


class Discrepancy(BaseModel):
    cell: str
    published: Any
    live: Any


class Reminder(BaseModel):
    organ_code: str
    organ_name: str
    kind: str
    year: int
    due_on: date
    status: str
    overdue: bool
    days_left: int


# --- dashboards (stats_service.domain.dashboards) -----------------------------------------------------------------

class WorkingDaysSource(BaseModel):
    source: str = Field(description="Where working days come from (chinese_calendar: official holidays and 调休)")
    note: str
    provisional_years: list[int] = Field(description="Years without official data: weekends and fixed holidays only")


class ReplyFigures(BaseModel):
    received: int = Field(description="Applications received (收到申请之日) in the period")
    closed: int = Field(description="Applications replied or closed (deemed abandoned) in the period")
    replied: int
    closed_with_due: int = Field(description="Closed applications that had a due date")
    closed_on_time: int = Field(description="… of which closed on or before the due date")
    on_time_rate: float | None = Field(description="closed_on_time / closed_with_due; null when there is none")
    avg_working_days: float | None = Field(description="Mean working days from receipt to reply (replied only)")
    median_working_days: float | None


class PeriodFigures(ReplyFigures):
    outcomes: dict[str, int] = Field(description="Closed per outcome (rows of table 三); zero outcomes omitted")
    fees_noticed: int = Field(description="Fee notices (收费通知) issued")
    fees_noticed_yuan: str
    fees_collected_yuan: str
    documents_published: int = Field(description="Public catalogue records first published")


class SeriesPoint(PeriodFigures):
    period: str = Field(examples=["2026-03", "2026-Q1", "2026"])
    start: date
    end: date


class DashboardMeta(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    organ_code: str
    include_subordinates: bool
    date_from: date = Field(alias="from")
    date_to: date = Field(alias="to")
    working_days: WorkingDaysSource


class TimeseriesRead(DashboardMeta):
    granularity: str
    series: list[SeriesPoint]
    totals: PeriodFigures


class BreakdownItem(ReplyFigures):
    key: str
    label: str
    parent_code: str | None = Field(None, description="by=organ: the organ's parent")
    depth: int | None = Field(None, description="by=organ: 0 for a root organ")
    overdue_now: int = Field(description="Open applications past their due date today")


class BreakdownRead(DashboardMeta):
    by: str
    as_of: date
    items: list[BreakdownItem]


class OverdueOrgan(BaseModel):
    organ_code: str
    organ_name: str
    overdue: int
    oldest_due_on: date
    max_days_overdue: int


class OverdueRead(BaseModel):
    organ_code: str
    include_subordinates: bool
    as_of: date
    total: int
    items: list[OverdueOrgan]


# --- publication timeliness (条例第二十六条; stats_service.domain.dashboards) ---------------------------------------

class TimelinessFigures(BaseModel):
    published: int = Field(description="Public documents published in the period (day in Asia/Shanghai)")
    with_due_date: int = Field(description="… of which the catalogue announced a publication due date")
    on_time: int = Field(description="Published on or before publication_due_on (形成或者变更之日 + 20 working days)")
    late: int = Field(description="Published after publication_due_on")
    no_due_date: int = Field(description="No due date announced (no formation date recorded, or older events)")
    on_time_rate: float | None = Field(description="on_time / with_due_date; null when there is none")
    avg_days_late: float | None = Field(description="Mean calendar days after the due date, late documents only")
    max_days_late: int | None = Field(description="Most calendar days after the due date")
    avg_working_days_late: float | None = Field(description="Mean working days after the due date, late only")


class TimelinessPoint(TimelinessFigures):
    period: str = Field(examples=["2026-03", "2026-Q1", "2026"])
    start: date
    end: date


class TimelinessOrgan(TimelinessFigures):
    key: str = Field(description="organ code")
    label: str = Field(description="organ name")
    parent_code: str | None = None
    depth: int | None = Field(None, description="0 for a root organ")


class TimelinessRead(DashboardMeta):
    granularity: str
    series: list[TimelinessPoint]
    by_organ: list[TimelinessOrgan] = Field(description="every organ of the scope, in hierarchy order")
    totals: TimelinessFigures


# --- statutory breaches (违规记录, legal-rules §1.13; stats_service.domain.breaches) --------------------------------

class BreachTerm(BaseModel):
    code: str = Field(description="breach code (vocabulary `breach`)", examples=["late_supplement_notice"])
    zh: str = Field(description="Chinese label · 中文名称")
    en: str = Field(description="English label")
    article: str = Field(description="the article the breach offends", examples=["条例第三十条"])


class BreachCounts(BaseModel):
    total: int = Field(description="Breaches recorded (each once, by the day of the act)")
    by_code: dict[str, int] = Field(description="per breach code; zero codes omitted")


class BreachMonth(BreachCounts):
    period: str = Field(examples=["2025-10"])
    start: date
    end: date


class BreachOrgan(BreachCounts):
    key: str = Field(description="organ code")
    label: str = Field(description="organ name")
    parent_code: str | None = None
    depth: int = Field(description="0 for a root organ")
    subtree_total: int = Field(description="the organ's breaches and those of all its subordinates")


class BreachCell(BaseModel):
    organ_code: str
    period: str = Field(examples=["2025-10"])
    code: str
    count: int = Field(description="drill-down: …/breaches/applications?include_subordinates=false with this "
                                   "organ, the period's year and month, and this code")


class BreachesRead(BaseModel):
    organ_code: str
    include_subordinates: bool
    year: int
    month: int | None
    codes: list[BreachTerm] = Field(description="every breach code with its labels and article")
    months: list[BreachMonth] = Field(description="every month of the year (or the one month), zeros included")
    by_organ: list[BreachOrgan] = Field(description="every organ of the scope, in hierarchy order, zeros included")
    cells: list[BreachCell] = Field(description="non-zero counts per organ, month and code")
    totals: BreachCounts


class BreachRecord(BaseModel):
    application_id: str
    organ_code: str
    code: str
    article: str
    occurred_on: date = Field(description="the day of the act (e.g. the day the late notice was sent)")
    due_on: date | None = Field(description="the day it was due by, when the rule has one")
    working_days_late: int | None = Field(description="working days after due_on up to occurred_on")


class BreachRecordsRead(BaseModel):
    organ_code: str
    include_subordinates: bool
    year: int
    month: int | None
    code: str | None
    total: int = Field(description="equals the dashboard's count for the same scope, period and code")
    items: list[BreachRecord]
