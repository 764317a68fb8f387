"""Pydantic I/O of the request service. Input models forbid unknown fields (no mass assignment)."""

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from request_service.vocab import (
    ApplicantType,
    ApplicationStatus,
    Channel,
    Delivery,
    FeeMethod,
    InfoForm,
    Opinion,
    Outcome,
    PartyKind,
)


class Schema(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class InputSchema(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# --- handling actions (staff) ------------------------------------------------------------------------------------

class CommentBody(InputSchema):
    comment: str = Field(min_length=2, max_length=4000)


class DatedBody(InputSchema):
    on: date | None = Field(None, description="the date it happened (default today, Asia/Shanghai)")
    comment: str | None = Field(None, max_length=4000)


class ConfirmBody(DatedBody):
    """双方确认 (第三十一条): the confirmation date is the receipt date."""

    method: str = Field(min_length=2, max_length=100, description="确认方式, e.g. 电话确认 / 系统回执")


class AssignBody(InputSchema):
    handler_sub: str = Field(min_length=1, max_length=100, description="承办人 (their account id)")
    comment: str | None = Field(None, max_length=4000)


class SupplementRequestBody(DatedBody):
    """补正告知书: every item at once (一次性告知) and a reasonable deadline."""

    items: list[str] = Field(min_length=1, max_length=20)
    days: int | None = Field(None, ge=1, le=60, description="补正期限 in working days (default configured)")


class ConsultBody(DatedBody):
    party_kind: PartyKind
    party_name: str = Field(min_length=2, max_length=200)
    received_by_party_on: date | None = Field(None, description="the party's receipt of the letter (default: sent)")


class OpinionBody(DatedBody):
    consultation_id: str
    opinion: Opinion


class ExtendBody(InputSchema):
    days: int = Field(ge=1, le=20, description="at most 20 working days, once (第三十三条第二款)")
    comment: str = Field(min_length=2, max_length=4000, description="reason for the extension")


class DeferBody(InputSchema):
    due_on: date = Field(description="第三十五条: reasonable deferred deadline")
    comment: str = Field(min_length=2, max_length=4000)


class FeeNoticeBody(DatedBody):
    fee_method: FeeMethod
    pages: int | None = Field(None, ge=1, le=1_000_000, description="per_volume: pages provided")


class PaymentBody(DatedBody):
    amount: Decimal = Field(gt=0, max_digits=12, decimal_places=2)


class WithheldPart(InputSchema):
    description: str = Field(min_length=1, max_length=1000, description="what was withheld")
    ground: str = Field(min_length=1, max_length=200, description="why: the ground, e.g. 保护第三方合法权益")
    article: str | None = Field(None, max_length=100, description="e.g. 条例第十五条")


class DraftReplyBody(InputSchema):
    outcome: Outcome
    articles: list[str] = Field(default_factory=list, max_length=10, description="legal articles cited")
    comment: str | None = Field(None, max_length=8000, description="reasons (说明理由)")
    withheld_parts: list[WithheldPart] = Field(default_factory=list, max_length=50)
    published_document_id: str | None = Field(None, description="already proactively published: the document")


class ApproveReplyBody(InputSchema):
    comment: str | None = Field(None, max_length=4000)
    context: dict[str, Any] = Field(default_factory=dict, description="extra letter context, e.g. document_url")


# --- reads --------------------------------------------------------------------------------------------------------

class HandlingStepRead(Schema):
    seq: int
    action: str
    actor_sub: str
    role: str
    status_before: ApplicationStatus | None
    status_after: ApplicationStatus
    comment: str | None
    at: datetime


class ConsultationRecordRead(Schema):
    id: str
    party_kind: PartyKind
    party_name: str
    sent_on: date
    received_by_party_on: date
    due_on: date
    replied_on: date | None
    opinion: Opinion | None
    reasons: str | None


class ApplicationSummary(Schema):
    """A row of a staff work-list."""

    id: str
    tracking_no: str
    organ_code: str
    channel: Channel
    applicant_type: ApplicantType
    info_title: str
    status: ApplicationStatus
    submitted_at: datetime
    receipt_date: date | None
    due_on: date | None
    due_provisional: bool
    overdue: bool
    handler_sub: str | None


class ApplicationStaffRead(ApplicationSummary):
    """The whole application for the organ's staff; personal data masked unless explicitly unmasked."""

    applicant: dict[str, Any] = Field(description="applicant fields, masked (see /applicant?unmask=true)")
    info_doc_number: str | None
    info_description: str
    preferred_form: InfoForm
    delivery: Delivery
    suggestions: list[dict[str, Any]]
    repeat_of: str | None
    confirmed_at: datetime | None
    confirmation_method: str | None
    supplement_notice_due_on: date | None
    supplement_due_on: date | None
    extension_days: int
    extension_approved_by: str | None
    deferred_due_on: date | None
    fee_method: FeeMethod | None
    fee_pages: int | None
    fee_amount: Decimal | None
    fee_noticed_on: date | None
    fee_due_on: date | None
    fee_paid_on: date | None
    fee_paid_amount: Decimal | None
    fee_waived: bool
    outcome: Outcome | None
    reply_articles: list[str]
    reply_reasons: str | None
    withheld_parts: list[dict[str, Any]]
    published_document_id: str | None
    reply_drafted_by: str | None
    reply_approved_by: str | None
    closed_on: date | None
    version: int


class ClockSegmentRead(Schema):
    seq: int
    state: str = Field(description="running | paused | stopped")
    restart: bool
    start_on: date = Field(description="counting covers the days after this date")
    end_on: date | None
    basis: str = Field(description="legal basis of the segment")


class ClockDayRead(BaseModel):
    date: date
    weekday: str
    counted: int | None = Field(description="working-day number, or null when not counted")
    note: str


class DeadlineRead(BaseModel):
    """答复期限, derived from the clock ledger and the working-day calendar, explained day by day."""

    application_id: str
    receipt_date: date | None
    due_on: date | None = Field(description="null while the clock is paused or stopped")
    provisional: bool = Field(description="true if a day counted lies in a year without an official calendar")
    allowed: int = Field(description="20 working days plus any extension")
    used: int
    left: int
    state: str = Field(description="running | paused | stopped | closed")
    extension_days: int
    deferred_due_on: date | None
    supplement_notice_due_on: date | None
    supplement_due_on: date | None
    fee_due_on: date | None
    segments: list[ClockSegmentRead]
    days: list[ClockDayRead]
