"""Documents (政府信息): drafting, reading, redaction, and the read models."""

import re
import string
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic_core import from_json, to_json
from sqlalchemy import Text, cast, delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from catalog_service.domain.anchors import (
    REDACTABLE_FIELDS,
    Moved,
    OffsetInsideCharacter,
    capture,
    field_text,
    from_utf16,
    is_anchored,
    reanchor,
    to_utf16,
)
from catalog_service.domain.calendar import WorkingCalendar, add_working_days
from catalog_service.domain.columns import check_columns
from catalog_service.domain.events import emit_document_event
from catalog_service.domain.links import CHANGING_LINKS, link_targets, visible_ids
from catalog_service.domain.projection import refresh_projection
from catalog_service.domain.visibility import is_catalog_staff, visible_condition, visible_documents
from catalog_service.errors import (
    DocumentNotFound,
    ForeignRecordLink,
    InvalidReference,
    NotEditable,
    OffsetInCharacter,
    OrganNotFound,
    OutsideOrgan,
    RedactionAnchorLost,
    RedactionProtected,
)
from catalog_service.models import Attachment, Document, DocumentIssuer, DocumentLink, Organ, Redaction, ReviewStep
from catalog_service.schemas import (
    AttachmentPublicRead,
    AttachmentRead,
    AttachmentStaffRead,
    DocumentCreate,
    DocumentPublicDetail,
    DocumentPublicRead,
    DocumentStaffRead,
    DocumentUpdate,
    LinkedDocument,
    OrganRef,
    RedactionCreate,
    RedactionRead,
)
from catalog_service.vocab import Genre, KeyArea, SubjectCategory, Validity
from services.auth import ANONYMOUS, Principal
from services.concurrency import bump_version, require_if_match
from services.db import utcnow
from services.vocab import LabeledEnum

SHANGHAI = ZoneInfo("Asia/Shanghai")
EDITABLE = {"draft"}
REDACTABLE = {"draft", "division_review", "unit_review", "referred"}
PUBLICATION_DAYS = 20  # 条例第二十六条


def today_shanghai() -> "datetime.date":
    return datetime.now(SHANGHAI).date()


async def organ_of(session: AsyncSession, principal: Principal) -> Organ:
    organ = (await session.execute(select(Organ).where(Organ.code == principal.organ))).scalar_one_or_none()
    if organ is None:
        raise OrganNotFound(f"Your organ {principal.organ} is not in the organ directory.")
    return organ


async def load_document(session: AsyncSession, principal: Principal, document_id: str, *,
                        for_update: bool = False) -> Document:
    """The record if the principal may see it; otherwise 404, exactly as if it did not exist (no oracle)."""
    stmt = visible_documents(principal).where(Document.id == document_id)
    if for_update and session.bind.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    doc = (await session.execute(stmt)).scalar_one_or_none()
    if doc is None:
        raise DocumentNotFound(f"Document {document_id} does not exist.")
    return doc


async def require_own(session: AsyncSession, principal: Principal, doc: Document) -> Organ:
    """Staff act only on their own organ's records (visible public records of others included)."""
    organ = await session.get(Organ, doc.organ_id)
    assert organ is not None
    if not is_catalog_staff(principal) or organ.code != principal.organ:
        raise OutsideOrgan("Only staff of the organ that owns this record may act on it.")
    return organ


def publication_due(calendar: WorkingCalendar, doc: Document) -> None:
    if doc.formed_on:
        due = add_working_days(calendar, doc.formed_on, PUBLICATION_DAYS)
        doc.publication_due_on, doc.publication_due_provisional = due.date, due.provisional
    else:
        doc.publication_due_on, doc.publication_due_provisional = None, False


async def _check_references(session: AsyncSession, principal: Principal, organ: Organ,
                            data: DocumentCreate) -> list[Organ]:
    """Co-issuing organs must exist; links follow domain/links.py: a target the caller cannot see is answered as an
    unknown id (422 invalid_reference), amending or repealing a record that is not the caller's organ's to change
    is 403 foreign_record_link (the bulk import applies the same rule)."""
    co_issuers = []
    for code in data.co_issuer_codes:
        other = (await session.execute(select(Organ).where(Organ.code == code))).scalar_one_or_none()
        if other is None:
            raise InvalidReference(f"Co-issuing organ {code} does not exist.", errors=[
                {"loc": ["body", "co_issuer_codes"], "msg": f"unknown organ {code}", "type": "invalid_reference"}])
        co_issuers.append(other)
    fields = (("interpretation_of", [data.interpretation_of] if data.interpretation_of else []),
              ("amends", data.amends), ("repeals", data.repeals))
    targets = await link_targets(session, principal, organ, [t for _, ids in fields for t in ids])
    for name, ids in fields:
        for target in ids:
            access = targets.get(target)
            if access is None or not access.visible:
                raise InvalidReference(f"Document {target} ({name}) does not exist.", errors=[
                    {"loc": ["body", name], "msg": f"unknown document {target}", "type": "invalid_reference"}])
            if name in CHANGING_LINKS and not access.changeable:
                raise ForeignRecordLink(
                    f"Document {target} is another organ's record: only that organ can amend or repeal it "
                    "(修订、废止须由制发机关作出).", errors=[
                        {"loc": ["body", name], "msg": f"{target} is not a record of your organ",
                         "type": "foreign_record_link"}])
    if set(data.amends) & set(data.repeals):
        raise InvalidReference("A record cannot both amend and repeal the same record.", errors=[
            {"loc": ["body", "repeals"], "msg": "also in amends", "type": "invalid_reference"}])
    return co_issuers


async def add_review_step(session: AsyncSession, doc: Document, principal: Principal, *, action: str, role: str,
                          status_before: str | None, attribute_before: str | None,
                          comment: str | None = None, redaction_id: str | None = None) -> ReviewStep:
    seq = len((await session.execute(select(ReviewStep.id).where(ReviewStep.document_id == doc.id))).all()) + 1
    step = ReviewStep(document_id=doc.id, seq=seq, action=action, actor_sub=principal.sub,
                      actor_name=principal.name, role=role, comment=comment, status_before=status_before,
                      status_after=doc.status, attribute_before=attribute_before, attribute_after=doc.attribute,
                      redaction_id=redaction_id, at=utcnow())
    session.add(step)
    return step


async def create_document(session: AsyncSession, principal: Principal, data: DocumentCreate,
                          calendar: WorkingCalendar) -> Document:
    organ = await organ_of(session, principal)
    co_issuers = await _check_references(session, principal, organ, data)
    fields = data.model_dump(exclude={"co_issuer_codes", "interpretation_of", "amends", "repeals", "column_ids"})
    doc = Document(organ_id=organ.id, interpretation_of_id=data.interpretation_of, status="draft",
                   created_by=principal.sub, column_ids=await check_columns(session, organ, data.column_ids) or None,
                   **fields)
    # No 索引号 yet: it is given at publication (workflow.publish), so public serials count public records only.
    publication_due(calendar, doc)
    refresh_projection(doc, [])
    session.add(doc)
    await session.flush()
    session.add(DocumentIssuer(document_id=doc.id, organ_id=organ.id, is_lead=True))
    for other in co_issuers:
        if other.id != organ.id:
            session.add(DocumentIssuer(document_id=doc.id, organ_id=other.id, is_lead=False))
    for kind, targets in (("amends", data.amends), ("repeals", data.repeals)):
        for target in dict.fromkeys(targets):
            session.add(DocumentLink(from_id=doc.id, to_id=target, kind=kind))
    await add_review_step(session, doc, principal, action="create", role="drafter", status_before=None,
                          attribute_before=None)
    emit_document_event(session, doc, organ, "document.created")
    await session.flush()
    return doc


async def update_document(session: AsyncSession, principal: Principal, doc: Document, data: DocumentUpdate,
                          if_match: str | None, calendar: WorkingCalendar) -> Document:
    organ = await require_own(session, principal, doc)
    require_if_match(if_match, doc.version)
    if doc.status not in EDITABLE:
        raise NotEditable(f"Only drafts can be edited; this record is {doc.status}. Return it to draft first.")
    changes = data.model_dump(exclude_unset=True)
    if "title" in changes and changes["title"] is None:
        raise InvalidReference("title cannot be removed", errors=[
            {"loc": ["body", "title"], "msg": "title is required", "type": "missing"}])
    if "major_policy" in changes and changes["major_policy"] is None:
        changes.pop("major_policy")
    if "column_ids" in changes:
        changes["column_ids"] = await check_columns(session, organ, changes["column_ids"]) or None
    await bump_version(session, doc, doc.version)
    for key, value in changes.items():
        setattr(doc, key, value)
    if "formed_on" in changes:
        publication_due(calendar, doc)
    # Every change to a record is in its own review log (security review, issue 11): which fields, never their
    # values (a draft may hold personal data that a redaction will withhold).
    await add_review_step(session, doc, principal, action="edit", role=staff_role(principal),
                          status_before=doc.status, attribute_before=doc.attribute,
                          comment="修改字段 (fields changed): " + ", ".join(sorted(changes)))
    redactions = await redactions_of(session, doc.id)
    edited = set(changes) & set(REDACTABLE_FIELDS)
    for moved in reanchor_all(doc, [r for r in redactions if r.field in edited]):
        await log_redaction(session, doc, principal, moved.action, moved.redaction.id, moved.comment)
    refresh_projection(doc, redactions)
    emit_document_event(session, doc, organ, "document.updated")
    await session.flush()
    return doc


def reanchor_all(doc: Document, redactions: Sequence[Redaction]) -> list[Moved]:
    """After an edit of the record's text: find each redaction again (anchors.py); what moved or was lost."""
    return [moved for r in redactions if (moved := reanchor(r, field_text(doc, r.field))) is not None]


def lost_anchors(doc: Document, redactions: Sequence[Redaction]) -> list[Redaction]:
    return [r for r in redactions if not is_anchored(r, field_text(doc, r.field))]


async def require_anchored(session: AsyncSession, doc: Document) -> None:
    """No step of review or publication with a redaction whose text is not where it says (issue 11 item 3)."""
    lost = lost_anchors(doc, await redactions_of(session, doc.id))
    if lost:
        raise RedactionAnchorLost(
            f"{len(lost)} redaction(s) no longer find the text they withhold after an edit; a secrecy officer "
            "must remove or replace them first.",
            errors=[{"loc": ["redactions", r.id], "msg": f"{r.field} {r.start}–{r.end}: anchor lost",
                     "type": "redaction_anchor_lost"} for r in lost])


STAFF_ROLE_ORDER = ("secrecy_officer", "unit_head", "division_head", "drafter")


def staff_role(principal: Principal) -> str:
    """The role a staff member acts in on redactions: the secrecy officer's when they hold it (保密审查)."""
    return next((role for role in STAFF_ROLE_ORDER if role in principal.roles), "staff")


async def log_redaction(session: AsyncSession, doc: Document, principal: Principal, action: str,
                        redaction_id: str, comment: str) -> None:
    """A redaction_* step in the immutable review log: the status does not change, who changed what does."""
    await add_review_step(session, doc, principal, action=action, role=staff_role(principal),
                          status_before=doc.status, attribute_before=doc.attribute, comment=comment,
                          redaction_id=redaction_id)


async def redactions_of(session: AsyncSession, document_id: str) -> list[Redaction]:
    return list((await session.execute(select(Redaction).where(Redaction.document_id == document_id)
                                       .order_by(Redaction.field, Redaction.start))).scalars())


async def add_redaction(session: AsyncSession, principal: Principal, doc: Document, data: RedactionCreate,
                        if_match: str | None) -> Redaction:
    organ = await require_own(session, principal, doc)
    require_if_match(if_match, doc.version)
    if doc.status not in REDACTABLE:
        raise NotEditable("Redactions are set during drafting and review, before publication.")
    text = field_text(doc, data.field)
    start, end = data.start, data.end
    if data.offset_unit == "utf16":  # JavaScript's unit, converted against this very text (anchors.py)
        try:
            start = from_utf16(text, data.start)
        except OffsetInsideCharacter as exc:
            raise _inside_character("start", exc) from exc
        try:
            end = from_utf16(text, data.end)
        except OffsetInsideCharacter as exc:
            raise _inside_character("end", exc) from exc
    if end > len(text):
        size = f"{to_utf16(text, len(text))} UTF-16 units" if data.offset_unit == "utf16" else \
            f"{len(text)} code points"
        raise InvalidReference(f"The segment ends after the {data.field} ({size}).", errors=[
            {"loc": ["body", "end"], "msg": f"at most {size}", "type": "out_of_range"}])
    await bump_version(session, doc, doc.version)
    role = staff_role(principal)
    redaction = Redaction(document_id=doc.id, created_by=principal.sub, created_role=role,
                          **data.model_dump(exclude={"offset_unit", "start", "end"}), start=start, end=end)
    capture(redaction, text)
    session.add(redaction)
    await session.flush()
    await log_redaction(session, doc, principal, "redaction_added", redaction.id,
                        f"{redaction.field} {redaction.start}–{redaction.end}，{redaction.ground}"
                        + (f"：{redaction.note}" if redaction.note else ""))
    refresh_projection(doc, await redactions_of(session, doc.id))
    emit_document_event(session, doc, organ, "document.updated")
    return redaction


def _inside_character(field: str, exc: OffsetInsideCharacter) -> OffsetInCharacter:
    return OffsetInCharacter(str(exc), errors=[{"loc": ["body", field], "msg": str(exc),
                                                "type": "offset_inside_character"}])


def redaction_read(redaction: Redaction, doc: Document) -> RedactionRead:
    """A redaction with its position in both units (code points as stored; UTF-16 for JavaScript) — the UTF-16
    one only while anchored, when the offsets are known to name the withheld text."""
    read = RedactionRead.model_validate(redaction)
    if redaction.state == "anchored":
        text = field_text(doc, redaction.field)
        read.start_utf16, read.end_utf16 = to_utf16(text, redaction.start), to_utf16(text, redaction.end)
    return read


def require_may_remove(principal: Principal, doc: Document, redaction: Redaction) -> None:
    """Who may remove a redaction (issue 11 item 4): a secrecy officer of the organ any of its record's; anyone
    else only one they added themselves, not in the secrecy officer's role, and only while the record is a draft
    (in review the text is the reviewers', and a redaction is the 保密审查's). Redactions whose role was not
    recorded count as the secrecy officer's."""
    if "secrecy_officer" in principal.roles:
        return
    if redaction.created_role in (None, "secrecy_officer"):
        raise RedactionProtected("This redaction was added by the secrecy officer (保密审查员); only a secrecy "
                                 "officer may remove it.")
    if redaction.created_by != principal.sub:
        raise RedactionProtected("Only the staff member who added this redaction, or a secrecy officer, may "
                                 "remove it.")
    if doc.status != "draft":
        raise RedactionProtected(f"The record is in {doc.status}: only a secrecy officer may remove redactions "
                                 "during review.")


async def remove_redaction(session: AsyncSession, principal: Principal, doc: Document, redaction_id: str,
                           if_match: str | None) -> None:
    organ = await require_own(session, principal, doc)
    require_if_match(if_match, doc.version)
    if doc.status not in REDACTABLE:
        raise NotEditable("Redactions are set during drafting and review, before publication.")
    redaction = (await session.execute(select(Redaction).where(
        Redaction.id == redaction_id, Redaction.document_id == doc.id))).scalar_one_or_none()
    if redaction is None:
        raise DocumentNotFound(f"Redaction {redaction_id} does not exist on this document.")
    require_may_remove(principal, doc, redaction)
    await session.execute(delete(Redaction).where(Redaction.id == redaction.id))
    await bump_version(session, doc, doc.version)
    await log_redaction(session, doc, principal, "redaction_removed", redaction.id,
                        f"{redaction.field} {redaction.start}–{redaction.end}，{redaction.ground}"
                        + ("" if redaction.state == "anchored" else "（定位已失效 anchor lost）"))
    refresh_projection(doc, await redactions_of(session, doc.id))
    emit_document_event(session, doc, organ, "document.updated")


async def staff_read(session: AsyncSession, doc: Document, viewer: Principal) -> DocumentStaffRead:
    """The whole record; a linked record is named only if the viewer may see it (a drafter outside 知悉范围 is not
    told the id of a classified policy, nor another organ the id of a record that has stopped being public)."""
    organ = await session.get(Organ, doc.organ_id)
    assert organ is not None
    co = (await session.execute(select(Organ.code).join(DocumentIssuer, DocumentIssuer.organ_id == Organ.id)
                                .where(DocumentIssuer.document_id == doc.id, DocumentIssuer.is_lead.is_(False))
                                .order_by(Organ.code))).scalars().all()
    attachments = (await session.execute(select(Attachment).where(Attachment.document_id == doc.id)
                                         .order_by(Attachment.created_at))).scalars().all()
    data = {c: getattr(doc, c) for c in DocumentStaffRead.model_fields if hasattr(doc, c)}
    data.update(organ_code=organ.code, organ_name=organ.name, co_issuer_codes=list(co),
                interpretation_of=doc.interpretation_of_id
                if doc.interpretation_of_id in await visible_ids(session, viewer, [doc.interpretation_of_id])
                else None,
                redactions=[redaction_read(r, doc) for r in await redactions_of(session, doc.id)],
                attachments=[AttachmentStaffRead.model_validate(a) for a in attachments])
    return DocumentStaffRead.model_validate(data)


async def public_read(session: AsyncSession, doc: Document) -> DocumentPublicRead:
    return (await public_reads(session, [doc]))[0]


async def public_reads(session: AsyncSession, docs: Sequence[Document]) -> list[DocumentPublicRead]:
    """The public views of several records with two queries in all (organs, attachments), not two per record: the
    change feed serves a hundred per page (the load run measured the per-record version holding a connection for
    seconds)."""
    organ_ids = {d.organ_id for d in docs}
    organs = {o.id: o for o in (await session.execute(select(Organ).where(Organ.id.in_(organ_ids)))).scalars()}
    attachments: dict[str, list[Attachment]] = {}
    for a in (await session.execute(select(Attachment).where(
            Attachment.document_id.in_([d.id for d in docs]), Attachment.withheld.is_(False))
            .order_by(Attachment.created_at, Attachment.id))).scalars():
        attachments.setdefault(a.document_id, []).append(a)
    # A link is shown only while its target is public too (one query): a 解读 never confirms a hidden policy.
    public_targets = await visible_ids(session, ANONYMOUS, [d.interpretation_of_id for d in docs])
    return [_public_view(doc, organs[doc.organ_id], attachments.get(doc.id, []), public_targets) for doc in docs]


# The columns of the public view (公开视图), in DocumentPublicRead's field order — never a staff column (the original
# title, summary or body, review state): an export reads exactly these.
# The two lists come as their stored JSON text, parsed by pydantic-core: the drivers' json.loads per value was a
# fifth of the export's time.
_PUBLIC_COLUMNS = (Document.id, Document.index_no, Document.public_title, Document.public_summary,
                   Document.doc_number, Organ.code, Organ.name, Document.subject_category, Document.genre,
                   cast(Document.key_areas, Text), cast(Document.keywords, Text), Document.written_date,
                   Document.effective_date, Document.repeal_date, Document.validity, Document.published_at,
                   Document.public_body, Document.interpretation_of_id)


def _terms(enum: type[LabeledEnum]) -> dict[str, dict[str, str]]:
    """Each code's label as its `Term` serialises (code, zh, en), built once instead of a model per record."""
    return {m.value: {"code": m.value, "zh": m.zh, "en": m.en} for m in enum}


_SUBJECT_TERMS, _GENRE_TERMS = _terms(SubjectCategory), _terms(Genre)
_KEY_AREA_TERMS, _VALIDITY_TERMS = _terms(KeyArea), _terms(Validity)
_ATTACHMENT_FIELDS = tuple(AttachmentRead.model_fields)  # id, filename, content_type, size, sha256


async def public_records_json(session: AsyncSession, *conditions: Any, after: str, limit: int
                              ) -> list[tuple[str, bytes]]:
    """Up to `limit` public records with ids above `after` (and `conditions`), in id order, each as (id, its JSON):
    byte for byte `public_reads(...)[i].model_dump_json()`, for exports of the whole catalogue (快照, digest).

    The same view as `public_reads`, built without an ORM object or a model per record: the projection columns only
    (not the original body), the labels from tables built once, one `to_json` per record — the snapshot of a
    million records spent most of its time on the ORM, the models' validation and four label models per record.
    A stored code that is not in its vocabulary fails here (KeyError) as it fails validation there."""
    connection = await session.connection()  # the session's transaction (its snapshot); Core rows, no ORM layer
    rows = (await connection.execute(
        select(*_PUBLIC_COLUMNS).join(Organ, Organ.id == Document.organ_id)
        .where(visible_condition(ANONYMOUS), Document.id > after, *conditions)
        .order_by(Document.id).limit(limit))).all()
    if not rows:
        return []
    attachments: dict[str, list[dict[str, Any]]] = {}
    # The batch's attachments by the same id range and conditions, not by an IN list of its ids (compiling a
    # parameter per record cost as much as the records' JSON).
    for doc_id, *attachment in (await connection.execute(
            select(Attachment.document_id, Attachment.id, Attachment.filename, Attachment.content_type,
                   Attachment.size, Attachment.sha256).join(Document, Document.id == Attachment.document_id)
            .where(visible_condition(ANONYMOUS), Document.id > after, Document.id <= rows[-1][0], *conditions,
                   Attachment.withheld.is_(False))
            .order_by(Attachment.created_at, Attachment.id))).all():
        attachments.setdefault(doc_id, []).append(dict(zip(_ATTACHMENT_FIELDS, attachment, strict=True)))
    # A link is shown only while its target is public too (one query): a 解读 never confirms a hidden policy.
    public_targets = await visible_ids(session, ANONYMOUS, [r[-1] for r in rows])
    out = []
    for (doc_id, index_no, title, summary, doc_number, organ_code, organ_name, subject, genre, key_areas, keywords,
         written, effective, repeal, validity, published_at, body, interpretation_of) in rows:
        key_areas = from_json(key_areas) if key_areas else []
        out.append((doc_id, to_json({
            "id": doc_id, "index_no": index_no, "title": title, "summary": summary, "doc_number": doc_number,
            "organ_code": organ_code, "organ_name": organ_name, "subject_category": subject, "genre": genre,
            "key_areas": key_areas, "keywords": from_json(keywords) if keywords else [],
            "written_date": written, "effective_date": effective, "repeal_date": repeal, "validity": validity,
            "published_at": published_at, "body": body,
            "interpretation_of": interpretation_of if interpretation_of in public_targets else None,
            "attachments": attachments.get(doc_id, []),
            "subject_category_label": None if subject is None else _SUBJECT_TERMS[subject],
            "genre_label": None if genre is None else _GENRE_TERMS[genre],
            "key_area_labels": [_KEY_AREA_TERMS[k] for k in key_areas],
            "validity_label": _VALIDITY_TERMS[validity]})))
    return out


def _public_view(doc: Document, organ: Organ, attachments: Sequence[Attachment],
                 public_targets: set[str]) -> DocumentPublicRead:
    return DocumentPublicRead(
        id=doc.id, index_no=doc.index_no, title=doc.public_title, summary=doc.public_summary,
        doc_number=doc.doc_number, organ_code=organ.code, organ_name=organ.name,
        subject_category=doc.subject_category, genre=doc.genre, key_areas=doc.key_areas or [],
        keywords=doc.keywords or [], written_date=doc.written_date, effective_date=doc.effective_date,
        repeal_date=doc.repeal_date, validity=doc.validity, published_at=doc.published_at, body=doc.public_body,
        interpretation_of=doc.interpretation_of_id if doc.interpretation_of_id in public_targets else None,
        attachments=[AttachmentRead.model_validate(a) for a in attachments])


async def public_detail(session: AsyncSession, doc: Document, base_url: str) -> DocumentPublicDetail:
    """The public view of one record with its co-issuers and its links both ways (修订、废止、解读), each link only to
    a record the public may see now, and absolute URLs on `base_url` (the configured public base URL)."""
    from catalog_service.domain.visibility import public_condition

    view = await public_read(session, doc)
    base = base_url.rstrip("/")
    co_issuers = (await session.execute(
        select(Organ.code, Organ.name).join(DocumentIssuer, DocumentIssuer.organ_id == Organ.id)
        .where(DocumentIssuer.document_id == doc.id, DocumentIssuer.is_lead.is_(False))
        .order_by(Organ.code))).all()
    links: dict[str, list[str]] = {"amends": [], "repeals": [], "amended_by": [], "repealed_by": []}
    for link in (await session.execute(select(DocumentLink).where(
            (DocumentLink.from_id == doc.id) | (DocumentLink.to_id == doc.id)))).scalars():
        if link.from_id == doc.id:
            links[link.kind].append(link.to_id)
        else:
            links[f"{link.kind.removesuffix('s')}ed_by"].append(link.from_id)
    interpreters = (await session.execute(select(Document.id).where(
        Document.interpretation_of_id == doc.id, Document.id != doc.id))).scalars().all()
    wanted = {i for ids in links.values() for i in ids} | set(interpreters)
    public = {d.id: d for d in (await session.execute(select(Document).where(
        Document.id.in_(wanted), public_condition()))).scalars()} if wanted else {}

    def linked(ids: Sequence[str]) -> list[LinkedDocument]:
        shown = sorted((public[i] for i in set(ids) if i in public), key=lambda d: (d.published_at or utcnow(), d.id))
        return [LinkedDocument(id=d.id, title=d.public_title, index_no=d.index_no, doc_number=d.doc_number,
                               published_at=d.published_at, url=f"{base}/api/v1/catalog/documents/{d.id}")
                for d in shown]

    return DocumentPublicDetail(
        **view.model_dump(exclude={"attachments", "subject_category_label", "genre_label", "key_area_labels",
                                   "validity_label"}),
        co_issuers=[OrganRef(code=code, name=name) for code, name in co_issuers],
        amends=linked(links["amends"]), amended_by=linked(links["amended_by"]),
        repeals=linked(links["repeals"]), repealed_by=linked(links["repealed_by"]),
        interpreted_by=linked(interpreters),
        attachments=[AttachmentPublicRead(**a.model_dump(),
                                          url=f"{base}/api/v1/catalog/documents/{doc.id}/attachments/{a.id}")
                     for a in view.attachments])


async def next_index_nos(session: AsyncSession, organ: Organ, year: int, template: str, count: int) -> list[str]:
    """`count` consecutive 索引号 from one locked read-modify-write: a bulk import takes its serials in one round
    trip, not one per record. Serials are never reused."""
    from catalog_service.models import IndexSerial

    # The organ-year's counter row is created if missing without a race: two first publications of the year at once
    # (two instances, or a clerk and the scheduled-publication job) would both insert it and one would fail (500).
    dialect_insert = postgresql_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    await session.execute(dialect_insert(IndexSerial).values(organ_id=organ.id, year=year, last_serial=0)
                          .on_conflict_do_nothing(index_elements=["organ_id", "year"]))
    serial = await session.get(IndexSerial, (organ.id, year), with_for_update=True, populate_existing=True)
    assert serial is not None
    first = serial.last_serial + 1
    serial.last_serial += count
    await session.flush()
    return [template.format(organ_code=organ.code, year=year, serial=n) for n in range(first, first + count)]


def _template_pattern(template: str, organ_code: str) -> re.Pattern[str]:
    """The 索引号 template as a pattern: the organ's code, a four-digit year and the serial's digits."""
    parts = []
    for literal, name, _spec, _conversion in string.Formatter().parse(template):
        parts.append(re.escape(literal))
        if name == "organ_code":
            parts.append(re.escape(organ_code))
        elif name == "year":
            parts.append(r"(?P<year>\d{4})")
        elif name == "serial":
            parts.append(r"(?P<serial>\d+)")
    return re.compile("".join(parts))


async def reserve_index_nos(session: AsyncSession, organ: Organ, template: str, index_nos: Iterable[str]) -> None:
    """A migrated record keeps the 索引号 it had (bulk import, history.index_no). When one has the form of this
    organ's own numbers, the serial of its year moves past it, so that no number given later repeats it."""
    from catalog_service.models import IndexSerial

    pattern = _template_pattern(template, organ.code)
    highest: dict[int, int] = {}
    for index_no in index_nos:
        match = pattern.fullmatch(index_no)
        if match and "year" in match.groupdict() and "serial" in match.groupdict():
            year, serial = int(match["year"]), int(match["serial"])
            highest[year] = max(highest.get(year, 0), serial)
    for year, serial_no in sorted(highest.items()):
        serial = await session.get(IndexSerial, (organ.id, year), with_for_update=True)
        if serial is None:
            session.add(IndexSerial(organ_id=organ.id, year=year, last_serial=serial_no))
        elif serial.last_serial < serial_no:
            serial.last_serial = serial_no
    await session.flush()

