"""Provable sync (可验证的同步): a consistent snapshot of the published catalogue and per-organ digests.

Snapshot (`GET /api/v1/catalog/snapshot`): NDJSON. Line 1 is a header naming the change-feed cursor the snapshot is
consistent with; then one line per public record — exactly the public view `GET /documents/{id}` and the change
feed serve (documents.public_reads, the one public projection; never a staff field), byte for byte, built in bulk
by documents.public_records_json — in id order; the last line
is a trailer with the record count and the same cursor, so a cut-off stream is recognisable (no trailer). The head
of the feed and every record are read in one snapshot transaction (Database.snapshot: PostgreSQL REPEATABLE READ,
SQLite one read transaction), in keyset batches of `batch_size` records: memory stays flat however large the
catalogue, and a record published between two batches is in neither the snapshot nor before its cursor — the
harvester meets it on `/changes?after=<cursor>`.

Digest (`GET …/snapshot/digest?organ=&as_of=`): for the public records whose lead organ is `organ`,

    record_hash = SHA-256( UTF-8( JSON of the public record, keys sorted at every level, separators "," and ":",
                                  no ASCII escaping ) )                        — hex, lower case
    digest      = SHA-256( for each record in ascending id order (code points; ids are ASCII):
                           id + "\\t" + record_hash + "\\n" )                  — hex, lower case

i.e. in Python `json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`. A harvester hashes
the records exactly as it received them (parsed, then canonicalised); an organ without public records has the
digest of the empty string. The record's content, not its `version`: what the public sees also changes without a
new version (an attachment withheld, a 解读's target hidden), and a copy equal in content is what is to be proved.

`as_of` (a cursor handed out by `/changes` or the snapshot header): the service keeps no history of public views, so
it answers for the present and says that the present equals the state at `as_of` for this organ — no public change
of the organ's records after `as_of` — or, when there was one, refuses with 409 `digest_position_passed`: the
harvester catches up on `/changes` and asks again with its new cursor.
"""

import hashlib
import json
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog_service.domain import feed_cursor
from catalog_service.domain.documents import public_records_json
from catalog_service.domain.events import PUBLIC_CHANGE_TYPES
from catalog_service.domain.organs import get_organ_by_code
from catalog_service.domain.sync import _was_public
from catalog_service.errors import DigestPositionPassed
from catalog_service.models import Document, Organ, outbox
from catalog_service.schemas import SnapshotDigest

# Opens the snapshot transaction an export is read in: `Database.snapshot` of the primary, or a read replica's
# (catalog_service/deps.public_snapshot) — both REPEATABLE READ, READ ONLY, always rolled back.
OpenSnapshot = Callable[[], AbstractAsyncContextManager[AsyncSession]]

__all__ = ["FORMAT", "canonical_json", "digest_of", "organ_digest", "record_hash", "snapshot_lines"]

FORMAT = "gongkai-catalog-snapshot/1"


def canonical_json(record: dict[str, Any]) -> bytes:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def record_hash(record: dict[str, Any]) -> str:
    """SHA-256 of one public record as JSON (the parsed wire form: what the harvester holds)."""
    return hashlib.sha256(canonical_json(record)).hexdigest()


def digest_of(pairs: Sequence[tuple[str, str]]) -> str:
    """SHA-256 over `id TAB record_hash LF` of each (id, record_hash), in ascending id order."""
    digest = hashlib.sha256()
    for doc_id, hashed in sorted(pairs):
        digest.update(f"{doc_id}\t{hashed}\n".encode())
    return digest.hexdigest()


def _feed_events():  # the events the public change feed reads (sync.list_changes), and nothing else
    events = outbox.events
    return events, (events.c.entity_type == "document") & events.c.type.in_(PUBLIC_CHANGE_TYPES)


async def feed_head(session: AsyncSession) -> int:
    """The newest change-feed event this transaction sees (0: none). Event ids are allocated in commit order
    (services/outbox.py), so every change not in this snapshot has a larger id: `after=<head>` starts exactly there."""
    events, of_feed = _feed_events()
    return int((await session.execute(select(func.max(events.c.id)).where(of_feed))).scalar_one() or 0)


async def _public_batches(session: AsyncSession, batch_size: int, *conditions: Any
                          ) -> AsyncIterator[list[tuple[str, bytes]]]:
    """The public records as (id, JSON) in id order, `batch_size` at a time (keyset: no OFFSET, each batch one index
    range; nothing of a batch is kept once it is streamed, so memory stays flat)."""
    after = ""
    while True:
        batch = await public_records_json(session, *conditions, after=after, limit=batch_size)
        if not batch:
            return
        yield batch
        if len(batch) < batch_size:
            return
        after = batch[-1][0]


def _line(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


async def snapshot_lines(open_snapshot: OpenSnapshot, cursor_key: bytes, batch_size: int) -> AsyncIterator[bytes]:
    """The NDJSON snapshot, one batch of lines at a time, all read in one snapshot transaction."""
    async with open_snapshot() as session:
        # The first read fixes the snapshot. A string, as `/changes` hands out its cursors (opaque).
        cursor = str(feed_cursor.encode(cursor_key, await feed_head(session)))
        yield _line({"snapshot": {"format": FORMAT, "cursor": cursor,
                                  "taken_at": datetime.now(UTC).isoformat().replace("+00:00", "Z")}})
        count = 0
        async for batch in _public_batches(session, batch_size):
            count += len(batch)
            yield b"".join(record + b"\n" for _, record in batch)
        yield _line({"end": {"records": count, "cursor": cursor}})


async def _changed_since(session: AsyncSession, organ: Organ, after_id: int, batch_size: int) -> bool:
    """Whether a public change of one of the organ's records was committed after event `after_id` (as the feed
    counts them: events of records that were not public then are not changes of the public catalogue)."""
    events, of_feed = _feed_events()
    of_organ = events.c.entity_id.in_(select(Document.id).where(Document.organ_id == organ.id))
    while True:
        rows = (await session.execute(
            select(events.c.id, events.c.type, events.c.payload).where(of_feed, of_organ, events.c.id > after_id)
            .order_by(events.c.id).limit(batch_size))).all()
        if any(_was_public(r.type, r.payload or {}) for r in rows):
            return True
        if len(rows) < batch_size:
            return False
        after_id = rows[-1].id


async def organ_digest(open_snapshot: OpenSnapshot, organ_code: str, as_of: int | None, cursor_key: bytes,
                       batch_size: int) -> SnapshotDigest:
    """The digest of an organ's public records now, named by the feed position it holds at (see module doc)."""
    async with open_snapshot() as session:
        organ = await get_organ_by_code(session, organ_code)
        head = await feed_head(session)
        if as_of is not None and await _changed_since(session, organ, feed_cursor.decode(cursor_key, as_of),
                                                      batch_size):
            raise DigestPositionPassed(
                f"Public records of organ {organ.code} changed after the given position: follow /changes to its "
                "end and ask again with the new cursor.")
        pairs: list[tuple[str, str]] = []  # (id, hash) only: flat in the records' size, linear in their number
        async for batch in _public_batches(session, batch_size, Document.organ_id == organ.id):
            # The record as a harvester holds it: parsed from exactly the JSON the snapshot and the feed send.
            pairs += [(doc_id, record_hash(json.loads(record))) for doc_id, record in batch]
        position = as_of if as_of is not None else feed_cursor.encode(cursor_key, head)
        return SnapshotDigest(organ=organ.code, as_of=str(position),
                              records=len(pairs), algorithm="sha256", digest=digest_of(pairs))
