"""Helpers of the fault tests: the data they need made through the real API, retrying clients, and direct reads
of the services' databases (the ground truth a test compares the API's answers with)."""

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.sql import Select

from services.db import make_engine
from tests.catalog_service.helpers import new_code
from tests.support import auth

CATALOG = "/api/v1/catalog"
REQUESTS = "/api/v1/requests"
STATS = "/api/v1/stats"
ADMIN = auth("admin", sub="fault-admin")
REVIEW = {"reviewer": "陈审查", "reviewed_on": "2026-03-02", "conclusion": "proactive", "basis": "不涉密，可主动公开"}


async def query(url: str, stmt: Select) -> list[Any]:
    """Rows of `stmt` on the database at `url` (a short-lived engine: the test's own view, no pool)."""
    engine = make_engine(url, null_pool=True)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(stmt)).all())
    finally:
        await engine.dispose()


async def count(url: str, stmt: Select) -> int:
    return (await query(url, stmt))[0][0]


def count_of(table: Any, *where: Any) -> Select:
    return select(func.count()).select_from(table).where(*where)


async def make_organ(client: httpx.AsyncClient, name: str = "故障测试局") -> str:
    code = new_code()
    r = await client.post(f"{CATALOG}/organs", headers=ADMIN, json={"code": code, "name": name, "kind": "department"})
    assert r.status_code == 201, r.text
    return code


async def wait_known_organ(request_db: str, code: str, *, within: float = 30.0) -> None:
    """The request service learns organs from the catalogue's feed: wait until it has this one."""
    from request_service.models import KnownOrgan

    await poll(lambda: count(request_db, count_of(KnownOrgan, KnownOrgan.code == code)), within=within,
               what=f"the request service to learn organ {code}")


async def poll(check: Callable[[], Awaitable[Any]], *, within: float, interval: float = 0.05,
               what: str = "condition") -> Any:
    """Await `check()` until it is truthy (returned) or the deadline passes; errors count as "not yet"."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    last: BaseException | None = None
    while True:
        try:
            value = await check()
            if value:
                return value
        except Exception as exc:  # not yet
            last = exc
        if loop.time() >= deadline:
            raise AssertionError(f"timed out after {within:.0f} s waiting for {what}"
                                 + (f" (last error: {last!r})" if last else ""))
        await asyncio.sleep(interval)


async def until_answered(client: httpx.AsyncClient, method: str, url: str, *, attempts: int = 40,
                         retry_statuses: frozenset[int] = frozenset(), **kwargs: Any) -> tuple[httpx.Response, int]:
    """Send, and send again on a connection failure (and on `retry_statuses`), as a system client with an
    Idempotency-Key does; returns the answer and how many sends it took."""
    for attempt in range(1, attempts + 1):
        try:
            response = await client.request(method, url, **kwargs)
        except httpx.TransportError:
            continue
        if response.status_code in retry_statuses:
            await asyncio.sleep(0.05 * attempt)
            continue
        return response, attempt
    raise AssertionError(f"{method} {url}: no answer after {attempts} sends")


def body_of(raw_http: bytes) -> bytes:
    """The body of a raw HTTP/1.1 message with a Content-Length (what the proxy kept of a dropped answer)."""
    head, _, body = raw_http.partition(b"\r\n\r\n")
    return body


def problem_code(response: httpx.Response) -> str | None:
    if not response.headers.get("content-type", "").startswith("application/problem+json"):
        return None
    try:
        return json.loads(response.content).get("code")
    except ValueError:
        return None
