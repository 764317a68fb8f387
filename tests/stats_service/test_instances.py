"""Several instances of the statistics service on one database (issue 17 item 1, 多实例): two apps, each with its
own engine and its own feed consumers, follow the same upstream feeds at the same time, as two uvicorn processes
would. The feeds are served over real HTTP on 127.0.0.1 (the consumers' own httpx clients read them) and grow while
both instances poll: every event is applied once — the annual report's table 三 (kept as counters) equals the
counts of the events sent, and every figure drills down to exactly that many applications.

On SQLite there is one process by design (the embedded default); the test still runs there, where the database's
single writer already serialises the two consumers' batches."""

import asyncio
import logging
import socket
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
import uvicorn

from stats_service.app import create_app
from stats_service.config import Settings
from tests.harness import drop_database, new_database
from tests.stats_service.helpers import Apps, Feed, organ
from tests.support import WarningRecorder, auth, serve_instances

API = "/api/v1/stats/annual-reports"
CITY, DEPT = "11440100MS0000001A", "11440100MS0000002B"
OFFICER = auth("stats_officer", organ=DEPT)
TYPES = ["natural_person", "commercial_enterprise", "other_org"]
OUTCOMES = ["granted", "partially_granted", "other.no_supplement"]


@pytest.fixture
def stats_url(tmp_path: Path) -> Iterator[str]:
    url = new_database("stats", tmp_path)
    yield url
    drop_database(url)


def feed_app(feed: Feed) -> Any:
    """A producer's `/internal/v1/events` (the page shape of services/outbox.py), over the events added so far."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http" and scope["path"] == "/internal/v1/events", scope["path"]
        query = dict(parse_qsl(scope["query_string"].decode()))
        page = await feed(int(query.get("after", 0)), int(query.get("limit", 100)))
        body = page.model_dump_json().encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})

    return app


class _Server(uvicorn.Server):
    @contextmanager
    def capture_signals(self) -> Iterator[None]:  # leave pytest's signal handlers alone
        yield


@asynccontextmanager
async def served(app: Any) -> AsyncIterator[str]:
    """`app` under uvicorn on a free 127.0.0.1 port; yields its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = _Server(uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()


def two_instances(settings: Settings):
    """Two statistics-service instances, each with its own engine and its own feed consumers."""
    return serve_instances(lambda: create_app(settings), 2)


async def test_two_instances_apply_each_event_once(stats_url):
    catalog, requests = Feed(), Feed()
    organ(catalog, CITY, "示例市人民政府", "peoples_government")
    organ(catalog, DEPT, "示例市财政局", parent=CITY)
    apps = Apps(requests)
    received: Counter[tuple[str, str]] = Counter()  # (row, applicant type) → applications: the truth
    failed_polls = WarningRecorder()
    logging.getLogger("gongkai.outbox").addHandler(failed_polls)  # the apps' logging setup replaces root's handlers
    try:
        async with served(feed_app(catalog)) as catalog_url, served(feed_app(requests)) as request_url:
            settings = Settings(database_url=stats_url, catalog_url=catalog_url, request_url=request_url,
                                consume=True, consumer_batch_size=5, consumer_idle_seconds=0.02)
            async with two_instances(settings) as (first, second):
                # The feeds grow while both instances poll them every 20 ms, in batches of 5: they meet on
                # every batch.
                opened = []
                for n in range(24):
                    kind = TYPES[n % 3]
                    receipt = date(2025, 3, 3) + timedelta(days=7 * n)
                    opened.append((apps.put(organ_code=DEPT, applicant_type=kind,
                                            receipt_date=receipt.isoformat(), due_on=None), kind, receipt))
                    received["new_received", kind] += 1
                    if n % 4 == 3:
                        catalog.add("document.published", "document", f"doc-{n}", 1, {
                            "public": True, "organ_code": DEPT, "genre": "normative_document",
                            "validity": "in_force", "written_date": receipt.isoformat(),
                            "published_at": f"{receipt.isoformat()}T02:00:00+00:00"})
                    await asyncio.sleep(0.01)
                for n, (app_id, kind, receipt) in enumerate(opened):
                    outcome = OUTCOMES[n // 3 % 3]
                    status = "closed" if outcome.startswith("other.") else "replied"
                    apps.put(app_id, status=status, closed_on=(receipt + timedelta(days=10)).isoformat(),
                             outcome=outcome)
                    received[outcome, kind] += 1
                    await asyncio.sleep(0.01)
                assert len(catalog.events) + len(requests.events) >= 50

                expected = {row: {**dict.fromkeys(TYPES, 0), **{k: n for (r, k), n in received.items() if r == row},
                                  "total": sum(n for (r, _), n in received.items() if r == row)}
                            for row in ("new_received", *OUTCOMES)}

                async def table_three(client: httpx.AsyncClient) -> dict:
                    r = await client.get(f"{API}/{DEPT}/2025", headers=OFFICER)
                    assert r.status_code == 200, r.text
                    rows = r.json()["section3"]["rows"]
                    return {row: {k: rows[row][k] for k in (*TYPES, "total")} for row in expected}

                deadline = time.monotonic() + 20
                while True:
                    seen = await table_three(second)
                    if seen == expected or time.monotonic() > deadline:
                        break
                    await asyncio.sleep(0.1)
                await asyncio.sleep(0.5)  # further polls of both instances: nothing more may be applied
                for client in (first, second):
                    assert await table_three(client) == expected, seen
                report = (await first.get(f"{API}/{DEPT}/2025", headers=OFFICER)).json()
                assert report["section2"]["normative_documents"]["issued"] == 6
                assert all(check["ok"] for check in report["checks"]), report["checks"]
                for row in expected:  # each figure is exactly the applications behind it: no counter ran ahead
                    cell = (await second.get(f"{API}/{DEPT}/2025/cells/{row}/total", headers=OFFICER,
                                             params={"limit": 100})).json()
                    assert cell["total"] == len(cell["items"]) == expected[row]["total"], row
        # Two consumers on one cursor take turns; none fails for the other (a batch done twice, then rolled back).
        assert failed_polls.messages == []
    finally:
        logging.getLogger("gongkai.outbox").removeHandler(failed_polls)
