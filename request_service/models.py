"""ORM of the request service (依申请公开). Ids are UUIDv4 strings; dates of the statute are local dates
(Asia/Shanghai); instants are UTC."""

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.audit import AuditLog
from services.db import UtcDateTime, make_metadata, utcnow
from services.outbox import Outbox


class Base(DeclarativeBase):
    metadata = make_metadata()


outbox = Outbox(Base.metadata)
audit = AuditLog(Base.metadata)  # 审计日志 (services/audit.py)


def new_id() -> str:
    return str(uuid.uuid4())


class CalendarYear(Base):
    """One year of the working-day calendar: official (国务院办公厅 notice loaded) or provisional."""

    __tablename__ = "calendar_year"

    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(16))  # official | provisional
    source: Mapped[str] = mapped_column(String(40))  # chinese-calendar | admin
    notice: Mapped[str | None] = mapped_column(String(300))  # e.g. 国办发明电〔2024〕12号
    loaded_by: Mapped[str | None] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer, default=1)
    loaded_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class CalendarDay(Base):
    """An exception to "Monday–Friday work": a holiday on a weekday, or a 调休 make-up working day at a weekend."""

    __tablename__ = "calendar_day"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    year: Mapped[int] = mapped_column(ForeignKey("calendar_year.year", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # holiday | makeup_workday
    name: Mapped[str] = mapped_column(String(50), default="")


class KnownOrgan(Base):
    """The organ directory as learnt from the catalogue's event feed (organ.created / organ.updated)."""

    __tablename__ = "known_organ"

    code: Mapped[str] = mapped_column(String(18), primary_key=True)
    id: Mapped[str] = mapped_column(String(36), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    parent_code: Mapped[str | None] = mapped_column(String(18))
    path: Mapped[str] = mapped_column(String(2000), default="")  # "/root/…/self/" of codes: subtree queries
    version: Mapped[int] = mapped_column(Integer, default=1)
    # From the same events: the 简称 (文号 prefix of its letters) and the 公开指南 contact facts its letters print.
    short_name: Mapped[str | None] = mapped_column(String(50))
    office_address: Mapped[str | None] = mapped_column(String(300))
    office_hours: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(50))


class StaffMember(Base):
    """The organ's handling staff as their tokens have shown them (办理人员名录): whom an application can be assigned
    to. Learnt from the claims of staff who called the service (domain/directory.py), not kept by hand: the identity
    platform (统一身份认证) is where people and roles are managed, and `assign` takes the token's `sub`."""

    __tablename__ = "staff_member"

    organ_code: Mapped[str] = mapped_column(String(18), primary_key=True)
    sub: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)  # the handling roles the last token carried
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class Application(Base):
    """政府信息公开申请 · one application for disclosure, from intake to reply."""

    __tablename__ = "application"
    __table_args__ = (
        Index("ix_application_open_due", "status", "due_on"),
        # Work-lists: the organ's applications in some statuses, the deadline ones by a due_on range (request_0003).
        Index("ix_application_organ_status_due", "organ_code", "status", "due_on"),
        Index("ix_application_applicant_month", "applicant_key", "receipt_date"),
        # Repeat detection at intake: the applicant's answered applications to the organ (domain/repeats.py).
        Index("ix_application_applicant_repeat", "applicant_key", "organ_code", "status"),
        Index("ix_application_organ_info", "organ_code", "info_key"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tracking_no: Mapped[str] = mapped_column(String(32), unique=True)  # 申请编号, shown to the applicant
    query_code_hash: Mapped[str] = mapped_column(String(128))  # 查询码, stored as a salted hash
    organ_code: Mapped[str] = mapped_column(String(18), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    submitted_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    # 条例第三十一条: the receipt date; null until confirmed for ordinary letters, online, e-mail and fax.
    receipt_date: Mapped[date | None] = mapped_column(Date, index=True)
    confirmed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    confirmation_method: Mapped[str | None] = mapped_column(String(100))
    confirmed_by: Mapped[str | None] = mapped_column(String(100))
    # Applicant (申请人): type as the annual report's columns; personal data masked in responses by default.
    applicant_type: Mapped[str] = mapped_column(String(32))
    applicant_name: Mapped[str] = mapped_column(String(200))
    applicant_sub: Mapped[str | None] = mapped_column(String(100), index=True)  # the applicant's account, if any
    applicant_key: Mapped[str] = mapped_column(String(64))  # hash of the identity: repeats and monthly counts
    id_type: Mapped[str | None] = mapped_column(String(32))
    id_number: Mapped[str | None] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(300))
    postal_code: Mapped[str | None] = mapped_column(String(10))
    # What is requested (条例第二十九条).
    info_title: Mapped[str] = mapped_column(String(500))
    info_doc_number: Mapped[str | None] = mapped_column(String(100))
    info_description: Mapped[str] = mapped_column(Text, default="")
    # 依申请转主动 (条例第四十四条, domain/proactive.py): digest of the requested information's normalised 名称 and
    # 文号 — applications asking for the same information share it. Internal: never in a response.
    info_key: Mapped[str | None] = mapped_column(String(64))
    preferred_form: Mapped[str] = mapped_column(String(20), default="electronic")
    delivery: Mapped[str] = mapped_column(String(20), default="online")
    suggestions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # matching published documents
    repeat_of: Mapped[str | None] = mapped_column(String(36))  # likely repeat of this answered application
    # Handling.
    status: Mapped[str] = mapped_column(String(24), default="received")
    handler_sub: Mapped[str | None] = mapped_column(String(100))
    # The clock, derived from clock_segment and the calendar; stored for work-lists and recomputed on change.
    due_on: Mapped[date | None] = mapped_column(Date)
    due_provisional: Mapped[bool] = mapped_column(default=False)
    supplement_notice_due_on: Mapped[date | None] = mapped_column(Date)  # 补正告知: 7 working days from receipt
    supplement_due_on: Mapped[date | None] = mapped_column(Date)  # the applicant's 补正期限 (kept once received)
    supplement_received_on: Mapped[date | None] = mapped_column(Date)  # 收到补正的申请之日 (三（四）3 needs one)
    extension_days: Mapped[int] = mapped_column(Integer, default=0)
    extension_approved_by: Mapped[str | None] = mapped_column(String(100))
    extension_decided_on: Mapped[date | None] = mapped_column(Date)  # 第三十三条第二款: decided before expiry
    extension_reason: Mapped[str | None] = mapped_column(Text)
    deferred_due_on: Mapped[date | None] = mapped_column(Date)  # 条例第三十五条 reasonable deferred deadline
    # 条例第三十五条 as its steps: the applicant is asked to explain (说明理由, a notice with a reply window), the
    # reasons are recorded and judged; then 不予处理 (三（五）4) or a 延迟答复 decided before expiry, with a notice.
    explanation_requested_on: Mapped[date | None] = mapped_column(Date)
    explanation_due_on: Mapped[date | None] = mapped_column(Date)  # the applicant's window to explain
    explanation_received_on: Mapped[date | None] = mapped_column(Date)
    explanation_reasons: Mapped[str | None] = mapped_column(Text)
    explanation_judgement: Mapped[str | None] = mapped_column(String(16))  # reasonable | unreasonable | none_given
    deferral_decided_on: Mapped[date | None] = mapped_column(Date)
    deferral_reason: Mapped[str | None] = mapped_column(Text)
    # 正当理由 (第三十条): a late supplement accepted by the handler's recorded decision re-opens a 视为放弃 closure.
    good_cause_reason: Mapped[str | None] = mapped_column(Text)
    good_cause_decided_by: Mapped[str | None] = mapped_column(String(100))
    good_cause_decided_on: Mapped[date | None] = mapped_column(Date)
    reopened_closure_on: Mapped[date | None] = mapped_column(Date)  # the 视为放弃 closure that was undone
    # Fees (国办函〔2020〕109号).
    fee_method: Mapped[str | None] = mapped_column(String(20))  # per_application | per_volume
    fee_pages: Mapped[int | None] = mapped_column(Integer)
    fee_amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    fee_noticed_on: Mapped[date | None] = mapped_column(Date)
    fee_due_on: Mapped[date | None] = mapped_column(Date)
    fee_paid_on: Mapped[date | None] = mapped_column(Date)
    fee_paid_amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    fee_waived: Mapped[bool] = mapped_column(default=False)
    # Reply (答复).
    outcome: Mapped[str | None] = mapped_column(String(48))
    reply_articles: Mapped[list[str]] = mapped_column(JSON, default=list)
    reply_reasons: Mapped[str | None] = mapped_column(Text)
    withheld_parts: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # partial grants: what, why
    published_document_id: Mapped[str | None] = mapped_column(String(36))  # "already proactively published"
    reply_drafted_by: Mapped[str | None] = mapped_column(String(100))
    reply_approved_by: Mapped[str | None] = mapped_column(String(100))
    closed_on: Mapped[date | None] = mapped_column(Date, index=True)
    # Acts the 条例 allows but makes breaches (vocab.Breach), e.g. a late 补正 notice: [{code, article, on, due_on}].
    breaches: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)


class ProactiveTask(Base):
    """依申请转主动 · "consider proactive disclosure" (条例第四十四条): opened when several applicants asked one organ
    for the same information and one application was granted; closed by linking the catalogue record that now
    publishes it, or declined with a reason. One task per organ and information (info_key)."""

    __tablename__ = "proactive_task"
    __table_args__ = (UniqueConstraint("organ_code", "info_key", name="uq_proactive_task_info"),
                      Index("ix_proactive_task_organ_status_due", "organ_code", "status", "due_on"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organ_code: Mapped[str] = mapped_column(String(18))
    info_key: Mapped[str] = mapped_column(String(64))
    info_title: Mapped[str] = mapped_column(String(500))  # as the granted application named it
    info_doc_number: Mapped[str | None] = mapped_column(String(100))
    granted_application_id: Mapped[str] = mapped_column(String(36))
    opened_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | published | declined
    document_id: Mapped[str | None] = mapped_column(String(36))  # the catalogue record that publishes it
    reason: Mapped[str | None] = mapped_column(Text)
    closed_on: Mapped[date | None] = mapped_column(Date)
    closed_by: Mapped[str | None] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class ClockSegment(Base):
    """The statutory clock as a ledger: each segment is running, paused or stopped, with its legal basis.
    A `restart` segment discards the days counted before it (补正: 条例第三十条)."""

    __tablename__ = "clock_segment"
    __table_args__ = (UniqueConstraint("application_id", "seq"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    application_id: Mapped[str] = mapped_column(ForeignKey("application.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))  # running | paused | stopped
    restart: Mapped[bool] = mapped_column(default=False)  # counting starts again from zero here
    start_on: Mapped[date] = mapped_column(Date)  # counting resumes with the first working day AFTER this date
    end_on: Mapped[date | None] = mapped_column(Date)  # last day of the segment (inclusive); null = open
    basis: Mapped[str] = mapped_column(String(200))  # e.g. 条例第三十三条第三款 (征求第三方意见不计入期限)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class ThirdPartyConsultation(Base):
    """征求意见: a third party (第三十二条) or a co-author organ (第三十四条); 15 working days to answer."""

    __tablename__ = "third_party_consultation"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    application_id: Mapped[str] = mapped_column(ForeignKey("application.id", ondelete="CASCADE"), index=True)
    party_kind: Mapped[str] = mapped_column(String(20))  # third_party | co_author_organ
    party_name: Mapped[str] = mapped_column(String(200))
    sent_on: Mapped[date] = mapped_column(Date)
    received_by_party_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date)
    replied_on: Mapped[date | None] = mapped_column(Date)
    opinion: Mapped[str | None] = mapped_column(String(20))  # consent | object | no_reply (deemed)
    reasons: Mapped[str | None] = mapped_column(Text)


class Appeal(Base):
    """行政复议 / 行政诉讼 linked to an application (annual report table 四)."""

    __tablename__ = "appeal"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    application_id: Mapped[str] = mapped_column(ForeignKey("application.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(40))  # AppealKind
    case_no: Mapped[str | None] = mapped_column(String(100))
    filed_on: Mapped[date] = mapped_column(Date)
    outcome: Mapped[str] = mapped_column(String(16), default="pending")  # upheld | corrected | other | pending
    decided_on: Mapped[date | None] = mapped_column(Date)
    notes: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)


class Letter(Base):
    """A generated notice or reply letter (答复书, 补正告知书, 延期答复告知书, 第三方意见征询函, 收费通知)."""

    __tablename__ = "letter"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    application_id: Mapped[str] = mapped_column(ForeignKey("application.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    # 文号, e.g. 测试市财政局依复〔2026〕12号: assigned when the letter is issued (LetterSerial); null on letters issued
    # before 文号 existed.
    number: Mapped[str | None] = mapped_column(String(240), unique=True)
    html: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    issued_on: Mapped[date] = mapped_column(Date)
    # Notices whose window the law runs from the applicant's receipt (补正, 收费通知, 说明理由): how they went out and
    # when they arrived — electronic: the day sent; post: the day signed for, entered by staff. Until then the
    # window has not started (legal-rules §1.13). Null for other letters.
    delivery_channel: Mapped[str | None] = mapped_column(String(16))  # electronic | post
    delivered_on: Mapped[date | None] = mapped_column(Date)
    delivery_recorded_by: Mapped[str | None] = mapped_column(String(100))
    window_days: Mapped[int | None] = mapped_column(Integer)  # the window, in working days from delivery
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class LetterSerial(Base):
    """The last 文号 serial handed out per prefix (the organ's 简称), year and series (依复, 依补 …); never reused.
    Keyed by the prefix, not the organ: two organs that share a 简称 share its sequence, so 文号 stay unique."""

    __tablename__ = "letter_serial"

    prefix: Mapped[str] = mapped_column(String(200), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    series: Mapped[str] = mapped_column(String(16), primary_key=True)
    last_serial: Mapped[int] = mapped_column(Integer, default=0)


class HandlingStep(Base):
    """One audited transition of an application (who, role, when, from → to, comment)."""

    __tablename__ = "handling_step"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    application_id: Mapped[str] = mapped_column(ForeignKey("application.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(40))
    actor_sub: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(32))
    status_before: Mapped[str | None] = mapped_column(String(24))
    status_after: Mapped[str] = mapped_column(String(24))
    comment: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class Consultation(Base):
    """咨询: a question about disclosure (not an application), counted for the annual report."""

    __tablename__ = "consultation"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organ_code: Mapped[str] = mapped_column(String(18), index=True)
    channel: Mapped[str] = mapped_column(String(20))  # in_person | phone | online | email | letter | other
    received_on: Mapped[date] = mapped_column(Date, index=True)
    topic: Mapped[str] = mapped_column(String(500))
    answer: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class LookupAttempt(Base):
    """Failed 查询码 look-ups per tracking number, for the brute-force limit."""

    __tablename__ = "lookup_attempt"

    tracking_no: Mapped[str] = mapped_column(String(32), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime())


class PiiAccess(Base):
    """Every read of unmasked personal data (identity number, phone): who, what, why, when."""

    __tablename__ = "pii_access"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    application_id: Mapped[str] = mapped_column(String(36), index=True)
    actor_sub: Mapped[str] = mapped_column(String(100))
    roles: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(String(200))
    fields: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class IdempotencyRecord(Base):
    """A create request seen with an Idempotency-Key (reliability.md §2.1): a retry with the same key and body
    gets the first response again; the same key with another body is refused. The key itself is not stored
    (only a hash), and the response is encrypted with a key derived from it: a receipt carries the 查询码, which
    must not sit in the database in clear."""

    __tablename__ = "idempotency_record"

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256(scope, key)
    fingerprint: Mapped[str] = mapped_column(String(64))  # sha256 of the canonical request body
    status_code: Mapped[int | None] = mapped_column(Integer)  # null while the first request is in flight
    response: Mapped[str | None] = mapped_column(Text)  # AES-GCM(nonce ‖ ciphertext), base64
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, index=True)
