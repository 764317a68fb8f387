"""A small stand-alone schema for testing the shared outbox machinery on either backend."""

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, String, Table

from services.db import Database, make_engine, make_metadata
from services.outbox import Outbox
from tests.support import acreate_database, adrop_database

metadata = make_metadata()
outbox = Outbox(metadata)
thing = Table("thing", metadata, Column("id", String(36), primary_key=True), Column("n", Integer, nullable=False))
mirror = Table("mirror", metadata, Column("event_id", Integer, primary_key=True),
               Column("entity_id", String(64), nullable=False))


@pytest.fixture
async def lib_db(tmp_path: Path) -> AsyncIterator[Database]:
    url = await acreate_database(f"outbox{uuid.uuid4().hex[:6]}", tmp_path)
    engine = make_engine(url, pool_size=40)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    database = Database(engine)
    yield database
    await database.dispose()
    await adrop_database(url)
