"""Each service's Alembic history: upgrade → downgrade to base → upgrade, and no drift from the models."""

import asyncio
import importlib
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from services.db import make_engine
from tests.support import SERVICES, alembic_config, create_database, drop_database


def _diff(url: str, metadata) -> list:
    async def run() -> list:
        engine = make_engine(url, null_pool=True)
        async with engine.connect() as conn:
            diff = await conn.run_sync(lambda c: compare_metadata(
                MigrationContext.configure(c, opts={"compare_type": True}), metadata))
        await engine.dispose()
        return diff

    return asyncio.run(run())


@pytest.mark.parametrize("service", SERVICES)
def test_round_trip_and_no_drift(service: str, tmp_path: Path):
    url = create_database(f"mig_{service}", tmp_path)
    try:
        cfg = alembic_config(service, url)
        command.upgrade(cfg, "head")
        command.downgrade(cfg, "base")
        command.upgrade(cfg, "head")
        metadata = importlib.import_module(f"{service}_service.models").Base.metadata
        assert _diff(url, metadata) == []
    finally:
        drop_database(url)
