"""Pydantic I/O of the statistics service. The annual report's keys are a public contract
(annual-report-contract.md): exactly these, in every output."""

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field, model_validator

from services.inputs import JsonTypes
from services.pagination import Page
from services.vocab import Term, label
from stats_service.vocab import (
    IndicatorKind,
    IndicatorStatus,
    ScoreRecordType,
    Verdict,
)


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
    """三、收到和处理政府信息公开申请情况: rows × applicant columns. Exactly the contract's keys
    (annual-report-contract.md); the rows' and columns' labels are at GET /annual-reports/layout."""

    columns: list[str]
    rows: dict[str, dict[str, int]]


class ReportLayoutRead(BaseModel):
    """年度报告版式 · the labels of the annual report's rows and columns, in the official order (2021 format), so a
    portal prints the official tables without a copy of their wording. Kept out of the report itself, whose keys are
    a public contract (annual-report-contract.md)."""

    format: str = Field(description="the report format these labels belong to: 2021 (国办公开办函〔2021〕30号)")
    section3_columns: list[Term] = Field(description="表三 columns: the applicant types (申请人情况) and the total")
    section3_rows: list[Term] = Field(description="表三 rows, zh as printed in the official table")
    section4_rows: list[Term] = Field(description="表四 rows: the kinds of proceeding")
    section4_columns: list[Term] = Field(description="表四 columns: the outcomes and the total")
    consultation_channels: list[Term] = Field(description="咨询渠道: the keys of consultations.by_channel")


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


# --- 考评 scorecards -----------------------------------------------------------------------------------------------

MetricName = Literal["stale_columns", "empty_columns_without_note", "publication_on_time_rate", "reply_on_time_rate",
                     "statutory_breaches", "interpretation_ratio", "overdue_interpretations",
                     "corrected_on_appeal_rate", "validity_reviews_overdue", "proactive_publication_rate",
                     "broken_attachments", "standard_catalogue_coverage"]


class PassRule(JsonTypes):
    model_config = ConfigDict(extra="forbid")

    op: Literal["<=", ">="] = Field(description="the figure must be ≤ or ≥ the value to pass")
    value: float = Field(ge=0, le=1_000_000)


class SheetIndicator(JsonTypes):
    """One indicator of a sheet: which metric it scores, how, and where the rule comes from."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern="^[a-z][a-z0-9_]{0,47}$")
    metric: MetricName = Field(description="the figure (code): see the metric list in the README")
    name_zh: str = Field(min_length=1, max_length=100, description="指标名称")
    name_en: str = Field(min_length=1, max_length=200)
    pass_if: PassRule
    scoring: Literal["pass_fail", "proportional", "deduct"] = Field(
        "pass_fail", description="pass_fail: all points or none; proportional (rates): points × rate (× (1 − rate) "
                                 "for a ≤ rule); deduct: points − per_item × figure, not below 0")
    per_item: float = Field(0, ge=0, le=1000, description="points deducted per counted item (scoring deduct)")
    points: float = Field(ge=0, le=1000)
    veto: bool = Field(False, description="单项否决: failing it vetoes the whole scorecard")
    source: str = Field(min_length=1, max_length=500, description="the document and item the rule comes from")


class SheetIn(JsonTypes):
    """考评指标表 as a province defines it; stored as the next version of `id`."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern="^[a-z0-9][a-z0-9-]{1,63}$", examples=["gd-2026"])
    name: str = Field(min_length=1, max_length=200)
    source: str = Field(min_length=1, max_length=2000, description="依据: the documents the sheet adopts")
    pass_mark: float = Field(0, ge=0, le=100_000, description="total points needed to pass (when not vetoed)")
    indicators: list[SheetIndicator] = Field(min_length=1, max_length=100)

    @model_validator(mode="after")
    def _unique_keys(self) -> "SheetIn":
        keys = [i.key for i in self.indicators]
        if len(keys) != len(set(keys)):
            raise ValueError("indicator keys must be unique")
        return self


class SheetRead(BaseModel):
    id: str
    version: int
    name: str
    source: str
    pass_mark: float = 0
    indicators: list[dict[str, Any]]
    builtin: bool = Field(description="shipped with the service (read-only) or loaded by an admin")
    loaded_by: str | None = None
    loaded_at: datetime | None = None


class SheetsRead(BaseModel):
    """Every sheet at once (a handful): not a paged list."""

    sheets: list[SheetRead] = Field(description="built-in sheets, then the latest version of each loaded sheet")


class SheetRef(BaseModel):
    id: str
    version: int
    name: str
    source: str
    builtin: bool


class IndicatorRead(BaseModel):
    key: str
    metric: str
    kind: IndicatorKind
    name_zh: str
    name_en: str
    source: str
    pass_if: dict[str, Any]
    scoring: str
    value: float | None = Field(description="the figure (count, or rate rounded to 4 places); null = not applicable")
    numerator: int = Field(description="records counted (drill-down: items with counted = true)")
    denominator: int | None = Field(description="rates: records considered (drill-down total); null for counts")
    status: IndicatorStatus
    passed: bool
    points: float
    max_points: float
    veto: bool = Field(description="单项否决 indicator")
    vetoes: bool = Field(description="this indicator failed and vetoes the scorecard")
    records_url: str = Field(description="drill-down: the records behind the figure")

    @computed_field(description="指标类型 · kind label")  # type: ignore[prop-decorator]
    @property
    def kind_label(self) -> Term:
        return label(self.kind)  # type: ignore[return-value]

    @computed_field(description="指标结果 · status label")  # type: ignore[prop-decorator]
    @property
    def status_label(self) -> Term:
        return label(self.status)  # type: ignore[return-value]


class ScorecardRead(BaseModel):
    organ_code: str
    organ_name: str
    include_subordinates: bool
    from_: date = Field(alias="from", serialization_alias="from")
    as_of: date = Field(description="the day D the scorecard is computed for, from facts dated on or before it")
    sheet: SheetRef
    indicators: list[IndicatorRead]
    total_points: float
    max_points: float
    pass_mark: float
    veto_items: list[str] = Field(description="keys of the 单项否决 indicators that failed")
    verdict: Verdict

    @computed_field(description="考评结论 · verdict label")  # type: ignore[prop-decorator]
    @property
    def verdict_label(self) -> Term:
        return label(self.verdict)  # type: ignore[return-value]

    model_config = ConfigDict(populate_by_name=True)


class ScoreRecord(BaseModel):
    record_type: ScoreRecordType
    id: str
    organ_code: str
    counted: bool = Field(description="in the figure's numerator (count metrics list counted records only)")
    day: date | None = Field(description="publication, closure, act or decision day; a column's last update; an "
                                         "attachment's first failing check")
    due_on: date | None
    detail: dict[str, Any]

    @computed_field(description="下钻记录类型 · record type label")  # type: ignore[prop-decorator]
    @property
    def record_type_label(self) -> Term:
        return label(self.record_type)  # type: ignore[return-value]


class ScoreRecordsRead(Page[ScoreRecord]):
    """The records behind one scorecard figure, in the common list envelope (services/pagination.py)."""

    organ_code: str
    include_subordinates: bool
    from_: date = Field(alias="from", serialization_alias="from")
    as_of: date
    metric: str
    kind: IndicatorKind
    value: float | None
    numerator: int
    denominator: int | None
    total: int = Field(description="count metrics: equals the figure; rates: equals the denominator")

    @computed_field(description="指标类型 · kind label")  # type: ignore[prop-decorator]
    @property
    def kind_label(self) -> Term:
        return label(self.kind)  # type: ignore[return-value]

    model_config = ConfigDict(populate_by_name=True)


class RankingItem(BaseModel):
    rank: int
    organ_code: str
    organ_name: str
    total_points: float
    max_points: float
    verdict: Verdict
    veto_items: list[str]

    @computed_field(description="考评结论 · verdict label")  # type: ignore[prop-decorator]
    @property
    def verdict_label(self) -> Term:
        return label(self.verdict)  # type: ignore[return-value]


class SeriesIndicator(BaseModel):
    key: str
    value: float | None
    status: IndicatorStatus
    points: float

    @computed_field(description="指标结果 · status label")  # type: ignore[prop-decorator]
    @property
    def status_label(self) -> Term:
        return label(self.status)  # type: ignore[return-value]


class SeriesPoint(BaseModel):
    month: str = Field(description="YYYY-MM")
    as_of: date = Field(description="the month's last day (the current month: today); the period is its year to date")
    total_points: float
    max_points: float
    verdict: Verdict
    veto_items: list[str]
    indicators: list[SeriesIndicator]

    @computed_field(description="考评结论 · verdict label")  # type: ignore[prop-decorator]
    @property
    def verdict_label(self) -> Term:
        return label(self.verdict)  # type: ignore[return-value]


class SeriesRead(BaseModel):
    """月度走势: the scorecard as of each month's last day."""

    organ_code: str
    include_subordinates: bool
    sheet: SheetRef
    months: list[SeriesPoint]


class ReminderItem(BaseModel):
    key: str
    metric: str
    name_zh: str
    name_en: str
    veto: bool
    vetoes: bool = Field(description="this failure vetoes the card (单项否决): listed first")
    value: float | None
    pass_if: dict[str, Any]
    points: float
    max_points: float
    points_lost: float = Field(description="max_points − points: the order after the vetoes")
    to_fix: int = Field(description="records that make the figure fail")
    records: list[ScoreRecord] = Field(description="the first of them, in the drill-down's order")
    records_url: str


class RemindersRead(BaseModel):
    """先改什么 · the failing indicators, what to fix first."""

    organ_code: str
    include_subordinates: bool
    from_: date = Field(alias="from", serialization_alias="from")
    as_of: date
    sheet: SheetRef
    verdict: Verdict
    total_points: float
    reminders: list[ReminderItem]

    @computed_field(description="考评结论 · verdict label")  # type: ignore[prop-decorator]
    @property
    def verdict_label(self) -> Term:
        return label(self.verdict)  # type: ignore[return-value]

    model_config = ConfigDict(populate_by_name=True)


class RankingRead(BaseModel):
    organ_code: str
    from_: date = Field(alias="from", serialization_alias="from")
    as_of: date
    sheet: SheetRef
    organs: list[RankingItem] = Field(description="every direct subordinate (whole, like a dashboard's buckets), each "
                                                  "over its subtree; vetoed last")

    model_config = ConfigDict(populate_by_name=True)
