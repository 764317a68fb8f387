"""索引器 · the indexer: keeps this process's search index (domain/search_index.py) a projection of the document
table, from the catalogue's own change events (the outbox), off the write path.

- Catch-up: read the outbox past the index's position, re-read each named record as it is *now* (so events may be
  merged or replayed: the result is the same), replace its entry (or drop it when the record is gone), commit, and
  advance the position. A background loop catches up every `search_index_interval_seconds` (freshness: a
  published change is searchable within about that long); search itself catches up first when at most
  `search_catch_up_on_read` events are pending, so a clerk finds what they have just saved (read-your-writes),
  while a bulk import in progress never makes searches wait.
- Visibility is never eventual: models.SearchRevocation rows are written in the writing transaction; each entry
  stores the newest revocation id of its record as read together with the record (`mark`), and search excludes a
  record with a revocation newer than its entry (search.revoked_ids).
- Build and rebuild: a full scan of the document table into a new index (outbox head noted first, then caught up
  from there), swapped in atomically when done: search keeps answering from the old index meanwhile.
- Reconciliation: per organ, the count and a hash of (id, version) in the base table vs in the index, with the ids
  missing from the index, stale in it (older version) or extra.

Where the index lives:
- In memory (no CATALOG_SEARCH_INDEX_DIR: the embedded default and tests): each process indexes for itself, in
  process (SearchEngine, background task).
- In a directory (production): one index per host, written by one *indexer process* and read by every web process
  of the host (IndexReader). Every web process starts an indexer process (indexer_process.py); the first to take
  the directory's lock writes, the others wait as standbys and take over if it dies. So the host indexes each
  change once however many workers it runs, the indexing CPU (folding and bigrams in Python) runs beside the web
  processes instead of inside their event loops, and a web process starts serving at once (readiness says
  "not built" until the first build is done).
"""

import asyncio
import hashlib
import json
import logging
import shutil
import subprocess
import time
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog_service.domain.search_index import IndexEntry, SearchIndex
from catalog_service.models import Document, Organ, SearchRevocation, outbox
from services.db import Database, utcnow

__all__ = ["REVOCATION_RETENTION", "IndexReader", "SearchEngine", "reconcile"]

log = logging.getLogger("gongkai.catalog.indexer")

BATCH_EVENTS = 2_000  # outbox events per catch-up round, one commit each: commits (and the merges they start) were
# most of the indexer's CPU during a bulk import at 500 (2.5 → 1.3 s per 1,000 records; freshness p99 18 → 3 s)
BATCH_DOCUMENTS = 1_000  # records per round of a full build
# Revocations are kept this long: an index lagging more is not ready (readiness) long before it could matter.
REVOCATION_RETENTION = timedelta(days=1)
CURRENT_FILE = "CURRENT"  # in the index directory: the name of the generation in use
LOCK_FILE = "indexer.lock"  # held by the host's indexer process (the one writer)
REBUILD_REQUEST_FILE = "rebuild-request"  # a web process asks the indexer process for a rebuild
REBUILD_STATE_FILE = "rebuild.json"  # the indexer process's rebuild progress, for every web process's status
# Back-pressure (keep_up): an indexer that has not moved for this long is not working (stopped, or rebuilding); a
# bulk import then goes ahead instead of waiting for it — search is a projection, writes are not its hostage.
STALLED_SECONDS = 5.0


def _entry_columns() -> list[Any]:
    mark = (select(func.coalesce(func.max(SearchRevocation.id), 0))
            .where(SearchRevocation.document_id == Document.id).scalar_subquery())
    return [Document.id, Document.organ_id, Document.status, Document.classified, Document.version,
            mark.label("mark"), Document.public_title, Document.doc_number, Document.doc_number_key,
            Document.index_no, Document.keywords, Document.public_summary, Document.public_body, Document.genre,
            Document.subject_category, Document.validity, Document.attribute, Document.key_areas,
            Document.written_date, Document.published_at, Document.created_at]


def _entry(row: Any) -> IndexEntry:
    return IndexEntry(
        id=row.id, organ_id=row.organ_id, status=row.status, classified=bool(row.classified), version=row.version,
        mark=int(row.mark or 0), title=row.public_title or "", doc_number=row.doc_number,
        doc_number_key=row.doc_number_key, index_no=row.index_no, keywords=list(row.keywords or []),
        summary=row.public_summary, body=row.public_body or "", genre=row.genre,
        subject_category=row.subject_category, validity=row.validity, attribute=row.attribute,
        key_areas=list(row.key_areas or []), written_date=row.written_date, published_at=row.published_at,
        created_at=row.created_at)


async def _load(session: AsyncSession, ids: Sequence[str]) -> list[IndexEntry]:
    # One statement per batch: each record and its revocation mark come from the same snapshot.
    rows = (await session.execute(select(*_entry_columns()).where(Document.id.in_(list(ids))))).all()
    return [_entry(r) for r in rows]


async def outbox_head(session: AsyncSession) -> int:
    return int((await session.execute(select(func.coalesce(func.max(outbox.events.c.id), 0)))).scalar_one())


@dataclass
class SearchEngine:
    """This process's search index and its indexer. `base` is the index directory (None: in memory, rebuilt from the
    database at every start — the embedded default and tests)."""

    database: Database
    base: Path | None
    # False where the process does not own its database connection (tests bind one connection): no background
    # work — the background indexer is not started and a rebuild runs within its request.
    background: bool = True
    # Processes that fold and cut records into tokens for this indexer (its CPU: ~1.2 ms per record, so one Python
    # process follows at most ~800 records/s). 1: in the indexer itself; more, on a machine with cores to spare,
    # lets the index follow a faster import (Settings.search_index_processes).
    analysis_processes: int = 1
    index: SearchIndex | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _analysers: ProcessPoolExecutor | None = field(default=None, init=False, repr=False)
    rebuilding: dict[str, Any] | None = None
    applies_pending_itself = True  # a search's catch-up applies a few pending changes at once (cheap)

    # ---- life cycle

    async def open(self) -> None:
        """Open the index in use (or build the first one) and catch it up."""
        current = self._current_path()
        if current is not None and current.exists():
            try:
                self.index = SearchIndex(current)
            except ValueError as exc:  # written by an earlier version with another schema: build anew
                log.warning("search index %s not opened (%s); building a new one", current.name, exc)
                shutil.rmtree(current, ignore_errors=True)
        if self.index is None or self.index.position is None:
            if self.index is not None:
                self.index.close(delete=True)
            self.index = await self._build(self._new_path())
            self._publish_current()
        await self.catch_up()

    def close(self) -> None:
        if self.index is not None:
            self.index.close()
        if self._analysers is not None:
            self._analysers.shutdown(wait=False, cancel_futures=True)
            self._analysers = None

    def analysers(self) -> ProcessPoolExecutor | None:
        """The analysis pool (started at first use; spawned, not forked: this process runs threads)."""
        if self.analysis_processes > 1 and self._analysers is None:
            self._analysers = ProcessPoolExecutor(self.analysis_processes, mp_context=get_context("spawn"))
        return self._analysers

    def _current_path(self) -> Path | None:
        if self.base is None or not (self.base / CURRENT_FILE).exists():
            return None
        return self.base / (self.base / CURRENT_FILE).read_text().strip()

    def _new_path(self) -> Path | None:
        if self.base is None:
            return None
        self.base.mkdir(parents=True, exist_ok=True)
        return self.base / f"gen-{time.time_ns()}"

    def _publish_current(self) -> None:
        if self.base is None or self.index is None or self.index.path is None:
            return
        tmp = self.base / (CURRENT_FILE + ".tmp")
        tmp.write_text(self.index.path.name)
        tmp.replace(self.base / CURRENT_FILE)

    # ---- indexing

    async def _build(self, path: Path | None) -> SearchIndex:
        """A new index of every record, consistent with the outbox position noted before the scan (events after it
        are applied by catch-up, replacing whatever the scan read)."""
        index = await asyncio.to_thread(SearchIndex, path)
        async with self.database.session(write=False) as session:
            head = await outbox_head(session)
        last = ""
        while True:
            async with self.database.session(write=False) as session:
                rows = (await session.execute(select(*_entry_columns()).where(Document.id > last)
                                              .order_by(Document.id).limit(BATCH_DOCUMENTS))).all()
            if not rows:
                break
            entries = [_entry(r) for r in rows]
            await asyncio.to_thread(index.apply, entries, [], head, analysers=self.analysers())
            last = rows[-1].id
            if self.rebuilding is not None:
                self._rebuild_progress(documents=self.rebuilding.get("documents", 0) + len(entries))
        index.set_position(head)
        return index

    async def catch_up(self, *, max_pending: int | None = None, index: SearchIndex | None = None,
                       head: int | None = None) -> int:
        """Apply the events past the position; with `max_pending`, only when no more than that many are pending
        (search's read-your-writes; `head`, the newest event the search saw, spares a read when nothing is).
        Returns the number of events applied."""
        target = index or self.index
        if target is None or max_pending == 0 or (max_pending is not None and self.lock.locked()):
            return 0  # the background indexer is at it: never make a search wait for a batch
        if head is not None and head <= (target.position or 0):
            return 0
        if max_pending is not None:  # a search: one small indexed read decides (usually: nothing pending)
            async with self.database.session(write=False) as session:
                pending = len((await session.execute(
                    select(outbox.events.c.id).where(outbox.events.c.id > (target.position or 0))
                    .limit(max_pending + 1))).all())
            if pending == 0 or pending > max_pending:
                return 0  # caught up, or a bulk import is being indexed: answer from the index as it stands
        async with self.lock:
            return await self._apply_pending(target)

    async def keep_up(self, max_lag_seconds: float, max_wait_seconds: float) -> float:
        """Bulk import's back-pressure: before a batch is written, no change may have waited for the index longer
        than `max_lag_seconds`. This process owns its index, so it applies the pending events itself (as its
        background task would; `max_wait_seconds` does not apply). Returns the lag found, in seconds."""
        if self.index is None or max_lag_seconds <= 0:
            return 0.0
        async with self.database.session(write=False) as session:
            lag = await lag_seconds(session, self.index.position or 0)
        if lag > max_lag_seconds:
            async with self.lock:  # after the background task's round, if one is running (no timeout: a cancelled
                await self._apply_pending(self.index)  # wait would leave its thread writing without the lock)
        return lag

    async def _apply_pending(self, target: SearchIndex) -> int:
        """Apply every event past the target's position, a batch at a time (the caller holds the lock)."""
        applied = 0
        while True:
            async with self.database.session(write=False) as session:
                events = (await session.execute(
                    select(outbox.events.c.id, outbox.events.c.entity_type, outbox.events.c.entity_id)
                    .where(outbox.events.c.id > (target.position or 0)).order_by(outbox.events.c.id)
                    .limit(BATCH_EVENTS))).all()
                if not events:
                    return applied
                ids = list(dict.fromkeys(e.entity_id for e in events if e.entity_type == "document"))
                entries = await _load(session, ids) if ids else []
            found = {e.id for e in entries}
            await asyncio.to_thread(target.apply, entries, [i for i in ids if i not in found], events[-1].id,
                                    analysers=self.analysers())
            applied += len(events)

    async def start(self) -> None:
        """At process start: open or build the index; with the database down, start anyway (search answers
        nothing and readiness says why) — the background indexer builds it when the database is back."""
        try:
            await self.open()
        except Exception as exc:
            log.warning("search index not built at start (%s); retrying in the background", type(exc).__name__)

    async def run(self, stop: asyncio.Event, interval_seconds: float) -> None:
        """The background indexer: catch up (building the index first if the start could not), wait, again. An
        error is logged and retried next round."""
        failing: str | None = None  # the kind of the current failure: a warning once, then quiet until it recovers
        while not stop.is_set():
            try:
                if self.index is None or self.index.position is None:
                    await self.open()
                if self.base is not None and (self.base / REBUILD_REQUEST_FILE).exists():  # asked by a web process
                    (self.base / REBUILD_REQUEST_FILE).unlink(missing_ok=True)
                    await self.rebuild()
                await self.catch_up()
            except Exception as exc:  # the database is away (a restart): expected, retried every round
                kind = type(exc).__name__
                log.log(logging.WARNING if kind != failing else logging.DEBUG,
                        "search index catch-up failed (%s); retrying", kind)
                failing = kind
            else:
                if failing is not None:
                    log.info("search index catching up again")
                failing = None
            try:
                await asyncio.wait_for(stop.wait(), timeout=interval_seconds)
            except TimeoutError:
                pass

    async def rebuild(self, *, already_marked: bool = False) -> dict[str, Any]:
        """Build a new index beside the one in use, catch it up, swap. Search answers from the old index until the
        swap; one rebuild at a time (`already_marked`: the caller set `rebuilding` to running)."""
        if not already_marked:
            if self.rebuilding is not None and self.rebuilding.get("state") == "running":
                return self.rebuilding
            self._rebuild_progress(state="running", started_at=utcnow().isoformat(), documents=0, fresh=True)
        assert self.rebuilding is not None
        try:
            fresh = await self._build(self._new_path())
            await self.catch_up(index=fresh)
            async with self.lock:  # no catch-up of the old index in flight while swapping
                await self._apply_pending(fresh)  # the last events before the swap
                old, self.index = self.index, fresh
                self._publish_current()
            if old is not None:
                # Readers of other processes that still have the old generation open keep its files (mapped).
                old.close(delete=True)
            self._rebuild_progress(state="done", finished_at=utcnow().isoformat())
        except Exception as exc:
            log.exception("search index rebuild failed")
            self._rebuild_progress(state="failed", error=type(exc).__name__)
        return self.rebuilding

    def _rebuild_progress(self, *, fresh: bool = False, **changes: Any) -> None:
        """Record the rebuild's progress; in a directory also for the web processes reading it (IndexReader)."""
        self.rebuilding = {**({} if fresh or self.rebuilding is None else self.rebuilding), **changes}
        if self.base is not None:
            tmp = self.base / (REBUILD_STATE_FILE + ".tmp")
            tmp.write_text(json.dumps(self.rebuilding))
            tmp.replace(self.base / REBUILD_STATE_FILE)

    async def request_rebuild(self, *, wait: bool) -> None:
        """The rebuild endpoint: in the background where this process runs background work, else within the
        request (tests, `wait`)."""
        if wait or not self.background:
            await self.rebuild()
        elif not (self.rebuilding and self.rebuilding.get("state") == "running"):
            self._rebuild_progress(state="running", started_at=utcnow().isoformat(), documents=0, fresh=True)
            task = asyncio.create_task(self.rebuild(already_marked=True))
            _background.add(task)
            task.add_done_callback(_background.discard)

    # ---- status

    async def status(self) -> dict[str, Any]:
        """Position, outbox head, lag in events and seconds (age of the oldest event not yet indexed)."""
        # One snapshot of the engine (a rebuild may swap the index while the database answers).
        return await index_status(self.database, self.index, dict(self.rebuilding) if self.rebuilding else None)


_background: set[asyncio.Task[Any]] = set()  # running rebuilds (a task must be referenced until it ends)


@dataclass
class IndexReader:
    """A web process's view of its host's shared index (CATALOG_SEARCH_INDEX_DIR), written by the host's indexer
    process. The same face as SearchEngine to the endpoints: `index`, `catch_up`, `status`, `request_rebuild`.

    With `indexer_command` it also starts an indexer process of its own at start (a standby while another process
    holds the directory's lock) and stops it at close."""

    database: Database
    base: Path
    indexer_command: list[str] | None = None
    wait_seconds: float = 2.0  # read-your-writes: how long a search waits for the indexer to apply a few changes
    poll_seconds: float = 0.02
    index: SearchIndex | None = None
    background: bool = True
    applies_pending_itself = False  # a search's catch-up waits for the indexer process
    _generation: str | None = None
    _child: subprocess.Popen[bytes] | None = None

    indexer_env: dict[str, str] | None = None

    async def start(self) -> None:
        if self.indexer_command is not None:
            self._start_indexer(self.indexer_command)
        self.refresh()

    def _start_indexer(self, command: list[str]) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        # Its own session: a Ctrl-C at the terminal reaches the web process, which stops it in order (close);
        # were the web process killed outright, the indexer process sees its parent gone and exits.
        self._child = subprocess.Popen(command, env=self.indexer_env, start_new_session=True)

    def close(self) -> None:
        if self._child is not None and self._child.poll() is None:
            self._child.terminate()
            try:
                self._child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._child.kill()
        self._child = None

    def refresh(self) -> None:
        """Follow the writer: the generation named by CURRENT (a rebuild swaps it), and its newest commits."""
        try:
            generation = (self.base / CURRENT_FILE).read_text().strip()
        except FileNotFoundError:
            return  # not built yet (the indexer process is building the first index)
        try:
            if generation != self._generation or self.index is None:
                self.index, self._generation = SearchIndex(self.base / generation, read_only=True), generation
            else:
                self.index.refresh()
        except (OSError, ValueError) as exc:  # a generation swapped or a segment merged away meanwhile: next time
            log.debug("search index refresh skipped (%s)", exc)

    async def catch_up(self, *, max_pending: int | None = None, head: int | None = None) -> int:
        """Wait until the indexer process has applied the changes committed so far: a search waits at most
        `wait_seconds`, and only when at most `max_pending` changes are pending (a clerk's own save); the
        operators' catch-up waits as long as it takes, up to a minute. Returns the number of events waited for."""
        await asyncio.to_thread(self.refresh)
        if max_pending == 0:
            return 0
        if head is None:
            async with self.database.session(write=False) as session:
                head = await outbox_head(session)
        position = (self.index.position or 0) if self.index else 0
        pending = head - position
        if pending <= 0 or (max_pending is not None and pending > max_pending):
            return 0
        deadline = time.monotonic() + (self.wait_seconds if max_pending is not None else 60.0)
        while time.monotonic() < deadline:
            await asyncio.sleep(self.poll_seconds)
            await asyncio.to_thread(self.refresh)
            if self.index is not None and (self.index.position or 0) >= head:
                break
        return pending

    async def keep_up(self, max_lag_seconds: float, max_wait_seconds: float) -> float:
        """Bulk import's back-pressure: wait until no change has waited for the host's indexer process longer than
        `max_lag_seconds`, at most `max_wait_seconds`, and not while the indexer makes no progress
        (STALLED_SECONDS). Returns the lag found first, in seconds."""
        await asyncio.to_thread(self.refresh)
        if max_lag_seconds <= 0 or self.index is None or (self.rebuilding or {}).get("state") == "running":
            return 0.0  # not built yet, or being rebuilt: the position does not move meanwhile, nothing to wait for
        position = self.index.position or 0
        async with self.database.session(write=False) as session:
            first = lag = await lag_seconds(session, position)
        started = moved = time.monotonic()
        while lag > max_lag_seconds:
            now = time.monotonic()
            if now - started > max_wait_seconds or now - moved > STALLED_SECONDS:
                log.warning("bulk import going ahead with the search index %.1f s behind (%s)", lag,
                            "indexer not progressing" if now - moved > STALLED_SECONDS else "waited long enough")
                break
            await asyncio.sleep(self.poll_seconds * 5)
            await asyncio.to_thread(self.refresh)
            if (self.index.position or 0) != position:
                position, moved = self.index.position or 0, time.monotonic()
            async with self.database.session(write=False) as session:
                lag = await lag_seconds(session, position)
        return first

    @property
    def rebuilding(self) -> dict[str, Any] | None:
        try:
            return json.loads((self.base / REBUILD_STATE_FILE).read_text())
        except (FileNotFoundError, ValueError):
            return None

    async def request_rebuild(self, *, wait: bool) -> None:
        """Ask the indexer process for a rebuild (it builds beside the index in use and swaps; every reader
        follows the swap); with `wait`, answer when it is done."""
        before = self.rebuilding
        if not (before and before.get("state") == "running"):
            (self.base / REBUILD_REQUEST_FILE).touch()
        while wait:
            await asyncio.sleep(0.1)
            now = self.rebuilding
            if now and now != before and now.get("state") in ("done", "failed"):
                break
        self.refresh()

    async def status(self) -> dict[str, Any]:
        self.refresh()
        rebuild = self.rebuilding
        if (self.base / REBUILD_REQUEST_FILE).exists():  # asked for, not yet picked up by the indexer process
            rebuild = {"state": "running", "documents": 0}
        return await index_status(self.database, self.index, rebuild)


async def lag_seconds(session: AsyncSession, position: int) -> float:
    """The index's lag in time: the age of the oldest change past `position` (0 when none is pending)."""
    oldest = (await session.execute(select(func.min(outbox.events.c.occurred_at))
                                    .where(outbox.events.c.id > position))).scalar_one()
    return max(0.0, (utcnow() - oldest).total_seconds()) if oldest is not None else 0.0


async def index_status(database: Database, index: SearchIndex | None,
                       rebuild: dict[str, Any] | None) -> dict[str, Any]:
    """Position, outbox head, lag in events and seconds (age of the oldest event not yet indexed)."""
    position = (index.position or 0) if index else 0
    async with database.session(write=False) as session:
        head = await outbox_head(session)
        lag = await lag_seconds(session, position)
    return {"position": position, "head": head, "lag_events": max(0, head - position),
            "lag_seconds": round(lag, 3), "entries": index.searcher().num_docs if index else 0,
            "location": ("none" if index is None else str(index.path) if index.path else "memory"),
            "rebuild": rebuild}


async def prune_revocations(session: AsyncSession) -> int:
    """Revocations older than REVOCATION_RETENTION have been superseded by every ready index (run periodically)."""
    result = await session.execute(delete(SearchRevocation)
                                   .where(SearchRevocation.created_at < utcnow() - REVOCATION_RETENTION))
    return result.rowcount or 0


def _digest(pairs: Sequence[tuple[str, int]]) -> str:
    h = hashlib.sha256()
    for doc_id, version in sorted(pairs):
        h.update(f"{doc_id}:{version}\n".encode())
    return h.hexdigest()


async def reconcile(session: AsyncSession, index: SearchIndex) -> dict[str, Any]:
    """对账 · base table vs index, per organ: count and SHA-256 over sorted (id, version); plus the ids missing from
    the index, stale in it (an older version, or an entry older than a revocation of its record) and extra (no such
    record). Reads every record's id and version and every entry: an operator's check, not a per-request one."""
    mark = (select(func.coalesce(func.max(SearchRevocation.id), 0))
            .where(SearchRevocation.document_id == Document.id).scalar_subquery())
    rows = (await session.execute(select(Document.id, Document.version, mark.label("mark"), Organ.code)
                                  .join(Organ, Organ.id == Document.organ_id))).all()
    indexed = await asyncio.to_thread(index.entries)
    base: dict[str, list[tuple[str, int]]] = defaultdict(list)
    in_index: dict[str, list[tuple[str, int]]] = defaultdict(list)
    missing, stale = [], []
    organ_of = {}
    for r in rows:
        organ_of[r.id] = r.code
        base[r.code].append((r.id, r.version))
        if r.id not in indexed:
            missing.append(r.id)
            continue
        version, entry_mark = indexed[r.id]
        in_index[r.code].append((r.id, version))
        if version != r.version or entry_mark < r.mark:
            stale.append(r.id)
    extra = sorted(i for i in indexed if i not in organ_of)
    organs = []
    for code in sorted(set(base) | set(in_index)):
        b, i = base.get(code, []), in_index.get(code, [])
        organs.append({"organ_code": code, "records": len(b), "entries": len(i), "records_hash": _digest(b),
                       "entries_hash": _digest(i), "consistent": _digest(b) == _digest(i)})
    return {"consistent": not (missing or stale or extra), "position": index.position, "organs": organs,
            "missing": sorted(missing), "stale": sorted(stale), "extra": extra}
