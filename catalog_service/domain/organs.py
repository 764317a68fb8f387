"""Use cases of the catalogue. Never imports fastapi; raises errors.*; flushes, never commits."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog_service.errors import DocumentNotFound, OrganCodeTaken, OrganNotFound
from catalog_service.models import Document, Organ, new_id, outbox
from catalog_service.schemas import OrganCreate, OrganRead, OrganUpdate
from services.concurrency import bump_version, require_if_match
from services.outbox import record_event


def organ_event_payload(organ: Organ, parent_code: str | None) -> dict:
    return {**OrganRead.model_validate(organ).model_dump(mode="json"), "parent_code": parent_code}


async def get_organ_by_code(session: AsyncSession, code: str) -> Organ:
    organ = (await session.execute(select(Organ).where(Organ.code == code.upper()))).scalar_one_or_none()
    if organ is None:
        raise OrganNotFound(f"Organ {code} does not exist.")
    return organ


async def create_organ(session: AsyncSession, data: OrganCreate) -> Organ:
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
    organ = await get_organ_by_code(session, code)
    require_if_match(if_match, organ.version)
    changes = data.model_dump(exclude_unset=True)
    for field in ("name", "kind"):
        if field in changes and changes[field] is None:
            changes.pop(field)
    await bump_version(session, organ, organ.version)
    for key, value in changes.items():
        setattr(organ, key, value)
    await session.flush()
    parent = await session.get(Organ, organ.parent_id) if organ.parent_id else None
    record_event(session, outbox, "organ.updated", entity_type="organ", entity_id=organ.id, version=organ.version,
                 payload=organ_event_payload(organ, parent.code if parent else None))
    return organ
