"""Each service's Alembic history: upgrade → downgrade to base → upgrade, and no drift from the models.

Two checks of drift, because `alembic check` alone sees only what autogenerate compares (columns, types, nullability,
indexes, unique and foreign keys, and — switched on in migrations/env.py — server defaults), not CHECK constraints,
triggers, functions or storage settings. The second check builds the schema twice, once by upgrading from zero and
once by `metadata.create_all` of the models, and compares the two whole: on PostgreSQL `pg_dump --schema-only`, split
into its objects; on SQLite the catalogue (columns, keys, indexes, CHECK clauses, triggers). What the migrations
create with raw DDL outside the ORM (search indexes and their function, FTS5, the audit log's append-only triggers)
is the expected difference, listed below by name: one missing, changed or added beyond it is drift.
"""

import asyncio
import difflib
import importlib
import re
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import make_url

from services.db import make_engine
from tests.support import SERVICES, alembic_config, backend, create_database, drop_database, migrate, missing


@pytest.mark.parametrize("service", SERVICES)
def test_round_trip_and_no_drift(service: str, tmp_path: Path):
    url = create_database(f"mig_{service}", tmp_path)
    try:
        cfg = alembic_config(service, url)
        command.upgrade(cfg, "head")
        command.downgrade(cfg, "base")
        command.upgrade(cfg, "head")
        # `alembic check`: autogenerate through migrations/env.py (which compares types and server defaults too) finds
        # nothing to do. Going through env.py applies its include_object filter, which ignores objects made by raw
        # DDL outside the ORM (search indexes, FTS5).
        command.check(cfg)
    finally:
        drop_database(url)


# --- the whole schema: upgraded from zero vs. created from the models ------------------------------------------------

PG_DUMP = next((p for p in ("/usr/lib/postgresql/15/bin/pg_dump", shutil.which("pg_dump")) if p and Path(p).exists()),
               None)

# Made by raw DDL in the migrations (catalog_0002's search indexes, each service's audit_log migration), so only in
# the upgraded schema: {(kind, name): its definition, pinned where short and where it carries a rule (the audit
# log's append-only triggers, the FTS5 sync triggers, the search indexes), else None (exists)}.
_PG_AUDIT_FUNCTION = "public.gongkai_audit_append_only()"
_AUDIT_PG: dict[tuple[str, str], str | None] = {
    ("FUNCTION", "gongkai_audit_append_only()"): None,
    ("TRIGGER", "audit_log audit_log_append_only"): "CREATE TRIGGER audit_log_append_only BEFORE DELETE OR UPDATE ON "
    f"public.audit_log FOR EACH ROW EXECUTE FUNCTION {_PG_AUDIT_FUNCTION};",
    ("TRIGGER", "audit_log audit_log_no_truncate"): "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON "
    f"public.audit_log FOR EACH STATEMENT EXECUTE FUNCTION {_PG_AUDIT_FUNCTION};",
}
_AUDIT_SQLITE: dict[tuple[str, str], str | None] = {
    ("TRIGGER", f"audit_log_no_{op.lower()}"): f"CREATE TRIGGER audit_log_no_{op.lower()} BEFORE {op} ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END" for op in ("UPDATE", "DELETE")
}
RAW_DDL: dict[str, dict[str, dict[tuple[str, str], str | None]]] = {
    "postgresql": {
        # pg_trgm stays from catalog_0002 (its indexes went in catalog_0008: search is a tantivy index per process;
        # dropping an extension is the DBA's decision).
        "catalog": _AUDIT_PG | {("EXTENSION", "pg_trgm"): None},
        "request": _AUDIT_PG,
        "stats": _AUDIT_PG,
    },
    "sqlite": {
        "catalog": _AUDIT_SQLITE,
        "request": _AUDIT_SQLITE,
        "stats": _AUDIT_SQLITE,
    },
}
_ALEMBIC_OBJECTS = ("alembic_version", "alembic_version_pkc")


@pytest.mark.parametrize("service", SERVICES)
def test_migrated_schema_is_the_models_schema(service: str, tmp_path: Path):
    if backend() == "postgres" and PG_DUMP is None:
        missing("REQUIRE_POSTGRES", "pg_dump not found (/usr/lib/postgresql/15/bin/pg_dump or on PATH)")
    migrated_url = create_database(f"migrated_{service}", tmp_path)
    modelled_url = create_database(f"modelled_{service}", tmp_path)
    try:
        migrate(service, migrated_url)
        asyncio.run(_create_all(service, modelled_url))
        read = _pg_schema if backend() == "postgres" else _sqlite_schema
        migrated, modelled = read(migrated_url), read(modelled_url)
    finally:
        drop_database(migrated_url)
        drop_database(modelled_url)

    dialect = "postgresql" if backend() == "postgres" else "sqlite"
    changed = "".join(
        "".join(difflib.unified_diff(migrated[key].splitlines(True), modelled[key].splitlines(True),
                                     f"migrated {key}", f"models {key}", n=0))
        for key in sorted(migrated.keys() & modelled.keys()) if migrated[key] != modelled[key])
    assert not changed, f"the migrations and the models define these differently:\n{changed}"
    assert sorted(modelled.keys() - migrated.keys()) == [], "in the models, missing from the migrations"
    raw_ddl = RAW_DDL[dialect][service]
    assert sorted(migrated.keys() - modelled.keys()) == sorted(raw_ddl), (
        "the migrations' objects beyond the models are not exactly the raw DDL listed in RAW_DDL")
    pinned = {key: definition + "\n" for key, definition in raw_ddl.items() if definition is not None}
    assert {key: migrated[key] for key in pinned} == pinned


async def _create_all(service: str, url: str) -> None:
    models = importlib.import_module(f"{service}_service.models")
    engine = make_engine(url, null_pool=True)
    async with engine.begin() as connection:
        await connection.run_sync(models.Base.metadata.create_all)
    await engine.dispose()


_PG_HEADER = re.compile(r"^-- Name: (?P<name>.*); Type: (?P<type>.*); Schema: .*; Owner: .*$")


def _pg_schema(url: str) -> dict[tuple[str, str], str]:
    """pg_dump --schema-only as {(type, name): definition}. A table's columns are compared as a set (a column a
    migration adds comes last, the model may list it anywhere); a column's storage setting is its own object."""
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    dump = subprocess.run([PG_DUMP, "--schema-only", "--no-owner", "--no-privileges", "--no-comments", dsn],
                          capture_output=True, text=True, check=True).stdout
    objects: dict[tuple[str, str], list[str]] = {}
    current: list[str] | None = None
    for line in dump.splitlines():
        header = _PG_HEADER.match(line)
        if header:
            current = objects.setdefault((header["type"], header["name"]), [])
        elif storage := re.match(r"ALTER TABLE ONLY public\.(\w+) ALTER COLUMN (\w+) SET STORAGE", line):
            objects[("STORAGE", f"{storage[1]}.{storage[2]}")] = [line]
        elif current is not None and line and not line.startswith(("--", "\\", "SET ", "SELECT pg_catalog.")):
            current.append(line)
    schema = {}
    for (type_, name), lines in objects.items():
        if type_ == "TABLE" and lines and lines[0].startswith("CREATE TABLE") and lines[-1] == ");":
            lines = [lines[0], *sorted(col.rstrip(",") for col in lines[1:-1]), lines[-1]]
        if name.split()[-1] not in _ALEMBIC_OBJECTS:
            schema[(type_, name)] = "\n".join(lines) + "\n"
    return schema


def _sqlite_schema(url: str) -> dict[tuple[str, str], str]:
    """The SQLite catalogue as {(kind, name): definition}: per table its columns (name, type, NOT NULL, default,
    primary key), foreign keys, unique/primary indexes and CHECK clauses; named indexes and triggers by their SQL."""
    with sqlite3.connect(make_url(url).database) as db:
        schema: dict[tuple[str, str], str] = {}
        for kind, name, table, sql in db.execute("SELECT type, name, tbl_name, sql FROM sqlite_master"):
            if name.startswith("sqlite_") or table in _ALEMBIC_OBJECTS:
                continue
            if kind == "table":
                columns = sorted(row[1:] for row in db.execute(f"PRAGMA table_info('{name}')"))
                keys = sorted(row[2:] for row in db.execute(f"PRAGMA foreign_key_list('{name}')"))
                indexes = sorted((unique, origin, partial, tuple(c[2] for c in db.execute(
                    f"PRAGMA index_info('{index}')"))) for _, index, unique, origin, partial in db.execute(
                    f"PRAGMA index_list('{name}')") if origin != "c")
                checks = sorted(_normal_sql(c) for c in re.findall(r"CHECK\s*\((?:[^()]|\([^()]*\))*\)", sql or ""))
                schema[("TABLE", name)] = "\n".join(map(repr, [*columns, *keys, *indexes, *checks])) + "\n"
            elif kind in ("index", "trigger") and sql is not None:
                schema[(kind.upper(), name)] = _normal_sql(sql) + "\n"
    return schema


def _normal_sql(sql: str) -> str:
    return re.sub(r"\s+", " ", sql.replace('"', "")).strip()
