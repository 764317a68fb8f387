"""Helpers shared by the tests: databases per backend, app clients, tokens."""

import asyncio
import logging
import os
import re
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, NoReturn

import httpx
import pytest
from alembic import command
from alembic.config import Config
from fastapi import FastAPI
from sqlalchemy import select, text

from services.auth import mint_token
from services.db import Database, make_engine
from services.errors import PROBLEM_JSON
from services.problem_codes import codes_of
from services.settings import AuthSettings

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("catalog", "request", "stats")


def backend() -> str:
    return os.environ.get("TEST_DATABASE", "sqlite")


def in_ci() -> bool:
    """CI=true (set by GitHub Actions, GitLab CI and .ci/run): a test that cannot run there fails instead of skipping,
    unless tests/conftest.py allows its skip (ALLOWED_SKIPS)."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def missing(requirement: str, reason: str) -> NoReturn:
    """A dependency of this test is absent: skip on a developer's machine, fail where it is required —
    `requirement` (REQUIRE_CHROMIUM, REQUIRE_POSTGRES) set to 1, or CI — so CI cannot pass without running it."""
    __tracebackhide__ = True  # report the skip or failure at the test, not here
    if os.environ.get(requirement) == "1" or in_ci():
        pytest.fail(f"{reason}; it is required here ({requirement}=1 or CI=true), so the test fails instead of "
                    "skipping", pytrace=False)
    pytest.skip(f"{reason} (set {requirement}=1 to make its absence a failure)")


def postgres_admin_url() -> str:
    url = os.environ.get("TEST_POSTGRES_URL")
    if not url:
        raise RuntimeError("TEST_DATABASE=postgres needs TEST_POSTGRES_URL (postgresql+asyncpg://user@host:port/db)")
    return url if "+asyncpg" in url else url.replace("postgresql://", "postgresql+asyncpg://", 1)


def _replace_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


async def _admin(sql: str) -> None:
    engine = make_engine(postgres_admin_url(), null_pool=True)
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(sql))
    await engine.dispose()


async def acreate_database(service: str, tmp_dir: Path) -> str:
    """A fresh, empty database for `service` on the selected backend; returns its URL."""
    if backend() == "postgres":
        name = f"gk_test_{service}_{uuid.uuid4().hex[:10]}"
        # C.UTF-8 ctype: pg_trgm/tsvector only see CJK characters under a UTF-8 LC_CTYPE (performance.md §3.1).
        await _admin(f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C.UTF-8'")
        return _replace_database(postgres_admin_url(), name)
    return f"sqlite+aiosqlite:///{tmp_dir / f'{service}.db'}"


async def adrop_database(url: str) -> None:
    if backend() == "postgres":
        await _admin(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)")


def create_database(service: str, tmp_dir: Path) -> str:
    return asyncio.run(acreate_database(service, tmp_dir))


def drop_database(url: str) -> None:
    asyncio.run(adrop_database(url))


def alembic_config(service: str, url: str) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"), ini_section=service)
    cfg.attributes["url"] = url
    cfg.attributes["configure_logger"] = False
    return cfg


def migrate(service: str, url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(service, url), revision)


def token(*roles: str, organ: str | None = None, sub: str | None = None, **kwargs: Any) -> str:
    return mint_token(AuthSettings(), sub=sub or f"user-{uuid.uuid4().hex[:8]}", roles=roles, organ=organ,
                      name=kwargs.pop("name", "测试用户"), **kwargs)


def auth(*roles: str, organ: str | None = None, **kwargs: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(*roles, organ=organ, **kwargs)}"}


# Per service (app title): the problem responses its OpenAPI document declares, as (path regex, literal-first key,
# method, responses). The document does not depend on the settings or the database, so one per session.
_DECLARED: dict[str, list[tuple[re.Pattern[str], tuple[int, int], str, dict[str, Any]]]] = {}


def _declared(app: FastAPI) -> list[tuple[re.Pattern[str], tuple[int, int], str, dict[str, Any]]]:
    if app.title not in _DECLARED:
        spec = app.openapi()
        entries = []
        for template, item in spec.get("paths", {}).items():
            regex = re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$")
            for method, operation in item.items():
                if isinstance(operation, dict):
                    entries.append((regex, (template.count("{"), -len(template)), method,
                                    operation.get("responses", {})))
        _DECLARED[app.title] = entries
    return _DECLARED[app.title]


def undeclared_problems(app: FastAPI, seen: list[tuple[str, str, int, str]]) -> list[str]:
    """Problems answered (method, path, status, code) that the operation's OpenAPI entry does not declare: a status
    it does not document, or a `code` outside that status's enum (issue 14 item 8; services/problem_codes.py)."""
    wrong = []
    for method, path, status, code in seen:
        if code == "policy_missing":
            continue  # fail-closed answer of a route without an access rule (an app refusing to start: Policy.check)
        matches = sorted((key, responses) for regex, key, m, responses in _declared(app)
                         if m == method and regex.match(path))
        if not matches:
            continue  # no operation (a 404 route_not_found, a 405): nothing declared to compare with
        responses = matches[0][1]
        if str(status) not in responses:
            wrong.append(f"{method.upper()} {path} → {status} {code}: status not documented")
        elif (codes := codes_of(responses[str(status)])) is not None and code not in codes:
            wrong.append(f"{method.upper()} {path} → {status} {code}: not in the enum {sorted(codes)}")
    return wrong


@asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan and give an httpx client on it. ASGITransport sends no lifespan events, so the
    lifespan state is put into each request's scope here, as uvicorn would.

    Every problem the app answers in the test is checked against its OpenAPI document when the test's client closes:
    the status is documented and the `code` is in that operation's enum (the whole suite checks the enums)."""
    seen: list[tuple[str, str, int, str]] = []

    async def record(response: httpx.Response) -> None:
        if response.status_code >= 400 and response.headers.get("content-type", "").startswith(PROBLEM_JSON):
            await response.aread()
            seen.append((response.request.method.lower(), response.request.url.path, response.status_code,
                         response.json().get("code", "")))

    async with app.router.lifespan_context(app) as state:
        async def with_state(scope: dict, receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                scope = {**scope, "state": dict(state or {})}
            await app(scope, receive, send)

        transport = httpx.ASGITransport(app=with_state, raise_app_exceptions=False)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://test",
                                     event_hooks={"response": [record]}) as client:
            yield client
    wrong = undeclared_problems(app, seen)
    assert not wrong, "problems the OpenAPI document does not declare:\n" + "\n".join(wrong)


@asynccontextmanager
async def serve_instances(make_app: Callable[[], FastAPI], count: int) -> AsyncIterator[list[httpx.AsyncClient]]:
    """`count` instances of one service started at the same moment (多实例), each from `make_app()` — an app without
    a shared database opens its own engine and runs its own background loops, as a real process does. Each lifespan
    is entered and left in a task of its own; one that fails at start-up raises here."""
    clients: list[httpx.AsyncClient] = []
    started, stop = asyncio.Event(), asyncio.Event()

    async def run() -> None:
        async with serve(make_app()) as client:
            clients.append(client)
            if len(clients) == count:
                started.set()
            await stop.wait()

    tasks = [asyncio.create_task(run()) for _ in range(count)]
    try:
        waiting = asyncio.create_task(started.wait())
        await asyncio.wait([waiting, *tasks], return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:  # one that ended already failed at start-up: say why
            if task.done():
                task.result()
        yield clients
    finally:
        stop.set()
        await asyncio.gather(*tasks)


class WarningRecorder(logging.Handler):
    """The warnings logged while attached (e.g. a background loop's failed round or poll)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@asynccontextmanager
async def holding_writers(database: Database, model: Any, row_id: str) -> AsyncIterator[None]:
    """Hold writers of one row back until the block ends, readers not: on PostgreSQL the row's lock (a plain SELECT
    passes, an UPDATE waits); on SQLite the database write lock (a write transaction waits at BEGIN IMMEDIATE)."""
    async with database.session(write=True) as session:
        if database.dialect == "postgresql":
            await session.execute(select(model.id).where(model.id == row_id).with_for_update())
        else:
            await session.execute(text("SELECT 1"))  # BEGIN IMMEDIATE is emitted with the first statement
        yield
        await session.rollback()


async def lock_waiters(database: Database, expected: int) -> None:
    """PostgreSQL: return once `expected` sessions of this database wait for a lock. SQLite cannot tell: a pause."""
    if database.dialect != "postgresql":
        await asyncio.sleep(0.5)
        return
    waiting = 0
    for _ in range(500):
        async with database.session(write=False) as session:
            waiting = (await session.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = "
                "'Lock'"))).scalar_one()
        if waiting >= expected:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"only {waiting} of {expected} writers are waiting for a lock")


def expect_status(response: httpx.Response, status: int, code: str | None = None) -> httpx.Response:
    """The status a test helper expects; an error must also carry the problem `code` the rule gives. A bare status
    is not enough: the attachment's own 413 attachment_too_large would stand in for the body limit's
    payload_too_large, outside_organ for wrong_role, any not_found for document_not_found."""
    if status < 400:
        assert code is None, "a success has no problem code"
        assert response.status_code == status, response.text
        return response
    assert code is not None, f"expecting {status}: name the problem code (expect_code=) as well"
    assert_problem(response, status, code)
    return response


def assert_problem(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body = response.json()
    assert body["status"] == status
    for key in ("type", "title", "title_zh", "detail", "code"):
        assert isinstance(body[key], str) and body[key], (key, body)
    assert body["type"] == f"urn:gongkai:problem:{body['code']}"
    if code is not None:
        assert body["code"] == code, body
    return body
