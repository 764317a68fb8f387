"""附件: real files attached to a record, stored by SHA-256, with the 区分处理 `withheld` flag.

Upload: catalogue staff of the owning organ (drafter, division head, unit head) while the record is in drafting or
review, with If-Match (the record's version goes up); and the organ's document system (integration role, 批量导入)
to the drafts it imported itself (same organ, its own source system), so that an imported record is published with
its files — never another organ's record, nor a record its organ's staff drafted. The same states apply to both:
files are attached before the decision, so the review (保密审查) that publishes a record has them before it.

The declared type must be on the allow-list and the first bytes must match it (a renamed .exe is not a PDF); the
size is capped while copying. The file is written to a temporary name, fsynced and renamed into place, so a crash
never leaves a half file under a content address.

Download is decided at request time, every time: the public gets a file only while the record is public (the one
visibility rule) and the attachment is not withheld; the organ's staff always (within what they may see); everyone
else gets the same 404 as for an id that does not exist. A withdrawal or classification therefore stops the
download at once (reliability.md §1 sweep (c), Alaveteli #1005: children inherit their parent's visibility).
"""

import codecs
import hashlib
import os
import re
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import anyio.to_thread
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog_service.domain.blobs import BlobContent, BlobStore
from catalog_service.domain.documents import add_review_step, load_document, require_own, staff_role
from catalog_service.domain.events import emit_document_event, is_public
from catalog_service.domain.visibility import is_catalog_staff, public_condition, visible_documents
from catalog_service.errors import (
    AttachmentContentMismatch,
    AttachmentNotFound,
    AttachmentTooLarge,
    DocumentNotFound,
    NotEditable,
    OutsideOrgan,
    UnsupportedAttachmentType,
    WrongRole,
)
from catalog_service.models import Attachment, Document, Organ
from services.auth import Principal
from services.concurrency import bump_version, require_if_match
from services.errors import AppError

__all__ = ["ALLOWED_TYPES", "IMPORTER_ROLE", "StoredFile", "add_attachment", "clean_filename", "list_attachments",
           "load_for_attachments", "open_attachment", "remove_attachment"]

UPLOADER_ROLES = frozenset({"drafter", "division_head", "unit_head"})
IMPORTER_ROLE = "integration"  # the organ's document system: attaches to the drafts it imported (批量导入)
ATTACHABLE = frozenset({"draft", "division_review", "unit_review", "referred"})  # before any decision
DELETABLE = frozenset({"draft"})
CHUNK = 1024 * 1024
SNIFF = 8192

_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .doc, .xls (Compound File Binary)
_ZIP = (b"PK\x03\x04", b"PK\x05\x06")  # .docx, .xlsx, .ofd (GB/T 33190 is a ZIP package), .zip


def _is_text(head: bytes) -> str | None:
    """The charset of a plain-text head (UTF-8 or GB18030, the two that government systems write), else None."""
    if b"\x00" in head:
        return None
    for charset in ("utf-8", "gb18030"):
        try:
            codecs.getincrementaldecoder(charset)().decode(head, final=False)  # a cut multibyte tail is fine
            return charset
        except UnicodeDecodeError:
            continue
    return None


@dataclass(frozen=True)
class FileType:
    extensions: tuple[str, ...]  # the first is the canonical one
    matches: Callable[[bytes], bool]


ALLOWED_TYPES: dict[str, FileType] = {
    "application/pdf": FileType((".pdf",), lambda h: h.startswith(b"%PDF-")),
    "application/msword": FileType((".doc",), lambda h: h.startswith(_OLE2)),
    "application/vnd.ms-excel": FileType((".xls",), lambda h: h.startswith(_OLE2)),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document":
        FileType((".docx",), lambda h: h.startswith(_ZIP)),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":
        FileType((".xlsx",), lambda h: h.startswith(_ZIP)),
    "application/ofd": FileType((".ofd",), lambda h: h.startswith(_ZIP)),
    "application/zip": FileType((".zip",), lambda h: h.startswith(_ZIP)),
    "image/jpeg": FileType((".jpg", ".jpeg"), lambda h: h.startswith(b"\xff\xd8\xff")),
    "image/png": FileType((".png",), lambda h: h.startswith(b"\x89PNG\r\n\x1a\n")),
    "text/plain": FileType((".txt",), lambda h: _is_text(h) is not None),
}
_ALIASES = {"application/x-zip-compressed": "application/zip", "image/jpg": "image/jpeg",
            "image/pjpeg": "image/jpeg"}
_UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f<>:"|?*]')


def clean_filename(raw: str | None, file_type: FileType) -> str:
    """The last path segment, without control or reserved characters, ending in an extension of its type."""
    name = unicodedata.normalize("NFC", raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE_NAME.sub("_", name).strip().lstrip(".").strip()
    stem, extension = os.path.splitext(name)
    if extension.lower() not in file_type.extensions:
        stem, extension = name, file_type.extensions[0]  # report.exe declared as PDF → report.exe.pdf
    return (stem[:200].strip() or "attachment") + extension.lower()


@dataclass(frozen=True)
class StoredFile:
    sha256: str
    size: int
    content_type: str


def _spool(source: BinaryIO, tmp: Path, limit: int, media_type: str, file_type: FileType) -> StoredFile:
    """Copy, hash and cap in one pass into the scratch file `tmp` (fsynced), checking the type by its first bytes
    (blocking: run in a thread). The blob store then keeps it under its content address."""
    tmp.parent.mkdir(parents=True, exist_ok=True)
    digest, size, head = hashlib.sha256(), 0, b""
    with tmp.open("wb") as out:
        while chunk := source.read(CHUNK):
            if len(head) < SNIFF:
                head += chunk[:SNIFF - len(head)]
            size += len(chunk)
            if size > limit:
                raise AttachmentTooLarge(f"An attachment may be at most {limit} bytes.")
            digest.update(chunk)
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    if size == 0 or not file_type.matches(head):
        raise AttachmentContentMismatch(f"The file's content is not {media_type}.", errors=[
            {"loc": ["body", "file"], "msg": f"content does not match {media_type}", "type": "content_mismatch"}])
    sha = digest.hexdigest()
    if media_type == "text/plain":
        media_type = f"text/plain; charset={_is_text(head)}"  # served with the charset it was written in
    return StoredFile(sha, size, media_type)


def _declared_type(content_type: str | None) -> tuple[str, FileType]:
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    media_type = _ALIASES.get(media_type, media_type)
    file_type = ALLOWED_TYPES.get(media_type)
    if file_type is None:
        raise UnsupportedAttachmentType(
            f"Attachments may be {', '.join(sorted(ALLOWED_TYPES))}; not {media_type or 'an undeclared type'}.")
    return media_type, file_type


def _importer(principal: Principal) -> bool:
    """A document system's token (integration role, an organ), not catalogue staff."""
    return principal.organ is not None and IMPORTER_ROLE in principal.roles and not is_catalog_staff(principal)


async def load_for_attachments(session: AsyncSession, principal: Principal, document_id: str, *,
                               for_update: bool = False) -> Document:
    """The record as load_document finds it; for a document system also the unclassified records it imported
    itself (its organ, its source system — the bulk import's key) in whatever state. Anything else: the 404 of a
    record that does not exist."""
    if not _importer(principal):
        return await load_document(session, principal, document_id, for_update=for_update)
    own = (Document.source_system == principal.sub) & Document.classified.is_(False) & Document.organ_id.in_(
        select(Organ.id).where(Organ.code == principal.organ))
    stmt = select(Document).where(Document.id == document_id, public_condition() | own)
    if for_update and session.bind.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    doc = (await session.execute(stmt)).scalar_one_or_none()
    if doc is None:
        raise DocumentNotFound(f"Document {document_id} does not exist.")
    return doc


async def _require_uploader(session: AsyncSession, principal: Principal, doc: Document) -> Organ:
    """The owning organ's drafter, division head or unit head; or the document system that imported the record."""
    if _importer(principal):
        organ = await session.get(Organ, doc.organ_id)
        assert organ is not None
        if organ.code != principal.organ or doc.source_system != principal.sub:
            raise OutsideOrgan("A document system attaches files only to records it imported for its own organ.")
        return organ
    organ = await require_own(session, principal, doc)
    if not principal.has_any(UPLOADER_ROLES):
        raise WrongRole(f"Attaching files needs one of the roles: {', '.join(sorted(UPLOADER_ROLES))}.")
    return organ


async def list_attachments(session: AsyncSession, principal: Principal, doc: Document) -> list[Attachment]:
    """附件清单 of a record for those who may attach to it (its organ's staff; the document system that imported
    it), withheld ones included."""
    if not _importer(principal):
        await require_own(session, principal, doc)
    else:
        await _require_uploader(session, principal, doc)
    return list((await session.execute(select(Attachment).where(Attachment.document_id == doc.id)
                                       .order_by(Attachment.created_at, Attachment.id))).scalars())


async def add_attachment(session: AsyncSession, principal: Principal, doc: Document, *, source: BinaryIO,
                         filename: str | None, content_type: str | None, withheld: bool, if_match: str | None,
                         store: BlobStore, max_bytes: int) -> Attachment:
    organ = await _require_uploader(session, principal, doc)
    require_if_match(if_match, doc.version)
    if doc.status not in ATTACHABLE:
        raise NotEditable(f"Files are attached during drafting and review; this record is {doc.status}.")
    media_type, file_type = _declared_type(content_type)
    name = clean_filename(filename, file_type)
    tmp = store.scratch_dir / f"{uuid.uuid4().hex}.part"
    try:
        stored = await anyio.to_thread.run_sync(_spool, source, tmp, max_bytes, media_type, file_type)
        await store.put(session, tmp, stored.sha256, stored.size)
    finally:
        tmp.unlink(missing_ok=True)
    await bump_version(session, doc, doc.version)
    attachment = Attachment(document_id=doc.id, filename=name, content_type=stored.content_type, size=stored.size,
                            sha256=stored.sha256, withheld=withheld, created_by=principal.sub)
    session.add(attachment)
    await session.flush()
    role = IMPORTER_ROLE if _importer(principal) else staff_role(principal)
    await add_review_step(session, doc, principal, action="attachment_added", role=role,
                          status_before=doc.status, attribute_before=doc.attribute,
                          comment=f"附件 {attachment.id}: {name} ({stored.size} bytes, sha256 {stored.sha256[:12]}…)"
                                  + ("，不予公开 (withheld)" if withheld else ""))
    emit_document_event(session, doc, organ, "document.updated")
    return attachment


async def remove_attachment(session: AsyncSession, principal: Principal, doc: Document, attachment_id: str,
                            if_match: str | None) -> None:
    """Drops the record's reference; the blob stays (content-addressed, possibly shared; never served without a
    row that names it)."""
    organ = await require_own(session, principal, doc)
    if not principal.has_any(UPLOADER_ROLES):
        raise WrongRole(f"Removing files needs one of the roles: {', '.join(sorted(UPLOADER_ROLES))}.")
    require_if_match(if_match, doc.version)
    if doc.status not in DELETABLE:
        raise NotEditable(f"Files are removed only from drafts; this record is {doc.status}.")
    attachment = (await session.execute(select(Attachment).where(
        Attachment.id == attachment_id, Attachment.document_id == doc.id))).scalar_one_or_none()
    if attachment is None:
        raise AttachmentNotFound(f"Attachment {attachment_id} does not exist.")
    await bump_version(session, doc, doc.version)
    await session.delete(attachment)
    await session.flush()
    await add_review_step(session, doc, principal, action="attachment_removed", role=staff_role(principal),
                          status_before=doc.status, attribute_before=doc.attribute,
                          comment=f"附件 {attachment.id}: {attachment.filename}")
    emit_document_event(session, doc, organ, "document.updated")


async def open_attachment(session: AsyncSession, principal: Principal, document_id: str, attachment_id: str,
                          store: BlobStore) -> tuple[Attachment, BlobContent, bool]:
    """(attachment, file, public) if the principal may download it now; otherwise the 404 of a missing one."""
    missing = AttachmentNotFound(f"Attachment {attachment_id} does not exist.")
    row = (await session.execute(
        visible_documents(principal).add_columns(Attachment, Organ.code)
        .join(Attachment, Attachment.document_id == Document.id).join(Organ, Organ.id == Document.organ_id)
        .where(Document.id == document_id, Attachment.id == attachment_id))).first()
    if row is None:
        raise missing
    doc, attachment, organ_code = row
    public = is_public(doc) and not attachment.withheld
    own_staff = is_catalog_staff(principal) and organ_code == principal.organ
    if not (public or own_staff):
        raise missing
    content = await store.get(session, attachment.sha256)
    if content is None:
        raise AppError("The attachment's file is missing from storage.")
    return attachment, content, public
