"""Webhook subscriptions (推送订阅, issue 15 item 1) through the API, delivered to a real HTTP receiver on loopback:
Standard Webhooks signatures checked with the reference library, in order per subscription and nothing lost while
the receiver (and the dispatcher) are killed and restarted, dead-letter / retry / replay / disable, and the SSRF
guard's refusals with a canary listener that must never be hit."""

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import standardwebhooks

from catalog_service.app import create_app
from catalog_service.config import Settings
from catalog_service.domain.webhooks import WebhookDispatcher
from services.db import Database, make_engine
from tests.catalog_service.helpers import API, Staff, act, make_organ
from tests.catalog_service.test_sync import REVIEW, imported, integration, record, staff_etag
from tests.harness import drop_database, new_database
from tests.support import auth, expect_status, serve

SUBS = f"{API}/webhooks/subscriptions"


def agency(organ: str, sub: str = "province-library") -> dict[str, str]:
    """The integrating agency's client (集约化 resource library), not the organ's own document system."""
    return integration(organ, sub)


class Receiver:
    """A plain asyncio HTTP/1.1 server on loopback that records what it receives; stop() kills it (listening
    socket and open connections), start() brings it back on the same port."""

    def __init__(self, port: int = 0) -> None:
        self.port = port
        self.received: list[dict[str, Any]] = []
        self.status = 200
        self.headers: dict[str, str] = {}
        self.answer = b"ok"
        self.delay = 0.0
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def start(self) -> "Receiver":
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, reuse_address=True)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in list(self.writers):
            writer.transport.abort()
        await self.server.wait_closed()
        self.server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.add(writer)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = {k.strip().lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:] if ":" in ln)}
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.received.append({"path": lines[0].split(" ")[1], "headers": headers, "body": body})
            if self.delay:
                await asyncio.sleep(self.delay)
            extra = "".join(f"{k}: {v}\r\n" for k, v in self.headers.items())
            writer.write(f"HTTP/1.1 {self.status} X\r\nContent-Length: {len(self.answer)}\r\n{extra}"
                         f"Connection: close\r\n\r\n".encode() + self.answer)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.writers.discard(writer)
            writer.close()

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r["body"]) for r in self.received]


@asynccontextmanager
async def receiver() -> AsyncIterator[Receiver]:
    r = await Receiver().start()
    try:
        yield r
    finally:
        if r.server is not None:
            await r.stop()


def webhook_settings(**overrides: Any) -> Settings:
    """http and loopback allowed (the receiver is local), fast retries; what the tests of the guard take away."""
    values: dict[str, Any] = {
        "webhook_allow_http": True, "webhook_allowed_networks": ["127.0.0.1/32"], "webhook_concurrency": 1,
        "webhook_retry_base_seconds": 0.02, "webhook_retry_max_seconds": 0.2, "webhook_timeout_seconds": 2.0,
        "webhook_connect_timeout_seconds": 1.0, "webhook_lease_seconds": 3.0, "webhook_interval_seconds": 0.02,
    }
    return Settings(**{**values, **overrides})


async def retry_due() -> None:
    """After a failed attempt the retry is due within webhook_settings()'s retry cap (0.2 s): a dispatcher round
    sooner finds nothing to send — on a fast machine the next request and round take less than the backoff."""
    await asyncio.sleep(webhook_settings().webhook_retry_max_seconds)


async def subscribe(client, organ: str, url: str, expect: int = 201, expect_code: str | None = None,
                    sub: str = "province-library", **fields: Any) -> dict[str, Any]:
    r = await client.post(SUBS, headers=agency(organ, sub), json={"url": url, **fields})
    expect_status(r, expect, expect_code)
    return r.json()


async def unsubscribe(client, organ: str, sub_id: str, sub: str = "province-library") -> None:
    """Deleted at the end of a test on the shared database, so later tests' dispatchers do not keep sending to a
    receiver that is gone."""
    r = await client.get(f"{SUBS}/{sub_id}", headers=agency(organ, sub))
    assert r.status_code == 200, r.text
    r = await client.delete(f"{SUBS}/{sub_id}", headers={**agency(organ, sub), "If-Match": r.headers["etag"]})
    assert r.status_code == 204, r.text


async def deliveries(client, organ: str, sub_id: str, sub: str = "province-library") -> list[dict[str, Any]]:
    r = await client.get(f"{SUBS}/{sub_id}/deliveries", headers=agency(organ, sub), params={"limit": 100})
    assert r.status_code == 200, r.text
    return sorted(r.json()["items"], key=lambda d: d["seq"])


# ---- signatures, rotation, tombstones ------------------------------------------------------------------------------

async def test_deliveries_verify_with_the_reference_library_and_survive_a_rotation(catalog_db):
    settings = webhook_settings()
    async with serve(create_app(settings, database=catalog_db)) as client, receiver() as rx:
        organ = await make_organ(client, "推送测试局")
        created = await subscribe(client, organ, rx.url)
        secret, sub_id = created["secret"], created["subscription"]["id"]
        assert secret.startswith("whsec_") and "secret" not in created["subscription"]
        dispatcher = WebhookDispatcher(catalog_db, settings)
        first = await imported(client, organ, record("w1", review=REVIEW), record("w2", review=REVIEW))
        await dispatcher.run_once()
        assert len(rx.received) == 2
        verifier = standardwebhooks.Webhook(secret)
        for got, doc_id in zip(rx.received, first, strict=True):
            payload = verifier.verify(got["body"], got["headers"])  # raises on a bad signature
            assert payload["type"] == "document.published"
            assert payload["data"]["document_id"] == doc_id and payload["data"]["record"]["id"] == doc_id
        assert [b["data"]["seq"] for b in rx.bodies()] == [1, 2]

        # Rotation: both secrets sign during the overlap, so a receiver holding either verifies.
        r = await client.post(f"{SUBS}/{sub_id}/rotate-secret", headers=agency(organ))
        assert r.status_code == 200, r.text
        new_secret = r.json()["secret"]
        assert new_secret != secret and r.json()["subscription"]["previous_secret_expires_at"]
        await imported(client, organ, record("w3", review=REVIEW))
        await dispatcher.run_once()
        last = rx.received[-1]
        assert len(last["headers"]["webhook-signature"].split(" ")) == 2
        standardwebhooks.Webhook(secret).verify(last["body"], last["headers"])
        standardwebhooks.Webhook(new_secret).verify(last["body"], last["headers"])
        with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
            standardwebhooks.Webhook("whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=").verify(
                last["body"], last["headers"])
        tampered = {**last["headers"]}
        with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
            standardwebhooks.Webhook(new_secret).verify(last["body"].replace(b"w3", b"w4"), tampered)

        # Withdrawn before the delivery goes: the publication is sent as a removal and the withdrawal as a
        # withdrawal, both tombstones with the id only — never the reason, never the record.
        staff = Staff(organ)
        (doc,) = await imported(client, organ, record("w5", review=REVIEW))
        await act(client, staff.unit_head, doc, "withdraw", await staff_etag(client, staff, doc),
                  {"comment": "内容有误，撤回"})
        await dispatcher.run_once()
        tail = rx.bodies()[-2:]
        assert [b["type"] for b in tail] == ["document.removed", "document.withdrawn"]
        for body in tail:
            assert body["data"] == {"subscription_id": sub_id, "seq": body["data"]["seq"], "document_id": doc,
                                    "change": "tombstone", "record": None}
        assert "撤回" not in rx.received[-1]["body"].decode()

        log = await deliveries(client, organ, sub_id)
        assert [d["seq"] for d in log] == [1, 2, 3, 4, 5] and {d["status"] for d in log} == {"delivered"}
        assert log[0]["last_attempt"]["status_code"] == 200 and log[0]["last_attempt"]["response_excerpt"] == "ok"


async def test_subscriptions_are_their_owners_within_their_organ(catalog_db):
    settings = webhook_settings()
    async with serve(create_app(settings, database=catalog_db)) as client, receiver() as rx:
        parent = await make_organ(client, "市政府办公厅")
        child = await make_organ(client, "市教育局", parent=parent)
        other = await make_organ(client, "外市政府")
        # A superior organ's platform may follow a subordinate; a subordinate's client not its superior.
        await subscribe(client, parent, rx.url, organ_code=child)
        await subscribe(client, child, rx.url, 403, "outside_organ", organ_code=parent)
        await subscribe(client, child, rx.url, 403, "outside_organ", organ_code=other)
        mine = (await subscribe(client, parent, rx.url))["subscription"]["id"]
        r = await client.get(f"{SUBS}/{mine}", headers=agency(parent, "another-client"))
        expect_status(r, 404, "webhook_subscription_not_found")
        r = await client.get(f"{SUBS}/{mine}", headers=auth("admin"))
        expect_status(r, 403, "wrong_role")
        r = await client.get(SUBS, headers=agency(parent, "another-client"))
        assert r.json()["items"] == [] and r.json()["total"] == 0

        # Only the subtree's records; nothing from before the subscription.
        dispatcher = WebhookDispatcher(catalog_db, settings)
        await imported(client, other, record("o1", review=REVIEW))
        (child_doc,) = await imported(client, child, record("c1", review=REVIEW))
        await dispatcher.run_once()
        # The child's record, once per subscription covering it (the one on the child, the one on the parent).
        assert sorted(b["data"]["document_id"] for b in rx.bodies()) == [child_doc, child_doc]
        assert {b["data"]["subscription_id"] for b in rx.bodies()} == {
            s["id"] for s in (await client.get(SUBS, headers=agency(parent))).json()["items"]}


# ---- at least once, in order, through a receiver killed and restarted --------------------------------------------

@pytest.fixture
def own_catalog_db(tmp_path: Path):
    url = new_database("catalog", tmp_path, label="webhooks")
    yield url
    drop_database(url)


async def test_nothing_lost_nothing_out_of_order_when_the_receiver_and_dispatcher_die(own_catalog_db):
    # The dispatcher's death is simulated by cancelling its task, which on SQLite is not a process death: a cancel
    # landing while its BEGIN IMMEDIATE waits in aiosqlite's thread can leave that connection holding the write
    # lock (a dead process's lock goes with it), and the next write waits 30 s. Bulk back-pressure (the in-process
    # index catching up inside each import call) widened that window: off here, it is not what this test is about.
    settings = webhook_settings(webhook_concurrency=4, bulk_max_index_lag_seconds=0)
    database = Database(make_engine(own_catalog_db, pool_size=10))
    try:
        async with serve(create_app(settings, database=database)) as client:
            rx = await Receiver().start()
            province = await make_organ(client, "省政府办公厅")
            city = await make_organ(client, "市政府", parent=province)
            county = await make_organ(client, "县政府", parent=city)
            everything = (await subscribe(client, province, rx.url))["subscription"]["id"]
            published_only = (await subscribe(client, province, rx.url.replace("/hook", "/pub"), organ_code=city,
                                              event_types=["document.published"]))["subscription"]["id"]
            staff = Staff(county)

            stop = asyncio.Event()
            task = asyncio.create_task(WebhookDispatcher(database, settings).run(stop))
            withdrawn: list[str] = []
            for batch in range(8):
                ids = await imported(client, county if batch % 2 else city,
                                     *(record(f"k{batch}-{i}", review=REVIEW) for i in range(4)))
                if batch % 2:
                    await act(client, staff.unit_head, ids[0], "withdraw", await staff_etag(client, staff, ids[0]),
                              {"comment": "撤回"})
                    withdrawn.append(ids[0])
                await asyncio.sleep(0.05)
                if batch == 2:  # kill the receiver mid-stream; the deliveries fail and back off
                    await rx.stop()
                if batch == 4:
                    # and kill the dispatcher too: a new one (another "process") takes over after the lease
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)
                    await rx.start()
                    task = asyncio.create_task(WebhookDispatcher(database, settings).run(stop))
            # Every publication and withdrawal under the province; only the publications for the other one.
            expected = {everything: 8 * 4 + len(withdrawn), published_only: 8 * 4}
            deadline, logs = time.monotonic() + 90, {}
            while time.monotonic() < deadline:
                logs = {s: await deliveries(client, province, s) for s in expected}
                if all(len(logs[s]) == n and all(d["status"] != "pending" for d in logs[s])
                       for s, n in expected.items()):
                    break
                await asyncio.sleep(0.1)
            stop.set()
            await asyncio.wait_for(task, 10)
            await rx.stop()

        for sub_id, last in expected.items():
            assert [d["seq"] for d in logs[sub_id]] == list(range(1, last + 1))
            delivered = {d["seq"] for d in logs[sub_id] if d["status"] == "delivered"}
            seqs = [b["data"]["seq"] for b in rx.bodies() if b["data"]["subscription_id"] == sub_id]
            assert set(seqs) == delivered, (sub_id, sorted(delivered ^ set(seqs)))
            # In order: each delivery only after the one before it; a repeat (at least once) only of the last one.
            assert seqs == sorted(seqs), seqs
        assert all(d["status"] == "delivered" for d in logs[everything])  # it wants every type: nothing skipped
        # Publications of records withdrawn before they went out became removals, which the publications-only
        # subscription did not ask for: skipped, not sent. One sent before its withdrawal (batch 1's, while the
        # receiver is up, on a fast machine) stays delivered as the publication it was; batch 3's cannot have gone
        # out before its withdrawal (the receiver is down from batch 2), so some are always skipped.
        status = {d["document_id"]: d["status"] for d in logs[published_only]}
        skipped = {doc for doc, state in status.items() if state == "skipped"}
        assert skipped and skipped <= set(withdrawn)
        assert all(status[doc] in ("skipped", "delivered") for doc in withdrawn)
        assert withdrawn[1] in skipped
        pub = [b for b in rx.bodies() if b["data"]["subscription_id"] == published_only]
        assert {b["type"] for b in pub} == {"document.published"}
        assert {r["path"] for r in rx.received} == {"/hook", "/pub"}
    finally:
        await database.dispose()


# ---- dead letter, retry, replay, disable -------------------------------------------------------------------------

async def test_dead_letter_retry_replay_and_disable(catalog_db):
    # Dead after 0.15 s of failures; disabled after 2 s (long enough for the next delivery to be tried first).
    settings = webhook_settings(webhook_retry_window_seconds=0.15, webhook_disable_after_seconds=2.0)
    async with serve(create_app(settings, database=catalog_db)) as client, receiver() as rx:
        organ = await make_organ(client, "失败测试局")
        sub_id = (await subscribe(client, organ, rx.url))["subscription"]["id"]
        dispatcher = WebhookDispatcher(catalog_db, settings)
        await imported(client, organ, record("d1", review=REVIEW), record("d2", review=REVIEW))
        rx.status, rx.answer = 500, "服务暂停".encode() * 1000

        async def rounds_until(done, seconds: float = 30) -> Any:
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                await dispatcher.run_once()
                if value := await done():
                    return value
                await asyncio.sleep(0.02)
            raise AssertionError("not reached in time")

        async def first_dead() -> list[dict[str, Any]] | None:
            log = await deliveries(client, organ, sub_id)
            return log if log[0]["status"] == "dead" and log[1]["attempts"] >= 1 else None

        log = await rounds_until(first_dead)
        assert log[0]["attempts"] >= 2
        attempt = log[0]["last_attempt"]
        assert attempt["status_code"] == 500 and not attempt["ok"] and attempt["latency_ms"] >= 0
        assert attempt["response_excerpt"].startswith("服务暂停") and len(attempt["response_excerpt"]) <= 500
        seqs_sent = [b["data"]["seq"] for b in rx.bodies()]
        assert seqs_sent == sorted(seqs_sent) and 2 in seqs_sent  # the next one goes after the dead one

        more = iter(range(3, 200))

        async def disabled() -> dict[str, Any] | None:
            sub = (await client.get(f"{SUBS}/{sub_id}", headers=agency(organ))).json()
            if sub["status"] != "disabled":  # publications go on, and every delivery keeps failing
                await imported(client, organ, record(f"d{next(more)}", review=REVIEW))
            return sub if sub["status"] == "disabled" else None

        sub = await rounds_until(disabled)
        assert "HTTP 500" in sub["disabled_reason"] and sub["failing_since"]
        before = len(rx.received)
        for _ in range(3):
            await dispatcher.run_once()
        assert len(rx.received) == before  # a disabled subscription is not called

        detail = (await client.get(f"{SUBS}/{sub_id}/deliveries/{log[0]['id']}", headers=agency(organ))).json()
        assert len(detail["log"]) == detail["attempts"] >= 2

        # The receiver is fixed: re-enable, retry the dead ones, then replay everything from seq 1.
        rx.status, rx.answer = 204, b""
        r = await client.patch(f"{SUBS}/{sub_id}", headers={**agency(organ), "If-Match": f'"{sub["version"]}"'},
                               json={"status": "active"})
        assert r.status_code == 200 and r.json()["status"] == "active" and r.json()["disabled_reason"] is None
        for d in await deliveries(client, organ, sub_id):
            if d["status"] == "dead":
                r = await client.post(f"{SUBS}/{sub_id}/deliveries/{d['id']}/retry", headers=agency(organ))
                assert r.status_code == 200 and r.json()["status"] == "pending"
        await dispatcher.run_once()
        assert {d["status"] for d in await deliveries(client, organ, sub_id)} == {"delivered"}
        rx.received.clear()
        r = await client.post(f"{SUBS}/{sub_id}/replay", headers=agency(organ), json={"from_seq": 2})
        last_seq = (await client.get(f"{SUBS}/{sub_id}", headers=agency(organ))).json()["last_seq"]
        assert r.json() == {"requeued": last_seq - 1}
        await dispatcher.run_once()
        assert [b["data"]["seq"] for b in rx.bodies()] == list(range(2, last_seq + 1))
        r = await client.post(f"{SUBS}/{sub_id}/deliveries/{log[0]['id']}/retry",
                              headers=agency(organ, "someone-else"))
        expect_status(r, 404, "webhook_subscription_not_found")


# ---- the SSRF guard ----------------------------------------------------------------------------------------------

async def test_ssrf_guard_refuses_and_the_canary_is_never_hit(catalog_db):
    guarded = webhook_settings(webhook_allowed_networks=[])  # http allowed (tests), no network allowlisted
    async with receiver() as canary:
        port = canary.port
        refused = [
            f"http://127.0.0.1:{port}/", f"http://localhost:{port}/", f"http://[::1]:{port}/",
            f"http://0x7f000001:{port}/", f"http://2130706433:{port}/", f"http://127.1:{port}/",
            f"http://[::ffff:127.0.0.1]:{port}/", f"http://0.0.0.0:{port}/", "http://169.254.169.254/latest/meta-data",
            "http://100.100.100.200/latest/meta-data", "http://10.0.0.1/", "http://172.16.0.1/", "http://192.168.1.1/",
            "http://100.64.0.1/", "http://[fd00:ec2::254]/", "http://[fe80::1]/", "http://224.0.0.1/",
            "file:///etc/passwd", "gopher://127.0.0.1:70/", "ftp://example.com/", f"http://user:pw@127.0.0.1:{port}/",
            "http://no-such-host.invalid/", "https://" + "a" * 2040 + ".com/",
        ]
        async with serve(create_app(guarded, database=catalog_db)) as client:
            organ = await make_organ(client, "防护测试局")
            for url in refused:
                r = await client.post(SUBS, headers=agency(organ), json={"url": url})
                assert r.status_code == 422, (url, r.text)
                assert r.json()["code"] in ("webhook_url_refused", "validation_error"), (url, r.json())
            # https only, unless configured for tests
            strict = webhook_settings(webhook_allow_http=False)
        async with serve(create_app(strict, database=catalog_db)) as client:
            await subscribe(client, organ, canary.url, 422, "webhook_url_refused")

        # Allowed when registered, refused when sent (an address that became internal: DNS rebinding, or an
        # allowlist narrowed): the check runs before every attempt, and nothing reaches the canary.
        async with serve(create_app(webhook_settings(), database=catalog_db)) as client:
            sub_id = (await subscribe(client, organ, canary.url))["subscription"]["id"]
            await imported(client, organ, record("s1", review=REVIEW))
            await WebhookDispatcher(catalog_db, guarded).run_once()
            (delivery,) = await deliveries(client, organ, sub_id)
            assert delivery["status"] == "pending" and delivery["last_attempt"]["status_code"] is None
            assert delivery["last_attempt"]["error"].startswith("refused: the host resolves to a loopback")
            assert canary.received == []

            # No redirects: a receiver answering 302 to the canary fails the attempt; the canary stays silent.
            async with receiver() as redirecting:
                redirecting.status, redirecting.headers = 302, {"Location": canary.url}
                r = await client.patch(f"{SUBS}/{sub_id}", headers={**agency(organ), "If-Match": '"1"'},
                                       json={"url": redirecting.url})
                assert r.status_code == 200, r.text
                await retry_due()
                await WebhookDispatcher(catalog_db, webhook_settings()).run_once()
                assert len(redirecting.received) == 1 and canary.received == []
                (delivery,) = await deliveries(client, organ, sub_id)
                assert delivery["last_attempt"]["error"] == "redirect not followed"

            # Bounded answer and time: a huge or slow answer is cut off, never waited for or read to the end.
            async with receiver() as slow:
                slow.delay = 5.0
                r = await client.patch(f"{SUBS}/{sub_id}", headers={**agency(organ), "If-Match": '"2"'},
                                       json={"url": slow.url})
                assert r.status_code == 200, r.text
                await retry_due()
                await WebhookDispatcher(catalog_db, webhook_settings(webhook_timeout_seconds=0.5,
                                                                   webhook_lease_seconds=1.0)).run_once()
                (delivery,) = await deliveries(client, organ, sub_id)
                assert delivery["last_attempt"]["error"] == "timed out"
                assert 450 <= delivery["last_attempt"]["latency_ms"] < 4000  # cut at 0.5 s, not the 5 s answer
