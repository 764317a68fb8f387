"""Provable sync (可验证的同步, issue 15 item 2): a harvester starts from the snapshot, follows the change feed — and,
beside it, a second replica follows the webhook deliveries (推送订阅) received on a loopback receiver — and proves its
copy equal to the catalogue with the per-organ digest — all through the API, computing the digest from its own copy
exactly as the route's documentation says."""

import hashlib
import json
import random
import uuid
from typing import Any

import httpx
import standardwebhooks

from catalog_service.app import create_app
from catalog_service.domain.webhooks import WebhookDispatcher
from tests.catalog_service.helpers import API, Staff, act, make_organ, new_code
from tests.catalog_service.test_sync import REVIEW, imported, record, staff_etag
from tests.catalog_service.test_webhooks import Receiver, receiver, subscribe, unsubscribe, webhook_settings
from tests.support import assert_problem, serve

# The detail page (GET /documents/{id}) adds the links both ways, the co-issuers and absolute URLs to the public record
# (issue 14 item 7); the snapshot and the change feed carry the public record itself.
DETAIL_ONLY = {"co_issuers", "amends", "amended_by", "repeals", "repealed_by", "interpreted_by"}


def public_record(detail: dict[str, Any]) -> dict[str, Any]:
    record = {k: v for k, v in detail.items() if k not in DETAIL_ONLY}
    record["attachments"] = [{k: v for k, v in a.items() if k != "url"} for a in detail["attachments"]]
    return record


def parse_snapshot(r: httpx.Response) -> tuple[int, dict[str, dict[str, Any]]]:
    """Header, records, trailer: the cursor and the records by id (the trailer must be there and agree)."""
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/x-ndjson")
    assert r.headers["cache-control"] == "no-store"
    # Lines end at LF only (NDJSON): str.splitlines would also cut at U+2028, which JSON leaves unescaped in a string.
    assert r.content.endswith(b"\n")
    lines = [json.loads(line) for line in r.content.split(b"\n")[:-1]]
    header, *records, trailer = lines
    cursor = header["snapshot"]["cursor"]
    assert header["snapshot"]["format"] == "gongkai-catalog-snapshot/1"
    assert trailer == {"end": {"records": len(records), "cursor": cursor}}
    ids = [rec["id"] for rec in records]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    return cursor, {rec["id"]: rec for rec in records}


def own_digest(copy: dict[str, dict[str, Any]], organ: str) -> str:
    """The digest as a harvester computes it from its copy (the route's description, word for word)."""
    digest = hashlib.sha256()
    for doc_id in sorted(i for i, rec in copy.items() if rec["organ_code"] == organ):
        canonical = json.dumps(copy[doc_id], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        digest.update(f"{doc_id}\t{hashlib.sha256(canonical.encode()).hexdigest()}\n".encode())
    return digest.hexdigest()


class Harvester:
    """An integrating agency's replica: a snapshot, then the change feed applied by upsert / delete by id."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.copy: dict[str, dict[str, Any]] = {}
        self.cursor = 0

    async def start(self) -> None:
        self.cursor, self.copy = parse_snapshot(await self.client.get(f"{API}/snapshot"))

    async def follow(self) -> None:
        while True:
            r = await self.client.get(f"{API}/changes", params={"after": self.cursor, "limit": 7})
            assert r.status_code == 200, r.text
            page = r.json()
            for item in page["items"]:
                if item["change"] == "upsert":
                    self.copy[item["document_id"]] = item["record"]
                else:
                    self.copy.pop(item["document_id"], None)
            self.cursor = page["next_cursor"]
            if not page["has_more"]:
                return

    async def digest(self, organ: str, **params: Any) -> httpx.Response:
        return await self.client.get(f"{API}/snapshot/digest", params={"organ": organ, **params})

    async def assert_in_sync(self, organ: str) -> None:
        r = await self.digest(organ, as_of=self.cursor)
        assert r.status_code == 200, r.text
        body = r.json()
        mine = own_digest(self.copy, organ)
        assert body["digest"] == mine, (organ, body)
        assert body["as_of"] == self.cursor and body["algorithm"] == "sha256"
        assert body["records"] == sum(rec["organ_code"] == organ for rec in self.copy.values())


class HookHarvester:
    """A replica kept by webhook deliveries instead of /changes: the same snapshot, then each delivery (verified with
    the Standard Webhooks reference library, deduplicated on `webhook-id`, in `seq` order) applied by upsert /
    delete by id."""

    def __init__(self, rx: Receiver, secret: str) -> None:
        self.rx, self.verifier = rx, standardwebhooks.Webhook(secret)
        self.copy: dict[str, dict[str, Any]] = {}
        self.read, self.seen, self.seq = 0, set(), 0

    def apply(self) -> None:
        for got in self.rx.received[self.read:]:
            body = self.verifier.verify(got["body"], got["headers"])
            if got["headers"]["webhook-id"] in self.seen:  # a retry of what was applied
                continue
            self.seen.add(got["headers"]["webhook-id"])
            data = body["data"]
            assert data["seq"] == self.seq + 1, (self.seq, data)  # nothing lost, nothing out of order
            self.seq = data["seq"]
            if data["change"] == "upsert":
                assert body["type"] in ("document.published", "document.updated", "document.repealed")
                self.copy[data["document_id"]] = data["record"]
            else:
                assert body["type"] in ("document.withdrawn", "document.removed") and data["record"] is None
                self.copy.pop(data["document_id"], None)
        self.read = len(self.rx.received)


async def test_a_harvester_from_the_snapshot_through_random_changes_ends_with_our_digest(catalog_db):
    settings = webhook_settings()
    async with serve(create_app(settings, database=catalog_db)) as catalog, receiver() as rx:
        await _harvest_through_random_changes(catalog, WebhookDispatcher(catalog_db, settings), rx)


async def _harvest_through_random_changes(catalog: httpx.AsyncClient, dispatcher: WebhookDispatcher,
                                          rx: Receiver) -> None:
    rng = random.Random(15_2)
    pace = random.Random(15_3)  # when the dispatcher sends, apart from the scenario's own draws
    canary = f"CANARY-{uuid.uuid4().hex}"
    # Two organs under one superior: the webhook replica subscribes on the superior, so it covers both.
    city = await make_organ(catalog, "示范市人民政府")
    organs = [Staff(await make_organ(catalog, "甲局", parent=city)),
              Staff(await make_organ(catalog, "乙局", parent=city))]
    serial = iter(range(10_000))
    public: dict[str, tuple[Staff, str]] = {}  # id → (staff, validity) of what should be public now
    hidden: set[str] = set()  # withdrawn, classified, never published: never in a snapshot

    async def publish(staff: Staff, n: int = 1) -> None:
        for doc_id in await imported(catalog, staff.organ, *[record(next(serial), review=REVIEW)
                                                             for _ in range(n)]):
            public[doc_id] = (staff, "in_force")

    async def draft(staff: Staff) -> None:
        [doc_id] = await imported(catalog, staff.organ, record(next(serial), title=f"草稿{canary}"))
        hidden.add(doc_id)

    async def withdraw(doc_id: str) -> None:
        staff, _ = public.pop(doc_id)
        await act(catalog, staff.unit_head, doc_id, "withdraw", await staff_etag(catalog, staff, doc_id),
                  {"comment": f"撤回{canary}"})
        hidden.add(doc_id)

    async def classify(doc_id: str) -> None:
        staff, _ = public.pop(doc_id)
        await act(catalog, staff.secrecy_officer, doc_id, "classify",
                  await staff_etag(catalog, staff, doc_id, staff.secrecy_officer),
                  {"classification_level": "secret", "secrecy_period_years": 10,
                   "classification_responsible": "王主任"})
        hidden.add(doc_id)

    async def repeal(doc_id: str) -> None:
        staff, _ = public[doc_id]
        await act(catalog, staff.unit_head, doc_id, "repeal", await staff_etag(catalog, staff, doc_id),
                  {"repeal_date": "2026-06-30"})
        public[doc_id] = (staff, "repealed")

    for staff in organs:
        await publish(staff, 4)
        await draft(staff)
    await classify(next(iter(public)))
    created = await subscribe(catalog, city, rx.url, sub="hook-harvester")
    hooked = HookHarvester(rx, created["secret"])
    harvester = Harvester(catalog)
    await harvester.start()
    hooked.copy = dict(harvester.copy)  # the same snapshot; everything after it comes by push
    for staff in organs:
        await harvester.assert_in_sync(staff.organ)  # the snapshot alone, at its own cursor

    async def hooks_in_sync() -> None:
        """Every delivery due sent and applied: the pushed replica equals the polled one, so it has our digest at
        the polling harvester's position too."""
        while await dispatcher.run_once():
            pass
        hooked.apply()
        assert hooked.copy == harvester.copy
        for staff in organs:
            r = await harvester.digest(staff.organ, as_of=harvester.cursor)
            assert r.status_code == 200, r.text
            assert r.json()["digest"] == own_digest(hooked.copy, staff.organ)

    for step in range(40):
        ours = [i for i in public if public[i][0] is organs[step % 2]]
        operation = rng.choice(["publish", "publish", "draft", "withdraw", "classify", "repeal"])
        if operation == "publish" or not ours:
            await publish(organs[step % 2], rng.randint(1, 3))
        elif operation == "draft":
            await draft(organs[step % 2])
        elif operation == "withdraw":
            await withdraw(rng.choice(ours))
        elif operation == "classify":
            await classify(rng.choice(ours))
        else:
            in_force = [i for i in ours if public[i][1] == "in_force"]
            await (repeal(rng.choice(in_force)) if in_force else publish(organs[step % 2]))
        if pace.random() < 0.5:  # pushed now and then between changes: later deliveries must override earlier ones
            await dispatcher.run_once()
        if step % 7 == 6:  # now and then the harvester catches up and checks
            stale = harvester.cursor
            await harvester.follow()
            for staff in organs:
                await harvester.assert_in_sync(staff.organ)
            await hooks_in_sync()
            if operation != "draft":  # this step changed organs[step % 2]'s public records (a draft changes none)
                # A position the organ's records have moved past is refused, not answered with today's digest.
                assert_problem(await harvester.digest(organs[step % 2].organ, as_of=stale), 409,
                               "digest_position_passed")

    await harvester.follow()
    await hooks_in_sync()
    assert hooked.seq > 0 and rx.received
    await unsubscribe(catalog, city, created["subscription"]["id"], sub="hook-harvester")
    for staff in organs:
        await harvester.assert_in_sync(staff.organ)
        now = (await harvester.digest(staff.organ)).json()  # without as_of: now, and the head it holds at
        assert now["digest"] == own_digest(harvester.copy, staff.organ)
        ours = {i for i, (s, _) in public.items() if s is staff}
        assert {i for i, rec in harvester.copy.items() if rec["organ_code"] == staff.organ} == ours
    assert {rec["validity"] for i, rec in harvester.copy.items() if i in public} == {
        v for _, v in public.values()}

    # Canary: a fresh snapshot holds no withdrawn, classified or draft record, in any byte.
    r = await catalog.get(f"{API}/snapshot")
    _, records = parse_snapshot(r)
    assert canary not in r.text and not hidden & set(records)
    assert set(public) <= set(records)
    for doc_id in public:  # each line is the public record, byte for byte what GET /documents/{id} serves
        assert records[doc_id] == public_record((await catalog.get(f"{API}/documents/{doc_id}")).json())


async def test_digest_errors_and_an_empty_organ(catalog):
    empty = await make_organ(catalog, "空局")
    r = await catalog.get(f"{API}/snapshot/digest", params={"organ": empty})
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    assert r.json()["digest"] == hashlib.sha256(b"").hexdigest() and r.json()["records"] == 0
    assert_problem(await catalog.get(f"{API}/snapshot/digest", params={"organ": new_code()}), 404,
                   "organ_not_found")
    assert_problem(await catalog.get(f"{API}/snapshot/digest"), 422, "validation_error")
    assert_problem(await catalog.get(f"{API}/snapshot/digest", params={"organ": empty, "as_of": -1}), 422,
                   "validation_error")


async def test_the_stream_stays_consistent_when_records_change_between_batches(tmp_path, monkeypatch):
    """On a real engine (not the rolled-back test connection, which is one transaction anyway): batches of two, and
    between the first and the second batch a record of a later batch is withdrawn and five records are published,
    through the API. The stream is the catalogue before both, named by a cursor from which the feed brings both."""
    import asyncio

    from catalog_service.app import create_app
    from catalog_service.config import Settings
    from catalog_service.domain import snapshot as domain
    from services.db import Database, make_engine
    from tests.support import acreate_database, adrop_database, migrate, serve

    url = await acreate_database(f"snapshot_{uuid.uuid4().hex[:6]}", tmp_path)
    try:
        await asyncio.to_thread(migrate, "catalog", url)
        app = create_app(Settings(database_url=url, scheduler_interval_seconds=0, access_log=False,
                                  webhooks_enabled=False, snapshot_batch_size=2),
                         database=Database(make_engine(url)))
        async with serve(app) as client:
            staff = Staff(await make_organ(client))
            originals = await imported(client, staff.organ, *[record(n, review=REVIEW) for n in range(5)])
            last = max(originals)  # in the third batch
            etag = await staff_etag(client, staff, last)
            before = public_record((await client.get(f"{API}/documents/{last}")).json())
            later: list[str] = []
            reads = domain.public_records_json

            async def reads_then_change(session, *conditions, after, limit):
                views = await reads(session, *conditions, after=after, limit=limit)
                if not later:  # after the first batch, once
                    await act(client, staff.unit_head, last, "withdraw", etag, {"comment": "发布有误，撤回"})
                    later.extend(await imported(client, staff.organ,
                                                *[record(n, review=REVIEW) for n in range(5, 10)]))
                return views

            monkeypatch.setattr(domain, "public_records_json", reads_then_change)
            cursor, records = parse_snapshot(await client.get(f"{API}/snapshot"))
            monkeypatch.undo()
            assert len(later) == 5
            assert set(records) == set(originals)  # the withdrawn one as it was, none of the new ones
            assert records[last] == before

            harvester = Harvester(client)
            harvester.cursor, harvester.copy = cursor, records
            await harvester.follow()
            assert set(harvester.copy) == set(originals) - {last} | set(later)
            await harvester.assert_in_sync(staff.organ)
    finally:
        await adrop_database(url)


async def test_a_renamed_organ_reaches_the_harvesters_copy(catalog):
    """Every public record carries its organ's name: renaming the organ (机构更名) changes what the public sees of
    each of them, so the feed must say so, or a replica that followed it faithfully no longer equals the catalogue."""
    from tests.support import auth

    staff = Staff(await make_organ(catalog, "示范市农业局"))
    ids = await imported(catalog, staff.organ, *[record(n, review=REVIEW) for n in range(3)])
    await imported(catalog, staff.organ, record(3))  # a draft: nothing public to announce
    harvester = Harvester(catalog)
    await harvester.start()
    cached = (await catalog.get(f"{API}/documents/{ids[0]}")).headers["etag"]
    etag = (await catalog.get(f"{API}/organs/{staff.organ}")).headers["etag"]
    r = await catalog.patch(f"{API}/organs/{staff.organ}", headers={**auth("admin"), "If-Match": etag},
                            json={"name": "示范市农业农村局"})
    assert r.status_code == 200, r.text
    await harvester.follow()
    assert {harvester.copy[i]["organ_name"] for i in ids} == {"示范市农业农村局"}
    # A cache holding the record under its old ETag revalidates to the new name, not a 304.
    assert (await catalog.get(f"{API}/documents/{ids[0]}", headers={"If-None-Match": cached})).status_code == 200
    await harvester.assert_in_sync(staff.organ)


async def test_each_snapshot_line_is_the_public_record_exactly_as_the_feed_serialises_it(catalog_db, tmp_path):
    """The snapshot builds its lines without a model per record (a million records stream); each line must still be
    byte for byte the public record's JSON (`DocumentPublicRead`, as `/changes` and the webhooks carry it): labels
    in order, attachments without the withheld one, a 解读's link only while its policy is public, nulls, escapes,
    dates and times as the model writes them — and the digest of that copy is ours."""
    from catalog_service.config import Settings
    from catalog_service.schemas import DocumentPublicRead
    from tests.catalog_service.helpers import draft, publish, with_etag

    pdf = b"%PDF-1.7\n" + "附件".encode() * 20 + b"\n%%EOF\n"
    settings = Settings(attachment_dir=str(tmp_path / "attachments"))
    async with serve(create_app(settings, database=catalog_db)) as client:
        staff = Staff(await make_organ(client, "示范市\"数据\"局"))
        rich, etag = await draft(
            client, staff, title='关于"政务公开"\\工作的通知 😀', summary="第一行\n第二行\t制表",
            body="正文：<b>&amp;</b>\u2028\u00a0\U0001F4C4", doc_number="示政〔2026〕1号",
            subject_category="economy", key_areas=["fiscal_budget", "education"], keywords=["预算", "公开"],
            written_date="2026-01-05", effective_date="2026-02-01")
        uploaded = []
        for name, withheld in (("说明.pdf", "false"), ("内部.pdf", "true"), ("附表 \"2\".pdf", "false")):
            r = await client.post(f"{API}/documents/{rich}/attachments", headers=with_etag(staff.drafter, etag),
                                  files={"file": (name, pdf, "application/pdf")}, data={"withheld": withheld})
            assert r.status_code == 201, r.text
            etag = r.headers["etag"]
            uploaded.append((r.json()["id"], withheld == "true"))
        etag = (await act(client, staff.drafter, rich, "submit", etag)).headers["etag"]
        etag = (await act(client, staff.division_head, rich, "approve", etag)).headers["etag"]
        await act(client, staff.unit_head, rich, "decide", etag, {"attribute": "proactive"})
        bare = await publish(client, staff, genre=None, summary=None)
        shown = await publish(client, staff, genre="interpretation", title="解读一", interpretation_of=rich)
        policy = await publish(client, staff, genre="normative_document", title="将撤回的政策")
        orphan = await publish(client, staff, genre="interpretation", title="解读二", interpretation_of=policy)
        await act(client, staff.unit_head, policy, "withdraw", await staff_etag(client, staff, policy),
                  {"comment": "发布有误，撤回"})

        r = await client.get(f"{API}/snapshot")
        cursor, records = parse_snapshot(r)
        lines = r.content.split(b"\n")[1:-2]  # the records' lines, between the header and the trailer
        assert len(lines) == len(records) == 4
        for line in lines:
            assert line == DocumentPublicRead.model_validate_json(line).model_dump_json().encode()
        feed = {item["document_id"]: item["record"] for item in (await client.get(
            f"{API}/changes", params={"limit": 500})).json()["items"] if item["change"] == "upsert"}
        assert records == {doc_id: feed[doc_id] for doc_id in records}
        assert set(records) == {rich, bare, shown, orphan}
        assert [a["id"] for a in records[rich]["attachments"]] == [i for i, withheld in uploaded if not withheld]
        assert records[rich]["key_area_labels"][1]["code"] == "education"
        assert records[bare]["genre_label"] is None and records[bare]["summary"] is None
        assert records[shown]["interpretation_of"] == rich and records[orphan]["interpretation_of"] is None
        digest = (await client.get(f"{API}/snapshot/digest", params={"organ": staff.organ, "as_of": cursor})).json()
        assert digest["digest"] == own_digest(records, staff.organ) and digest["records"] == 4
