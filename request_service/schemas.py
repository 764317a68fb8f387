"""Pydantic I/O of the request service. Input models forbid unknown fields (no mass assignment)."""

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, EmailStr, Field, computed_field, field_validator, model_validator

from request_service.codes import POSTAL_CODE, normalize_id_number, normalize_phone
from request_service.vocab import (
    ApplicantType,
    ApplicationStatus,
    Breach,
    Channel,
    ConsultationChannel,
    Delivery,
    FeeMethod,
    IdType,
    InfoForm,
    LetterKind,
    Opinion,
    Outcome,
    PartyKind,
    ProactiveTaskStatus,
)
from services.inputs import JsonTypes
from services.pagination import Page
from services.policy import ActionRead
from services.vocab import LabeledEnum, Term, label


class Schema(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class InputSchema(JsonTypes):  # JSON types as the schema says: no 0 read as a date (services/inputs.py)
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


class ExplanationRequestBody(DatedBody):
    """第三十五条 说明理由通知: why the volume or frequency exceeds a reasonable range, and the reply window."""

    comment: str = Field(min_length=2, max_length=4000, description="why the requests exceed a reasonable range")
    days: int | None = Field(None, ge=1, le=30, description="the applicant's window in working days (default "
                                                            "configured)")


class ExplanationBody(DatedBody):
    """The applicant's reasons (第三十五条), as given, and the day they arrived."""

    comment: str = Field(min_length=2, max_length=8000, description="the applicant's reasons")


class DeliveryBody(InputSchema):
    """送达: the day a notice sent by post (or collected in person) was signed for; its window counts from it."""

    letter_id: str = Field(min_length=1, max_length=36, description="the notice (补正告知书, 收费通知, 说明理由通知书)")
    on: date = Field(description="the day the applicant signed for it (Asia/Shanghai)")
    comment: str | None = Field(None, max_length=4000, description="e.g. the postal tracking number")


class WithheldPart(InputSchema):
    description: str = Field(min_length=1, max_length=1000, description="what was withheld")
    # A str, checked by the service against RefusalGround, so that a ground outside the 条例 is refused with the
    # article in the problem's detail (422 withholding_ground_invalid), not a bare enum error.
    ground: str = Field(min_length=1, max_length=200, description="the ground: a RefusalGround code (see "
                                                                  "GET /withholding-grounds), e.g. third_party_rights")
    article: str | None = Field(None, max_length=100, description="optional; must be the ground's (e.g. 条例第十五条)")
    reason: str | None = Field(None, max_length=2000, description="free-text explanation beside the ground")


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

    @computed_field(description="办理状态 · status before the step")  # type: ignore[prop-decorator]
    @property
    def status_before_label(self) -> Term | None:
        return label(self.status_before)

    @computed_field(description="办理状态 · status after the step")  # type: ignore[prop-decorator]
    @property
    def status_after_label(self) -> Term:
        return label(self.status_after)  # type: ignore[return-value]


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

    @computed_field(description="征求意见对象 · party kind label")  # type: ignore[prop-decorator]
    @property
    def party_kind_label(self) -> Term:
        return label(self.party_kind)  # type: ignore[return-value]

    @computed_field(description="意见 · opinion label")  # type: ignore[prop-decorator]
    @property
    def opinion_label(self) -> Term | None:
        return label(self.opinion)


class BreachRead(Schema):
    """违规记录: an act the 条例 allows but makes a breach, recorded when it happened (legal-rules §1.13)."""

    code: Breach
    article: str = Field(description="the article offended, e.g. 条例第三十条")
    on: date = Field(description="the day of the act (Asia/Shanghai)")
    due_on: date | None = Field(description="the last day the statute allowed for it")
    label_zh: str = Field(description="kept for earlier clients; code_label carries both")
    label_en: str

    @computed_field(description="违规类型 · code label")  # type: ignore[prop-decorator]
    @property
    def code_label(self) -> Term:
        return label(self.code)  # type: ignore[return-value]


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

    @computed_field(description="申请渠道 · channel label")  # type: ignore[prop-decorator]
    @property
    def channel_label(self) -> Term:
        return label(self.channel)  # type: ignore[return-value]

    @computed_field(description="申请人类型 · applicant type label")  # type: ignore[prop-decorator]
    @property
    def applicant_type_label(self) -> Term:
        return label(self.applicant_type)  # type: ignore[return-value]

    @computed_field(description="办理状态 · status label")  # type: ignore[prop-decorator]
    @property
    def status_label(self) -> Term:
        return label(self.status)  # type: ignore[return-value]


class ApplicationStaffRead(ApplicationSummary):
    """The whole application for the organ's staff; personal data masked unless explicitly unmasked."""

    actions: list[ActionRead] = Field(description="what the caller may do next (下一步操作): exactly the handling "
                                                  "actions the access table and the state machine admit now")

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
    supplement_received_on: date | None
    extension_days: int
    extension_approved_by: str | None
    extension_decided_on: date | None = Field(description="第三十三条第二款: the day the extension was decided")
    deferred_due_on: date | None
    explanation_requested_on: date | None = Field(description="第三十五条: the applicant was asked to explain")
    explanation_due_on: date | None
    explanation_received_on: date | None
    explanation_reasons: str | None
    explanation_judgement: str | None = Field(
        description="reasonable (延迟答复) · unreasonable · none_given (不予处理)")
    deferral_decided_on: date | None
    deferral_reason: str | None
    good_cause_reason: str | None = Field(description="正当理由 (第三十条) for a late supplement, as recorded")
    good_cause_decided_by: str | None
    good_cause_decided_on: date | None
    reopened_closure_on: date | None = Field(description="the 视为放弃 closure the good cause undid")
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
    breaches: list[BreachRead] = Field(description="acts the 条例 allows but makes breaches (e.g. a late 补正 notice)")
    version: int

    @computed_field(description="获取信息方式 · preferred form label")  # type: ignore[prop-decorator]
    @property
    def preferred_form_label(self) -> Term:
        return label(self.preferred_form)  # type: ignore[return-value]

    @computed_field(description="送达方式 · delivery label")  # type: ignore[prop-decorator]
    @property
    def delivery_label(self) -> Term:
        return label(self.delivery)  # type: ignore[return-value]

    @computed_field(description="收费方式 · fee method label")  # type: ignore[prop-decorator]
    @property
    def fee_method_label(self) -> Term | None:
        return label(self.fee_method)

    @computed_field(description="答复类型 · outcome label")  # type: ignore[prop-decorator]
    @property
    def outcome_label(self) -> Term | None:
        return label(self.outcome)


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


# === Intake and the applicant side (domain/intake.py, pii.py, consultations.py, repeats.py) ==================
# Read models here are closed (extra="forbid" → additionalProperties: false, reliability.md API3), one per
# audience: the applicant's view never has staff fields.

_SHANGHAI = ZoneInfo("Asia/Shanghai")
TRACKING_NO_PATTERN = r"^GK\d{4}-[A-Z2-7]{8}$"
ORGANISATION_ID_TYPES = frozenset({IdType.USCC, IdType.OTHER})
PERSON_ID_TYPES = frozenset({IdType.RESIDENT_ID, IdType.PASSPORT, IdType.HK_MACAO_PERMIT, IdType.TAIWAN_PERMIT,
                             IdType.OTHER})


def _today() -> date:
    return datetime.now(_SHANGHAI).date()


def not_in_future(value: date | None) -> date | None:
    if value is not None and value > _today():
        raise ValueError("the date is in the future (Asia/Shanghai)")
    return value


def term(member: LabeledEnum | None) -> Term | None:
    return None if member is None else Term(code=member.value, zh=member.zh, en=member.en)


class ReadSchema(BaseModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True)


# --- Intake (依申请公开: 条例第二十九条 content of an application) ------------------------------------------------


class ApplicantIn(InputSchema):
    """申请人: name, identity document (身份证明) and contact details (联系方式)."""

    type: ApplicantType = Field(description="申请人类型, as the annual report's columns")
    name: str = Field(min_length=1, max_length=200, description="姓名或者名称")
    id_type: IdType | None = Field(None, description="身份证明类型")
    id_number: str | None = Field(None, max_length=64,
                                  description="证件号码: resident IDs are checked (GB 11643), USCCs too (GB 32100)")
    phone: str | None = Field(None, max_length=32, description="mainland mobile or landline with area code")
    email: EmailStr | None = None
    address: str | None = Field(None, max_length=300, description="通信地址")
    postal_code: str | None = Field(None, description="邮政编码 (6 digits)")

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        return normalize_phone(value) if value else None

    @field_validator("postal_code")
    @classmethod
    def _postal_code(cls, value: str | None) -> str | None:
        if value and not POSTAL_CODE.match(value):
            raise ValueError("a postal code is 6 digits")
        return value or None

    @model_validator(mode="after")
    def _identity_and_contact(self) -> "ApplicantIn":
        if (self.id_type is None) != (not self.id_number):
            raise ValueError("id_type and id_number go together")
        if self.id_type is not None and self.id_number:
            allowed = PERSON_ID_TYPES if self.type == ApplicantType.NATURAL_PERSON else ORGANISATION_ID_TYPES
            if self.id_type not in allowed:
                raise ValueError(f"id_type {self.id_type.value} does not fit applicant type {self.type.value}")
            self.id_number = normalize_id_number(self.id_type.value, self.id_number)
        if not (self.phone or self.email or self.address):
            raise ValueError("give at least one way to reach the applicant: phone, email or address")
        return self


class ApplicantLookup(ApplicantIn):
    """Who to look up (按申请人查询): the identity as the applicant gave it at intake — the identity document (证件),
    or without one the type, name and the contact they gave. Matched on the same key intake stores, so the same
    normalisation (spaces, case, phone formats) applies."""

    @model_validator(mode="after")
    def _identity_and_contact(self) -> "ApplicantLookup":
        # The identity document alone identifies; only without one does the key rest on name and contact.
        if (self.id_type is None) != (not self.id_number):
            raise ValueError("id_type and id_number go together")
        if self.id_type is not None and self.id_number:
            self.id_number = normalize_id_number(self.id_type.value, self.id_number)
        elif not (self.phone or self.email or self.address):
            raise ValueError("give the identity document, or the contact the applicant gave (phone, email, address)")
        return self


class HandlingRole(LabeledEnum):
    """办理角色 · the request-handling roles of an organ"""

    INTAKE_CLERK = ("intake_clerk", "受理人员", "Intake clerk")
    HANDLER = ("handler", "承办人", "Handler")
    REPLY_APPROVER = ("reply_approver", "答复审核签发人", "Reply approver")


class StaffMemberRead(ReadSchema):
    """One of the organ's handling staff, as their last token showed them."""

    sub: str = Field(description="the identity platform's subject: what `assign` takes as handler_sub")
    name: str
    roles: list[Term]
    last_seen_at: datetime

    @classmethod
    def of(cls, member: Any) -> "StaffMemberRead":
        known = {r.value: r for r in HandlingRole}
        return cls(sub=member.sub, name=member.name, last_seen_at=member.last_seen_at,
                   roles=[Term(code=known[r].value, zh=known[r].zh, en=known[r].en)
                          for r in member.roles or [] if r in known])


class ApplicationFields(InputSchema):
    applicant: ApplicantIn
    info_title: str = Field(min_length=1, max_length=500, description="申请公开的政府信息名称")
    info_doc_number: str | None = Field(None, max_length=100, description="文号, if known")
    info_description: str = Field("", max_length=5000, description="便于查询的其他特征性描述")
    preferred_form: InfoForm = Field(InfoForm.ELECTRONIC, description="获取信息的形式")
    delivery: Delivery = Field(Delivery.ONLINE, description="获取方式")


class ApplicationSubmit(ApplicationFields):
    """The public online form (在线申请). Channel, status, dates and outcome are the organ's to set, never the
    applicant's: unknown fields are a 422."""

    organ_code: str = Field(min_length=9, max_length=18, pattern=r"^[0-9A-Za-z]+$",
                            description="The organ applied to (统一社会信用代码); see the catalogue's organ list")

    @field_validator("organ_code")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()


REGISTER_CHANNELS = (Channel.IN_PERSON, Channel.MAIL_SIGNED, Channel.MAIL_ORDINARY, Channel.EMAIL, Channel.FAX,
                     Channel.OTHER)


class ApplicationRegister(ApplicationFields):
    """An application received by the organ (当面、邮寄、电子邮件、传真), registered by its intake clerk. The organ is
    the clerk's; the receipt date follows 条例第三十一条 from the channel's facts."""

    channel: Channel = Field(description="in_person | mail_signed | mail_ordinary | email | fax | other")
    submitted_on: Annotated[date | None, Field(description="in_person: the day it was handed in (default today)")] = (
        None)
    signed_for_on: Annotated[date | None, Field(description="mail_signed: the day the organ signed for it")] = None

    _past = field_validator("submitted_on", "signed_for_on")(not_in_future)

    @model_validator(mode="after")
    def _channel_facts(self) -> "ApplicationRegister":
        if self.channel not in REGISTER_CHANNELS:
            raise ValueError("online applications come through the public form, not registration")
        if self.channel == Channel.MAIL_SIGNED and self.signed_for_on is None:
            raise ValueError("signed_for_on is required for post needing a signature (邮寄需签收)")
        if self.channel != Channel.MAIL_SIGNED and self.signed_for_on is not None:
            raise ValueError("signed_for_on applies only to channel mail_signed")
        if self.channel != Channel.IN_PERSON and self.submitted_on is not None:
            raise ValueError("submitted_on applies only to channel in_person; other channels are confirmed later")
        return self


class SuggestionRead(ReadSchema):
    """A published catalogue record that may already answer the request (条例第三十六条第一项)."""

    id: str
    index_no: str | None = Field(None, description="索引号")
    title: str
    doc_number: str | None = Field(None, description="文号")
    organ_code: str | None = None


class ApplicantRead(ReadSchema):
    """申请人 as shown: identity number, phone, e-mail and address masked unless `masked` is false (audited)."""

    type: ApplicantType
    type_label: Term
    name: str
    id_type: IdType | None
    id_number: str | None = Field(description="masked: first 3 + last 4, e.g. 110***********123X")
    phone: str | None = Field(description="masked: 138****5678")
    email: str | None
    address: str | None
    postal_code: str | None
    masked: bool

    @computed_field(description="证件类型 · identity document type label")  # type: ignore[prop-decorator]
    @property
    def id_type_label(self) -> Term | None:
        return label(self.id_type)


class ApplicationReceipt(ReadSchema):
    """What the applicant gets on submission. `query_code` (查询码) is shown this once and stored only as a hash."""

    id: str
    tracking_no: str = Field(description="申请编号")
    query_code: str = Field(description="查询码: keep it; with the tracking number it shows the application's progress")
    status: ApplicationStatus
    status_label: Term
    channel: Channel
    organ_code: str
    organ_name: str
    info_title: str
    submitted_at: datetime
    receipt_date: date | None = Field(description="收到申请之日 (条例第三十一条); null until confirmed")
    due_on: date | None = Field(description="答复期限 (条例第三十三条), once the clock runs")
    suggestions: list[SuggestionRead]

    @computed_field(description="申请渠道 · channel label")  # type: ignore[prop-decorator]
    @property
    def channel_label(self) -> Term:
        return label(self.channel)  # type: ignore[return-value]


class RegisterReceipt(ApplicationReceipt):
    """The intake clerk's receipt (受理回执): as the applicant's, plus the repeat flag and the masked applicant."""

    repeat_of: str | None = Field(description="a likely repeat of this answered application (same applicant)")
    applicant: ApplicantRead


# --- The applicant's own view -------------------------------------------------------------------------------------


class TrackQuery(InputSchema):
    tracking_no: str = Field(min_length=1, max_length=32, description="申请编号, e.g. GK2026-ABCD2345")
    query_code: str = Field(min_length=1, max_length=64, description="查询码")

    @field_validator("tracking_no", "query_code")
    @classmethod
    def _fold(cls, value: str) -> str:
        # People copy codes with spaces or lower case; neither is significant.
        return "".join(value.split()).upper()

    @field_validator("tracking_no")
    @classmethod
    def _shape(cls, value: str) -> str:
        # Only numbers this service could have issued are looked up (and counted in LookupAttempt): a malformed
        # one cannot exist, so refusing it reveals nothing.
        if not re.fullmatch(TRACKING_NO_PATTERN, value):
            raise ValueError("a tracking number looks like GK2026-ABCD2345")
        return value


class LetterSummary(ReadSchema):
    """A letter sent to the applicant; `id` names it for the download (HTML, or PDF with `.pdf`)."""

    id: str
    kind: LetterKind
    kind_label: Term
    title: str = Field(description="文书名称, e.g. 补正告知书")
    number: str | None = Field(None, description="文号, e.g. 测试市财政局依补〔2026〕3号 (null: issued before 文号)")
    issued_on: date
    sha256: str = Field(description="SHA-256 of the letter as issued (HTML): the X-Letter-SHA256 of its download")


class ApplicantApplicationRead(ReadSchema):
    """An application as its applicant sees it: progress and letters, never staff notes or other people's data."""

    id: str
    tracking_no: str
    status: ApplicationStatus
    status_label: Term
    channel: Channel
    organ_code: str
    organ_name: str
    info_title: str
    submitted_at: datetime
    receipt_date: date | None
    due_on: date | None
    due_provisional: bool = Field(description="the due date rests on a provisional working-day calendar")
    outcome: Outcome | None
    outcome_label: Term | None
    closed_on: date | None
    letters: list[LetterSummary]
    applicant: ApplicantRead

    @computed_field(description="申请渠道 · channel label")  # type: ignore[prop-decorator]
    @property
    def channel_label(self) -> Term:
        return label(self.channel)  # type: ignore[return-value]


# --- Personal data -------------------------------------------------------------------------------------------------


class ApplicantAccessRead(ReadSchema):
    application_id: str
    applicant: ApplicantRead


# --- Catalogue suggestions -----------------------------------------------------------------------------------------


class SuggestionsRead(Page[SuggestionRead]):
    """The common list envelope (services/pagination.py): a short list, exact `total`."""

    fresh: bool = Field(description="false: the catalogue did not answer; these are the ones stored at intake")


# --- Monthly counts (第三十五条, 109号 按件计收) -----------------------------------------------------------


class ApplicantMonthCount(ReadSchema):
    applicant_key: str = Field(description="opaque key of the applicant in this organ (a keyed HMAC, not derivable "
                                           "from personal data); changes when the server's secret is rotated")
    applicant_name: str
    applicant_type: ApplicantType
    count: int = Field(description="applications to this organ in the month (by receipt date, else submission)")

    @computed_field(description="申请人类型 · applicant type label")  # type: ignore[prop-decorator]
    @property
    def applicant_type_label(self) -> Term:
        return label(self.applicant_type)  # type: ignore[return-value]


# --- Consultations (咨询) -------------------------------------------------------------------------------------------


class ConsultationCreate(InputSchema):
    channel: ConsultationChannel
    received_on: date
    topic: str = Field(min_length=1, max_length=500)
    answer: str | None = Field(None, max_length=10000)

    _past = field_validator("received_on")(not_in_future)


class ConsultationRead(ReadSchema):
    id: str
    organ_code: str
    channel: ConsultationChannel
    channel_label: Term
    received_on: date
    topic: str
    answer: str | None
    recorded_by: str
    created_at: datetime


class ConsultationSummary(ReadSchema):
    organ_code: str
    year: int
    total: int
    by_channel: dict[str, int] = Field(description="every channel of the vocabulary, zeros included")

    @computed_field(description="咨询渠道 · the label of each key of by_channel")  # type: ignore[prop-decorator]
    @property
    def channel_labels(self) -> dict[str, Term]:
        return {code: label(ConsultationChannel(code)) for code in self.by_channel}  # type: ignore[misc]


def labelled(data: dict[str, Any], **enums: type[LabeledEnum]) -> dict[str, Any]:
    """Add `<field>_label` terms for enum-valued fields of a dict about to become a read model."""
    out = dict(data)
    for name, enum in enums.items():
        value = data.get(name)
        out[f"{name}_label"] = term(enum(value)) if value is not None else None
    return out


# --- 依申请转主动 (条例第四十四条, issue 16 item 5) -------------------------------------------------------------

class ProactiveTaskRead(ReadSchema):
    """A "consider proactive disclosure" task: several applicants asked for the information, and it was granted."""

    id: str
    organ_code: str
    info_title: str = Field(description="the information as the granted application named it")
    info_doc_number: str | None
    applications: int = Field(description="applications to the organ for the same information, now")
    applicants: int = Field(description="different applicants among them")
    granted_application_id: str
    opened_on: date
    due_on: date = Field(description="PROACTIVE_DUE_WORKING_DAYS working days after it was opened")
    overdue: bool = Field(description="open past its due date")
    status: ProactiveTaskStatus = Field(description="open | published (a catalogue record publishes it) | declined")
    status_label: Term
    document_id: str | None = Field(description="the catalogue record that publishes it (主动公开)")
    reason: str | None
    closed_on: date | None
    closed_by: str | None
    version: int


class ProactiveTaskClose(InputSchema):
    """Close a task: link the catalogue record that now publishes the information, or decline with a reason."""

    document_id: str | None = Field(None, min_length=1, max_length=36,
                                    description="id of the published catalogue record (主动公开)")
    reason: str | None = Field(None, min_length=2, max_length=2000,
                               description="why it is not published proactively (declined); needed without a record")

    @model_validator(mode="after")
    def _one_way(self) -> "ProactiveTaskClose":
        if (self.document_id is None) == (self.reason is None):
            raise ValueError("give document_id (published) or reason (declined), one of them")
        return self


class DisclosureLogItem(ReadSchema):
    """公开记录 · one granted application, de-identified: what was asked and answered, nothing about who asked."""

    id: str = Field(description="the application's id (internal reference; no applicant data behind this list)")
    organ_code: str
    info_title: str
    info_doc_number: str | None
    outcome: Outcome
    outcome_label: Term
    granted_on: date
    same_requests: int = Field(description="applications to the organ for the same information")
    published_document_id: str | None = Field(description="published proactively afterwards: the catalogue record")


class ProactiveSummary(ReadSchema):
    organ_code: str
    year: int
    granted: int = Field(description="applications granted (予以公开 / 部分公开) in the year")
    published_later: int = Field(description="of those, whose information a catalogue record now publishes")
    share: float | None = Field(description="published_later / granted, 4 places; null without grants")
    open_tasks: int
    overdue_tasks: int
