"""Each service's Alembic history: upgrade → downgrade to base → upgrade, and no drift from the models."""

from pathlib import Path

import pytest
from alembic import command

from tests.support import SERVICES, alembic_config, create_database, drop_database


@pytest.mark.parametrize("service", SERVICES)
def test_round_trip_and_no_drift(service: str, tmp_path: Path):
    url = create_database(f"mig_{service}", tmp_path)
    try:
        cfg = alembic_config(service, url)
        command.upgrade(cfg, "head")
        command.downgrade(cfg, "base")
        command.upgrade(cfg, "head")
        # `alembic check`: autogenerate through migrations/env.py finds nothing to do. Going through env.py applies
        # its include_object filter, which ignores objects made by raw DDL outside the ORM (search indexes, FTS5).
        command.check(cfg)
    finally:
        drop_database(url)
