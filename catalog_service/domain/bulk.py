"""Bulk import (批量导入) from organs' document systems: up to 1,000 records a call, upserted by the caller's own
external id, with one result per record.

Trust (OWASP API10): every record passes the same Pydantic model as a drafter's input; the token's `sub` is the
source system and its `organ` the owner of every record (a record cannot name an organ); links follow the
drafting path's rule (domain/links.py): amends/repeals only the organ's own records or published 联合发文 records
it co-issued (another organ's record: `foreign_record_link`), a 解读 also any public one. Nothing upstream can move
a record that has left drafting: changes to records in review, decided, published, withdrawn or classified go
through the review workflow, so an upstream record can never lower a classification or republish.

Per record, keyed by (source_system, external_id):
  new                          → a draft, as documents.create_document makes it (publication deadline,
                                 projection, review log, event; no 索引号 before publication), plus the content hash;
  a draft, other content hash  → updated (version bump, projection refreshed with its redactions, event);
  the same content hash        → unchanged: no write, no version, no event, so a retried call changes nothing;
  beyond draft or classified   → rejected, reason "in_workflow".
A `review` block records the organ's own 保密审查, with an `import_review` step in the review log: concluding
proactive publishes the record (one that amends or repeals others through workflow.publish, which applies that to
them; the rest in place with the same fields, saving publish()'s query per record — a test keeps the two equal);
other conclusions leave a draft with that proposed attribute for the unit head. An update moves the draft's
redactions with the new text (anchors.py, steps in the review log); one whose anchor is lost keeps the record a
draft whatever the review concluded, until a secrecy officer has looked at it (published: false).

Writing: everything that can be checked is checked first (validation, duplicates, links, ownership), then the
batch is written in one SAVEPOINT with batched reads, one block of 索引号 and multi-row INSERTs (a batch holds
its organ's 索引号 counter to commit, so one organ's batches are written one after another). Should the database
still refuse the batch (e.g. a concurrent import of the same ids), the savepoint is rolled back and every record
is re-planned and written in a SAVEPOINT of its own: a failing record leaves nothing half-written and costs no
other record.
"""

import hashlib
import json
import logging
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from catalog_service.config import Settings
from catalog_service.domain.anchors import Moved
from catalog_service.domain.calendar import WorkingCalendar
from catalog_service.domain.columns import set_interpretation_due
from catalog_service.domain.documents import (
    lost_anchors,
    next_index_nos,
    organ_of,
    publication_due,
    reanchor_all,
    reserve_index_nos,
    today_shanghai,
)
from catalog_service.domain.events import emit_document_event
from catalog_service.domain.links import CHANGING_LINKS, Target, link_targets
from catalog_service.domain.projection import refresh_projection
from catalog_service.domain.validity import set_expiry
from catalog_service.domain.workflow import Actor, publish
from catalog_service.errors import IntegrationScopeMissing
from catalog_service.models import Document, DocumentIssuer, DocumentLink, Organ, Redaction, ReviewStep, new_id
from catalog_service.schemas import (
    SHANGHAI,
    BulkImportResult,
    BulkImportSummary,
    BulkRecord,
    BulkRecordResult,
    ImportReview,
    InvalidRecord,
)
from catalog_service.vocab import DisclosureAttribute
from services.auth import Principal
from services.db import utcnow
from services.errors import UnprocessableEntity, is_database_unavailable

__all__ = ["bulk_import", "content_hash"]

log = logging.getLogger("gongkai.catalog.bulk")
LINK_FIELDS = frozenset({"co_issuer_codes", "interpretation_of", "amends", "repeals"})
NOT_COLUMNS = LINK_FIELDS | {"external_id", "review", "history"}
SOURCE_SYSTEM_MAX = 64  # Document.source_system


@dataclass
class _Context:
    principal: Principal
    organ: Organ
    co_issuers: dict[str, Organ]
    settings: Settings
    calendar: WorkingCalendar

    @property
    def source(self) -> str:
        return self.principal.sub


class _MemoCalendar:
    """The working calendar, remembered for one call: a batch asks about the same few dozen days a thousand
    times, and each answer from the holiday tables costs ~25 µs (0.7 ms per record's publication deadline)."""

    def __init__(self, calendar: WorkingCalendar) -> None:
        self.calendar = calendar
        self.known: dict[date, tuple[bool, bool]] = {}

    def is_working_day(self, day: date) -> tuple[bool, bool]:
        answer = self.known.get(day)
        if answer is None:
            answer = self.known[day] = self.calendar.is_working_day(day)
        return answer


@dataclass
class _Write:
    index: int
    record: BulkRecord
    digest: str
    existing: Document | None


def content_hash(record: BulkRecord) -> str:
    """SHA-256 of the record as validated (whitespace stripped), external id aside. Fields at their default are
    left out and keys sorted, so an explicit null equals an omitted field, and a new optional field or a
    reordered model does not make every stored record look changed (which would turn retries into rejections)."""
    canonical = json.dumps(record.model_dump(mode="json", exclude={"external_id"}, exclude_defaults=True),
                           sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _error(loc: list[str | int], msg: str, type_: str) -> dict[str, Any]:
    return {"loc": loc, "msg": msg, "type": type_}


def _rejected(index: int, external_id: str | None, reason: str, errors: list[dict[str, Any]],
              document_id: str | None = None) -> BulkRecordResult:
    return BulkRecordResult.model_validate({"index": index, "external_id": external_id, "status": "rejected",
                                            "reason": reason, "errors": errors, "document_id": document_id})


async def bulk_import(session: AsyncSession, principal: Principal, records: Sequence[BulkRecord | InvalidRecord],
                      settings: Settings, calendar: WorkingCalendar) -> BulkImportResult:
    if not principal.organ:
        raise IntegrationScopeMissing("An integration token must name the organ (`organ` claim) it imports for.")
    if len(principal.sub) > SOURCE_SYSTEM_MAX:
        raise UnprocessableEntity(f"The token's sub (the source system) must be at most {SOURCE_SYSTEM_MAX} "
                                  "characters.")
    organ = await organ_of(session, principal)
    results: dict[int, BulkRecordResult] = {}
    candidates: list[tuple[int, BulkRecord]] = []
    first_seen: dict[str, int] = {}
    for index, record in enumerate(records):
        if isinstance(record, InvalidRecord):
            results[index] = _rejected(index, record.external_id, "invalid", record.errors)
        elif record.external_id in first_seen:
            results[index] = _rejected(index, record.external_id, "duplicate_in_batch", [_error(
                ["external_id"], f"record {first_seen[record.external_id]} of this call has the same external_id",
                "duplicate")])
        else:
            first_seen[record.external_id] = index
            candidates.append((index, record))

    reference_errors, co_issuers = await _check_references(session, principal, organ, candidates)
    for index, errors in (await _taken_index_nos(session, principal.sub, candidates)).items():
        reference_errors.setdefault(index, []).extend(errors)
    ctx = _Context(principal, organ, co_issuers, settings, _MemoCalendar(calendar))
    existing = await _existing(session, ctx.source, [r.external_id for _, r in candidates])
    writes: list[_Write] = []
    for index, record in candidates:
        if index in reference_errors:
            found = reference_errors[index]
            kinds = {e["type"] for e in found}
            reason = ("foreign_record_link" if "foreign_record_link" in kinds
                      else "index_no_taken" if kinds == {"index_no_taken"} else "invalid_reference")
            results[index] = _rejected(index, record.external_id, reason, found)
            continue
        planned = _plan(ctx, index, record, existing.get(record.external_id))
        if isinstance(planned, _Write):
            writes.append(planned)
        else:
            results[index] = planned
    if writes:
        for result in await _write(session, ctx, writes):
            results[result.index] = result

    ordered = [results[i] for i in range(len(records))]
    counts = Counter(r.status for r in ordered)
    return BulkImportResult(results=ordered, summary=BulkImportSummary(
        received=len(ordered), created=counts["created"], updated=counts["updated"], unchanged=counts["unchanged"],
        rejected=counts["rejected"], published=sum(r.published for r in ordered)))


async def _check_references(session: AsyncSession, principal: Principal, organ: Organ,
                            candidates: list[tuple[int, BulkRecord]]
                            ) -> tuple[dict[int, list[dict[str, Any]]], dict[str, Organ]]:
    """Co-issuing organs must exist; links follow the drafting path's rule (domain/links.py): amends/repeals may name
    the organ's own records and published 联合发文 records it co-issued, a 解读 any record the token may see (its
    organ's own, or public). Two queries for the whole batch.

    "Own records" are those visibility.staff_condition lets the token see of its organ: not classified ones (知悉范围
    is the secrecy officer's and unit head's, never a document system's). A classified id is answered exactly like
    an unknown one (no existence oracle) and can never be amended or repealed from upstream (found by
    tests/security/test_canary_catalog.py). Another organ's public record is refused as `foreign_record_link`."""
    codes = {code for _, r in candidates for code in r.co_issuer_codes}
    organs = {o.code: o for o in (await session.execute(select(Organ).where(Organ.code.in_(codes)))).scalars()} \
        if codes else {}
    targets = await link_targets(session, principal, organ, {
        t for _, r in candidates for t in [*r.amends, *r.repeals, *filter(None, [r.interpretation_of])]})
    unknown = Target(visible=False, changeable=False)
    errors: dict[int, list[dict[str, Any]]] = {}
    for index, record in candidates:
        found = [_error(["co_issuer_codes"], f"unknown organ {code}", "invalid_reference")
                 for code in record.co_issuer_codes if code not in organs]
        if record.interpretation_of and not targets.get(record.interpretation_of, unknown).visible:
            found.append(_error(["interpretation_of"], "no such record of this organ or published",
                                "invalid_reference"))
        for field in CHANGING_LINKS:
            for target in getattr(record, field):
                access = targets.get(target, unknown)
                if not access.visible:
                    found.append(_error([field], f"no such record of this organ: {target}", "invalid_reference"))
                elif not access.changeable:
                    found.append(_error([field], f"another organ's record: only that organ can amend or repeal it: "
                                        f"{target}", "foreign_record_link"))
        if set(record.amends) & set(record.repeals):
            found.append(_error(["repeals"], "a record cannot both amend and repeal the same record",
                                "invalid_reference"))
        if found:
            errors[index] = found
    return errors, organs


def _kept_index_no(record: BulkRecord) -> str | None:
    return record.history.index_no if record.history is not None else None


async def _taken_index_nos(session: AsyncSession, source: str, candidates: list[tuple[int, BulkRecord]]
                           ) -> dict[int, list[dict[str, Any]]]:
    """A migrated record's 索引号 (history.index_no) must be given to no other record — one query for the batch.
    The record itself (same source system and external id, imported before) may of course hold it already."""
    kept = {index: number for index, record in candidates if (number := _kept_index_no(record))}
    if not kept:
        return {}
    holders = {row.index_no: (row.source_system, row.external_id) for row in (await session.execute(
        select(Document.index_no, Document.source_system, Document.external_id)
        .where(Document.index_no.in_(set(kept.values()))))).all()}
    errors: dict[int, list[dict[str, Any]]] = {}
    first: dict[str, int] = {}
    records = dict(candidates)
    for index, number in kept.items():
        holder = holders.get(number)
        if (holder is not None and holder != (source, records[index].external_id)) or number in first:
            errors[index] = [_error(["history", "index_no"], "this 索引号 is already given to another record",
                                    "index_no_taken")]
        else:
            first[number] = index
    return errors


async def _existing(session: AsyncSession, source: str, external_ids: list[str]) -> dict[str, Document]:
    if not external_ids:
        return {}
    stmt = (select(Document).where(Document.source_system == source, Document.external_id.in_(external_ids))
            .execution_options(populate_existing=True))
    if session.bind.dialect.name == "postgresql":
        # Held to commit: a drafter's concurrent edit (compare-and-set on version) waits, then gets 412.
        stmt = stmt.with_for_update()
    return {doc.external_id: doc for doc in (await session.execute(stmt)).scalars() if doc.external_id}


def _plan(ctx: _Context, index: int, record: BulkRecord, existing: Document | None) -> _Write | BulkRecordResult:
    digest = content_hash(record)
    if existing is None:
        return _Write(index, record, digest, None)
    if existing.organ_id != ctx.organ.id:
        return _rejected(index, record.external_id, "other_organ", [_error(
            ["external_id"], "this source system's record with this external_id belongs to another organ",
            "other_organ")])
    if existing.content_hash == digest:
        return BulkRecordResult(index=index, external_id=record.external_id, status="unchanged",
                                document_id=existing.id)
    if existing.status != "draft" or existing.classified:
        # Deliberately vague about which state: a classification is not the integration client's to learn.
        return _rejected(index, record.external_id, "in_workflow", [_error(
            [], "the record has left drafting; changes go through the review workflow (审核流程)", "in_workflow")],
            document_id=existing.id)
    return _Write(index, record, digest, existing)


async def _write(session: AsyncSession, ctx: _Context, writes: list[_Write]) -> list[BulkRecordResult]:
    try:
        async with session.begin_nested():
            return await _apply(session, ctx, writes)
    except DBAPIError as exc:
        if is_database_unavailable(exc):
            raise  # the connection is gone, not the batch refused: record by record cannot help (→ 503, retry)
        log.warning("bulk import: the database refused the batch; writing record by record", exc_info=True)
    # The rolled-back savepoint expired what it touched: read the records again and re-plan each one, since
    # the refusal may be a concurrent import that has just created some of them.
    existing = await _existing(session, ctx.source, [w.record.external_id for w in writes])
    results = []
    for write in writes:
        planned = _plan(ctx, write.index, write.record, existing.get(write.record.external_id))
        if not isinstance(planned, _Write):
            results.append(planned)
            continue
        try:
            async with session.begin_nested():
                results += await _apply(session, ctx, [planned])
        except DBAPIError as exc:
            if is_database_unavailable(exc):
                raise
            log.warning("bulk import: record %s refused", write.record.external_id, exc_info=True)
            results.append(_rejected(write.index, write.record.external_id, "write_failed", [_error(
                [], "the record could not be stored; nothing of it was written", "write_failed")]))
    return results


def _set_fields(doc: Document, record: BulkRecord, calendar: WorkingCalendar, redactions: list[Redaction]
                ) -> list[Moved]:
    """Set the record's fields; its redactions follow the new text (anchors.py), what moved or was lost returned."""
    for key, value in record.model_dump(exclude=NOT_COLUMNS).items():
        setattr(doc, key, value)
    doc.interpretation_of_id = record.interpretation_of
    history = record.history
    if history is not None:
        # 历史数据迁移: its validity as it stands, and the steps that led there (kept for the record).
        doc.migrated, doc.validity, doc.repeal_date = True, history.validity.value, history.repeal_date
        doc.validity_history = [{"validity": c.validity.value, "since": c.since.isoformat()}
                                for c in history.validity_history] or None
    review = record.review
    if review is not None:
        # The organ's own review decides what is proposed; the unit head still decides non-proactive records.
        doc.proposed_attribute = review.conclusion
        if review.conclusion != DisclosureAttribute.PROACTIVE:
            doc.withholding_grounds = list(review.grounds) or doc.withholding_grounds
            doc.attribute_reason = review.basis or doc.attribute_reason
    publication_due(calendar, doc)
    moved = reanchor_all(doc, redactions)
    refresh_projection(doc, redactions)
    return moved


def _link_rows(ctx: _Context, doc: Document, record: BulkRecord, *, new: bool
               ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    issuers = [{"document_id": doc.id, "organ_id": ctx.organ.id, "is_lead": True}] if new else []
    for code in dict.fromkeys(record.co_issuer_codes):
        other = ctx.co_issuers[code]
        if other.id != ctx.organ.id:
            issuers.append({"document_id": doc.id, "organ_id": other.id, "is_lead": False})
    links = [{"from_id": doc.id, "to_id": target, "kind": kind}
             for kind, targets in (("amends", record.amends), ("repeals", record.repeals))
             for target in dict.fromkeys(targets)]
    return issuers, links


def _step(ctx: _Context, doc: Document, seq: int, action: str, comment: str, status_before: str | None,
          attribute_before: str | None, redaction_id: str | None = None) -> dict[str, Any]:
    return {"id": new_id(), "document_id": doc.id, "seq": seq, "action": action, "actor_sub": ctx.principal.sub,
            "actor_name": ctx.principal.name, "role": "integration", "comment": comment,
            "status_before": status_before, "status_after": doc.status, "attribute_before": attribute_before,
            "attribute_after": doc.attribute, "redaction_id": redaction_id, "at": utcnow()}


def _publish_unlinked(doc: Document, index_no: str) -> None:
    """workflow.publish for a record that amends and repeals nothing: the same fields, without its query for the
    record's links (one round trip per record, most of a batch's time), with a 索引号 of the batch's block (a
    record that had one keeps it). test_sync checks the two stay equal."""
    doc.status, doc.published_at, doc.scheduled_publish_at, doc.reevaluation_due_on = "published", utcnow(), None, None
    if doc.index_no is None:
        doc.index_no = index_no


def _keep_history(doc: Document, record: BulkRecord) -> None:
    """A migrated record was published on its own day, not on the day of the import: every count by publication
    day (timeliness, dashboards, the Atom feed's entries) must see that day. Its last change is that publication."""
    if record.history is not None:
        doc.published_at = doc.updated_at = record.history.published_at


def _publication_year(write: _Write) -> int:
    """The year of the 索引号 block: the publication's, in Beijing time (a migrated record's lies in the past)."""
    if write.record.history is not None:
        return write.record.history.published_at.astimezone(SHANGHAI).year
    return today_shanghai().year


def _review_comment(review: ImportReview) -> str:
    return (f"单位保密审查：{review.reviewer}，{review.reviewed_on.isoformat()}，结论：{review.conclusion.zh}"
            + (f"；依据：{review.basis}" if review.basis else ""))


async def _apply(session: AsyncSession, ctx: _Context, writes: list[_Write]) -> list[BulkRecordResult]:
    """Write planned records: documents through the ORM (the helpers work on them), their issuers, links and
    review steps as multi-row INSERTs, events staged on the session (written when the savepoint is released)."""
    creates = [w for w in writes if w.existing is None]
    updates = [w for w in writes if w.existing is not None]
    docs: dict[int, Document] = {}
    next_seq: dict[str, int] = {}
    issuers: list[dict[str, Any]] = []
    links: list[dict[str, Any]] = []
    steps: list[dict[str, Any]] = []
    held: set[int] = set()  # a redaction's anchor is lost: stays a draft whatever the review (区分处理 first)

    # One block of 索引号 per publication year (migrated records are numbered in the year they were published) for
    # the records published in place below. Taken first, while the session holds nothing to write: taking it flushes,
    # and a flush after the records were added would INSERT them as drafts only to UPDATE each one it publishes.
    in_place = [w for w in writes if w.record.review is not None and not (w.record.amends or w.record.repeals)
                and w.record.review.conclusion == DisclosureAttribute.PROACTIVE
                and (w.existing is None or w.existing.index_no is None) and _kept_index_no(w.record) is None]
    # Kept 索引号 of migrated records first: the organ's serials then go on after them, never repeating one.
    await reserve_index_nos(session, ctx.organ, ctx.settings.index_no_template,
                            filter(None, (_kept_index_no(w.record) for w in writes)))
    by_year = Counter(_publication_year(w) for w in in_place)
    index_nos = {year: iter(await next_index_nos(session, ctx.organ, year, ctx.settings.index_no_template, count))
                 for year, count in sorted(by_year.items())}

    if creates:
        for write in creates:
            # No 索引号 for a draft: it is given at publication (public serials count public records only).
            # version set here, not left to the column default: the event below is staged before the INSERT.
            doc = Document(id=new_id(), organ_id=ctx.organ.id, index_no=None, status="draft", version=1,
                           validity="in_force", classified=False, created_by=ctx.source, source_system=ctx.source,
                           external_id=write.record.external_id, content_hash=write.digest)
            _set_fields(doc, write.record, ctx.calendar, [])
            session.add(doc)
            more_issuers, more_links = _link_rows(ctx, doc, write.record, new=True)
            issuers += more_issuers
            links += more_links
            steps.append(_step(ctx, doc, 1, "import", f"自 {ctx.source} 导入，外部编号 {write.record.external_id}",
                               None, None))
            emit_document_event(session, doc, ctx.organ, "document.created")
            docs[write.index], next_seq[doc.id] = doc, 2

    if updates:
        ids = [w.existing.id for w in updates if w.existing]
        redactions: dict[str, list[Redaction]] = defaultdict(list)
        for redaction in (await session.execute(select(Redaction).where(Redaction.document_id.in_(ids))
                                                .order_by(Redaction.field, Redaction.start))).scalars():
            redactions[redaction.document_id].append(redaction)
        last_seq = dict((await session.execute(select(ReviewStep.document_id, func.max(ReviewStep.seq))
                                               .where(ReviewStep.document_id.in_(ids))
                                               .group_by(ReviewStep.document_id))).all())
        # Links are replaced wholesale by the new version of the record (the lead issuer stays).
        await session.execute(delete(DocumentIssuer).where(DocumentIssuer.document_id.in_(ids),
                                                           DocumentIssuer.is_lead.is_(False)))
        await session.execute(delete(DocumentLink).where(DocumentLink.from_id.in_(ids)))
        for write in updates:
            doc = write.existing
            assert doc is not None
            doc.version += 1  # the row is ours (FOR UPDATE on PostgreSQL; one writer on SQLite)
            doc.content_hash = write.digest
            # Every change to a record is in its own review log, whoever makes it (security review, issue 11).
            seq = (last_seq.get(doc.id) or 0) + 1
            steps.append(_step(ctx, doc, seq, "import_update",
                               f"自 {ctx.source} 更新，外部编号 {write.record.external_id}", doc.status, doc.attribute))
            seq += 1
            # The upstream text replaces the draft's: each redaction is found again in it or lost, in the log.
            for moved in _set_fields(doc, write.record, ctx.calendar, redactions[doc.id]):
                steps.append(_step(ctx, doc, seq, moved.action, moved.comment, doc.status, doc.attribute,
                                   moved.redaction.id))
                seq += 1
            if lost_anchors(doc, redactions[doc.id]):
                held.add(write.index)
            more_issuers, more_links = _link_rows(ctx, doc, write.record, new=False)
            issuers += more_issuers
            links += more_links
            emit_document_event(session, doc, ctx.organ, "document.updated")
            docs[write.index], next_seq[doc.id] = doc, seq

    # Reviews concluding proactive publish. Records that amend or repeal others go through workflow.publish,
    # which applies that to the targets once the links are stored; the others are published in place.
    published: set[int] = set()
    linked: list[tuple[_Write, Document]] = []
    for write in writes:
        review, doc = write.record.review, docs[write.index]
        if review is None:
            continue
        proactive = review.conclusion == DisclosureAttribute.PROACTIVE and write.index not in held
        if proactive and (write.record.amends or write.record.repeals):
            linked.append((write, doc))
            continue
        status_before, attribute_before = doc.status, doc.attribute
        if proactive:
            doc.attribute = DisclosureAttribute.PROACTIVE.value
            _publish_unlinked(doc, doc.index_no or _kept_index_no(write.record)
                              or next(index_nos[_publication_year(write)]))
            _keep_history(doc, write.record)
            await set_interpretation_due(session, doc, ctx.settings.interpretation_due_working_days, ctx.calendar)
            set_expiry(doc, ctx.settings)
            emit_document_event(session, doc, ctx.organ, "document.published")
            published.add(write.index)
        comment = _review_comment(review) + ("；区分处理定位失效，未发布，待保密审查员复核"
                                             if write.index in held else "")
        steps.append(_step(ctx, doc, next_seq[doc.id], "import_review", comment, status_before, attribute_before))

    await session.flush()  # the documents, before the rows that refer to them
    for model, rows in ((DocumentIssuer, issuers), (DocumentLink, links)):
        if rows:
            await session.execute(insert(model), rows)
    for write, doc in linked:
        review = write.record.review
        assert review is not None
        status_before, attribute_before = doc.status, doc.attribute
        doc.attribute = DisclosureAttribute.PROACTIVE.value
        doc.index_no = doc.index_no or _kept_index_no(write.record)  # publish() numbers only a record without one
        await publish(session, doc, ctx.organ, Actor(ctx.principal, "integration", ctx.settings))
        _keep_history(doc, write.record)
        # The deadline counts from the publication day, which a migrated record has in the past.
        await set_interpretation_due(session, doc, ctx.settings.interpretation_due_working_days, ctx.calendar)
        set_expiry(doc, ctx.settings)
        emit_document_event(session, doc, ctx.organ, "document.published")
        published.add(write.index)
        steps.append(_step(ctx, doc, next_seq[doc.id], "import_review", _review_comment(review), status_before,
                           attribute_before))
    if steps:
        await session.execute(insert(ReviewStep), steps)
    await session.flush()
    return [BulkRecordResult(index=w.index, external_id=w.record.external_id,
                             status="created" if w.existing is None else "updated",
                             published=w.index in published, document_id=docs[w.index].id) for w in writes]
