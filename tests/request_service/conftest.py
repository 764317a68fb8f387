"""Fixtures of the intake and applicant-side tests: a request app whose catalogue is an httpx.MockTransport fake,
a known organ and its staff. A test module's own fixture of the same name (e.g. `desk`) takes precedence."""

from collections.abc import AsyncIterator

import httpx
import pytest

from services.db import Database
from tests.request_service.intake_support import Desk, FakeCatalog, add_organ
from tests.support import serve


@pytest.fixture
def fake_catalog() -> FakeCatalog:
    return FakeCatalog()


@pytest.fixture
async def client(request_db: Database, fake_catalog: FakeCatalog) -> AsyncIterator[httpx.AsyncClient]:
    from request_service.app import create_app

    app = create_app(database=request_db, catalog_transport=httpx.MockTransport(fake_catalog.handler))
    async with serve(app) as c:
        yield c


@pytest.fixture
async def organ(request_db: Database) -> str:
    return await add_organ(request_db)


@pytest.fixture
def desk(organ: str) -> Desk:
    return Desk(organ)
