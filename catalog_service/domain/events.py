"""Catalogue events on the outbox. Payloads carry the *publishable projection* only: a record that is not public
is announced with its id and `public: false`, nothing else, so no consumer (statistics, sync) can leak or count it.

Public change feed (`GET /api/v1/catalog/changes`) = the outbox events of PUBLIC_CHANGE_TYPES, each served with the
record's current public state (or a tombstone)."""

from sqlalchemy.ext.asyncio import AsyncSession

from catalog_service.models import Document, Organ, outbox
from services.outbox import record_event

__all__ = ["PUBLIC_CHANGE_TYPES", "emit_document_event", "is_public"]

PUBLIC_CHANGE_TYPES = ("document.published", "document.updated", "document.withdrawn", "document.repealed")


def is_public(doc: Document) -> bool:
    return doc.status == "published" and not doc.classified


def emit_document_event(session: AsyncSession, doc: Document, organ: Organ, type_: str) -> None:
    if is_public(doc) or type_ == "document.withdrawn":
        payload = {
            "public": is_public(doc), "organ_code": organ.code, "index_no": doc.index_no, "genre": doc.genre,
            "validity": doc.validity, "written_date": doc.written_date.isoformat() if doc.written_date else None,
            "repeal_date": doc.repeal_date.isoformat() if doc.repeal_date else None,
            "published_at": doc.published_at.isoformat() if doc.published_at else None,
            "key_areas": list(doc.key_areas or []),
            # 条例第二十六条: the statistics service compares published_at's date with the deadline (timeliness).
            "formed_on": doc.formed_on.isoformat() if doc.formed_on else None,
            "publication_due_on": doc.publication_due_on.isoformat() if doc.publication_due_on else None,
            "publication_due_provisional": bool(doc.publication_due_provisional),
            # 考评 (issue 16): column placement (rules match 体裁 / 主题分类; explicit ids), the 解读 duty, and for a
            # 解读 the policy it explains (an id only; the statistics match it against records they hold as public).
            "subject_category": doc.subject_category, "columns": list(doc.column_ids or []),
            "needs_interpretation": doc.genre == "normative_document" or bool(doc.major_policy),
            "interpretation_due_on": doc.interpretation_due_on.isoformat() if doc.interpretation_due_on else None,
            "interpretation_of": doc.interpretation_of_id,
            # 有效期 (issue 16 item 3): the scorecard counts records past their expiry still marked in force.
            "effective_date": doc.effective_date.isoformat() if doc.effective_date else None,
            "expires_on": doc.expires_on.isoformat() if doc.expires_on else None,
            # 标准目录 (issue 16 item 4): which of its organ's adopted title keywords the public title contains —
            # never the title itself (the outbox keeps it after a withdrawal; a redacted part never leaves).
            "standard_keywords": [k for k in (organ.standard_keywords or []) if k in (doc.public_title or "")],
        }
    else:
        payload = {"public": False}
    record_event(session, outbox, type_, entity_type="document", entity_id=doc.id, version=doc.version,
                 payload=payload)
