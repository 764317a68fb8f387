"""The organ directory (KnownOrgan), learnt from the catalogue's event feed: organ.created / organ.updated.

The request service never reads the catalogue's tables (architecture.md); the "catalog-organs" FeedConsumer
(request_service/feeds.py) applies the events here, in the same transaction as its cursor. `path` holds the codes
from the root down ("/<root>/…/<self>/"), so a subtree is `path LIKE '/…/<code>/%'`.
"""

import logging
from typing import Any

from sqlalchemy import String, func, literal, select, type_coerce, update
from sqlalchemy.ext.asyncio import AsyncSession

from request_service.errors import UnknownOrgan
from request_service.models import KnownOrgan
from services.outbox import EventRead

__all__ = ["ORGAN_EVENTS", "apply_organ_event", "apply_organ_events", "get_known_organ", "subtree_codes"]

log = logging.getLogger("gongkai.request.organs")
ORGAN_EVENTS = frozenset({"organ.created", "organ.updated"})
GUIDE_FACTS = ("short_name", "office_address", "office_hours", "phone")


async def get_known_organ(session: AsyncSession, code: str) -> KnownOrgan:
    organ = await session.get(KnownOrgan, code.upper())
    if organ is None:
        raise UnknownOrgan(f"No organ with code {code} is known to the request service.",
                           errors=[{"loc": ["body", "organ_code"], "msg": "unknown organ", "type": "unknown_organ"}])
    return organ


async def subtree_codes(session: AsyncSession, code: str) -> list[str]:
    """The organ and all its subordinates (下级机关)."""
    organ = await get_known_organ(session, code)
    return list((await session.execute(
        select(KnownOrgan.code).where(KnownOrgan.path.startswith(organ.path)).order_by(KnownOrgan.path))).scalars())


async def _rewrite_subtree(session: AsyncSession, old_path: str, new_path: str, organ_id: str) -> None:
    """The subordinates of the organ `organ_id` (paths under `old_path`) move with it to `new_path`."""
    await session.execute(
        update(KnownOrgan).where(KnownOrgan.path.startswith(old_path), KnownOrgan.id != organ_id)
        .values(path=literal(new_path) + type_coerce(func.substr(KnownOrgan.path, len(old_path) + 1), String))
        .execution_options(synchronize_session=False))


async def apply_organ_event(session: AsyncSession, event: EventRead | dict[str, Any]) -> None:
    """Upsert the organ of an organ.* event; other event types are ignored (the feed carries documents too).
    Idempotent and safe against replays: an event older than the stored version changes nothing.

    机构改革: a re-parented organ is announced alone (organ.updated with its new parent_code); its whole subtree is
    rewritten here, so subtree_codes and every path-based scope follow the current hierarchy."""
    if isinstance(event, dict):
        event = EventRead.model_validate(event)
    if event.type not in ORGAN_EVENTS:
        return
    payload = event.payload
    organ_id = str(payload.get("id") or event.entity_id)
    code = str(payload["code"]).upper()
    version = int(payload.get("version") or event.version)
    parent_code = (str(payload["parent_code"]).upper() if payload.get("parent_code") else None)

    # populate_existing: a subtree rewrite earlier in the same batch is a bulk UPDATE that does not refresh objects
    # still held in the session's identity map; read from the database, a child is never placed under a stale path.
    organ = (await session.execute(select(KnownOrgan).where(KnownOrgan.id == organ_id)
                                   .execution_options(populate_existing=True))).scalar_one_or_none()
    if organ is not None and organ.version >= version:
        return
    parent = await session.get(KnownOrgan, parent_code, populate_existing=True) if parent_code else None
    if parent is not None and organ is not None and parent.path.startswith(organ.path):
        # Under its own subordinate: the catalogue never announces that; rooting the organ keeps paths finite.
        log.warning("organ %s announced under its own subordinate %s; kept as a root", code, parent_code)
        parent = None
    # A parent not seen yet (only if the feed was cut mid-tree) roots the organ for now; when the parent is
    # announced, it adopts its known children (below).
    path = f"{parent.path if parent else '/'}{code}/"
    if organ is None:
        organ = KnownOrgan(code=code, id=organ_id, name=payload.get("name") or code, parent_code=parent_code,
                           path=path, version=version)
        session.add(organ)
    else:
        old_path = organ.path
        if organ.code != code:  # the code is the key: rename it (rare: a corrected 统一社会信用代码)
            await session.execute(update(KnownOrgan).where(KnownOrgan.parent_code == organ.code)
                                  .values(parent_code=code))
            organ.code = code  # the ORM updates a primary key in place
        organ.name = payload.get("name") or organ.name
        organ.parent_code = parent_code
        organ.path = path
        organ.version = version
        if old_path != path:  # moved under another parent (or re-coded): carry the whole subtree along
            await _rewrite_subtree(session, old_path, path, organ_id)
    # The 简称 and 公开指南 contact facts are printed on its letters (文号 prefix, contact line): as announced.
    for field in GUIDE_FACTS:
        setattr(organ, field, payload.get(field) or None)
    await session.flush()
    orphans = (await session.execute(
        select(KnownOrgan).where(KnownOrgan.parent_code == code, KnownOrgan.id != organ_id)
        .execution_options(populate_existing=True))).scalars().all()
    for child in orphans:
        wanted = f"{path}{child.code}/"
        if child.path != wanted and not path.startswith(child.path):
            old_child_path, child.path = child.path, wanted
            await _rewrite_subtree(session, old_child_path, wanted, child.id)
    await session.flush()


async def apply_organ_events(session: AsyncSession, events: list[EventRead]) -> None:
    """A batch of the feed, in order (the FeedConsumer's `apply`)."""
    for event in events:
        await apply_organ_event(session, event)
