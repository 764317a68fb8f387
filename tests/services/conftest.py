import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.db import Database, make_engine
from tests.services.outbox_fixtures import metadata
from tests.support import acreate_database, adrop_database


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
