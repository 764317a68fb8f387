"""The public faces of the catalogue for followers and integrating agencies: the change feed and the Atom feed.

Change feed (`GET /api/v1/catalog/changes`): the outbox events of PUBLIC_CHANGE_TYPES in id order (ids are strictly
increasing in commit order, so a cursor never skips a late commit). Each event is served with the record's
*current* public view, or a content-free tombstone when the record is not public now — an old event can never
carry what has since been withdrawn or classified (reliability.md §2.5). Delivery is at least once.

Atom feed (检索订阅): the newest public records that a public catalogue search with the given filters finds — the
search domain's own matching, never a second matcher — or the whole catalogue without filters; built with
ElementTree (escaping done by the serializer, characters XML 1.0 forbids removed).
"""

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog_service.domain import feed_cursor
from catalog_service.domain.documents import public_reads
from catalog_service.domain.events import PUBLIC_CHANGE_TYPES
from catalog_service.domain.organs import get_organ_by_code
from catalog_service.domain.search import SearchContext, newest_public_matches, search_terms
from catalog_service.domain.visibility import visible_documents
from catalog_service.models import Document, Organ, outbox
from catalog_service.schemas import ChangeItem, DocumentFilterParams, DocumentPublicRead
from catalog_service.vocab import Genre, KeyArea
from services.auth import ANONYMOUS

__all__ = ["ATOM_FEED_SIZE", "atom_feed", "list_changes"]

ATOM_NS = "http://www.w3.org/2005/Atom"
ATOM_FEED_SIZE = 50
EMPTY_FEED_UPDATED = datetime(1970, 1, 1, tzinfo=UTC)
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _was_public(type_: str, payload: dict[str, Any]) -> bool:
    """Whether the event belongs to the public history. Events about records that were not public when they
    happened (a draft edited) carry `public: false` and are left out entirely: a never-published record does not
    even get a tombstone. A withdrawal always counts (it ends a public life). Old events without the flag
    (demo seed) were publications."""
    return type_ == "document.withdrawn" or bool(payload.get("public", True))


async def list_changes(session: AsyncSession, after: int, limit: int, cursor_key: bytes) -> dict[str, Any]:
    """`after` and the cursors handed out are public cursors (feed_cursor.py), never the internal event ids."""
    after_id = feed_cursor.decode(cursor_key, after)
    events = outbox.events
    rows = (await session.execute(
        select(events.c.id, events.c.type, events.c.entity_id, events.c.payload, events.c.occurred_at)
        .where(events.c.id > after_id, events.c.entity_type == "document", events.c.type.in_(PUBLIC_CHANGE_TYPES))
        .order_by(events.c.id).limit(limit)
    )).all()
    relevant = [r for r in rows if _was_public(r.type, r.payload or {})]
    ids = {r.entity_id for r in relevant}
    public_now: dict[str, DocumentPublicRead] = {}
    if ids:
        # The one visibility rule, as the public sees it, decided now — not what the event said then.
        docs = (await session.execute(visible_documents(ANONYMOUS).where(Document.id.in_(ids)))).scalars().all()
        public_now = {view.id: view for view in await public_reads(session, docs)}
    items = [ChangeItem(cursor=str(feed_cursor.encode(cursor_key, r.id)),
                        change="upsert" if r.entity_id in public_now else "tombstone", document_id=r.entity_id,
                        occurred_at=r.occurred_at, record=public_now.get(r.entity_id))
             for r in relevant]
    # The cursor moves past every event read, shown or not, so a long run of private events is crossed once.
    next_cursor = feed_cursor.encode(cursor_key, rows[-1].id) if rows else after
    return {"items": items, "next_cursor": str(next_cursor), "has_more": len(rows) == limit}


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _entry_updated(doc: Document) -> datetime:
    return max(doc.updated_at, doc.published_at or doc.updated_at)


def _text(parent: ET.Element, tag: str, text: str, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrs)
    element.text = _XML_FORBIDDEN.sub("", text)
    return element


def _feed_title(params: DocumentFilterParams, organ: Organ | None) -> str:
    """What is followed, in the reader's words: the folded query, then each filter's Chinese label."""
    parts = [" ".join(search_terms(params.q))] if params.q else []
    if organ is not None:
        parts.append(f"{organ.name}（含下级机关）" if params.include_subordinates else organ.name)
    parts += [term.zh for term in (params.subject_category, params.genre, params.key_area, params.validity) if term]
    if params.year:
        parts.append(f"{params.year}年")
    if params.index_no:
        parts.append(f"索引号 {params.index_no}")
    if params.doc_number:
        parts.append(f"文号 {params.doc_number}")
    parts = [p for p in parts if p]
    return "检索订阅: " + " · ".join(parts) if parts else "政府信息公开目录 · 最新公开"


async def atom_feed(session: AsyncSession, context: SearchContext, params: DocumentFilterParams, *, self_url: str,
                    document_link: Callable[[str], tuple[str, str]]) -> bytes:
    """Atom 1.0 (RFC 4287) of the ATOM_FEED_SIZE newest public records a public search with `params` finds (检索订阅;
    no filters: the whole catalogue); unknown organ → OrganNotFound. `self_url` (the feed's canonical, normalised
    URL) is also its id. `document_link(id)` gives each entry's alternate link and its media type (the portal page
    or the JSON record). `context`: the search's index, dictionary and revocations (api/search.py search_context)."""
    organ = await get_organ_by_code(session, params.organ) if params.organ else None
    # The search decides what matches (one matcher); the entries are then read as the public sees them now.
    ids = await newest_public_matches(session, context, params, ATOM_FEED_SIZE)
    found = {doc.id: (doc, org) for doc, org in (await session.execute(
        visible_documents(ANONYMOUS).add_columns(Organ).join(Organ, Organ.id == Document.organ_id)
        .where(Document.id.in_(ids)))).all()} if ids else {}
    rows = [found[i] for i in ids if i in found]
    title, feed_id = _feed_title(params, organ), self_url

    # Plain tag names under a default xmlns: parsers see Atom elements, and attributes stay unqualified.
    feed = ET.Element("feed", {"xmlns": ATOM_NS, "xml:lang": "zh-CN"})
    _text(feed, "id", feed_id)
    _text(feed, "title", title)
    # The newest entry's update time; an empty feed has a fixed one, so that its ETag holds until an entry comes.
    newest = max((_entry_updated(doc) for doc, _ in rows), default=EMPTY_FEED_UPDATED)
    _text(feed, "updated", _rfc3339(newest))
    ET.SubElement(feed, "link", {"rel": "self", "href": self_url, "type": "application/atom+xml"})
    _text(feed, "generator", "Gongkai 政府信息公开平台")
    for doc, organ in rows:
        entry = ET.SubElement(feed, "entry")
        _text(entry, "id", f"urn:uuid:{doc.id}")
        _text(entry, "title", doc.public_title)
        _text(entry, "updated", _rfc3339(_entry_updated(doc)))
        if doc.published_at:
            _text(entry, "published", _rfc3339(doc.published_at))
        author = ET.SubElement(entry, "author")
        _text(author, "name", organ.name)
        href, media_type = document_link(doc.id)
        ET.SubElement(entry, "link", {"rel": "alternate", "type": media_type, "href": href})
        if doc.genre:
            ET.SubElement(entry, "category", {
                "term": doc.genre, "scheme": "urn:gongkai:vocab:genre", "label": Genre(doc.genre).zh})
        for area in doc.key_areas or []:
            ET.SubElement(entry, "category", {
                "term": area, "scheme": "urn:gongkai:vocab:key_area", "label": KeyArea(area).zh})
        if doc.public_summary:
            _text(entry, "summary", doc.public_summary)
    body = ET.tostring(feed, encoding="unicode")
    return ('<?xml version="1.0" encoding="utf-8"?>\n' + body).encode()
