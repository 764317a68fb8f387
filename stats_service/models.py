"""ORM of the statistics service: snapshots of what the other services published on their feeds, counters kept
incrementally for the annual report, and what staff enter. Nothing here is read from another service's tables."""

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Date, Index, Integer, Numeric, String, Text, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.audit import AuditLog
from services.db import UtcDateTime, make_metadata, utcnow
from services.outbox import Outbox


class Base(DeclarativeBase):
    metadata = make_metadata()


outbox = Outbox(Base.metadata)
audit = AuditLog(Base.metadata)  # 审计日志 (services/audit.py)


class OrganFact(Base):
    """The organ directory as the catalogue announces it; `path` of codes gives subtree roll-ups."""

    __tablename__ = "organ_fact"

    code: Mapped[str] = mapped_column(String(18), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    parent_code: Mapped[str | None] = mapped_column(String(18))
    path: Mapped[str] = mapped_column(String(2000), index=True)
    version: Mapped[int] = mapped_column(Integer)


class ApplicationFact(Base):
    """The statistical projection of one application (no personal data), as of its latest version."""

    __tablename__ = "application_fact"
    __table_args__ = (
        Index("ix_application_fact_organ_received", "organ_code", "received_on"),
        # Covering on PostgreSQL (stats_0010): the scorecard's 按期答复率 and 依申请转主动率 over a city's
        # applications are index-only scans.
        Index("ix_application_fact_organ_closed", "organ_code", "closed_on",
              postgresql_include=["due_on", "status", "outcome", "info_key"]),
        # The report's fee figures and the dashboards' fees per day (migration stats_0002). Partial: few
        # applications carry a fee, and ingest then maintains these indexes only for those.
        Index("ix_application_fact_organ_fee_noticed", "organ_code", "fee_noticed_on",
              postgresql_where=text("fee_noticed_on IS NOT NULL"), sqlite_where=text("fee_noticed_on IS NOT NULL")),
        Index("ix_application_fact_organ_fee_paid", "organ_code", "fee_paid_on",
              postgresql_where=text("fee_paid_on IS NOT NULL"), sqlite_where=text("fee_paid_on IS NOT NULL")),
    )

    application_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    organ_code: Mapped[str] = mapped_column(String(18))
    applicant_type: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(24))
    received_on: Mapped[date | None] = mapped_column(Date)  # 收到申请之日 (or the submission date before it)
    closed_on: Mapped[date | None] = mapped_column(Date)
    outcome: Mapped[str | None] = mapped_column(String(48))
    due_on: Mapped[date | None] = mapped_column(Date)
    fee_amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    fee_noticed_on: Mapped[date | None] = mapped_column(Date)
    fee_paid_amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    fee_paid_on: Mapped[date | None] = mapped_column(Date)
    # 依申请转主动 (条例第四十四条): the request service's digest of the requested information's 名称 and 文号 (no
    # applicant data); a granted application counts as published later when its organ's task for the same key was
    # closed with a catalogue record (ProactiveTaskFact). Null on events from before the key was announced.
    info_key: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class AppealFact(Base):
    """行政复议 / 行政诉讼 cases (annual report table 四)."""

    __tablename__ = "appeal_fact"

    appeal_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    application_id: Mapped[str] = mapped_column(String(36), index=True)
    organ_code: Mapped[str] = mapped_column(String(18), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    outcome: Mapped[str] = mapped_column(String(16))
    filed_on: Mapped[date] = mapped_column(Date)
    decided_on: Mapped[date | None] = mapped_column(Date)


class DocumentFact(Base):
    """A public catalogue record (only what the public may see; withdrawn or classified → public False)."""

    __tablename__ = "document_fact"
    __table_args__ = (Index("ix_document_fact_organ_published", "organ_code", "published_at"),)  # dashboards

    document_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    public: Mapped[bool] = mapped_column(default=False)
    organ_code: Mapped[str | None] = mapped_column(String(18), index=True)
    genre: Mapped[str | None] = mapped_column(String(40))
    validity: Mapped[str | None] = mapped_column(String(16))
    written_date: Mapped[date | None] = mapped_column(Date)
    repeal_date: Mapped[date | None] = mapped_column(Date)
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # 形成或者变更之日 and the 条例第二十六条 deadline (20 working days after it) as the catalogue computed them
    # (migration stats_0003); null when the catalogue recorded no formation date or its event predates the fields.
    formed_on: Mapped[date | None] = mapped_column(Date)
    publication_due_on: Mapped[date | None] = mapped_column(Date)


class BreachFact(Base):
    """违规记录: a breach the request service recorded on an application (legal-rules §1.13: an act the 条例 allows
    but makes a breach, e.g. a late 补正 notice), one row per entry of the application's `breaches`. The rows of an
    application are replaced by those of its latest snapshot, so replays and later versions never count twice."""

    __tablename__ = "breach_fact"
    __table_args__ = (Index("ix_breach_fact_organ_occurred", "organ_code", "occurred_on"),)  # per organ and month

    application_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)  # position in the application's list
    version: Mapped[int] = mapped_column(Integer)  # the application version the row was taken from
    code: Mapped[str] = mapped_column(String(48))
    article: Mapped[str] = mapped_column(String(64))  # as the request service recorded it, e.g. 条例第三十条
    organ_code: Mapped[str] = mapped_column(String(18))  # the application's organ
    occurred_on: Mapped[date] = mapped_column(Date)  # the day of the act (the late notice's date)
    due_on: Mapped[date | None] = mapped_column(Date)  # the day it was due by, when the rule has one


class ConsultationFact(Base):
    """咨询 recorded by the request service."""

    __tablename__ = "consultation_fact"

    consultation_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    organ_code: Mapped[str] = mapped_column(String(18), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    received_on: Mapped[date] = mapped_column(Date)


class ReportCounter(Base):
    """Incrementally maintained counts of table 三: applications received / closed per organ, year, row, column.
    Carry-overs are derived (open at 1 January of Y = Σ received before Y − Σ closed before Y)."""

    __tablename__ = "report_counter"

    organ_code: Mapped[str] = mapped_column(String(18), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    row: Mapped[str] = mapped_column(String(48), primary_key=True)  # new_received | <outcome row>
    column: Mapped[str] = mapped_column(String(32), primary_key=True)  # applicant type
    count: Mapped[int] = mapped_column(Integer, default=0)


class EnteredFigure(Base):
    """Figures staff enter or agency systems push: licensing / penalty / coercion decisions, fee amount (万元),
    and the narrative sections."""

    __tablename__ = "entered_figure"

    organ_code: Mapped[str] = mapped_column(String(18), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    entered_by: Mapped[str] = mapped_column(String(100))
    entered_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class AnnualReport(Base):
    """Sign-off of one organ-year report: draft → submitted → published; the published figures are frozen."""

    __tablename__ = "annual_report"

    organ_code: Mapped[str] = mapped_column(String(18), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    include_subordinates: Mapped[bool] = mapped_column(primary_key=True, default=False)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    snapshot: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    submitted_by: Mapped[str | None] = mapped_column(String(100))
    submitted_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    published_by: Mapped[str | None] = mapped_column(String(100))
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    version: Mapped[int] = mapped_column(Integer, default=1)


class ScoreDocumentFact(Base):
    """考评 · a catalogue record as the scorecard needs it, with event-time dates so a scorecard for a past day D is
    reproducible: the day it became public (`published_on`, Beijing) and the day it stopped being public
    (`withdrawn_on`: the withdrawal event's day). Unlike DocumentFact the organ is kept after a withdrawal — a record
    public on D still counts for D. 解读 duty: `needs_interpretation` (行政规范性文件 or flagged major policy) with the
    catalogue's `interpretation_due_on`; a 解读 names its policy in `interpretation_of`."""

    __tablename__ = "score_document_fact"
    __table_args__ = (
        # Covering on PostgreSQL (stats_0008): publication timeliness over a period is an index-only scan.
        Index("ix_score_document_fact_organ_published", "organ_code", "published_on",
              postgresql_include=["publication_due_on", "withdrawn_on"]),
        # The scorecard's aggregates (migration stats_0008): a column's last update by its 体裁 / 主题分类 rule is a
        # backward index probe per (organ, kind) instead of a scan of the organ's records; policies needing a 解读
        # and records with a 有效期 are few, so partial indexes find them without reading the rest.
        Index("ix_score_document_fact_organ_genre_published", "organ_code", "genre", "published_on"),
        Index("ix_score_document_fact_organ_subject_published", "organ_code", "subject_category", "published_on"),
        # Covering on PostgreSQL (stats_0010): the 解读 and 有效期 figures of a city are index-only scans (their rows
        # are spread over the heap: a bitmap heap scan touched one page per record), and whether a policy has a
        # 解读 public on D is an index-only probe of the 解读 by the policy they name (partial: few records are 解读).
        Index("ix_score_document_fact_policies", "organ_code", "published_on",
              postgresql_include=["document_id", "withdrawn_on", "interpretation_due_on"],
              postgresql_where=text("needs_interpretation"), sqlite_where=text("needs_interpretation")),
        Index("ix_score_document_fact_organ_expires", "organ_code", "expires_on",
              postgresql_include=["published_on", "withdrawn_on", "repeal_date"],
              postgresql_where=text("expires_on IS NOT NULL"), sqlite_where=text("expires_on IS NOT NULL")),
        Index("ix_score_document_fact_interpretation_of", "interpretation_of",
              postgresql_include=["published_on", "withdrawn_on"],
              postgresql_where=text("interpretation_of IS NOT NULL"),
              sqlite_where=text("interpretation_of IS NOT NULL")),
    )

    document_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    organ_code: Mapped[str] = mapped_column(String(18))
    index_no: Mapped[str | None] = mapped_column(String(64))
    genre: Mapped[str | None] = mapped_column(String(40))
    subject_category: Mapped[str | None] = mapped_column(String(40))  # 主题分类: placement by a column's rules
    published_on: Mapped[date] = mapped_column(Date)
    withdrawn_on: Mapped[date | None] = mapped_column(Date)
    publication_due_on: Mapped[date | None] = mapped_column(Date)
    needs_interpretation: Mapped[bool] = mapped_column(default=False)
    interpretation_due_on: Mapped[date | None] = mapped_column(Date)
    interpretation_of: Mapped[str | None] = mapped_column(String(36))
    # 有效期 (issue 16 item 3): the last day in force and the 废止日期, as the record's latest public event says.
    expires_on: Mapped[date | None] = mapped_column(Date)
    repeal_date: Mapped[date | None] = mapped_column(Date)
    # 标准目录 (issue 16 item 4): the adopted title keywords its public title contains, as the catalogue announced
    # them (one a line; never the title itself).
    standard_keywords: Mapped[str | None] = mapped_column(Text)


class DocumentColumnFact(Base):
    """A public record placed explicitly in a catalogue column (公开目录栏目), as the catalogue announced it;
    replaced per document by its latest event (as breaches are per application). Placement by a column's 体裁 /
    主题分类 rules is matched when scoring (ColumnFact.genres / subject_categories)."""

    __tablename__ = "document_column_fact"
    # A column's last update is a backward probe of this index (migration stats_0008), not a join to every record.
    __table_args__ = (Index("ix_document_column_fact_column_published", "column_id", "published_on"),)

    document_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    column_id: Mapped[str] = mapped_column(String(36), primary_key=True, index=True)
    # The record's public life, copied from its ScoreDocumentFact (kept in step by ingest).
    published_on: Mapped[date | None] = mapped_column(Date)
    withdrawn_on: Mapped[date | None] = mapped_column(Date)


class ColumnFact(Base):
    """公开目录栏目 · a column of an organ's catalogue with its update rule (更新要求) and 备注说明."""

    __tablename__ = "column_fact"

    column_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    organ_code: Mapped[str] = mapped_column(String(18), index=True)
    name: Mapped[str] = mapped_column(String(200))
    rule: Mapped[str] = mapped_column(String(16))  # interval | statutory | when_changed
    every: Mapped[int | None] = mapped_column(Integer)
    unit: Mapped[str | None] = mapped_column(String(8))  # day | week | month
    statutory_date: Mapped[str | None] = mapped_column(String(5))  # MM-DD, every year
    note: Mapped[str | None] = mapped_column(Text)  # 备注说明 (why it is legitimately empty)
    genres: Mapped[list[str]] = mapped_column(JSON, default=list)  # records of these 体裁 are in the column
    subject_categories: Mapped[list[str]] = mapped_column(JSON, default=list)  # … and of these 主题分类
    created_on: Mapped[date] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(default=True)


class ScorecardSheet(Base):
    """考评指标表 · an indicator sheet (data, not code): a province loads its own; versions are kept so a past
    scorecard is reproduced with the sheet it used."""

    __tablename__ = "scorecard_sheet"

    sheet_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(Text)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    loaded_by: Mapped[str] = mapped_column(String(100))
    loaded_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class ProactiveTaskFact(Base):
    """依申请转主动 · a "consider proactive disclosure" task of the request service (条例第四十四条), as its
    latest event says: published (with the catalogue record, on `closed_on`), declined, or open. No applicant data."""

    __tablename__ = "proactive_task_fact"
    __table_args__ = (Index("ix_proactive_task_fact_organ_info", "organ_code", "info_key"),)

    task_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    organ_code: Mapped[str] = mapped_column(String(18))
    info_key: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # open | published | declined
    document_id: Mapped[str | None] = mapped_column(String(36))
    closed_on: Mapped[date | None] = mapped_column(Date)


class AttachmentCheckFact(Base):
    """附件无法打开 · the catalogue's latest check of one attachment of a public record: `problem` (missing |
    sha256_mismatch | type_mismatch) since `failing_since` (the first check of the current failure), until
    `repaired_on` (the first check that found it fine again). A scorecard for D counts it when it failed on D."""

    __tablename__ = "attachment_check_fact"
    # By record too: each document event sets its checks' public life (published_on / withdrawn_on), by document_id.
    __table_args__ = (Index("ix_attachment_check_fact_organ_failing", "organ_code", "failing_since"),
                      Index("ix_attachment_check_fact_document", "document_id"))

    attachment_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    document_id: Mapped[str] = mapped_column(String(36))
    organ_code: Mapped[str] = mapped_column(String(18))
    filename: Mapped[str] = mapped_column(String(255))
    problem: Mapped[str | None] = mapped_column(String(32))
    failing_since: Mapped[date | None] = mapped_column(Date)
    repaired_on: Mapped[date | None] = mapped_column(Date)
    # The record's public life (stats_0010), as placements carry it (null while the record is unknown here): the
    # card counts a city's failing checks from this table alone instead of probing each record.
    published_on: Mapped[date | None] = mapped_column(Date)
    withdrawn_on: Mapped[date | None] = mapped_column(Date)


class StandardAdoptionFact(Base):
    """基层政务公开标准目录 · an organ's adoption of a standard catalogue as the catalogue announced it (newest version
    wins): from `adopted_on`, its items with their mapping rules (体裁, 主题分类, title keywords) and the records the
    organ's staff mapped explicitly, each from its `mapped_on` (so a past day's coverage is reproducible)."""

    __tablename__ = "standard_adoption_fact"

    adoption_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    organ_code: Mapped[str] = mapped_column(String(18), index=True)
    catalogue_code: Mapped[str] = mapped_column(String(64))
    catalogue_version: Mapped[int] = mapped_column(Integer)
    area: Mapped[str] = mapped_column(String(100))
    adopted_on: Mapped[date] = mapped_column(Date)
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # key, title, time_limit, rules
    mappings: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # item_key, document_id, mapped_on
