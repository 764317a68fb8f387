"""Tamper-evident audit log (审计日志): append-only, hash-chained, one chain per service database.

What is logged: every request that changes something (each committed transaction of a POST/PUT/PATCH/DELETE —
a request that fails rolls back and leaves no entry, because it changed nothing), with the actor, the route, the
request id and the events the change published; and every read of unmasked personal data (the request service
calls `record_audit` in the same transaction as its own access row). Not logged: writes that anyone may cause
without changing a record, which call `leave_out_request_entry` — a failed anonymous tracking look-up (it writes its
brute-force counter; counted as a metric instead) and an Idempotency-Key replay (it changes nothing). Each one
chained would let anonymous traffic grow the log without bound, and every verify reads the whole chain.

The chain: entry n stores `hash_n = sha256(hash_{n-1} + entry_n)` over the entry's canonical JSON text, and
`seq` numbers entries without gaps. `verify` recomputes the chain: an edited entry breaks its own hash, a deleted
or reordered one breaks the link or the numbering. Entries are appended at commit by one statement that moves the
one-row `audit_head` and inserts the entry; writers queue on that row's lock until commit, so concurrent requests
cannot fork the chain (SQLite has one writer anyway). Database triggers refuse UPDATE and DELETE on the log; the
chain catches whoever disables them. Entries cut off the end are caught by the head row, and — against someone
who also rewrites the head — by a head recorded elsewhere: pass a previously returned head to verify
(`expect_seq`, `expect_hash`), as monitoring does.

Reading: `GET /internal/v1/audit` (entries after a seq) and `GET /internal/v1/audit/verify`, for auditors and
admins; `python -m services.audit <service>` verifies from the command line.
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import BigInteger, Column, Integer, MetaData, String, Table, Text, bindparam, event, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from services.db import SessionDep, UtcDateTime
from services.errors import problem_responses
from services.observability import current_request_id
from services.pagination import INT64_MAX, Page, PageParams, int_cursor, page_params, paged

__all__ = ["AuditLog", "AuditReport", "leave_out_request_entry", "make_audit_router", "record_audit", "verify_chain"]

_PENDING_KEY = "gongkai_audit_pending"
GENESIS = "0" * 64


def canonical(entry: dict[str, Any]) -> str:
    return json.dumps(entry, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def chain_hash(prev_hash: str, entry_text: str) -> str:
    return hashlib.sha256((prev_hash + entry_text).encode("utf-8")).hexdigest()


class AuditLog:
    """The audit table of one service's database, its one-row head, and the statement that appends to both."""

    def __init__(self, metadata: MetaData) -> None:
        self.table = Table(
            "audit_log", metadata,
            Column("seq", BigInteger, primary_key=True, autoincrement=False),
            Column("at", UtcDateTime(), nullable=False),
            Column("actor", String(128), nullable=False),
            Column("action", String(200), nullable=False),
            Column("entry", Text, nullable=False),
            Column("prev_hash", String(64), nullable=False),
            Column("hash", String(64), nullable=False),
        )
        # The chain's head (seq and hash of the newest entry), one row (id 1, inserted by the migration). Writers
        # serialise on its row lock; after the wait PostgreSQL re-reads the row it updates (READ COMMITTED), so
        # each entry links to the one committed just before — one statement, no separate lock round trip.
        self.head = Table(
            "audit_head", metadata,
            Column("id", Integer, primary_key=True, autoincrement=False),
            Column("seq", BigInteger, nullable=False),
            Column("hash", String(64), nullable=False),
            Column("prev_hash", String(64), nullable=False),
        )
        self.pg_append = text("""
            WITH head AS (
                UPDATE audit_head SET prev_hash = hash, seq = seq + 1,
                       hash = encode(sha256(convert_to(hash || :entry, 'UTF8')), 'hex')
                WHERE id = 1 RETURNING seq, prev_hash, hash)
            INSERT INTO audit_log (seq, at, actor, action, entry, prev_hash, hash)
            SELECT seq, :at, :actor, :action, :entry, prev_hash, hash FROM head""").bindparams(
            bindparam("at", type_=UtcDateTime()))

    def stage_request(self, session: AsyncSession, request: Request) -> None:
        """Called for every writing request's session: its entry is written if (and when) the session commits."""
        principal = getattr(request.state, "principal", None)
        route = request.scope.get("route")
        record_audit(session, self, actor=principal.sub if principal and principal.sub else "anonymous",
                     action=f"{request.method} {getattr(route, 'path_format', request.url.path)}",
                     details={"path": request.url.path,
                              "roles": sorted(principal.roles) if principal else [],
                              "organ": principal.organ if principal else None,
                              "request_id": current_request_id()}, of_request=True)


@dataclass
class _Staged:
    log: AuditLog
    actor: str
    action: str
    details: dict[str, Any]
    at: datetime
    of_request: bool = False  # the writing request's own entry (AuditLog.stage_request)


def _sync(session: AsyncSession | Session) -> Session:
    return session.sync_session if isinstance(session, AsyncSession) else session


def record_audit(session: AsyncSession | Session, log: AuditLog, *, actor: str, action: str,
                 details: dict[str, Any] | None = None, of_request: bool = False) -> None:
    """Stage an entry; it is chained and written at the outermost commit (nothing if the transaction rolls back)."""
    _sync(session).info.setdefault(_PENDING_KEY, []).append(
        _Staged(log, actor, action, details or {}, datetime.now(UTC), of_request))


def leave_out_request_entry(session: AsyncSession | Session) -> None:
    """The request's own entry is not written although the session commits: what it commits is bookkeeping, not a
    change of record (see the module docstring). Entries staged by `record_audit` itself (unmasked reads) stay."""
    info = _sync(session).info
    if _PENDING_KEY in info:
        info[_PENDING_KEY] = [s for s in info[_PENDING_KEY] if not s.of_request]


def _entry(staged: _Staged, events: list[dict[str, Any]]) -> dict[str, Any]:
    # The position (seq) is not part of the entry: the chain itself fixes the order.
    return {"at": staged.at.isoformat(), "actor": staged.actor, "action": staged.action, **staged.details,
            "events": events}


def _events_of(session: Session) -> list[dict[str, Any]]:
    """The outbox events this transaction publishes: what the audited change did, by entity and version."""
    from services.outbox import pending_events  # services.outbox imports nothing from here

    return [{"type": e["type"], "entity_type": e["entity_type"], "entity_id": e["entity_id"],
             "version": e["version"]} for e in pending_events(session)]


def _write_staged(session: Session) -> None:
    if session.in_nested_transaction():
        return
    staged: list[_Staged] | None = session.info.pop(_PENDING_KEY, None)
    if not staged:
        return
    session.flush()
    connection = session.connection()
    log = staged[0].log
    events = _events_of(session)
    for item in staged:
        entry_text = canonical(_entry(item, events if item is staged[0] else []))
        params = {"at": item.at, "actor": item.actor[:128], "action": item.action[:200], "entry": entry_text}
        if connection.dialect.name == "postgresql":
            connection.execute(log.pg_append, params)
            continue
        # SQLite has one writer at a time: read the head, then move it.
        head = connection.execute(select(log.head.c.seq, log.head.c.hash).where(log.head.c.id == 1)).one()
        digest = chain_hash(head.hash, entry_text)
        connection.execute(log.head.update().where(log.head.c.id == 1)
                           .values(seq=head.seq + 1, hash=digest, prev_hash=head.hash))
        connection.execute(log.table.insert().values(seq=head.seq + 1, prev_hash=head.hash, hash=digest, **params))


# insert=True: run before the outbox's hook, which takes the staged events away when it writes them.
event.listen(Session, "before_commit", _write_staged, insert=True)


@event.listens_for(Session, "after_transaction_end")
def _forget_staged(session: Session, transaction: Any) -> None:
    if transaction.parent is None:
        session.info.pop(_PENDING_KEY, None)


# --- verification ------------------------------------------------------------------------------------------------

class AuditProblem(BaseModel):
    seq: int = Field(description="The first entry where the chain does not hold")
    problem: str = Field(description="edited | missing_or_reordered | link_broken | columns_differ | head_missing")


class AuditReport(BaseModel):
    ok: bool
    entries: int
    head_seq: int = Field(description="Keep head_seq/head_hash: a later verify given them detects a cut-off tail")
    head_hash: str
    first_problem: AuditProblem | None = None


def verify_rows(rows: list[Any], *, expect_seq: int | None = None, expect_hash: str | None = None) -> AuditReport:
    prev, expected_seq = GENESIS, 1
    problem: AuditProblem | None = None
    by_seq: dict[int, str] = {}
    for row in rows:
        by_seq[row.seq] = row.hash
        if problem is not None:
            continue
        if row.seq != expected_seq:
            problem = AuditProblem(seq=expected_seq, problem="missing_or_reordered")
        elif row.prev_hash != prev:
            problem = AuditProblem(seq=row.seq, problem="link_broken")
        elif chain_hash(prev, row.entry) != row.hash:
            problem = AuditProblem(seq=row.seq, problem="edited")
        else:
            entry = json.loads(row.entry)
            if (entry.get("actor"), entry.get("action")) != (row.actor, row.action):
                problem = AuditProblem(seq=row.seq, problem="columns_differ")
        prev, expected_seq = row.hash, expected_seq + 1
    if problem is None and expect_seq is not None and by_seq.get(expect_seq) != expect_hash:
        problem = AuditProblem(seq=expect_seq, problem="head_missing")
    last = rows[-1] if rows else None
    return AuditReport(ok=problem is None, entries=len(rows), head_seq=last.seq if last else 0,
                       head_hash=last.hash if last else GENESIS, first_problem=problem)


async def verify_chain(session: AsyncSession, log: AuditLog, *, expect_seq: int | None = None,
                       expect_hash: str | None = None) -> AuditReport:
    t = log.table
    result = await session.stream(select(t.c.seq, t.c.actor, t.c.action, t.c.entry, t.c.prev_hash, t.c.hash)
                                  .order_by(t.c.seq))
    rows = [row async for row in result]
    report = verify_rows(rows, expect_seq=expect_seq, expect_hash=expect_hash)
    head = (await session.execute(select(log.head.c.seq, log.head.c.hash).where(log.head.c.id == 1))).first()
    if report.ok and (head is None or (head.seq, head.hash) != (report.head_seq, report.head_hash)):
        # The head row moved on past the last entry left: entries were cut off the end.
        report.ok = False
        report.first_problem = AuditProblem(seq=report.head_seq + 1, problem="head_missing")
    return report


class AuditEntryRead(BaseModel):
    seq: int
    at: datetime
    actor: str
    action: str
    entry: dict[str, Any] = Field(description="The chained entry as hashed (canonical JSON)")
    prev_hash: str
    hash: str


def make_audit_router(log: AuditLog) -> APIRouter:
    router = APIRouter(prefix="/internal/v1/audit", tags=["audit"])

    @router.get("", summary="The audit log (审计日志), oldest first", response_model=Page[AuditEntryRead],
                responses=problem_responses(401, 403, 422),
                description="Entries with seq greater than `after`. Append-only, read like a feed: `next_cursor` "
                            "is always set (the last seq read), to resume from later.")
    async def list_audit_entries(
        session: SessionDep, request: Request, response: Response,
        paging: Annotated[PageParams, Depends(page_params(100, 500))],
    ) -> dict[str, Any]:
        t = log.table
        after = int_cursor(paging.after)
        rows = (await session.execute(select(t).where(t.c.seq > after).order_by(t.c.seq)
                                      .limit(paging.limit + 1))).all()
        items = [AuditEntryRead(seq=r.seq, at=r.at, actor=r.actor, action=r.action, entry=json.loads(r.entry),
                                prev_hash=r.prev_hash, hash=r.hash) for r in rows[:paging.limit]]
        return paged(request, response, items, str(items[-1].seq if items else after),
                     has_more=len(rows) > paging.limit)

    @router.get("/verify", summary="Verify the audit chain (审计日志校验)", response_model=AuditReport,
                responses=problem_responses(401, 403, 422),
                description="Recomputes every hash. Give the head of an earlier verify (expect_seq, expect_hash) "
                            "to also detect entries removed from the end.")
    async def verify_audit_log(
        session: SessionDep,
        expect_seq: Annotated[int | None, Query(ge=1, le=INT64_MAX)] = None,
        expect_hash: Annotated[str | None, Query(pattern="^[0-9a-f]{64}$")] = None,
    ) -> AuditReport:
        return await verify_chain(session, log, expect_seq=expect_seq, expect_hash=expect_hash)

    return router


# --- append-only triggers (used by the migrations) ---------------------------------------------------------------

# The head row every chain starts from (the migrations insert it).
SEED_HEAD = f"INSERT INTO audit_head (id, seq, hash, prev_hash) VALUES (1, 0, '{GENESIS}', '{GENESIS}')"

PG_APPEND_ONLY = [
    """CREATE FUNCTION gongkai_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION 'audit_log is append-only (%)', TG_OP;
    END $$""",
    "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION gongkai_audit_append_only()",
    "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION gongkai_audit_append_only()",
]
PG_APPEND_ONLY_DOWN = ["DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log",
                       "DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log",
                       "DROP FUNCTION IF EXISTS gongkai_audit_append_only()"]
SQLITE_APPEND_ONLY = [
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
]
SQLITE_APPEND_ONLY_DOWN = ["DROP TRIGGER IF EXISTS audit_log_no_delete",
                           "DROP TRIGGER IF EXISTS audit_log_no_update"]


def main() -> None:  # python -m services.audit <catalog|request|stats>
    import argparse
    import asyncio
    import importlib
    import sys

    parser = argparse.ArgumentParser(description="Verify a service's audit chain.")
    parser.add_argument("service", choices=["catalog", "request", "stats"])
    args = parser.parse_args()
    config = importlib.import_module(f"{args.service}_service.config")
    models = importlib.import_module(f"{args.service}_service.models")
    from services.db import Database, make_engine

    async def run() -> AuditReport:
        database = Database(make_engine(config.Settings().database_url, null_pool=True))
        try:
            async with database.transaction(write=False) as session:
                return await verify_chain(session, models.audit)
        finally:
            await database.dispose()

    report = asyncio.run(run())
    print(report.model_dump_json(indent=2))
    sys.exit(0 if report.ok else 1)


if __name__ == "__main__":
    main()

