"""Use cases of the catalogue. Never imports fastapi; raises errors.*; flushes, never commits.

Organs form a tree kept as a materialised path of ids ("/root/…/self/"): an organ and all its subordinates is one
prefix match. 机构改革 moves an organ to another superior (or to the top): its path and its whole subtree's are
rewritten in the same transaction, with one `organ.updated` event for the moved organ (its new parent_code); the
subordinates' own fields do not change, and consumers derive their new place from the moved organ's.
"""

import zlib

from sqlalchemy import String, func, literal, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from catalog_service.domain.synonyms import bump_dictionary
from catalog_service.errors import (
    DocumentNotFound,
    InvalidReference,
    OrganCodeTaken,
    OrganHierarchyCycle,
    OrganNotFound,
)
from catalog_service.models import Document, Organ, new_id, outbox
from catalog_service.schemas import OrganCreate, OrganRead, OrganUpdate
from services.concurrency import bump_version, require_if_match
from services.outbox import record_event


async def organ_reads(session: AsyncSession, organs: list[Organ]) -> list[OrganRead]:
    """The directory entries with each superior named by its code (one query for all the parents)."""
    parent_ids = {o.parent_id for o in organs if o.parent_id}
    rows = (await session.execute(select(Organ.id, Organ.code).where(Organ.id.in_(parent_ids)))).all() \
        if parent_ids else []
    codes = {organ_id: code for organ_id, code in rows}
    return [OrganRead.model_validate(o).model_copy(update={"parent_code": codes.get(o.parent_id)}) for o in organs]


async def organ_read(session: AsyncSession, organ: Organ) -> OrganRead:
    return (await organ_reads(session, [organ]))[0]


def organ_event_payload(organ: Organ, parent_code: str | None) -> dict:
    # The event's payload keeps its shape (the consumers' contract): the parent by code and by id, no labels.
    return {**OrganRead.model_validate(organ).model_dump(mode="json", exclude={"kind_label"}),
            "parent_code": parent_code, "parent_id": organ.parent_id}


async def get_organ_by_code(session: AsyncSession, code: str) -> Organ:
    organ = (await session.execute(select(Organ).where(Organ.code == code.upper()))).scalar_one_or_none()
    if organ is None:
        raise OrganNotFound(f"Organ {code} does not exist.")
    return organ


# Transaction-scoped advisory lock (PostgreSQL) around every change that reads a parent's path to write a path: a
# child registered while its ancestor moves, or two moves that would each be fine alone but together form a cycle,
# are serialised. Organ changes are rare admin actions; SQLite serialises writers anyway.
HIERARCHY_LOCK = zlib.crc32(b"gongkai.catalog.organ_hierarchy")


async def lock_hierarchy(session: AsyncSession) -> None:
    if session.bind.dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": HIERARCHY_LOCK})


async def create_organ(session: AsyncSession, data: OrganCreate) -> Organ:
    if data.parent_code:
        await lock_hierarchy(session)  # before the parent's path is read
    if (await session.execute(select(Organ.id).where(Organ.code == data.code))).first():
        raise OrganCodeTaken(f"An organ with code {data.code} already exists.")
    parent = await get_organ_by_code(session, data.parent_code) if data.parent_code else None
    organ_id = new_id()
    organ = Organ(
        id=organ_id, parent_id=parent.id if parent else None,
        path=f"{parent.path if parent else '/'}{organ_id}/",
        **data.model_dump(exclude={"parent_code"}),
    )
    session.add(organ)
    await session.flush()
    await bump_dictionary(session)  # its name and short name are words of the search dictionary
    record_event(session, outbox, "organ.created", entity_type="organ", entity_id=organ.id, version=organ.version,
                 payload=organ_event_payload(organ, data.parent_code))
    return organ


async def list_organs(session: AsyncSession, *, under: str | None = None) -> list[Organ]:
    """All organs, or `under` (a code) and all its subordinates (下级机关)."""
    stmt = select(Organ).order_by(Organ.path)
    if under:
        root = await get_organ_by_code(session, under)
        stmt = stmt.where(Organ.path.startswith(root.path))
    return list((await session.execute(stmt)).scalars())


async def get_published_document(session: AsyncSession, document_id: str) -> tuple[Document, Organ]:
    row = (await session.execute(
        select(Document, Organ).join(Organ, Organ.id == Document.organ_id)
        .where(Document.id == document_id, Document.status == "published")
    )).first()
    if row is None:
        raise DocumentNotFound(f"Document {document_id} does not exist.")
    return row[0], row[1]


async def next_index_no(session: AsyncSession, organ: Organ, year: int, template: str) -> str:
    """索引号 per organ and year from the configured template; serials are never reused."""
    from catalog_service.models import IndexSerial

    serial = await session.get(IndexSerial, (organ.id, year), with_for_update=True)
    if serial is None:
        serial = IndexSerial(organ_id=organ.id, year=year, last_serial=0)
        session.add(serial)
    serial.last_serial += 1
    await session.flush()
    return template.format(organ_code=organ.code, year=year, serial=serial.last_serial)


async def update_organ(session: AsyncSession, code: str, data: OrganUpdate, if_match: str | None) -> Organ:
    changes = data.model_dump(exclude_unset=True)
    moving = "parent_code" in changes
    parent_code = changes.pop("parent_code", None)
    if moving:
        await lock_hierarchy(session)  # before any path is read
    organ = await get_organ_by_code(session, code)
    require_if_match(if_match, organ.version)
    for field in ("name", "kind"):
        if field in changes and changes[field] is None:
            changes.pop(field)
    new_parent = await _new_parent(session, organ, parent_code) if moving else None
    renamed = "name" in changes and changes["name"] != organ.name
    await bump_version(session, organ, organ.version)
    for key, value in changes.items():
        setattr(organ, key, value)
    if moving and (new_parent.id if new_parent else None) != organ.parent_id:
        await _move_subtree(session, organ, new_parent)
    await session.flush()
    if {"name", "short_name"} & changes.keys():
        await bump_dictionary(session)  # words of the search dictionary
    if renamed:
        await _announce_renamed(session, organ)
    parent = await session.get(Organ, organ.parent_id) if organ.parent_id else None
    record_event(session, outbox, "organ.updated", entity_type="organ", entity_id=organ.id, version=organ.version,
                 payload=organ_event_payload(organ, parent.code if parent else None))
    return organ


async def _announce_renamed(session: AsyncSession, organ: Organ) -> None:
    """机构更名: every public record of the organ shows its name (`organ_name`), so each has a new public view —
    a new version (a cached copy revalidates) and a `document.updated` event (the change feed and webhooks carry it;
    a replica that missed it would no longer match the catalogue's digest, domain/snapshot.py)."""
    from catalog_service.domain.events import emit_document_event
    from catalog_service.domain.visibility import public_condition

    of_organ = (Document.organ_id == organ.id, public_condition())
    # One increment for all of them (a rename may touch thousands of records), then the rows as they now are.
    await session.execute(update(Document).where(*of_organ).values(version=Document.version + 1)
                          .execution_options(synchronize_session=False))
    docs = (await session.execute(select(Document).where(*of_organ).order_by(Document.id)
                                  .execution_options(populate_existing=True))).scalars().all()
    for doc in docs:
        emit_document_event(session, doc, organ, "document.updated")


async def _new_parent(session: AsyncSession, organ: Organ, parent_code: str | None) -> Organ | None:
    """The organ's new superior (None: top level), refusing a cycle: itself or one of its own subordinates."""
    if parent_code is None:
        return None
    parent = (await session.execute(select(Organ).where(Organ.code == parent_code))).scalar_one_or_none()
    if parent is None:
        raise InvalidReference(f"The new superior organ {parent_code} does not exist.", errors=[
            {"loc": ["body", "parent_code"], "msg": f"unknown organ {parent_code}", "type": "invalid_reference"}])
    if parent.path.startswith(organ.path):  # the organ itself, or below it
        what = "itself" if parent.id == organ.id else f"its own subordinate {parent.code}"
        raise OrganHierarchyCycle(f"Organ {organ.code} cannot be placed under {what}.", errors=[
            {"loc": ["body", "parent_code"], "msg": f"{parent.code} is {organ.code} or below it",
             "type": "hierarchy_cycle"}])
    return parent


async def _move_subtree(session: AsyncSession, organ: Organ, new_parent: Organ | None) -> None:
    """Rewrite the materialised path of the organ and everything below it in one statement."""
    old_path = organ.path
    new_path = f"{new_parent.path if new_parent else '/'}{organ.id}/"
    await session.execute(
        update(Organ).where(Organ.path.startswith(old_path, autoescape=True))
        .values(path=literal(new_path, String) + func.substr(Organ.path, len(old_path) + 1, type_=String),
                # The subordinates' representation (path is internal) does not change: neither does updated_at.
                updated_at=Organ.updated_at)
        .execution_options(synchronize_session=False))
    # The statement bypassed the identity map: keep the loaded object true to the row (no other subtree organ is
    # loaded here; the new parent is outside the subtree by the cycle check).
    organ.path, organ.parent_id = new_path, new_parent.id if new_parent else None
