"""Links between records — 修订 (amends), 废止 (repeals), 解读 (interpretation_of): who may make them, what a caller
is told of them, and the log of what they do to other records.

Making a link (the drafting path and the bulk import, one rule; PATCH cannot change links):
  * the target must be a record the caller may see; otherwise the answer is the one for an id that does not exist
    (invalid_reference: no existence oracle);
  * amending or repealing changes the target, which is the act of the organ that owns it: allowed only on the
    caller's organ's own records, or on a published 联合发文 record the caller's organ co-issued. Any other visible
    record (another organ's published 规范性文件) is refused with 403 `foreign_record_link` (bulk: reason
    `foreign_record_link`) — never turned silently into a change of that organ's record;
  * a 解读 changes nothing of its target: any visible record.

Reading a link: a response names a linked record only if the caller may see it now (a 解读 of a policy classified
later does not confirm that the policy exists). The public detail shows links both ways (amends / amended_by,
repeals / repealed_by, interpretation_of / interpreted_by). When a record stops or starts being public, the public
records linked to it in either direction change their public view: they get a new version (ETag), a change-feed
event, and a step in their own review log, by the system — the step says neither who nor why (a classification is
not the interpreting organ's to learn).
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from catalog_service.domain.visibility import public_condition, staff_condition, visible_condition
from catalog_service.models import Document, DocumentIssuer, DocumentLink, Organ
from services.auth import Principal

__all__ = ["CHANGING_LINKS", "SYSTEM", "Target", "announce_links", "bump", "link_targets",
           "may_change", "visible_ids"]

CHANGING_LINKS = ("amends", "repeals")  # links that change their target when the linking record is published
# The actor of changes the system makes to a record on behalf of no one in its organ (定时发布, link re-announcements).
SYSTEM = Principal(sub="system", name="系统")


@dataclass(frozen=True)
class Target:
    visible: bool  # the caller may see it (public, or its own organ's within 知悉范围)
    changeable: bool  # the caller's organ may amend or repeal it


def _co_issued_by(organ_id: str):
    return exists(select(DocumentIssuer.document_id).where(DocumentIssuer.document_id == Document.id,
                                                           DocumentIssuer.organ_id == organ_id))


async def link_targets(session: AsyncSession, principal: Principal, organ: Organ, ids: Iterable[str]
                       ) -> dict[str, Target]:
    """What the caller (of `organ`) may do with each id, in one query; ids absent from the answer do not exist."""
    ids = set(ids)
    if not ids:
        return {}
    own, public = staff_condition(principal), public_condition()
    rows = await session.execute(select(Document.id, own, public, _co_issued_by(organ.id)).where(Document.id.in_(ids)))
    return {doc_id: Target(visible=bool(is_own or is_public),
                           changeable=bool(is_own or (is_public and co_issued)))
            for doc_id, is_own, is_public, co_issued in rows}


async def may_change(session: AsyncSession, organ: Organ, target: Document) -> bool:
    """Whether `organ` may amend or repeal `target` (checked again when the amending record is published)."""
    if target.organ_id == organ.id:
        return True
    return bool((await session.execute(select(_co_issued_by(organ.id)).where(Document.id == target.id))).scalar())


async def visible_ids(session: AsyncSession, principal: Principal, ids: Iterable[str | None], *,
                      staff_view: bool = True) -> set[str]:
    """The ids among `ids` the principal may see (ANONYMOUS: public records)."""
    wanted = {i for i in ids if i}
    if not wanted:
        return set()
    cond = visible_condition(principal, staff_view=staff_view)
    return set((await session.execute(select(Document.id).where(Document.id.in_(wanted), cond))).scalars())


async def bump(session: AsyncSession, doc: Document) -> None:
    """A new version of a record changed by the system (no If-Match: no one read it), as one atomic increment."""
    await session.flush()
    version = (await session.execute(update(Document).where(Document.id == doc.id)
                                      .values(version=Document.version + 1).returning(Document.version)
                                      .execution_options(synchronize_session=False))).scalar_one()
    set_committed_value(doc, "version", version)


async def announce_links(session: AsyncSession, doc: Document, *, now_public: bool) -> Sequence[Document]:
    """`doc` just became public (now_public) or stopped being public: the public records linked to it in either
    direction change their public view — the 解读 records naming it (interpretation_of), the record it interprets
    (interpreted_by), the records it amends or repeals (amended_by / repealed_by) and those amending or repealing it
    (amends / repeals). Each gets a new version, a `document.updated` event and a system step in its own log, once.
    On publication the records it amends or repeals are left out: publish() has just changed them, in their logs."""
    from catalog_service.domain.documents import add_review_step
    from catalog_service.domain.events import emit_document_event

    interpreters = set((await session.execute(select(Document.id).where(
        Document.interpretation_of_id == doc.id))).scalars())
    others = {doc.interpretation_of_id} if doc.interpretation_of_id else set()
    targets = select(DocumentLink.to_id).where(DocumentLink.from_id == doc.id)
    sources = select(DocumentLink.from_id).where(DocumentLink.to_id == doc.id)
    others |= set((await session.execute(sources)).scalars())
    if not now_public:
        others |= set((await session.execute(targets)).scalars())
    wanted = (interpreters | others) - {doc.id}
    if not wanted:
        return []
    linkers = (await session.execute(select(Document).where(Document.id.in_(wanted), public_condition())
                                     .order_by(Document.id))).scalars().all()
    for linker in linkers:
        await bump(session, linker)
        organ = await session.get(Organ, linker.organ_id)
        assert organ is not None
        if linker.id in interpreters:
            comment = ("所解读的记录已公开，公开视图显示该关联" if now_public
                       else "所解读的记录已不再公开，公开视图不再显示该关联")
        else:
            comment = ("关联的记录已公开，公开视图显示该关联" if now_public
                       else "关联的记录已不再公开，公开视图不再显示该关联")
        await add_review_step(session, linker, SYSTEM, action="link_shown" if now_public else "link_hidden",
                              role="system", status_before=linker.status, attribute_before=linker.attribute,
                              comment=comment)
        emit_document_event(session, linker, organ, "document.updated")
    return linkers
