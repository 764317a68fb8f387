"""Sync surface for integrating agencies and followers: the change feed, the Atom feed and the bulk import."""

import hashlib
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import StreamingResponse

from catalog_service.api.search import search_context
from catalog_service.deps import CalendarDep, PublicSessionDep, SettingsDep, public_snapshot
from catalog_service.domain import bulk, idempotency, search, snapshot, sync
from catalog_service.schemas import (
    MAX_BULK_RECORDS,
    BulkImportRequest,
    BulkImportResult,
    ChangesPage,
    DocumentFilterParams,
    SnapshotDigest,
)
from services.auth import ANONYMOUS, Principal, PrincipalDep, require_roles
from services.db import SessionDep
from services.errors import problem_responses
from services.pagination import PageParams, int_cursor, page_params, paged

PREFIX = "/api/v1/catalog"
router = APIRouter(prefix=PREFIX, tags=["sync"])
IntegrationDep = Annotated[Principal, Depends(require_roles("integration"))]
ATOM = "application/atom+xml; charset=utf-8"

CHANGES_DESCRIPTION = """\
Incremental sync of the **published** catalogue (增量同步), for integrating agencies' replicas.

* Items are publications, updates, repeals and withdrawals of published records, in commit order. Each item
  carries the record as the public sees it **now** (`change: upsert`), or a tombstone with no record data at
  all (`change: tombstone`) when the record is no longer public (withdrawn, classified). Records that were never
  published never appear.
* Store `next_cursor` with what you applied and pass it as `after` next time; `has_more` (and the `Link:
  rel="next"` header) say whether to ask again at once. Cursors are opaque numbers: not ordered, not counts, not
  comparable with each other (they do not reveal how much non-public activity happened between two changes);
  no `after` (or `after=0`) starts from the beginning. `next_cursor` is always set (a feed has no last page).
* Delivery is **at least once**: after a retry or a crash you may see an item again, and several items of one
  record each carry its current state. Apply items by **upserting (or deleting) by `document_id`**; that makes
  replays harmless and leaves your copy equal to the public catalogue.
"""

BULK_DESCRIPTION = f"""\
Bulk upsert (批量导入) from an organ's own document system; role `integration`, records always belong to the
token's `organ`, and the token's `sub` is the source system.

* Up to {MAX_BULK_RECORDS} records per call (more → 422), keyed by your `external_id`. Each record is validated
  on its own: a bad one is `rejected` with its `errors`, the others are applied; nothing of a rejected record is
  written.
* `created` / `updated` (a draft whose content changed) / `unchanged` (same content: nothing is written, so a
  retried call changes nothing) / `rejected`. A record that has left drafting (in review, decided, published,
  withdrawn) is rejected with reason `in_workflow`: change it through the review workflow.
* `review` records the 保密审查 your system already did: `conclusion: proactive` publishes the record at once;
  other conclusions leave a draft with that proposed attribute for the unit head (单位主要负责人审定).
* `Idempotency-Key` (optional, ≤ 255 printable ASCII characters): a repeat with the same key and the identical
  body returns the first response verbatim (header `Idempotent-Replayed: true`); the same key with another body
  is a 422 `idempotency_key_reused`. A concurrent repeat waits for the first and replays it.
* Back-pressure: a call is applied once no change has waited for the search index longer than a second or two,
  so what you publish is searchable within seconds; while the index is behind (a large import, yours or
  another organ's), the call takes longer to answer rather than failing. Send batches one after another.
"""


@router.get("/changes", summary="Change feed of published records (增量同步)", response_model=ChangesPage,
            responses=problem_responses(422), description=CHANGES_DESCRIPTION)
async def list_changes(
    request: Request, response: Response, session: PublicSessionDep, settings: SettingsDep,
    paging: Annotated[PageParams, Depends(page_params(100, 500))],
) -> dict:
    page = await sync.list_changes(session, int_cursor(paging.after), paging.limit,
                                   settings.feed_cursor_key.get_secret_value().encode())
    response.headers["Cache-Control"] = "no-store"  # a withdrawal must end what any cache would serve
    return paged(request, response, page["items"], page["next_cursor"], has_more=page["has_more"])


SNAPSHOT_DESCRIPTION = f"""\
The whole **published** catalogue as NDJSON (`application/x-ndjson`, one JSON value per line, UTF-8), consistent
with a named position of the change feed (快照): start a replica here, then follow `{PREFIX}/changes?after=<cursor>`.

* Line 1: `{{"snapshot": {{"format": "{snapshot.FORMAT}", "cursor": <cursor>, "taken_at": "…"}}}}`.
* Then one line per public record, in ascending `id` order: exactly the record `GET {PREFIX}/documents/{{id}}` and
  the change feed's `record` serve. Never-published, withdrawn and classified records are not in it.
* Last line: `{{"end": {{"records": <count>, "cursor": <cursor>}}}}`. No such line: the stream was cut off — start
  again (a snapshot is not resumable).
* Consistency: the records and the cursor are read in one snapshot transaction, so the snapshot holds exactly the
  changes before the cursor; whatever is committed while it streams comes on `/changes?after=<cursor>`.
"""

DIGEST_DESCRIPTION = """\
A SHA-256 over the public records of one lead organ (`organ_code` = `organ`; subordinate organs not included), so
an integrating agency can prove its copy equal to the catalogue (可验证的同步). Computed from your copy as:

    record_hash = sha256(utf8(json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)))
    digest      = sha256(concatenation of  id + "\\t" + record_hash + "\\n"  over the records by ascending id)

(hex, lower case; `record` is the record as received from the snapshot or the change feed; an organ without public
records has the digest of the empty string). The content is hashed, not a version number.

* `as_of` omitted: the digest now, and in `as_of` the feed position it holds at (not usable to stop a feed reader:
  cursors are opaque).
* `as_of` = the `next_cursor` your last `/changes` page returned (or a snapshot's cursor): the digest at that
  position. The catalogue keeps no history of public views, so this is answered only while the organ's public
  records have not changed since; otherwise 409 `digest_position_passed` — read `/changes` to its end and ask
  again with the new cursor.
"""


@router.get("/snapshot", summary="Consistent snapshot of the published catalogue (快照, NDJSON)",
            response_class=StreamingResponse, description=SNAPSHOT_DESCRIPTION,
            responses={200: {"description": "NDJSON: header line, one line per public record, trailer line",
                             "content": {"application/x-ndjson": {"schema": {"type": "string"}}}}})
async def get_snapshot(request: Request, principal: PrincipalDep, settings: SettingsDep) -> StreamingResponse:
    # Its own snapshot transaction (on a read replica when one may serve it), opened by the stream: the request's
    # session ends before the body is sent.
    lines = snapshot.snapshot_lines(lambda: public_snapshot(request, principal),
                                    settings.feed_cursor_key.get_secret_value().encode(), settings.snapshot_batch_size)
    # no-store: a withdrawal must end what any cache would serve, as on the change feed.
    return StreamingResponse(lines, media_type="application/x-ndjson; charset=utf-8",
                             headers={"Cache-Control": "no-store"})


@router.get("/snapshot/digest", summary="Digest of an organ's public records (可验证的同步)",
            response_model=SnapshotDigest, description=DIGEST_DESCRIPTION, responses=problem_responses(404, 409, 422))
async def get_snapshot_digest(
    request: Request, response: Response, principal: PrincipalDep, settings: SettingsDep,
    organ: Annotated[str, Query(min_length=1, max_length=32, description="Code of the lead organ")],
    as_of: Annotated[str | None, Query(max_length=32, description=(
        "A change-feed cursor (a `/changes` next_cursor or a snapshot cursor); omitted: now"))] = None,
) -> SnapshotDigest:
    response.headers["Cache-Control"] = "no-store"
    position = int_cursor(as_of) if as_of is not None else None
    return await snapshot.organ_digest(lambda: public_snapshot(request, principal), organ, position,
                                       settings.feed_cursor_key.get_secret_value().encode(),
                                       settings.snapshot_batch_size)


ATOM_DESCRIPTION = f"""\
Any public catalogue search as an Atom 1.0 feed (RFC 4287) — 检索订阅, for people and agencies following a saved
search. The filters are those of `GET {PREFIX}/documents` (same names, same validation, unknown parameters
ignored) and the same matching; always as the public sees the catalogue, whoever asks (no `scope`). Entries are the
{sync.ATOM_FEED_SIZE} newest matching public records, newest first; without filters, the newest of the whole
catalogue. A public search's `feed_url` is this feed for its filters.

* The self link and the feed's `id` are the normalised query on the platform's public address: parameters sorted,
  the query folded to its terms, defaults left out. `updated` is the newest entry's; an empty feed has 1970-01-01.
* `ETag` / `If-None-Match` → 304; `Cache-Control: no-cache` — a withdrawn or classified record leaves the feed at
  once, and every cache on its next poll.
"""


@router.get("/feeds/atom.xml", summary="Atom feed of a catalogue search (检索订阅)", response_class=Response,
            description=ATOM_DESCRIPTION,
            responses={200: {"description": "Atom 1.0 feed (RFC 4287) of the newest matching public records",
                             "content": {"application/atom+xml": {"schema": {"type": "string"}}}},
                       304: {"description": "Not modified"}, **problem_responses(404, 422)})
async def get_atom_feed(
    request: Request, session: PublicSessionDep, settings: SettingsDep,
    params: Annotated[DocumentFilterParams, Query()],
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    # Absolute links from configuration only: Host and X-Forwarded-* are the caller's to choose (security review
    # item 5); the self link names the feed's own normalised filters, not whatever else the query carried.
    self_url = search.feed_url(settings.atom_feed_url, params)
    context = await search_context(request, session, ANONYMOUS)  # the feed is public, whoever polls it
    content = await sync.atom_feed(session, context, params, self_url=self_url, document_link=settings.document_link)
    tag = f'"{hashlib.sha256(content).hexdigest()[:32]}"'
    # no-cache: caches may keep it but must ask again, so a withdrawn record leaves every copy on the next poll.
    headers = {"ETag": tag, "Cache-Control": "no-cache"}
    if if_none_match and tag in {t.strip().removeprefix("W/") for t in if_none_match.split(",")}:
        return Response(status_code=304, headers=headers)
    return Response(content, media_type=ATOM, headers=headers)


async def index_keeps_up(request: Request, principal: IntegrationDep, settings: SettingsDep) -> None:
    """Back-pressure before a bulk import opens its transaction (Settings.bulk_max_index_lag_seconds): the import
    waits for the search index instead of running ahead of it, so what it publishes is searchable within seconds.
    After the caller is authenticated (no one else can make the server wait), before any database transaction (none
    is held open while waiting)."""
    await request.state.search_engine.keep_up(settings.bulk_max_index_lag_seconds, settings.bulk_index_wait_seconds)


@router.post("/documents/bulk", summary="Bulk import from an organ's document system (批量导入)",
             response_model=BulkImportResult, description=BULK_DESCRIPTION,
             responses=problem_responses(401, 403, 404, 413, 422, 503))
async def import_documents(
    request: Request, body: BulkImportRequest, _keep_up: Annotated[None, Depends(index_keeps_up)],
    session: SessionDep, principal: IntegrationDep,
    settings: SettingsDep, calendar: CalendarDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", min_length=1, max_length=255,
                                                  pattern=r"^[\x21-\x7e]+$")] = None,
) -> Response:
    if idempotency_key:
        fingerprint = idempotency.fingerprint(request.url.path, hashlib.sha256(await request.body()).hexdigest())
        replay = await idempotency.claim(session, principal.sub, idempotency_key, fingerprint)
        if replay is not None:
            return Response(replay, media_type="application/json", headers={"Idempotent-Replayed": "true"})
    result = await bulk.bulk_import(session, principal, body.records, settings, calendar)
    content = result.model_dump_json()
    if idempotency_key:
        await idempotency.remember(session, principal.sub, idempotency_key, 200, content)
    return Response(content, media_type="application/json")
