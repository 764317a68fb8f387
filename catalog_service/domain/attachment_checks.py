"""附件无法打开 · the periodic check that each attachment of a public record still opens (issue 16 item 6).

An attachment fails to open when its stored bytes are `missing` from the blob store, when their SHA-256 is no longer
the one recorded at upload (`sha256_mismatch`: a file changed or truncated on the volume, a damaged blob row), or
when the content is not of the declared media type by its first bytes (`type_mismatch`: the upload check, re-run on
what is stored). These are what a visitor meets as "附件无法打开" (国办秘函〔2019〕19号, 可用性), and all of them are
decided from data the catalogue holds — no fetch from outside.

Each round checks the `batch` attachments of public records (published, not classified, not withheld: the ones the
public can download) checked longest ago, unchecked ones first, so every attachment is checked again within
(attachments / batch) rounds. A change of finding — first check, failure, repair, another failure kind — is
announced on the outbox as `attachment.checked` (entity `attachment`, version `check_version`) with the record, its
organ and the finding; an unchanged finding only moves `checked_at`. The statistics service scores the failures per
organ (stats_service.domain.scorecard.broken_attachments).
"""

import hashlib
from datetime import datetime
from zoneinfo import ZoneInfo

import anyio.to_thread
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog_service.domain.attachments import ALLOWED_TYPES, CHUNK, SNIFF
from catalog_service.domain.blobs import BlobContent, BlobStore
from catalog_service.models import Attachment, Document, Organ, outbox
from services.db import utcnow
from services.outbox import record_event

__all__ = ["check_attachments", "finding"]

_BEIJING = ZoneInfo("Asia/Shanghai")


def _digest(content: BlobContent) -> tuple[str, bytes] | None:
    """SHA-256 and first bytes of stored content (blocking: run in a thread); None if the file vanished."""
    digest = hashlib.sha256()
    if content.data is not None:
        digest.update(content.data)
        return digest.hexdigest(), content.data[:SNIFF]
    assert content.path is not None
    head = b""
    try:
        with content.path.open("rb") as stored:
            while chunk := stored.read(CHUNK):
                if len(head) < SNIFF:
                    head += chunk[:SNIFF - len(head)]
                digest.update(chunk)
    except FileNotFoundError:
        return None
    return digest.hexdigest(), head


async def finding(session: AsyncSession, store: BlobStore, attachment: Attachment) -> str | None:
    """None when the attachment opens; else missing | sha256_mismatch | type_mismatch."""
    content = await store.get(session, attachment.sha256)
    read = None if content is None else await anyio.to_thread.run_sync(_digest, content)
    if read is None:
        return "missing"
    sha256, head = read
    if sha256 != attachment.sha256:
        return "sha256_mismatch"
    file_type = ALLOWED_TYPES.get(attachment.content_type.split(";", 1)[0].strip().lower())
    if file_type is None or not file_type.matches(head):
        return "type_mismatch"
    return None


async def check_attachments(session: AsyncSession, store: BlobStore, batch: int = 500,
                            now: datetime | None = None) -> int:
    """One round (module docstring); returns the number of findings that changed (events published)."""
    now = now or utcnow()
    rows = (await session.execute(
        select(Attachment, Document, Organ.code).join(Document, Document.id == Attachment.document_id)
        .join(Organ, Organ.id == Document.organ_id)
        .where(Document.status == "published", Document.classified.is_(False), Attachment.withheld.is_(False))
        .order_by(Attachment.checked_at.is_not(None), Attachment.checked_at, Attachment.id).limit(batch))).all()
    changed = 0
    for attachment, doc, organ_code in rows:
        problem = await finding(session, store, attachment)
        first = attachment.checked_at is None
        attachment.checked_at = now
        if not first and problem == attachment.check_problem:
            continue
        attachment.check_problem, attachment.check_version = problem, attachment.check_version + 1
        record_event(session, outbox, "attachment.checked", entity_type="attachment", entity_id=attachment.id,
                     version=attachment.check_version, occurred_at=now, payload={
                         "document_id": doc.id, "organ_code": organ_code, "filename": attachment.filename,
                         "ok": problem is None, "problem": problem,
                         "checked_on": now.astimezone(_BEIJING).date().isoformat()})
        changed += 1
    await session.flush()
    return changed
