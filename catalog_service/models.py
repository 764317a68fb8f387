"""ORM of the catalogue. Ids are UUIDv4 strings (never sequential: no enumeration oracle)."""

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    event,
    false,
    inspect,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.orm.attributes import PASSIVE_NO_INITIALIZE

from services.audit import AuditLog
from services.db import UtcDateTime, make_metadata, utcnow
from services.outbox import Outbox


class Base(DeclarativeBase):
    metadata = make_metadata()


outbox = Outbox(Base.metadata)
audit = AuditLog(Base.metadata)  # 审计日志 (services/audit.py)


def new_id() -> str:
    return str(uuid.uuid4())


class Organ(Base):
    """机关 · an administrative organ, with its 公开指南 contact facts (条例第十二条)."""

    __tablename__ = "organ"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    code: Mapped[str] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    short_name: Mapped[str | None] = mapped_column(String(50))
    kind: Mapped[str] = mapped_column(String(32))
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("organ.id"), index=True)
    # Materialised path of ids, "/root/…/self/": an organ and all its subordinates is one prefix match.
    path: Mapped[str] = mapped_column(String(2000), index=True)
    office_address: Mapped[str | None] = mapped_column(String(300))
    office_hours: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(50))
    fax: Mapped[str | None] = mapped_column(String(50))
    email: Mapped[str | None] = mapped_column(String(200))
    website: Mapped[str | None] = mapped_column(String(300))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)
    # 标准目录 (issue 16 item 4): the title keywords of the items the organ adopted (derived, kept by
    # domain/standards.adopt), so a document event can name the keywords its public title contains without a query
    # and without carrying the title (the outbox keeps events after a record is withdrawn).
    standard_keywords: Mapped[list[str] | None] = mapped_column(JSON)  # None: adopted none


class IndexSerial(Base):
    """The last 索引号 serial handed out per organ and year (serials are never reused)."""

    __tablename__ = "index_serial"

    organ_id: Mapped[str] = mapped_column(ForeignKey("organ.id"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_serial: Mapped[int] = mapped_column(Integer, default=0)


class Document(Base):
    """政府信息 · one catalogue record, its metadata, review state and publication."""

    __tablename__ = "document"
    __table_args__ = (
        UniqueConstraint("source_system", "external_id", name="uq_document_external"),
        Index("ix_document_status_published", "status", "published_at"),
        Index("ix_document_organ_status", "organ_id", "status"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organ_id: Mapped[str] = mapped_column(ForeignKey("organ.id"), index=True)  # lead organ (牵头/发布机关)
    index_no: Mapped[str | None] = mapped_column(String(64), unique=True)  # 索引号, never changed once set
    title: Mapped[str] = mapped_column(String(500))
    summary: Mapped[str | None] = mapped_column(Text)  # 内容概述
    doc_number: Mapped[str | None] = mapped_column(String(100), index=True)  # 文号, stored exactly
    # 文号 in canonical form (穗府办〔2011〕8号 whatever brackets it was stored with; domain/query.py), kept with the
    # projection: a 文号 query finds its record first however either side wrote the brackets.
    doc_number_key: Mapped[str | None] = mapped_column(String(100), index=True)
    subject_category: Mapped[str | None] = mapped_column(String(40))  # 主题分类
    genre: Mapped[str | None] = mapped_column(String(40), index=True)  # 体裁分类
    article20_item: Mapped[str | None] = mapped_column(String(4))  # 条例第二十条 item
    key_areas: Mapped[list[str]] = mapped_column(JSON, default=list)  # 重点领域
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    written_date: Mapped[date | None] = mapped_column(Date)  # 成文日期
    formed_on: Mapped[date | None] = mapped_column(Date)  # 形成或者变更之日 (条例第二十六条)
    effective_date: Mapped[date | None] = mapped_column(Date)
    repeal_date: Mapped[date | None] = mapped_column(Date)
    validity: Mapped[str] = mapped_column(String(16), default="in_force")  # 有效性
    # 有效期 (issue 16, domain/validity.py): the drafter's explicit last day in force (有效期至), the effective one set
    # at publication (explicit, or derived for the genres CATALOG_VALIDITY_YEARS lists), and the first day the record
    # is no longer in force (kept by the hook below from the repeal date, the expiry and validity_history).
    valid_until: Mapped[date | None] = mapped_column(Date)
    expires_on: Mapped[date | None] = mapped_column(Date, index=True)
    ceased_on: Mapped[date | None] = mapped_column(Date)
    body: Mapped[str] = mapped_column(Text, default="")  # the original; the public never receives it redacted
    interpretation_of_id: Mapped[str | None] = mapped_column(ForeignKey("document.id"))  # 解读 → the policy
    # 解读 duty (issue 16): a 行政规范性文件 or a record flagged as major policy (重大政策) is due a 解读 within
    # CATALOG_INTERPRETATION_DUE_WORKING_DAYS of its publication; the deadline is set when it is published.
    major_policy: Mapped[bool] = mapped_column(default=False, server_default=false())
    interpretation_due_on: Mapped[date | None] = mapped_column(Date)
    # 公开目录栏目 the record is placed in explicitly (ids of its organ's columns); rule-based placement by
    # 体裁/主题 is the column's own (CatalogColumn.genres / subject_categories). None = none.
    column_ids: Mapped[list[str] | None] = mapped_column(JSON)
    # Review: the drafter's proposal and the decided attribute (公开属性) with grounds when withholding.
    proposed_attribute: Mapped[str | None] = mapped_column(String(16))
    attribute: Mapped[str | None] = mapped_column(String(16))
    withholding_grounds: Mapped[list[str]] = mapped_column(JSON, default=list)
    attribute_reason: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="draft")
    # 涉密: classified records can never be published and never appear in any public read, search, feed or count.
    classified: Mapped[bool] = mapped_column(default=False)
    classification_level: Mapped[str | None] = mapped_column(String(16))
    secrecy_period_years: Mapped[int | None] = mapped_column(Integer)
    declassify_on: Mapped[date | None] = mapped_column(Date)
    classification_responsible: Mapped[str | None] = mapped_column(String(100))  # 定密责任人
    # Publication and its statutory clock.
    scheduled_publish_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    publication_due_on: Mapped[date | None] = mapped_column(Date, index=True)  # 20 working days from formed_on
    publication_due_provisional: Mapped[bool] = mapped_column(default=False)
    reevaluation_due_on: Mapped[date | None] = mapped_column(Date, index=True)  # 条例第十八条 动态调整
    withdrawn_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    withdrawal_reason: Mapped[str | None] = mapped_column(Text)
    # The public projection, derived from the redactions at every change (区分处理); search indexes it.
    public_title: Mapped[str] = mapped_column(String(500), default="")
    public_summary: Mapped[str | None] = mapped_column(Text)
    public_body: Mapped[str] = mapped_column(Text, default="")
    source_system: Mapped[str | None] = mapped_column(String(64))
    external_id: Mapped[str | None] = mapped_column(String(128))
    content_hash: Mapped[str | None] = mapped_column(String(64))  # bulk upsert: unchanged retries change nothing
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # 历史数据迁移: a record brought over from another system with its real dates (bulk import `history`): its
    # publication date lies in the past, and reports count it in its own year (issue 15 item 3).
    migrated: Mapped[bool] = mapped_column(default=False, server_default=false())
    validity_history: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)  # [{validity, since}], oldest first
    created_by: Mapped[str | None] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)


class DocumentIssuer(Base):
    """联合发文: the organs that issued a document together; one of them leads (牵头)."""

    __tablename__ = "document_issuer"

    document_id: Mapped[str] = mapped_column(ForeignKey("document.id", ondelete="CASCADE"), primary_key=True)
    organ_id: Mapped[str] = mapped_column(ForeignKey("organ.id"), primary_key=True)
    is_lead: Mapped[bool] = mapped_column(default=False)


class DocumentLink(Base):
    """A document amends (修订) or repeals (废止) another."""

    __tablename__ = "document_link"

    from_id: Mapped[str] = mapped_column(ForeignKey("document.id", ondelete="CASCADE"), primary_key=True)
    to_id: Mapped[str] = mapped_column(ForeignKey("document.id"), primary_key=True, index=True)
    kind: Mapped[str] = mapped_column(String(16))  # amends | repeals


class Redaction(Base):
    """区分处理: one withheld segment of title, summary or body, with its legal ground (条例第三十七条).

    Anchored on its text, not on its offsets (domain/anchors.py): an edit moves the text under the offsets, so the
    segment is found again by the exact withheld text and a little context on each side; the offsets are only the
    last known position (a hint). A segment that cannot be found again unambiguously is `lost`: its field is
    withheld whole and the record goes no further in review until a secrecy officer has looked at it."""

    __tablename__ = "redaction"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    document_id: Mapped[str] = mapped_column(ForeignKey("document.id", ondelete="CASCADE"), index=True)
    field: Mapped[str] = mapped_column(String(16))  # title | summary | body
    # Offsets in Unicode code points (Python str indices, not UTF-16 units nor bytes), end exclusive.
    start: Mapped[int] = mapped_column(Integer)
    end: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)  # the withheld text exactly: staff-only, like the original it is cut from
    prefix: Mapped[str] = mapped_column(String(64), default="")  # up to 16 code points of context before …
    suffix: Mapped[str] = mapped_column(String(64), default="")  # … and after, to tell repeated text apart
    state: Mapped[str] = mapped_column(String(16), default="anchored")  # anchored | lost
    ground: Mapped[str] = mapped_column(String(40))
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(100))
    # The role it was added in: a secrecy officer's redaction is removed only by a secrecy officer. None: added
    # before roles were recorded, treated as the secrecy officer's.
    created_role: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class ReviewStep(Base):
    """One transition of the review workflow; immutable (the service never updates or deletes these rows)."""

    __tablename__ = "review_step"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    document_id: Mapped[str] = mapped_column(ForeignKey("document.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(32))
    actor_sub: Mapped[str] = mapped_column(String(100))
    actor_name: Mapped[str] = mapped_column(String(100), default="")
    role: Mapped[str] = mapped_column(String(32))
    comment: Mapped[str | None] = mapped_column(Text)
    status_before: Mapped[str | None] = mapped_column(String(20))
    status_after: Mapped[str] = mapped_column(String(20))
    attribute_before: Mapped[str | None] = mapped_column(String(16))
    attribute_after: Mapped[str | None] = mapped_column(String(16))
    # The redaction a redaction_* step is about (added, removed, re-anchored or lost); no foreign key: the log
    # outlives a removed redaction.
    redaction_id: Mapped[str | None] = mapped_column(String(36))
    at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class Attachment(Base):
    """附件: a real file stored by its SHA-256; public only if its document is public and it is not withheld."""

    __tablename__ = "attachment"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    document_id: Mapped[str] = mapped_column(ForeignKey("document.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    withheld: Mapped[bool] = mapped_column(default=False)  # 不予公开 part of a partially disclosed record
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    # 附件无法打开 (domain/attachment_checks.py): the latest check's finding (null: opens), when it ran, and the
    # version of the `attachment.checked` events (one per change of finding) the statistics score.
    check_problem: Mapped[str | None] = mapped_column(String(32))
    checked_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), index=True)
    check_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class AttachmentBlob(Base):
    """附件内容: an attachment's bytes kept in the database (CATALOG_ATTACHMENT_STORE=database), by SHA-256, so every
    instance serves every file and a database backup holds them; shared by every attachment with that content."""

    __tablename__ = "attachment_blob"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class IdempotencyKey(Base):
    """Idempotency-Key of a system client's call (reliability.md §2.1): the first response, replayed verbatim.

    Keyed by (token sub, key); `request_hash` covers the route and the canonical body, so the same key with
    another body is refused. Rows are kept at least 24 h (prune by created_at)."""

    __tablename__ = "idempotency_key"

    principal_sub: Mapped[str] = mapped_column(String(100), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response_body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, index=True)


# ---- the working-day calendar learnt from the request service's feed (calendar.year_loaded) --------------------------


class CalendarYear(Base):
    """工作日历 · one year as the request service (which owns the calendar) announced it on its event feed.

    Years never announced fall back to the chinese-calendar package (the request service seeds the same data without
    publishing events); an announced year overrides it (domain/calendar.py)."""

    __tablename__ = "calendar_year"

    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(16))  # official | provisional, as announced
    notice: Mapped[str | None] = mapped_column(Text)  # 国务院办公厅关于X年部分节假日安排的通知
    source_event_id: Mapped[int] = mapped_column(BigInteger)  # the producer's outbox id: stale redeliveries skipped
    source_version: Mapped[int] = mapped_column(Integer)  # the producer's version of the year
    learnt_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class CalendarDay(Base):
    """An exception to "Monday–Friday work" of a learnt year: a holiday, or a 调休 make-up working day."""

    __tablename__ = "calendar_day"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    year: Mapped[int] = mapped_column(ForeignKey("calendar_year.year", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # holiday | makeup_workday
    name: Mapped[str] = mapped_column(String(50), default="")


class CalendarState(Base):
    """One row (id 1): the generation of the learnt calendar, bumped whenever a year changes.

    Every process caches its calendar snapshot under the generation it read, so one primary-key read per use tells
    it whether the snapshot is still current. Writers of publication deadlines lock the row shared and the feed
    consumer locks it exclusively (PostgreSQL): no deadline is computed from a calendar that is being replaced."""

    __tablename__ = "calendar_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    generation: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


# ---- search dictionary (检索词典): synonyms and abbreviations, admin-managed and versioned -------------------------

class SearchSynonym(Base):
    """同义词 · one entry of the search dictionary: forms that mean the same (公租房 / 公共租赁住房). Applied at query
    time (domain/query.py): a query word that is one form matches any form, so an edit needs no reindexing."""

    __tablename__ = "search_synonym"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    words: Mapped[list[str]] = mapped_column(JSON)  # two or more forms, as entered
    note: Mapped[str | None] = mapped_column(String(500))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)


class SearchDictionaryState(Base):
    """One row (id 1): the version of the search vocabulary (synonym entries, organ names), bumped by every change.
    Each process keeps its segmenter dictionary and synonym map under the version it read (domain/synonyms.py)."""

    __tablename__ = "search_dictionary_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


# ---- search revocations (检索撤销): visibility in search is never eventual -------------------------------------------

class SearchRevocation(Base):
    """检索撤销 · written in the same transaction as any change that takes a public record out of public view or
    changes its public text (涉密 classification, 撤回 withdrawal, 区分处理 redaction, an edit of a published
    record): until an index entry read *after* this row exists, search leaves the record out of results, counts and
    facets (domain/search.py), so the index's lag never exposes what was withdrawn — not for a second.
    Rows are kept for REVOCATION_RETENTION (domain/indexer.py), far longer than any index may lag and stay ready."""

    __tablename__ = "search_revocation"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    document_id: Mapped[str] = mapped_column(String(36), index=True)  # no foreign key: deletions are revoked too
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, index=True)


# What the public search matches on: a change to any of these on a public record revokes its index entry.
PUBLIC_TEXT_ATTRIBUTES = ("public_title", "public_summary", "public_body", "doc_number", "index_no", "keywords")


def _history(state: Any, name: str) -> Any:
    # What state.attrs[name].history returns, without state.attrs: that builds an AttributeState for each of the
    # document's 53 attributes, once per object: most of this rule's cost on a batch of dirty records.
    return state.get_history(name, PASSIVE_NO_INITIALIZE)


def _old(state: Any, name: str) -> Any:
    history = _history(state, name)
    return history.deleted[0] if history.deleted else getattr(state.obj(), name)


@event.listens_for(Session, "before_flush")
def _keep_ceased_on(session: Session, _context: Any, _instances: Any) -> None:
    """Document.ceased_on follows the record's own dates on every write path (workflow, links, bulk import), so the
    "in force on D" filter is one SQL condition (domain/validity.py)."""
    from catalog_service.domain.validity import ceased_on

    for doc in [*session.new, *session.dirty]:
        if isinstance(doc, Document):
            day = ceased_on(doc)
            if doc.ceased_on != day:
                doc.ceased_on = day


@event.listens_for(Session, "before_flush")
def _revoke_from_search(session: Session, _context: Any, _instances: Any) -> None:
    """Add a SearchRevocation for every public record this flush takes out of public view, deletes, or whose public
    text it changes. One rule at the ORM layer, so no write path (workflow, bulk import, redaction, links) can
    forget it; writes by plain SQL UPDATE would bypass it, and the catalogue has none for documents."""
    for doc in [*session.dirty, *session.deleted]:
        if not isinstance(doc, Document):
            continue
        state = inspect(doc)
        if not (_old(state, "status") == "published" and not _old(state, "classified")):
            continue
        still_public = doc.status == "published" and not doc.classified and doc not in session.deleted
        if not still_public or any(_history(state, n).has_changes() for n in PUBLIC_TEXT_ATTRIBUTES):
            session.add(SearchRevocation(document_id=doc.id))

# ---- webhook subscriptions (推送订阅) of integrating agencies: domain/webhooks.py ----------------------------------

class WebhookSubscription(Base):
    """推送订阅 · an integration client's subscription to the published catalogue of an organ and its subordinates.

    `secret` signs deliveries (Standard Webhooks, whsec_…); after a rotation `previous_secret` still signs until
    `previous_secret_expires_at`, so the receiver can switch over. `last_seq` is the sequence number of the newest
    delivery fanned out to it; `start_event_id` the outbox position when it was created (nothing older is sent)."""

    __tablename__ = "webhook_subscription"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    owner: Mapped[str] = mapped_column(String(200), index=True)  # the integration client's token `sub`
    organ_id: Mapped[str] = mapped_column(ForeignKey("organ.id"), index=True)
    url: Mapped[str] = mapped_column(String(2048))
    event_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    description: Mapped[str | None] = mapped_column(String(200))
    secret: Mapped[str] = mapped_column(String(100))
    previous_secret: Mapped[str | None] = mapped_column(String(100))
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | disabled
    disabled_reason: Mapped[str | None] = mapped_column(String(500))
    failing_since: Mapped[datetime | None] = mapped_column(UtcDateTime())
    start_event_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), default=0)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)


class WebhookDelivery(Base):
    """One event for one subscription, numbered `seq` (1, 2, … per subscription) and sent in that order. Its body
    is built when sent, from the record as the public sees it then: a retry never carries what has since been
    withdrawn or classified. status: pending → delivered, or dead (dead-letter) after the retry window."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        UniqueConstraint("subscription_id", "seq", name="uq_webhook_delivery_seq"),
        Index("ix_webhook_delivery_due", "subscription_id", "status", "seq"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)  # the webhook-id
    subscription_id: Mapped[str] = mapped_column(ForeignKey("webhook_subscription.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    event_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))  # outbox position
    event_type: Mapped[str] = mapped_column(String(40))  # the outbox type it came from
    document_id: Mapped[str] = mapped_column(String(36))
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime())
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    first_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class WebhookAttempt(Base):
    """The delivery log: one row per HTTP attempt (status, latency, the start of the receiver's answer)."""

    __tablename__ = "webhook_attempt"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(ForeignKey("webhook_delivery.id", ondelete="CASCADE"), index=True)
    attempted_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    status_code: Mapped[int | None] = mapped_column(Integer)
    ok: Mapped[bool] = mapped_column(default=False)
    latency_ms: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(String(300))
    response_excerpt: Mapped[str | None] = mapped_column(String(500))


class CatalogColumn(Base):
    """公开目录栏目 · a column of an organ's disclosure catalogue with the update rule it must meet (更新要求):
    `interval` (every N days / weeks / months, e.g. 工作动态 every 2 weeks), `statutory` (every year by MM-DD, e.g.
    年度报告 by 01-31) or `when_changed` (updated when the matter changes; a 备注说明 `note` says why it is
    legitimately empty). Records are placed in it by their 体裁 / 主题分类 (`genres`, `subject_categories`) or
    explicitly (Document.column_ids). Announced on the outbox as column.created / column.updated."""

    __tablename__ = "catalog_column"
    __table_args__ = (UniqueConstraint("organ_id", "name", name="uq_catalog_column_organ_name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organ_id: Mapped[str] = mapped_column(ForeignKey("organ.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    rule: Mapped[str] = mapped_column(String(16))  # interval | statutory | when_changed
    every: Mapped[int | None] = mapped_column(Integer)
    unit: Mapped[str | None] = mapped_column(String(8))  # day | week | month
    statutory_date: Mapped[str | None] = mapped_column(String(5))  # MM-DD
    note: Mapped[str | None] = mapped_column(Text)  # 备注说明
    genres: Mapped[list[str]] = mapped_column(JSON, default=list)
    subject_categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(default=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class StandardCatalogue(Base):
    """基层政务公开标准目录 · one area's standard list (国办发〔2019〕54号 标准指引) as shared reference data: its items
    (公开事项 with 公开内容(要素), 公开依据, 公开时限 — also as a rule —, 公开主体, 公开渠道和载体, 公开对象,
    公开方式, and the rules that map records to it) and its named source. Importing a code again stores the next
    version; adoptions keep the version they adopted."""

    __tablename__ = "standard_catalogue"
    __table_args__ = (UniqueConstraint("code", "version", name="uq_standard_catalogue_code_version"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    code: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    area: Mapped[str] = mapped_column(String(100))  # 领域
    title: Mapped[str] = mapped_column(String(500))
    source: Mapped[dict[str, Any]] = mapped_column(JSON)
    entries: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # 公开事项
    imported_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class StandardAdoption(Base):
    """An organ's adoption of a standard catalogue (all items or some), from `adopted_on`. Announced on the outbox
    (standard_adoption.changed) with its items, rules and explicit mappings for the scorecard."""

    __tablename__ = "standard_adoption"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organ_id: Mapped[str] = mapped_column(ForeignKey("organ.id"), index=True)
    catalogue_id: Mapped[str] = mapped_column(ForeignKey("standard_catalogue.id"), index=True)
    item_keys: Mapped[list[str]] = mapped_column(JSON)
    adopted_on: Mapped[date] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class StandardMapping(Base):
    """A record mapped to an adopted item explicitly by staff, from `mapped_on` (a past day's coverage stays)."""

    __tablename__ = "standard_mapping"
    __table_args__ = (UniqueConstraint("adoption_id", "item_key", "document_id", name="uq_standard_mapping"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    adoption_id: Mapped[str] = mapped_column(ForeignKey("standard_adoption.id"), index=True)
    item_key: Mapped[str] = mapped_column(String(40))
    document_id: Mapped[str] = mapped_column(ForeignKey("document.id"), index=True)
    mapped_on: Mapped[date] = mapped_column(Date)
    mapped_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
