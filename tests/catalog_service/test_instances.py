"""Several instances of the catalogue on one database (issue 17 item 1, 多实例): two apps, each with its own engine
and its own background jobs, as two uvicorn processes would have. A scheduled publication (定时发布) is published
once and announced once, whichever instance's round comes first; a synonym entry saved through one instance is used
by the other's next search (the per-process dictionary is checked against the database's version).

On SQLite there is one process by design (the embedded default); the test still runs there, where the database's
single writer already serialises the two rounds."""

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from catalog_service.app import create_app
from catalog_service.config import Settings
from tests.catalog_service.helpers import API, Staff, act, draft, make_organ
from tests.harness import drop_database, new_database
from tests.support import auth, serve


@pytest.fixture
def catalog_url(tmp_path: Path) -> Iterator[str]:
    url = new_database("catalog", tmp_path)
    yield url
    drop_database(url)


def instance_settings(url: str, tmp_path: Path, scheduler_interval: float) -> Settings:
    return Settings(database_url=url, scheduler_interval_seconds=scheduler_interval, webhooks_enabled=False,
                    calendar_feed_enabled=False, attachment_dir=str(tmp_path / "attachments"))


async def two_instances(stack: AsyncExitStack, url: str, tmp_path: Path, *,
                        scheduler_interval: float = 30.0) -> list[httpx.AsyncClient]:
    # database=None: each app opens its own engine and runs its own jobs, as a real process does.
    return [await stack.enter_async_context(serve(create_app(instance_settings(url, tmp_path, scheduler_interval))))
            for _ in range(2)]


async def events(client: httpx.AsyncClient) -> list[dict]:
    items, after = [], "0"
    while True:
        page = (await client.get("/internal/v1/events", headers=auth("service"),
                                 params={"after": after, "limit": 1000})).json()
        items += page["items"]
        if not page["has_more"]:
            return items
        after = page["next_cursor"]


async def test_two_instances_publish_each_scheduled_record_once(catalog_url, tmp_path):
    async with AsyncExitStack() as stack:
        # Rounds every 50 ms on both instances: they meet on every due record.
        first, second = await two_instances(stack, catalog_url, tmp_path, scheduler_interval=0.05)
        staff = Staff(await make_organ(first))
        approved = []
        for n in range(12):
            doc_id, etag = await draft(first if n % 2 else second, staff, title=f"定时发布的通知（第{n}号）")
            etag = (await act(first, staff.drafter, doc_id, "submit", etag)).headers["etag"]
            etag = (await act(second, staff.division_head, doc_id, "approve", etag)).headers["etag"]
            approved.append((doc_id, etag))
        # All due at the same moment, so both instances' rounds find them together.
        when = datetime.now(UTC) + timedelta(seconds=3)
        ids = []
        for doc_id, etag in approved:
            r = await act(first, staff.unit_head, doc_id, "decide", etag,
                          {"attribute": "proactive", "scheduled_publish_at": when.isoformat()})
            assert r.json()["status"] == "scheduled"
            ids.append(doc_id)
        assert datetime.now(UTC) < when, "the test machine is too slow for this test's schedule"

        deadline = time.monotonic() + 30
        while True:
            statuses = [(await second.get(f"{API}/documents/{i}")).status_code for i in ids]
            if statuses == [200] * len(ids) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
        assert statuses == [200] * len(ids)
        await asyncio.sleep(0.5)  # further rounds of both instances: nothing more may happen

        published = Counter(e["entity_id"] for e in await events(first) if e["type"] == "document.published")
        assert published == Counter({i: 1 for i in ids}), "each record published (and announced) exactly once"
        for doc_id in ids:
            log = (await first.get(f"{API}/documents/{doc_id}/review-log", headers=staff.unit_head)).json()["items"]
            assert [s["action"] for s in log].count("publish") == 1, log
            record = (await second.get(f"{API}/documents/{doc_id}")).json()
            assert record["index_no"], record


async def test_a_synonym_saved_on_one_instance_is_used_by_the_other(catalog_url, tmp_path):
    async with AsyncExitStack() as stack:
        first, second = await two_instances(stack, catalog_url, tmp_path)
        staff = Staff(await make_organ(first))
        doc_id, etag = await draft(first, staff, title="关于公共租赁住房配租的通知", body="配租办法。")
        etag = (await act(first, staff.drafter, doc_id, "submit", etag)).headers["etag"]
        etag = (await act(first, staff.division_head, doc_id, "approve", etag)).headers["etag"]
        await act(first, staff.unit_head, doc_id, "decide", etag, {"attribute": "proactive"})

        async def found(client: httpx.AsyncClient) -> list[str]:
            r = await client.get(f"{API}/documents", params={"q": "廉租公寓配租"})
            assert r.status_code == 200, r.text
            return [item["id"] for item in r.json()["items"] if not r.json()["understood"]["relaxed"]]

        assert await found(second) == []  # the second instance has its dictionary cached now
        r = await first.post(f"{API}/search/synonyms", headers=auth("admin"),
                             json={"words": ["廉租公寓", "公共租赁住房"]})
        assert r.status_code == 201, r.text
        assert await found(second) == [doc_id]
