"""Read replicas of the catalogue (只读副本, issue 17 items 2, 3, 5): a real primary and a real streaming standby
(tests/harness.primary_and_standby: pg_basebackup -R, a replication slot), the standby held back by
`recovery_min_apply_delay` so it is seconds behind on demand.

What is shown through the API: public reads are answered by the replica (a record published on the primary is
not there yet); a client that sends back its write's `X-Gongkai-Commit-LSN` reads its write; a withdrawal is gone
at once from the document, the search, the change feed and the Atom feed although the standby still holds the
record as published; a replica lagging past the bound or stopped leaves the rotation and comes back by itself;
/readyz and /metrics show its lag. SQLite refuses replica URLs."""

import asyncio
import json
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import text

from catalog_service.app import create_app
from catalog_service.config import Settings
from services.db import Database, make_engine
from services.replicas import COMMIT_LSN_HEADER, MIN_LSN_HEADER
from tests.catalog_service.helpers import API, Staff, act, draft, make_organ
from tests.harness import drop_database, new_database, postgres_binaries_available, primary_and_standby
from tests.support import missing, serve

ATOM = "{http://www.w3.org/2005/Atom}"
APPLY_DELAY_SECONDS = 5.0


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory):
    if not postgres_binaries_available():
        missing("REQUIRE_POSTGRES", "no PostgreSQL server binaries (initdb, pg_ctl, pg_basebackup) to start a "
                                    "primary and a standby")
    with primary_and_standby(apply_delay=f"{APPLY_DELAY_SECONDS:g}s") as (primary, standby):
        url = new_database("catalog", tmp_path_factory.mktemp("replicas"), admin_url=primary.admin_url,
                           postgres=True)
        standby.create()  # after the migration: the standby starts with the schema
        yield primary, standby, url
        drop_database(url, admin_url=primary.admin_url)


def app_on(url: str, replica_url: str, **settings):
    config = Settings(database_url=url, database_replica_urls=replica_url, scheduler_interval_seconds=0,
                      access_log=False, webhooks_enabled=False, calendar_feed_enabled=False,
                      replica_check_interval_seconds=0.2, **settings)
    return create_app(config, database=Database(make_engine(url)))


async def publish(client, staff: Staff, title: str):
    """Draft → submit → approve → decide (proactive): the record and the last write's response."""
    doc_id, etag = await draft(client, staff, title=title, body=f"{title}的正文。")
    etag = (await act(client, staff.drafter, doc_id, "submit", etag)).headers["etag"]
    etag = (await act(client, staff.division_head, doc_id, "approve", etag)).headers["etag"]
    return doc_id, await act(client, staff.unit_head, doc_id, "decide", etag, {"attribute": "proactive"})


async def on_standby(standby, url: str, sql: str):
    engine = make_engine(standby.url(url), null_pool=True)
    try:
        async with engine.connect() as conn:
            return (await conn.execute(text(sql))).all()
    finally:
        await engine.dispose()


def metric(body: str, name: str) -> float:
    for line in body.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in /metrics")


async def caught_up(standby) -> None:
    await asyncio.to_thread(standby.wait_caught_up, timeout=60)


@pytest.mark.slow
@pytest.mark.postgres_only
async def test_public_reads_go_to_the_replica_and_a_withdrawal_is_gone_at_once(pair):
    _, standby, url = pair
    async with serve(app_on(url, standby.url(url), replica_max_lag_seconds=60)) as client:
        staff = Staff(await make_organ(client, "副本测试局"))
        kept, _ = await publish(client, staff, "副本保留通知")
        gone, _ = await publish(client, staff, "副本撤回通知")
        await caught_up(standby)
        r = await client.get(f"{API}/documents/{gone}")
        assert r.status_code == 200 and r.json()["title"] == "副本撤回通知"

        # Reads go to the replica: a record just published on the primary is not there yet (apply delay) …
        fresh, last_write = await publish(client, staff, "副本新发布通知")
        assert (await client.get(f"{API}/documents/{fresh}")).status_code == 404, (await client.get("/readyz")).text
        # … unless the client sends back its write's position: then it reads its write (from the primary, as the
        # replica does not reach it within CATALOG_REPLICA_WAIT_SECONDS).
        lsn = last_write.headers[COMMIT_LSN_HEADER]
        r = await client.get(f"{API}/documents/{fresh}", headers={MIN_LSN_HEADER: lsn})
        assert r.status_code == 200, r.text

        # 撤回 on the primary; every public read at once, while the standby still holds the record as published.
        etag = (await client.get(f"{API}/documents/{gone}/record", headers=staff.unit_head)).headers["etag"]
        withdrawn_at = time.monotonic()
        await act(client, staff.unit_head, gone, "withdraw", etag, {"comment": "发布有误，撤回"})
        assert (await client.get(f"{API}/documents/{gone}")).status_code == 404
        search = (await client.get(f"{API}/documents", params={"q": "副本"})).json()
        assert gone not in [hit["id"] for hit in search["items"]] and kept in [hit["id"] for hit in search["items"]]
        feed = ET.fromstring((await client.get(f"{API}/feeds/atom.xml", params={"q": "副本"})).content)
        entries = [e.findtext(f"{ATOM}id").removeprefix("urn:uuid:") for e in feed.findall(f"{ATOM}entry")]
        assert gone not in entries and kept in entries
        changes = (await client.get(f"{API}/changes", params={"limit": 500})).json()["items"]
        latest = {c["document_id"]: c for c in changes}
        assert latest[gone]["change"] == "tombstone" and latest[gone].get("record") is None
        assert "副本撤回通知" not in str(changes)
        stale = await on_standby(standby, url, f"SELECT status FROM document WHERE id = '{gone}'")
        assert stale == [("published",)], "the standby must still hold the old state for this test to mean anything"
        assert time.monotonic() - withdrawn_at < APPLY_DELAY_SECONDS

        metrics = (await client.get("/metrics")).text
        assert metric(metrics, "gongkai_db_replica_fallbacks_total{reason=\"unconfirmed\"}") >= 4
        ready = (await client.get("/readyz")).json()["checks"]["replicas"]
        assert ready["in_rotation"] == 1 and ready["replicas"][0]["lag_seconds"] is not None

        # Once the standby has applied the withdrawal, the replica answers public reads again.
        await caught_up(standby)
        served = metric((await client.get("/metrics")).text, "gongkai_db_replica_reads_total")
        assert (await client.get(f"{API}/documents/{fresh}")).status_code == 200
        assert (await client.get(f"{API}/documents/{gone}")).status_code == 404
        assert metric((await client.get("/metrics")).text, "gongkai_db_replica_reads_total") == served + 2


@pytest.mark.slow
@pytest.mark.postgres_only
async def test_a_lagging_or_stopped_replica_leaves_the_rotation_and_returns_by_itself(pair):
    _, standby, url = pair
    async with serve(app_on(url, standby.url(url), replica_max_lag_seconds=1.0)) as client:
        await caught_up(standby)

        async def in_rotation() -> int:
            return (await client.get("/readyz")).json()["checks"]["replicas"]["in_rotation"]

        async def until(predicate, what: str, within: float = 30) -> None:
            deadline = time.monotonic() + within
            while not await predicate():
                assert time.monotonic() < deadline, f"timed out waiting for {what}"
                await asyncio.sleep(0.1)

        await until(lambda: _eq(in_rotation(), 1), "the replica in rotation")
        staff = Staff(await make_organ(client, "副本滞后测试局"))
        fresh, _ = await publish(client, staff, "副本滞后通知")  # the standby applies it 5 s later: lag > 1 s
        await until(lambda: _eq(in_rotation(), 0), "the lagging replica to leave the rotation")
        ready = await client.get("/readyz")
        assert ready.status_code == 200  # the primary serves the reads: still ready
        assert ready.json()["checks"]["replicas"]["replicas"][0]["lag_seconds"] > 1.0
        assert metric((await client.get("/metrics")).text, "gongkai_db_replica_lag_seconds") > 1.0
        assert (await client.get(f"{API}/documents/{fresh}")).status_code == 200  # from the primary
        await until(lambda: _eq(in_rotation(), 1), "the replica to return once caught up")

        await asyncio.to_thread(standby.stop)
        try:
            await until(lambda: _eq(in_rotation(), 0), "the stopped replica to leave the rotation")
            ready = await client.get("/readyz")
            assert ready.status_code == 200 and ready.json()["checks"]["replicas"]["replicas"][0]["error"]
            assert (await client.get(f"{API}/documents/{fresh}")).status_code == 200
            assert (await client.get(f"{API}/documents", params={"q": "副本滞后"})).json()["total"] == 1
        finally:
            await asyncio.to_thread(standby.start)
        await until(lambda: _eq(in_rotation(), 1), "the restarted replica to return")


def snapshot_ids(r) -> set[str]:
    """The record ids of an NDJSON snapshot (header, records, trailer: the trailer must be there and agree)."""
    assert r.status_code == 200, r.text
    header, *records, trailer = [json.loads(line) for line in r.text.splitlines()]
    assert "snapshot" in header and trailer["end"]["records"] == len(records)
    return {record["id"] for record in records}


@pytest.mark.slow
@pytest.mark.postgres_only
async def test_the_snapshot_and_its_digest_are_read_on_the_replica_and_a_withdrawal_is_gone_at_once(pair):
    _, standby, url = pair
    async with serve(app_on(url, standby.url(url), replica_max_lag_seconds=60)) as client:
        staff = Staff(await make_organ(client, "副本快照测试局"))
        kept, _ = await publish(client, staff, "快照保留通知")
        gone, _ = await publish(client, staff, "快照撤回通知")
        await caught_up(standby)

        async def digest_records() -> int:
            r = await client.get(f"{API}/snapshot/digest", params={"organ": staff.organ})
            assert r.status_code == 200, r.text
            return r.json()["records"]

        served = metric((await client.get("/metrics")).text, "gongkai_db_replica_reads_total")
        assert {kept, gone} <= snapshot_ids(await client.get(f"{API}/snapshot")) and await digest_records() == 2
        assert metric((await client.get("/metrics")).text, "gongkai_db_replica_reads_total") == served + 2

        # Read on the replica: a record just published on the primary is in neither yet (apply delay) …
        fresh, last_write = await publish(client, staff, "快照新发布通知")
        assert fresh not in snapshot_ids(await client.get(f"{API}/snapshot")) and await digest_records() == 2
        # … unless the client sends back its write's position.
        lsn = {MIN_LSN_HEADER: last_write.headers[COMMIT_LSN_HEADER]}
        assert fresh in snapshot_ids(await client.get(f"{API}/snapshot", headers=lsn))

        # 撤回 on the primary: at once, neither the snapshot nor the digest holds it, while the standby still does.
        etag = (await client.get(f"{API}/documents/{gone}/record", headers=staff.unit_head)).headers["etag"]
        withdrawn_at = time.monotonic()
        await act(client, staff.unit_head, gone, "withdraw", etag, {"comment": "发布有误，撤回"})
        unconfirmed = metric((await client.get("/metrics")).text,
                             "gongkai_db_replica_fallbacks_total{reason=\"unconfirmed\"}")
        r = await client.get(f"{API}/snapshot")
        assert gone not in snapshot_ids(r) and kept in snapshot_ids(r) and "快照撤回通知" not in r.text
        assert await digest_records() == 2  # kept and fresh: the primary's view
        assert metric((await client.get("/metrics")).text,
                      "gongkai_db_replica_fallbacks_total{reason=\"unconfirmed\"}") == unconfirmed + 2
        stale = await on_standby(standby, url, f"SELECT status FROM document WHERE id = '{gone}'")
        assert stale == [("published",)], "the standby must still hold the old state for this test to mean anything"
        assert time.monotonic() - withdrawn_at < APPLY_DELAY_SECONDS

        # Once the standby has applied the withdrawal, the replica serves the snapshot again, without it.
        await caught_up(standby)
        served = metric((await client.get("/metrics")).text, "gongkai_db_replica_reads_total")
        ids = snapshot_ids(await client.get(f"{API}/snapshot"))
        assert gone not in ids and {kept, fresh} <= ids and await digest_records() == 2
        assert metric((await client.get("/metrics")).text, "gongkai_db_replica_reads_total") == served + 2


async def _eq(value, expected) -> bool:
    return (await value) == expected


def test_sqlite_has_no_replicas(tmp_path: Path):
    """SQLite is the single-process embedded default: replica URLs are refused with a clear error, not ignored."""
    with pytest.raises(ValidationError, match="SQLite is the single-process embedded default"):
        Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'c.db'}",
                 database_replica_urls="postgresql+asyncpg://postgres@127.0.0.1:5433/catalog")
    with pytest.raises(ValidationError, match="SQLite is the single-process embedded default"):
        Settings(database_replica_urls="postgresql+asyncpg://postgres@127.0.0.1:5433/catalog")  # the default DB
    settings = Settings(database_url="postgresql+asyncpg://postgres@127.0.0.1:5432/catalog",
                        database_replica_urls=" postgresql+asyncpg://a:5432/catalog, postgresql+asyncpg://b/catalog ")
    assert settings.database_replica_urls == ["postgresql+asyncpg://a:5432/catalog", "postgresql+asyncpg://b/catalog"]
