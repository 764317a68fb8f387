"""Async engine and the per-request unit of work.

One request = one session = one transaction, committed before the response is sent
(`Depends(get_session, scope="function")`). Domain code may flush, never commit.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import DateTime, MetaData, event, make_url, text
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator

__all__ = ["NAMING_CONVENTION", "Database", "DatabaseDep", "SessionDep", "UtcDateTime", "get_database", "get_session",
           "make_engine", "make_metadata", "utcnow"]

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """timestamptz on PostgreSQL; on SQLite (which stores naive text) values come back tz-aware UTC too."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime: store times in UTC with tzinfo")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def make_metadata() -> MetaData:
    return MetaData(naming_convention=NAMING_CONVENTION)


def _configure_sqlite(engine: AsyncEngine) -> None:
    """SQLite: WAL for concurrent readers, foreign keys on, and transactions we begin ourselves.

    pysqlite's own implicit BEGIN breaks SAVEPOINT and transactional DDL, so it is switched off and the
    `begin` hook emits BEGIN. Sessions that will write ask for BEGIN IMMEDIATE: they take the write lock
    up front instead of failing with "database is locked" when a read transaction upgrades.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get("gongkai_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_engine(url: str, *, pool_size: int = 10, null_pool: bool = False) -> AsyncEngine:
    """hide_parameters: an error's message (logged with its traceback by services/errors.py) and SQLAlchemy's
    statement log leave out the bound values — names, phone and ID numbers, requested titles."""
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, poolclass=NullPool if null_pool else None,
                                     connect_args={"timeout": 30}, hide_parameters=True)
        _configure_sqlite(engine)
        return engine
    kwargs: dict[str, Any] = {}
    if null_pool:
        kwargs["poolclass"] = NullPool
    else:
        kwargs.update(pool_size=pool_size, max_overflow=pool_size, pool_timeout=5)
    # Bounded connect and statement times: a stuck database turns into a 503, not a hung request.
    engine = create_async_engine(url, connect_args={"timeout": 5, "command_timeout": 30}, hide_parameters=True,
                                 **kwargs)
    _replace_closed_connections(engine)
    return engine


def _replace_closed_connections(engine: AsyncEngine) -> None:
    """The pool hands out no connection the server has closed (restart, failover, idle timeout): it is replaced
    by a fresh one before use, so a database that comes back is used again without failed requests.

    asyncpg marks a connection closed as soon as its socket reports that the server hung up, so the check costs
    nothing. pool_pre_ping asked the server instead, on every checkout: three round trips with asyncpg (BEGIN,
    an empty query, ROLLBACK) added to every request; a whole registration makes ten."""

    @event.listens_for(engine.sync_engine, "checkout")
    def _check(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        if dbapi_connection.driver_connection.is_closed():
            raise DisconnectionError("the database closed this connection")  # the pool retries with a new one


class Database:
    """An engine (or, in tests, one connection) and the session factories bound to it."""

    def __init__(self, bind: AsyncEngine | AsyncConnection, *, owns_engine: bool = True) -> None:
        self.bind = bind
        self.owns_engine = owns_engine and isinstance(bind, AsyncEngine)
        join = {} if isinstance(bind, AsyncEngine) else {"join_transaction_mode": "create_savepoint"}
        self._read = async_sessionmaker(bind, expire_on_commit=False, autoflush=False, **join)
        write_bind = bind.execution_options(gongkai_write=True) if isinstance(bind, AsyncEngine) else bind
        self._write = async_sessionmaker(write_bind, expire_on_commit=False, autoflush=False, **join)

    @property
    def dialect(self) -> str:
        return self.bind.dialect.name

    def session(self, *, write: bool = True) -> AsyncSession:
        return (self._write if write else self._read)()

    @asynccontextmanager
    async def transaction(self, *, write: bool = True) -> AsyncIterator[AsyncSession]:
        """A unit of work outside a request (consumers, jobs, seeding): commit on success, else roll back."""
        async with self.session(write=write) as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[AsyncSession]:
        """A read-only unit of work whose reads all see one committed state (快照读): a streamed export and the
        change-feed position it names must agree, however many queries it takes and whatever commits meanwhile.

        PostgreSQL: REPEATABLE READ, READ ONLY (the snapshot is taken at the first query). SQLite: one read
        transaction (the `begin` hook's BEGIN; in WAL mode a reader keeps the state of its first read and blocks no
        writer). A Database bound to one connection (tests) is already inside one transaction. Always rolled back."""
        async with self.snapshot_session() as session:
            try:
                yield session
            finally:
                await session.rollback()

    def snapshot_session(self) -> AsyncSession:
        """The session of `snapshot()`, not yet entered (a read replica's snapshot is opened the same way,
        services/replicas.replica_snapshot); the caller rolls it back."""
        if isinstance(self.bind, AsyncEngine) and self.dialect == "postgresql":
            bind = self.bind.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
            return AsyncSession(bind, expire_on_commit=False, autoflush=False)
        return self.session(write=False)

    async def ping(self) -> None:
        async with self.session(write=False) as session:
            await session.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        if self.owns_engine and isinstance(self.bind, AsyncEngine):
            await self.bind.dispose()


# The dependencies that only read request.state are `async def`: FastAPI runs a plain `def` dependency in the thread
# pool, a thread hop (and a wait for a free worker thread) on every request for a dictionary look-up.
async def get_database(request: Request) -> Database:
    return request.state.database


DatabaseDep = Annotated[Database, Depends(get_database)]


async def get_session(request: Request, database: DatabaseDep) -> AsyncIterator[AsyncSession]:
    write = request.method not in SAFE_METHODS
    async with database.session(write=write) as session:
        audit_log = getattr(request.state, "audit_log", None)
        if write and audit_log is not None:  # every committed change is chained into the audit log
            audit_log.stage_request(session, request)
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
        if write and getattr(request.state, "replicas", None) is not None:
            # Read-your-writes with read replicas (services/replicas.py): the primary's WAL position now is past
            # this commit; the response carries it (X-Gongkai-Commit-LSN) for the client to send back.
            request.state.commit_lsn = int((await session.execute(text("SELECT pg_current_wal_insert_lsn()")))
                                           .scalar_one())


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
