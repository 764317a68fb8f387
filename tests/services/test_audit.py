"""The hash-chained audit log (services/audit.py) as a library: chaining, tamper detection, and concurrent writers
that must not fork the chain."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import MetaData, select, text
from sqlalchemy.exc import DBAPIError

from services.audit import PG_APPEND_ONLY, SEED_HEAD, SQLITE_APPEND_ONLY, AuditLog, record_audit, verify_chain
from services.db import Database, make_engine
from tests.support import acreate_database, adrop_database

metadata = MetaData()
log = AuditLog(metadata)


@pytest.fixture
async def audit_db(tmp_path: Path) -> AsyncIterator[Database]:
    url = await acreate_database(f"audit{uuid.uuid4().hex[:6]}", tmp_path)
    engine = make_engine(url, pool_size=40)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.execute(text(SEED_HEAD))
        for statement in PG_APPEND_ONLY if engine.dialect.name == "postgresql" else SQLITE_APPEND_ONLY:
            await conn.execute(text(statement))
    database = Database(engine)
    yield database
    await database.dispose()
    await adrop_database(url)


async def write(db: Database, n: int, actor: str = "tester") -> None:
    for i in range(n):
        async with db.transaction() as session:
            record_audit(session, log, actor=actor, action="test.write", details={"i": i})


async def report(db: Database, **kwargs):
    async with db.transaction(write=False) as session:
        return await verify_chain(session, log, **kwargs)


async def tamper(db: Database, *statements: str, params: dict | None = None) -> None:
    """Change the table behind the triggers' back, as someone with database access could."""
    async with db.transaction() as session:
        if db.dialect == "postgresql":
            await session.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
        else:
            await session.execute(text("DROP TRIGGER IF EXISTS audit_log_no_update"))
            await session.execute(text("DROP TRIGGER IF EXISTS audit_log_no_delete"))
        for statement in statements:
            await session.execute(text(statement), params or {})


async def test_an_untouched_chain_verifies_and_a_rolled_back_entry_is_not_written(audit_db):
    await write(audit_db, 5)
    with pytest.raises(RuntimeError):
        async with audit_db.transaction() as session:
            record_audit(session, log, actor="x", action="never", details={})
            raise RuntimeError("the change fails")
    result = await report(audit_db)
    assert result.ok and result.entries == 5 and result.head_seq == 5 and result.first_problem is None


async def test_the_table_refuses_updates_and_deletes(audit_db):
    await write(audit_db, 2)
    for statement in ("UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log WHERE seq = 1"):
        with pytest.raises(DBAPIError, match="append-only"):
            async with audit_db.transaction() as session:
                await session.execute(text(statement))
    assert (await report(audit_db)).ok


@pytest.mark.parametrize(("statements", "seq", "problem"), [
    (["UPDATE audit_log SET entry = replace(entry, 'tester', 'mallory') WHERE seq = 3"], 3, "edited"),
    (["UPDATE audit_log SET actor = 'mallory' WHERE seq = 2"], 2, "columns_differ"),
    (["DELETE FROM audit_log WHERE seq = 4"], 4, "missing_or_reordered"),
    # Swap entries 2 and 3 (their seq numbers), as a reordering would.
    (["UPDATE audit_log SET seq = 1000 WHERE seq = 2", "UPDATE audit_log SET seq = 2 WHERE seq = 3",
      "UPDATE audit_log SET seq = 3 WHERE seq = 1000"], 2, "link_broken"),
    # Recompute one entry's hash after editing it: the next entry's link no longer matches.
    ([f"UPDATE audit_log SET entry = replace(entry, 'tester', 'mallory'), hash = '{'a' * 64}' WHERE seq = 3"],
     3, "edited"),
])
async def test_edits_deletions_and_reordering_are_detected(audit_db, statements, seq, problem):
    await write(audit_db, 6)
    await tamper(audit_db, *statements)
    result = await report(audit_db)
    assert not result.ok
    assert (result.first_problem.seq, result.first_problem.problem) == (seq, problem)


async def test_a_cut_off_tail_is_detected_against_a_kept_head(audit_db):
    await write(audit_db, 4)
    head = await report(audit_db)
    await tamper(audit_db, "DELETE FROM audit_log WHERE seq = 4")
    cut = await report(audit_db)
    assert (cut.ok, cut.first_problem.problem) == (False, "head_missing")  # the head row still says 4
    # Someone who also winds the head row back leaves a chain consistent in itself …
    await tamper(audit_db, "UPDATE audit_head SET seq = 3, hash = prev_hash")
    assert (await report(audit_db)).ok
    against_head = await report(audit_db, expect_seq=head.head_seq, expect_hash=head.head_hash)
    assert not against_head.ok and against_head.first_problem.problem == "head_missing"  # … but the head is gone


@pytest.mark.postgres_only
@pytest.mark.timeout(120)
async def test_concurrent_writers_never_fork_the_chain(audit_db):
    async def writer(k: int) -> None:
        for i in range(10):
            async with audit_db.transaction() as session:
                record_audit(session, log, actor=f"writer-{k}", action="race", details={"i": i})
                await asyncio.sleep(0)  # let the others interleave before the commit

    await asyncio.gather(*(writer(k) for k in range(24)))
    result = await report(audit_db)
    assert result.ok and result.entries == 240
    async with audit_db.transaction(write=False) as session:
        seqs = (await session.execute(select(log.table.c.seq).order_by(log.table.c.seq))).scalars().all()
    assert seqs == list(range(1, 241))


async def test_rehashing_an_edited_entry_breaks_the_next_link(audit_db):
    """A forger who recomputes the edited entry's hash still cannot make the next entry point to it."""
    from services.audit import chain_hash

    await write(audit_db, 5)
    async with audit_db.transaction(write=False) as session:
        row = (await session.execute(select(log.table).where(log.table.c.seq == 3))).one()
    forged = row.entry.replace("tester", "mallory")
    await tamper(audit_db, "UPDATE audit_log SET entry = :entry, hash = :hash, actor = 'mallory' WHERE seq = 3",
                 params={"entry": forged, "hash": chain_hash(row.prev_hash, forged)})
    result = await report(audit_db)
    assert (result.first_problem.seq, result.first_problem.problem) == (4, "link_broken")
