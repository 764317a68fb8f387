"""How a service answers while its database is away (found by test_postgres_restart.py, pinned here without a
cluster to crash): every way asyncpg reports an absent or recovering PostgreSQL is a 503 `database_unavailable`
with Retry-After — including "the database system is starting up" (SQLSTATE 57P03), which arrives as a plain
DBAPIError — and none of them escapes the exception handlers (Starlette re-raises what reaches the catch-all
handler, so each request of an outage used to log a traceback at ERROR)."""

from collections.abc import Callable

import asyncpg
import httpx
import pytest
from fastapi import APIRouter
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_dbapi
from sqlalchemy.exc import DBAPIError

from catalog_service.config import Settings as CatalogSettings
from services.app import create_service_app
from tests.support import assert_problem


def _pg_error(error: Exception) -> DBAPIError:
    """What SQLAlchemy's asyncpg dialect raises for `error` when a pool connection is being made."""
    return DBAPIError("SELECT 1", None, AsyncAdapt_asyncpg_dbapi.Error(str(error), error))


AWAY: dict[str, Callable[[], BaseException]] = {
    "starting_up": lambda: _pg_error(asyncpg.exceptions.CannotConnectNowError("the database system is starting up")),
    "crash_shutdown": lambda: _pg_error(asyncpg.exceptions.CrashShutdownError("terminating connection")),
    "admin_shutdown": lambda: _pg_error(asyncpg.exceptions.AdminShutdownError("terminating connection")),
    "too_many_connections": lambda: _pg_error(asyncpg.exceptions.TooManyConnectionsError("too many clients")),
    "refused": lambda: ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)"),
    "reset": lambda: ConnectionResetError(104, "Connection reset by peer"),
    "connect_timeout": lambda: TimeoutError(),
}


async def _get(router: APIRouter, path: str) -> httpx.Response:
    app = create_service_app(name="probe", title="probe", description="", settings=CatalogSettings(),
                             routers=[router], database=object())  # type: ignore[arg-type]
    # raise_app_exceptions=True: an exception that escapes the handlers fails the test instead of hiding in a 500.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=True)
    async with httpx.AsyncClient(transport=transport, base_url="http://probe") as client:
        return await client.get(path)


@pytest.mark.parametrize("kind", sorted(AWAY))
async def test_a_database_that_is_away_is_a_503_not_a_500(kind: str):
    router = APIRouter()

    @router.get("/probe")
    async def probe() -> None:
        raise AWAY[kind]()

    r = await _get(router, "/probe")
    assert_problem(r, 503, "database_unavailable")
    assert r.headers["retry-after"]


async def test_other_os_errors_and_database_errors_stay_500():
    router = APIRouter()

    @router.get("/missing-file")
    async def missing_file() -> None:
        raise FileNotFoundError(2, "No such file", "/srv/attachments/x")

    @router.get("/bad-sql")
    async def bad_sql() -> None:
        raise _pg_error(asyncpg.exceptions.UndefinedTableError('relation "nope" does not exist'))

    for path in ("/missing-file", "/bad-sql"):
        r = await _get(router, path)
        body = assert_problem(r, 500, "internal_error")
        assert "/srv" not in r.text and "nope" not in r.text and body["detail"]


async def test_a_bulk_import_on_a_lost_connection_is_a_503_not_record_by_record_rejections(catalog, monkeypatch):
    """The bulk import retries a refused batch record by record (a conflicting row spoils one record, not the
    batch). A lost connection is no refusal: the retry ran on a dead transaction (500 PendingRollbackError, seen
    when PostgreSQL restarted under load) or would reject every record as write_failed. It is a 503 to retry."""
    from catalog_service.domain import bulk
    from tests.catalog_service.helpers import make_organ
    from tests.support import auth

    calls: list[int] = []

    async def connection_lost(session, ctx, writes):
        calls.append(len(writes))
        error = asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation")
        raise DBAPIError("INSERT", None, AsyncAdapt_asyncpg_dbapi.Error(str(error), error),
                         connection_invalidated=True)

    organ = await make_organ(catalog)
    monkeypatch.setattr(bulk, "_apply", connection_lost)
    records = [{"external_id": f"LOST-{n}", "title": f"第{n}号通知", "genre": "notice", "body": "正文。"}
               for n in range(2)]
    r = await catalog.post("/api/v1/catalog/documents/bulk", json={"records": records},
                           headers=auth("integration", organ=organ, sub="oa-system"))
    assert_problem(r, 503, "database_unavailable")
    assert calls == [2]  # the batch once, no record-by-record retry on a dead connection
