"""Pydantic I/O of the statistics service. The annual report's keys are a public contract
(annual-report-contract.md): exactly these, in every output."""

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


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
    """三、收到和处理政府信息公开申请情况: rows × applicant columns"""

    columns: list[str]
    rows: dict[str, dict[str, int]]


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


class FiguresUpdate(BaseModel):
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


class CellRead(BaseModel):
    row: str
    column: str
    total: int
    items: list[dict[str, Any]]


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
