"""ORM of the catalogue. Ids are UUIDv4 strings (never sequential: no enumeration oracle)."""

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.db import UtcDateTime, make_metadata, utcnow
from services.outbox import Outbox


class Base(DeclarativeBase):
    metadata = make_metadata()


outbox = Outbox(Base.metadata)


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


class IndexSerial(Base):
    """The last 索引号 serial handed out per organ and year (serials are never reused)."""

    __tablename__ = "index_serial"

    organ_id: Mapped[str] = mapped_column(ForeignKey("organ.id"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_serial: Mapped[int] = mapped_column(Integer, default=0)


class Document(Base):
    """政府信息 · one catalogue record and its metadata."""

    __tablename__ = "document"
    __table_args__ = (
        UniqueConstraint("source_system", "external_id", name="uq_document_external"),
        Index("ix_document_status_published", "status", "published_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organ_id: Mapped[str] = mapped_column(ForeignKey("organ.id"), index=True)
    index_no: Mapped[str | None] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(500))
    summary: Mapped[str | None] = mapped_column(Text)
    doc_number: Mapped[str | None] = mapped_column(String(100), index=True)
    subject_category: Mapped[str | None] = mapped_column(String(40))
    genre: Mapped[str | None] = mapped_column(String(40))
    article20_item: Mapped[str | None] = mapped_column(String(4))
    key_areas: Mapped[list[str]] = mapped_column(JSON, default=list)
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    written_date: Mapped[date | None] = mapped_column(Date)
    formed_on: Mapped[date | None] = mapped_column(Date)
    effective_date: Mapped[date | None] = mapped_column(Date)
    repeal_date: Mapped[date | None] = mapped_column(Date)
    validity: Mapped[str] = mapped_column(String(16), default="in_force")
    body: Mapped[str] = mapped_column(Text, default="")
    attribute: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(20), default="draft")
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    source_system: Mapped[str | None] = mapped_column(String(64))
    external_id: Mapped[str | None] = mapped_column(String(128))
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)
