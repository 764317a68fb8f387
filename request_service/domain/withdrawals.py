"""Catalogue records that leave the public catalogue (撤回, or 定密 after publication: the catalogue announces both
as `document.withdrawn`) are dropped from what the request service keeps of them: the catalogue suggestions
(目录匹配) stored with an application at intake carry the record's title, 文号 and 索引号 as they were public then,
and staff views and the catalogue-away fallback of /suggestions serve them. A classified record must leave every
channel at once (reliability.md §1 sweep, found by tests/security/test_canary_services.py), so the "catalog-organs"
consumer (request_service/feeds.py) applies these events too, in the same transaction as its cursor.

What the applicant typed (info_title) and a reply's `published_document_id` (an id, cited while the record was
public) stay: they are the application's own record, not a copy of the catalogue.
"""

from sqlalchemy import String, cast, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from request_service.domain.organs import apply_organ_events
from request_service.models import Application
from services.outbox import EventRead

__all__ = ["WITHDRAWN", "apply_catalog_events", "drop_withdrawn_suggestions"]

WITHDRAWN = "document.withdrawn"


async def drop_withdrawn_suggestions(session: AsyncSession, document_ids: set[str]) -> int:
    """Remove the documents from every stored suggestion list; returns how many applications changed. The
    application's version is not bumped: nothing a client acts on changed, and a handler's If-Match stays valid."""
    if not document_ids:
        return 0
    # Suggestions are JSON lists of objects with an "id": a text match finds the candidates (ids are UUIDs, no
    # LIKE wildcards), the exact filter is done on the parsed list.
    text = cast(Application.suggestions, String)
    stmt = select(Application).where(or_(*(text.like(f'%"{doc_id}"%') for doc_id in sorted(document_ids))))
    changed = 0
    for app in (await session.execute(stmt)).scalars():
        kept = [s for s in app.suggestions or [] if str(s.get("id")) not in document_ids]
        if len(kept) != len(app.suggestions or []):
            app.suggestions = kept
            changed += 1
    await session.flush()
    return changed


async def apply_catalog_events(session: AsyncSession, events: list[EventRead]) -> None:
    """The consumer's batch: organ events to the organ directory, withdrawals to the stored suggestions."""
    await apply_organ_events(session, events)
    await drop_withdrawn_suggestions(session, {e.entity_id for e in events if e.type == WITHDRAWN})
