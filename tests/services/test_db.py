"""The connection pool on PostgreSQL: a connection the server has closed (restart, failover, idle timeout) is
replaced before a request gets it, so a database that comes back is used again without a failed request."""

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text

from services.db import Database, make_engine
from tests.support import acreate_database, adrop_database

pytestmark = pytest.mark.postgres_only


async def test_a_connection_closed_by_the_server_is_replaced_before_use(tmp_path: Path):
    url = await acreate_database("pool", tmp_path)
    database = Database(make_engine(url, pool_size=2))
    admin = make_engine(url, null_pool=True)
    try:
        async def backend_pid() -> int:
            async with database.transaction() as session:
                return (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()

        first = await backend_pid()  # its connection now waits in the pool
        async with admin.connect() as conn:
            await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        await asyncio.sleep(0.2)  # the pooled connection's socket reports the hang-up
        assert await backend_pid() != first
    finally:
        await admin.dispose()
        await database.dispose()
        await adrop_database(url)
