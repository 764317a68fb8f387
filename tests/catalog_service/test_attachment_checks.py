"""附件无法打开 (issue 16 item 6): the catalogue's periodic check finds attachments of public records whose stored bytes
are missing or no longer match their SHA-256, announces each change of finding on its feed (`attachment.checked`),
and the statistics' production consumer turns them into the scorecard's count per organ, with the attachments behind
it. A repair is announced too and takes the attachment off the count."""

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from catalog_service.domain.attachment_checks import check_attachments
from catalog_service.domain.blobs import FilesystemBlobStore, blob_path
from services.db import Database
from stats_service.config import Settings as StatsSettings
from stats_service.consumers import HttpFeed, make_consumers
from tests.catalog_service.helpers import Staff, draft, make_organ
from tests.catalog_service.test_attachments import PDF, PNG, client, publish_draft, storage, upload  # noqa: F401
from tests.stats_service.helpers import Feed
from tests.support import auth

# The checks run on the days after the record is published (today): day 1, 2, 3 in Beijing.
NOW = datetime.now(UTC) + timedelta(days=1)


def day(n: int) -> str:
    return (NOW + timedelta(days=n - 1)).astimezone(ZoneInfo("Asia/Shanghai")).date().isoformat()


async def check(catalog_db: Database, storage: Path, now: datetime, batch: int = 500) -> int:  # noqa: F811
    async with catalog_db.transaction() as session:
        return await check_attachments(session, FilesystemBlobStore(str(storage)), batch, now=now)


async def feed_events(client, after: int = 0) -> list[dict]:  # noqa: F811
    r = await client.get("/internal/v1/events", headers=auth("service"), params={"after": after, "limit": 1000})
    assert r.status_code == 200, r.text
    return [e for e in r.json()["items"] if e["type"] == "attachment.checked"]


async def test_failing_attachments_are_found_announced_and_scored(client, catalog_db, storage, stats,  # noqa: F811
                                                                  stats_db):
    staff = Staff(await make_organ(client, "示例市财政局"))
    doc_id, etag = await draft(client, staff)
    r = await upload(client, staff.drafter, doc_id, etag)
    pdf = r.json()
    r = await upload(client, staff.drafter, doc_id, r.headers["etag"], PNG, "示意图.png", "image/png")
    png = r.json()
    await publish_draft(client, staff, doc_id, r.headers["etag"])
    draft_id, draft_etag = await draft(client, staff)  # not public: never checked
    await upload(client, staff.drafter, draft_id, draft_etag, PNG + b"x", "草稿.png", "image/png")

    # First round: both open; each first finding is announced once, a second round with nothing new announces none.
    assert await check(catalog_db, storage, NOW) == 2
    assert await check(catalog_db, storage, NOW + timedelta(minutes=5)) == 0
    # The PDF's file is lost; the PNG's is overwritten (its content no longer the one uploaded).
    blob_path(str(storage), pdf["sha256"]).unlink()
    blob_path(str(storage), png["sha256"]).write_bytes(PNG[:40])
    assert await check(catalog_db, storage, NOW + timedelta(days=1)) == 2
    events = await feed_events(client)
    assert [(e["entity_id"], e["version"], e["payload"]["problem"], e["payload"]["checked_on"]) for e in events] == [
        *sorted([(pdf["id"], 1, None, day(1)), (png["id"], 1, None, day(1))]),
        *sorted([(pdf["id"], 2, "missing", day(2)), (png["id"], 2, "sha256_mismatch", day(2))])]
    assert {e["payload"]["organ_code"] for e in events} == {staff.organ}
    assert {e["payload"]["document_id"] for e in events} == {doc_id}

    # The statistics follow the feed: two attachments fail to open on day 2, with the records behind the figure.
    settings = StatsSettings()
    consumers = make_consumers(stats_db, settings, HttpFeed(client, settings), Feed())
    officer = auth("stats_officer", organ=staff.organ)

    async def broken(on: str) -> tuple[int, list]:
        for consumer in consumers:
            await consumer.drain()
        r = await stats.get(f"/api/v1/stats/scorecards/{staff.organ}", headers=officer, params={"as_of": on})
        assert r.status_code == 200, r.text
        ind = next(i for i in r.json()["indicators"] if i["key"] == "broken_attachments")
        records = (await stats.get(ind["records_url"], headers=officer)).json()
        assert records["total"] == ind["value"]
        return ind["value"], sorted((x["id"], x["detail"]["problem"]) for x in records["items"])

    assert await broken(day(1)) == (0, [])
    assert await broken(day(2)) == (2, sorted([(pdf["id"], "missing"), (png["id"], "sha256_mismatch")]))
    # The PDF is restored on day 3: off the count from that day; day 2 is reproduced as it was.
    blob_path(str(storage), pdf["sha256"]).write_bytes(PDF)
    assert hashlib.sha256(PDF).hexdigest() == pdf["sha256"]
    assert await check(catalog_db, storage, NOW + timedelta(days=2)) == 1
    assert await broken(day(3)) == (1, [(png["id"], "sha256_mismatch")])
    assert await broken(day(2)) == (2, sorted([(pdf["id"], "missing"), (png["id"], "sha256_mismatch")]))


async def test_each_round_takes_the_attachments_checked_longest_ago(client, catalog_db, storage):  # noqa: F811
    staff = Staff(await make_organ(client))
    ids = []
    for n in range(3):
        doc_id, etag = await draft(client, staff)
        r = await upload(client, staff.drafter, doc_id, etag, PDF + bytes([n]))
        ids.append(r.json()["id"])
        await publish_draft(client, staff, doc_id, r.headers["etag"])
    assert await check(catalog_db, storage, NOW, batch=2) == 2
    assert await check(catalog_db, storage, NOW + timedelta(minutes=1), batch=2) == 1  # the third, then the oldest
    assert sorted(e["entity_id"] for e in await feed_events(client)) == sorted(ids)
