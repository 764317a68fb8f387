"""Who may see which catalogue records — the one place the rule lives (reliability.md: one `visible_to`).

Public (anonymous, applicants, any non-catalogue role): published, not classified. That is all.
Catalogue staff (drafter, division head, unit head, secrecy officer) see every record of their own organ in any
state; classified records only with the secrecy officer or unit head role (知悉范围).
Every query of documents that serves a caller starts from `visible_documents(principal)`.
"""

from sqlalchemy import Select, and_, false, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from catalog_service.models import Document, Organ, SearchRevocation
from services.auth import Principal

__all__ = ["CATALOG_STAFF_ROLES", "CLASSIFIED_READERS", "is_catalog_staff", "public_condition",
           "revocations_agree", "staff_condition", "visible_condition", "visible_documents"]

CATALOG_STAFF_ROLES = frozenset({"drafter", "division_head", "unit_head", "secrecy_officer"})
CLASSIFIED_READERS = frozenset({"secrecy_officer", "unit_head"})


def is_catalog_staff(principal: Principal) -> bool:
    return principal.organ is not None and principal.has_any(CATALOG_STAFF_ROLES)


def public_condition() -> ColumnElement[bool]:
    return and_(Document.status == "published", Document.classified.is_(False))


def staff_condition(principal: Principal) -> ColumnElement[bool]:
    own_organ = Document.organ_id.in_(select(Organ.id).where(Organ.code == principal.organ))
    may_see_classified = true() if principal.has_any(CLASSIFIED_READERS) else Document.classified.is_(False)
    return and_(own_organ, may_see_classified)


def visible_condition(principal: Principal, *, staff_view: bool = True) -> ColumnElement[bool]:
    """Public records, plus (for catalogue staff, unless staff_view=False) their organ's records."""
    if staff_view and is_catalog_staff(principal):
        return public_condition() | staff_condition(principal)
    return public_condition()


def visible_documents(principal: Principal, *, staff_view: bool = True) -> Select[tuple[Document]]:
    return select(Document).where(visible_condition(principal, staff_view=staff_view))


def never() -> ColumnElement[bool]:
    return false()


REVOCATION_WINDOW = 10_000  # revocation ids looked at below the replica's newest when the two differ


async def revocations_agree(replica: AsyncSession, primary: AsyncSession) -> bool:
    """撤回即时生效 on a read replica (issue 17 item 3): may a public read be answered from `replica`?

    Every change that takes a public record out of view or changes its public text (定密, 撤回, 区分处理, an edit
    or deletion of a published record) writes a search_revocation row in its own transaction (models.py
    `_revoke_from_search`). A replica may answer when, for every revocation row the primary holds and the replica
    does not yet, the replica does not show that record to the public at all — then nothing it serves can be
    content the primary has withdrawn or changed. (A record just published also leaves a row — its projection is
    written after the status — and is simply not public on the replica yet: it does not keep the replica out.)

    Fast path: equal (count, sum of ids) on both sides — ids are unique, and pruning only removes day-old rows,
    far below the ids of any transaction still in flight, so equal aggregates mean equal sets. Otherwise the rows
    above the replica's newest id minus REVOCATION_WINDOW are compared, and the difference must explain the
    whole difference in count (else, e.g. during pruning, the answer is no: the primary answers). The replica is
    asked first, in the session that then serves the request (its later statements see at least as much), the
    primary after, so a revocation committed before this check is seen on the primary."""
    aggregate = select(func.count(), func.coalesce(func.sum(SearchRevocation.id), 0),
                       func.coalesce(func.max(SearchRevocation.id), 0))
    r_count, r_sum, r_max = (await replica.execute(aggregate)).one()
    p_count, p_sum, _ = (await primary.execute(aggregate)).one()
    if (r_count, r_sum) == (p_count, p_sum):
        return True
    floor = r_max - REVOCATION_WINDOW
    on_replica = set((await replica.execute(select(SearchRevocation.id).where(SearchRevocation.id > floor)))
                     .scalars())
    missing = {rev_id: doc_id for rev_id, doc_id in (await primary.execute(
        select(SearchRevocation.id, SearchRevocation.document_id).where(SearchRevocation.id > floor))).all()
        if rev_id not in on_replica}
    if p_count - r_count != len(missing):
        return False
    shown = (await replica.execute(select(func.count()).select_from(Document).where(
        Document.id.in_(set(missing.values())), public_condition()))).scalar_one()
    return shown == 0
