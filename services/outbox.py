"""Transactional outbox, the event feed, and the consumer helper.

Writing: `record_event(session, outbox, ...)` stages an event on the session; a `before_commit` hook inserts
the staged rows in the same transaction as the change, so there is no change without its event and no
event without its change.

Ordering ("commit order ≠ sequence order", architecture.md): with concurrent writers a reader that has
seen id 42 could later find a freshly committed 41 and skip it forever. We close the gap by serialising
the *insertion of event rows up to commit*: on PostgreSQL the hook takes a transaction-scoped advisory lock
before inserting, so ids are allocated in commit order and every id a reader sees has all smaller ids
already committed (or rolled back for good). The lock is held only for the insert and the commit itself,
because events are inserted at commit time, not when the domain code records them. SQLite has a single
writer (write transactions BEGIN IMMEDIATE), which gives the same guarantee.

Reading: `GET /internal/v1/events?after=<id>&limit=<n>` returns events with id > after in id order.
Consuming: FeedConsumer applies a batch and stores its cursor in the same transaction.
"""

import asyncio
import logging
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import (
    ARRAY,
    JSON,
    BigInteger,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    event,
    func,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from services.auth import Principal, require_roles
from services.db import Database, SessionDep, UtcDateTime
from services.errors import UpstreamUnavailable, problem_responses
from services.pagination import Page, PageParams, int_cursor, page_params, set_next_link

__all__ = ["EventRead", "FeedConsumer", "FeedPage", "Outbox", "make_event_feed_router", "read_feed", "record_event",
           "running_consumers"]

log = logging.getLogger("gongkai.outbox")
_PENDING_KEY = "gongkai_outbox_pending"
_RELEASED_KEY = "gongkai_outbox_released_savepoints"
_EVENT_COLUMNS = ("type", "entity_type", "entity_id", "version", "payload", "occurred_at")


class Outbox:
    """The event table (and the consumer-cursor table) of one service's database."""

    def __init__(self, metadata: MetaData) -> None:
        self.events = Table(
            "outbox_event", metadata,
            Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
            Column("type", String(80), nullable=False),
            Column("entity_type", String(40), nullable=False),
            Column("entity_id", String(64), nullable=False),
            Column("version", Integer, nullable=False),
            Column("payload", JSON, nullable=False),
            Column("occurred_at", UtcDateTime(), nullable=False),
        )
        self.cursors = Table(
            "consumer_cursor", metadata,
            Column("consumer", String(80), primary_key=True),
            Column("position", BigInteger, nullable=False),
            Column("updated_at", UtcDateTime(), nullable=False),
        )
        # Advisory-lock key: one per event table name, stable across processes.
        self.lock_key = zlib.crc32(f"gongkai.outbox.{metadata.schema or ''}".encode())
        # PostgreSQL: a commit's events in one statement that first takes the ordering lock. A separate
        # `SELECT pg_advisory_xact_lock` would add a round trip while holding the lock, and under load every writer
        # waits for each of those in turn. The ids (nextval) are drawn per joined row, i.e. once the lock is held;
        # one column array per field keeps the statement the same (and cached) for any number of events.
        self.locked_insert = text(f"""
            WITH outbox_lock AS MATERIALIZED (SELECT pg_advisory_xact_lock(:key))
            INSERT INTO {self.events.fullname} (type, entity_type, entity_id, version, payload, occurred_at)
            SELECT staged.* FROM unnest(:type, :entity_type, :entity_id, :version, :payload, :occurred_at)
                AS staged (type, entity_type, entity_id, version, payload, occurred_at)
            JOIN outbox_lock ON true""").bindparams(
            bindparam("key", type_=BigInteger),
            *(bindparam(name, type_=ARRAY(self.events.c[name].type)) for name in _EVENT_COLUMNS))

    def insert_events(self, connection: Connection, rows: list[dict[str, Any]]) -> None:
        """Write one commit's staged events; the before_commit hook calls this last, right before the commit.

        The one place where ids are drawn, so the one place whose order matters: on PostgreSQL the ordering lock
        comes first and the ids after it, in a single statement (see `locked_insert`)."""
        if connection.dialect.name == "postgresql":
            columns = {name: [row[name] for row in rows] for name in _EVENT_COLUMNS}
            connection.execute(self.locked_insert, {"key": self.lock_key, **columns})
        else:
            connection.execute(self.events.insert(), rows)


def record_event(session: AsyncSession, outbox: Outbox, type: str, *, entity_type: str, entity_id: str,
                 version: int, payload: dict[str, Any], occurred_at: datetime | None = None) -> None:
    """Stage an event; it is written when (and only if) the session's outermost transaction commits — and, when it
    was staged inside savepoints, only if each of them was released rather than rolled back."""
    sync = session.sync_session if isinstance(session, AsyncSession) else session
    pending: list[_Staged] = sync.info.setdefault(_PENDING_KEY, [])
    pending.append(_Staged(outbox, _savepoints(sync), {
        "type": type, "entity_type": entity_type, "entity_id": str(entity_id), "version": version,
        "payload": payload, "occurred_at": occurred_at or datetime.now(UTC),
    }))


def pending_events(session: Session) -> list[dict[str, Any]]:
    """The events staged on this session so far (the audit log records them with the change)."""
    return [staged.row for staged in session.info.get(_PENDING_KEY, [])]


class _Staged:
    __slots__ = ("outbox", "row", "savepoints")

    def __init__(self, outbox: Outbox, savepoints: tuple[Any, ...], row: dict[str, Any]) -> None:
        self.outbox, self.savepoints, self.row = outbox, savepoints, row


def _savepoints(session: Session) -> tuple[Any, ...]:
    chain, transaction = [], session.get_nested_transaction()
    while transaction is not None:
        if transaction.nested:
            chain.append(transaction)
        transaction = transaction.parent
    return tuple(chain)


def _write_staged_events(session: Session) -> None:
    # before_commit also fires when a savepoint is released: note the release; the events wait for the outermost
    # commit, so the ordering lock below is held only for the insert and that commit.
    if session.in_nested_transaction():
        session.info.setdefault(_RELEASED_KEY, []).append(session.get_nested_transaction())
        return
    released = session.info.pop(_RELEASED_KEY, [])
    pending: list[_Staged] | None = session.info.pop(_PENDING_KEY, None)
    rows = [s for s in pending or [] if all(any(sp is r for r in released) for sp in s.savepoints)]
    if not rows:
        return
    # The changes themselves are flushed first: the commit would flush them after this hook, under the lock that
    # every other writer of events is waiting for.
    session.flush()
    rows[0].outbox.insert_events(session.connection(), [s.row for s in rows])


def _forget_staged_events(session: Session, transaction: Any) -> None:
    # The outermost transaction is over (committed above, or rolled back): nothing staged may outlive it.
    if transaction.parent is None:
        session.info.pop(_PENDING_KEY, None)
        session.info.pop(_RELEASED_KEY, None)


# Registered by a call, not with `@event.listens_for`: mutation testing (`make mutation`, mutmut) leaves decorated
# functions alone, and these two hooks are where "no change without its event" lives.
event.listen(Session, "before_commit", _write_staged_events)
event.listen(Session, "after_transaction_end", _forget_staged_events)


class EventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int = Field(description="Cursor position; strictly increasing in commit order")
    type: str = Field(examples=["organ.created"])
    entity_type: str
    entity_id: str
    version: int
    payload: dict[str, Any]
    occurred_at: datetime


class FeedPage(Page[EventRead]):
    """The common list envelope (services/pagination.py). A feed never ends: `next_cursor` is always set (the id of
    the last event read, or `after` when nothing new) — store it with what you applied."""

    head: int = Field(0, description="The newest event id now: consumers report their lag as head − cursor")


def make_event_feed_router(outbox: Outbox, *, tag: str) -> APIRouter:
    router = APIRouter(tags=[tag])
    reader = require_roles("service", "admin")

    @router.get(
        "/internal/v1/events", summary="Event feed for other services (内部事件流)", response_model=FeedPage,
        responses=problem_responses(401, 403, 422),
        description="Events in strict cursor order (`after`: return events with id greater than this). Store "
                    "`next_cursor` together with what you applied.",
    )
    async def list_events(
        session: SessionDep, request: Request, response: Response,
        _principal: Annotated[Principal, Depends(reader)],
        paging: Annotated[PageParams, Depends(page_params(100, 1000))],
    ) -> FeedPage:
        page = await read_feed(session, outbox, int_cursor(paging.after), paging.limit)
        response.headers["Cache-Control"] = "no-store"
        if page.has_more and page.next_cursor is not None:
            set_next_link(request, response, page.next_cursor)
        return page

    return router


async def read_feed(session: AsyncSession, outbox: Outbox, after: int, limit: int) -> FeedPage:
    """One page of the feed: up to `limit` events with id > `after` in id order, whether more follow now, and the
    head (0 while empty). The cursor never ends: the last id read, or `after` when nothing is new."""
    rows = (await session.execute(
        select(outbox.events).where(outbox.events.c.id > after).order_by(outbox.events.c.id).limit(limit + 1)
    )).mappings().all()
    items = [EventRead.model_validate(dict(r)) for r in rows[:limit]]
    head = (await session.execute(select(func.max(outbox.events.c.id)))).scalar_one_or_none() or 0
    return FeedPage(items=items, next_cursor=str(items[-1].id if items else after), has_more=len(rows) > limit,
                    head=head)


FetchEvents = Callable[[int, int], Awaitable["list[EventRead] | FeedPage"]]
ApplyBatch = Callable[[AsyncSession, list[EventRead]], Awaitable[None]]


def _insert_missing(session: AsyncSession, table: Table, **values: Any) -> Any:
    """INSERT of a row unless its primary key is taken (ON CONFLICT DO NOTHING). On PostgreSQL a row another
    transaction inserted and has not committed yet makes this wait for that transaction, then insert nothing."""
    dialect = postgresql if session.bind.dialect.name == "postgresql" else sqlite
    return dialect.insert(table).values(**values).on_conflict_do_nothing(
        index_elements=[column.name for column in table.primary_key.columns])


class FeedConsumer:
    """Applies another service's events exactly once: effects and cursor commit in one transaction.

    `fetch(after, limit)` reads the producer's feed (HTTP in production); `apply(session, events)` writes the
    effect of a batch (a consumer that aggregates can do it in a few statements). A crash between fetch and
    commit loses nothing (the cursor did not move) and a replayed batch is skipped event by event (ids at or
    below the stored cursor are ignored).
    """

    def __init__(self, name: str, database: Database, outbox: Outbox, fetch: FetchEvents, apply: ApplyBatch,
                 *, batch_size: int = 500) -> None:
        self.name = name
        self.database = database
        self.cursors = outbox.cursors
        self.fetch = fetch
        self.apply = apply
        self.batch_size = batch_size
        self.last_success: datetime | None = None
        self.head_seen: int = 0
        self.position_seen: int = 0
        self.oldest_pending_at: datetime | None = None  # occurred_at of the oldest fetched, unapplied event

    async def position(self, session: AsyncSession | None = None) -> int:
        if session is None:
            async with self.database.session(write=False) as s:
                return await self.position(s)
        value = (await session.execute(
            select(self.cursors.c.position).where(self.cursors.c.consumer == self.name)
        )).scalar_one_or_none()
        return int(value or 0)

    async def poll_once(self) -> int:
        """Fetch and apply one batch; returns how many events were applied."""
        after = await self.position()
        fetched = await self.fetch(after, self.batch_size)
        events = fetched.items if isinstance(fetched, FeedPage) else fetched
        if isinstance(fetched, FeedPage):
            self.head_seen = max(self.head_seen, fetched.head)
        self.position_seen = after
        if not events:
            self.last_success = datetime.now(UTC)
            self.oldest_pending_at = None
            return 0
        self.oldest_pending_at = events[0].occurred_at
        applied = 0
        async with self.database.transaction() as session:
            # Several instances (多实例) run the same consumer: the cursor row is locked before the batch is applied,
            # so they take turns and the later one skips what the earlier applied. The row is made to exist first
            # (inserting nothing when it does): with no row to lock, two instances starting on a new consumer both
            # applied the first batch and one then failed on the row's key — work done twice, a rollback logged.
            await session.execute(_insert_missing(session, self.cursors, consumer=self.name, position=0,
                                                  updated_at=datetime.now(UTC)))
            stmt = select(self.cursors.c.position).where(self.cursors.c.consumer == self.name)
            if session.bind.dialect.name == "postgresql":
                stmt = stmt.with_for_update()
            position = int((await session.execute(stmt)).scalar_one())
            fresh = [item for item in events if item.id > position]  # skip what an earlier run applied
            if fresh:
                await self.apply(session, fresh)
                position, applied = fresh[-1].id, len(fresh)
            await session.execute(self.cursors.update().where(self.cursors.c.consumer == self.name)
                                  .values(position=position, updated_at=datetime.now(UTC)))
        self.head_seen = max(self.head_seen, events[-1].id)
        self.position_seen = position
        self.oldest_pending_at = None if position >= self.head_seen else self.oldest_pending_at
        self.last_success = datetime.now(UTC)
        return applied

    def lag(self) -> dict[str, float | int | None]:
        """How far behind the producer: events (head − cursor) and seconds (age of the oldest unapplied event)."""
        seconds = (datetime.now(UTC) - self.oldest_pending_at).total_seconds() if self.oldest_pending_at else 0.0
        return {"events": max(self.head_seen - self.position_seen, 0), "seconds": round(seconds, 3),
                "last_success": self.last_success.isoformat() if self.last_success else None}

    async def readiness(self, stale_after_seconds: float = 300) -> dict[str, Any]:
        """A readiness entry that reports, never judges: an outage of the producing service must not take the
        consuming one out of the load balancer. `stale` says no poll succeeded for `stale_after_seconds`."""
        age = (datetime.now(UTC) - self.last_success).total_seconds() if self.last_success is not None else None
        return {"ok": True, "lag": self.lag(), "head_seen": self.head_seen,
                "stale": age is None or age > stale_after_seconds}

    async def drain(self) -> int:
        """Poll until the feed has nothing new; returns the total applied."""
        total = 0
        while True:
            n = await self.poll_once()
            total += n
            if n == 0:
                return total

    async def run(self, stop: asyncio.Event, *, idle_seconds: float = 1.0) -> None:
        failing: str | None = None  # the kind of the current failure, logged once until a poll succeeds
        while not stop.is_set():
            try:
                applied = await self.poll_once()
            except UpstreamUnavailable as exc:  # the producer is not up (yet): expected at start-up, one line
                applied, kind = 0, "unavailable"
                if kind != failing:
                    log.warning("consumer %s: feed unavailable (%s); retrying until it answers", self.name,
                                exc.detail)
                failing = kind
            except Exception as exc:  # our DB is down, or a bug: the traceback once, then quiet until it recovers
                applied, kind = 0, type(exc).__name__
                log.log(logging.WARNING if kind != failing else logging.DEBUG, "consumer %s: poll failed",
                        self.name, exc_info=kind != failing)
                failing = kind
            else:
                if failing is not None:
                    log.info("consumer %s: feed reachable again", self.name)
                failing = None
            if applied == 0:
                try:
                    await asyncio.wait_for(stop.wait(), timeout=idle_seconds)
                except TimeoutError:
                    pass


@asynccontextmanager
async def running_consumers(consumers: Sequence[FeedConsumer], *, idle_seconds: float,
                            grace_seconds: float = 5.0) -> AsyncIterator[None]:
    """While the block runs, each consumer polls its feed in a background task (a service's lifespan). On exit
    they are asked to stop and given `grace_seconds` to finish the batch in hand; a poll stuck on the network is
    then cancelled, which loses nothing (effects and cursor commit together)."""
    stop = asyncio.Event()
    tasks = [asyncio.create_task(c.run(stop, idle_seconds=idle_seconds), name=f"consumer {c.name}")
             for c in consumers]
    try:
        yield
    finally:
        await _stop_consumers(stop, tasks, grace_seconds)


async def _stop_consumers(stop: asyncio.Event, tasks: list[asyncio.Task[None]], grace_seconds: float) -> None:
    # Apart from the context manager: mutation testing leaves decorated functions alone.
    stop.set()
    if tasks:
        _, late = await asyncio.wait(tasks, timeout=grace_seconds)
        for task in late:
            log.warning("consumer task %s did not stop in time", task.get_name())
            task.cancel()
        with suppress(asyncio.CancelledError):
            await asyncio.gather(*tasks, return_exceptions=True)
