"""Shared Alembic environment: the ini section name (-n catalog|request|stats) picks the service.

The URL comes from the service's own Settings (env <SERVICE>_DATABASE_URL, SQLite file by default), or from
`-x url=...` (used by the test suite). Runs async, like the services.
"""

import asyncio
import importlib
from logging.config import fileConfig

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from services.db import make_engine

config = context.config
service = config.config_ini_section
if service not in {"catalog", "request", "stats"}:
    raise SystemExit("run alembic with -n catalog, -n request or -n stats")
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

models = importlib.import_module(f"{service}_service.models")
target_metadata = models.Base.metadata


def database_url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.attributes.get("url")
    if url:
        return url
    settings = importlib.import_module(f"{service}_service.config").Settings()
    return settings.database_url


def process_revision_directives(context_, revision, directives) -> None:
    # Autogenerate: do not write an empty revision when nothing changed (Dispatch's habit).
    if getattr(config.cmd_opts, "autogenerate", False) and directives[0].upgrade_ops.is_empty():
        directives[:] = []


# Objects a migration creates with raw DDL, outside the ORM metadata: the catalogue's former search indexes
# (catalog_0002: ix_document_search_*) and SQLite's FTS5 table with its shadow tables (document_fts*).
# Without this filter autogenerate (and the drift test) would propose dropping them.
UNMANAGED_PREFIXES = ("document_fts", "ix_document_search_")


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    return not (reflected and compare_to is None and (name or "").startswith(UNMANAGED_PREFIXES))


def do_run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite ALTER TABLE goes through batch mode
        # Types and server defaults are compared too (off by default in Alembic): a model's changed server_default
        # passed the drift test before (tests/test_migrations.py).
        compare_type=True,
        compare_server_default=True,
        process_revision_directives=process_revision_directives,
        include_object=include_object,
        user_module_prefix="services.db.",
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    url = database_url()
    if url.startswith("postgresql"):
        # No client-side statement timeout (make_engine's 30 s): building an index on a large table takes minutes.
        engine = create_async_engine(url, poolclass=NullPool, connect_args={"timeout": 5})
    else:
        engine = make_engine(url, null_pool=True)
    async with engine.connect() as connection:
        await connection.run_sync(do_run_migrations)
        await connection.commit()
    await engine.dispose()


def run_migrations_offline() -> None:
    context.configure(url=database_url(), target_metadata=target_metadata, literal_binds=True,
                      dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    connection = config.attributes.get("connection")
    if connection is not None:  # called from code that already holds a connection
        do_run_migrations(connection)
    else:
        asyncio.run(run_async_migrations())
