"""Idempotency under dropped connections (reliability.md §2.1, issue 6): creates from systems carry an
Idempotency-Key and are retried, with the same key, until they get an answer, through a TCP proxy in front of the
gateway that drops a share of the exchanges — before the request reaches the server, after the server answered
(the answer is kept by the proxy and never delivered), or right after the request was forwarded (the retry races
the first attempt). Real processes (catalogue, request service, gateway), real database.

Goals: no duplicate side effect (rows and outbox events counted in the databases), every replay is the first
response byte for byte (the dropped answers included), and the same key with another body is a 422."""

import asyncio
import json
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from catalog_service.models import Document, ReviewStep
from catalog_service.models import outbox as catalog_outbox
from request_service.models import Application
from request_service.models import outbox as request_outbox
from tests.faults.support import (
    CATALOG,
    REQUESTS,
    REVIEW,
    body_of,
    count,
    count_of,
    make_organ,
    problem_code,
    query,
    until_answered,
    wait_known_organ,
)
from tests.harness import CUT, DROP_REQUEST, DROP_RESPONSE, System, TcpProxy, drop_database, new_databases
from tests.request_service.intake_support import application_body
from tests.support import assert_problem, auth

pytestmark = pytest.mark.slow

# 1,000 creating requests in all (issue 6); the mix covers both services' idempotent creates.
COUNTS = {"register": 400, "online": 300, "bulk": 300}
FAULT_SHARE = 0.3      # of the POST exchanges, each attempt drawn afresh: retries are faulted too
TWIN_EVERY = 10        # every 10th create is also sent twice at once (concurrent duplicates)
CONCURRENCY = 12


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("idempotency")
    urls = new_databases(tmp, services=("catalog", "request"))
    system = System(tmp, urls, names=("catalog", "request", "gateway"))
    try:
        with system:
            yield system, urls
    finally:
        for url in urls.values():
            drop_database(url)


def bulk_record(key: str, **fields: Any) -> dict[str, Any]:
    return {"external_id": f"OA-{key}", "title": f"关于做好第{key}批政务公开工作的通知", "genre": "notice",
            "summary": "对政务公开工作作出部署。", "body": "各区、各部门：现将有关事项通知如下。", **fields}


@dataclass
class Op:
    kind: str
    url: str
    headers: dict[str, str]
    body: dict[str, Any]
    twin: bool = False
    answers: list[httpx.Response] = field(default_factory=list)
    sends: int = 0

    @property
    def key(self) -> str:
        return self.headers["Idempotency-Key"]


def build_ops(organ: str) -> list[Op]:
    clerk = auth("intake_clerk", organ=organ, sub=f"clerk@{organ}", name="受理员")
    system = auth("integration", organ=organ, sub="oa-system", name="公文系统")
    ops: list[Op] = []
    for i in range(COUNTS["register"]):
        ops.append(Op("register", f"{REQUESTS}/applications/register", dict(clerk),
                      application_body(channel="in_person", info_title=f"申请公开第{i}号文件")))
    for i in range(COUNTS["online"]):
        # Signed-in applicants (a citizen portal submitting for its user): their keys are theirs, so the same key with
        # another body is refused. Anonymous keys are scoped by the form itself (tests/request_service/test_intake.py).
        ops.append(Op("online", f"{REQUESTS}/applications", dict(auth("applicant", sub=f"citizen-{i % 7}")),
                      application_body(organ, info_title=f"网上申请{i}")))
    for i in range(COUNTS["bulk"]):
        ops.append(Op("bulk", f"{CATALOG}/documents/bulk", dict(system),
                      {"records": [bulk_record(f"{i}-p", review=REVIEW), bulk_record(f"{i}-d")]}))
    for n, op in enumerate(ops):
        op.headers["Idempotency-Key"] = f"{op.kind}-{uuid.uuid4()}"
        op.twin = n % TWIN_EVERY == 0
    # Interleave the kinds, so both services and the gateway are busy with all three at once.
    return sorted(ops, key=lambda op: hash(op.key))


async def send(client: httpx.AsyncClient, op: Op) -> httpx.Response:
    response, sends = await until_answered(client, "POST", op.url, headers=op.headers, json=op.body)
    op.sends += sends
    return response


async def test_a_thousand_retried_creates_through_dropped_connections(system):
    sys_, urls = system
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=sys_.gateway, timeout=30) as direct:
        organ = await make_organ(direct)
        await wait_known_organ(urls["request"], organ)
    ops = build_ops(organ)

    with TcpProxy(sys_.ports["gateway"], seed=6) as proxy:
        proxy.set_policy(proxy.random_faults(FAULT_SHARE, (DROP_REQUEST, DROP_RESPONSE, CUT),
                                             only=lambda e: e.method == "POST"))
        semaphore = asyncio.Semaphore(CONCURRENCY)
        async with httpx.AsyncClient(base_url=proxy.url, timeout=30,
                                     limits=httpx.Limits(max_connections=2 * CONCURRENCY)) as client:
            async def run(op: Op) -> None:
                async with semaphore:
                    copies = 2 if op.twin else 1
                    op.answers = list(await asyncio.gather(*(send(client, op) for _ in range(copies))))

            await asyncio.gather(*(run(op) for op in ops))
        proxy.heal()
        records = list(proxy.records)
    chaos_seconds = time.monotonic() - started

    # The faults really happened, of every kind, and retries were needed.
    faults = Counter(r.fault for r in records)
    assert all(faults[f] >= 30 for f in (DROP_REQUEST, DROP_RESPONSE, CUT)), faults
    assert sum(op.sends for op in ops) > sum(len(op.answers) for op in ops) + 200

    # Every create got its answer: 201 for applications, 200 for a bulk batch; twins got the same one.
    for op in ops:
        expected = 200 if op.kind == "bulk" else 201
        assert all(a.status_code == expected for a in op.answers), (op.kind, [a.text for a in op.answers])
        assert all(a.content == op.answers[0].content for a in op.answers), op.key

    # A dropped answer was a real first response: what the client got later is that response, byte for byte.
    by_key = {op.key: op for op in ops}
    dropped = [r for r in records if r.fault == DROP_RESPONSE]
    for record in dropped:
        op = by_key[record.exchange.idempotency_key]
        assert record.status in (200, 201), record.response
        assert body_of(record.response) == op.answers[0].content, op.key

    # No duplicates: one application per create, one creation event each; two documents per batch, each
    # published or drafted once (one review step for the published one, one creation event each).
    app_ids = {op.answers[0].json()["id"] for op in ops if op.kind != "bulk"}
    assert len(app_ids) == COUNTS["register"] + COUNTS["online"]
    assert await count(urls["request"], count_of(Application, Application.organ_code == organ)) == len(app_ids)
    stored = {row[0] for row in await query(urls["request"], select(Application.id)
                                             .where(Application.organ_code == organ))}
    assert stored == app_ids
    events = request_outbox.events
    received = await query(urls["request"], select(events.c.entity_id, func.count()).where(
        events.c.type == "application.received").group_by(events.c.entity_id))
    assert {entity: n for entity, n in received} == dict.fromkeys(app_ids, 1)

    doc_ids = {r["document_id"] for op in ops if op.kind == "bulk" for r in op.answers[0].json()["results"]}
    assert all(r["status"] == "created" for op in ops if op.kind == "bulk" for r in op.answers[0].json()["results"])
    assert len(doc_ids) == 2 * COUNTS["bulk"]
    assert await count(urls["catalog"], count_of(Document, Document.source_system == "oa-system")) == len(doc_ids)
    events = catalog_outbox.events
    per_doc = await query(urls["catalog"], select(events.c.entity_id, events.c.type, func.count()).where(
        events.c.entity_type == "document").group_by(events.c.entity_id, events.c.type))
    assert all(n == 1 for _, _, n in per_doc), [row for row in per_doc if row[2] != 1]
    published_ids = {r["document_id"] for op in ops if op.kind == "bulk" for r in op.answers[0].json()["results"]
                     if r["published"]}
    kinds: dict[str, set[str]] = {}
    for entity, type_, _ in per_doc:
        kinds.setdefault(entity, set()).add(type_)
    assert kinds == {d: {"document.created", "document.published"} if d in published_ids else {"document.created"}
                     for d in doc_ids}
    published = await count(urls["catalog"], count_of(Document, Document.source_system == "oa-system",
                                                      Document.status == "published"))
    assert published == COUNTS["bulk"]
    steps = await query(urls["catalog"], select(ReviewStep.document_id, ReviewStep.action, func.count())
                        .group_by(ReviewStep.document_id, ReviewStep.action))
    assert all(n == 1 for _, _, n in steps), [s for s in steps if s[2] != 1]
    actions: dict[str, set[str]] = {}
    for entity, action, _ in steps:
        actions.setdefault(entity, set()).add(action)
    assert actions == {d: {"import", "import_review"} if d in published_ids else {"import"} for d in doc_ids}

    # Replays (no faults now): the first response again, marked as a replay; nothing new is written.
    sample = ops[::4]
    async with httpx.AsyncClient(base_url=sys_.gateway, timeout=30) as client:
        replays = await asyncio.gather(*(client.post(op.url, headers=op.headers, json=op.body) for op in sample))
        for op, replay in zip(sample, replays, strict=True):
            assert replay.status_code == op.answers[0].status_code, replay.text
            assert replay.content == op.answers[0].content, op.key
            assert replay.headers.get("idempotent-replayed") == "true"

        # The same key with another body: 422 idempotency_key_reused, for each endpoint; nothing is written.
        for op in [next(o for o in ops if o.kind == kind) for kind in COUNTS]:
            other = json.loads(json.dumps(op.body))
            if op.kind == "bulk":
                other["records"] = other["records"][:1]
            else:
                other["info_title"] += "（另一份）"
            assert_problem(await client.post(op.url, headers=op.headers, json=other), 422, "idempotency_key_reused")
    assert await count(urls["request"], count_of(Application, Application.organ_code == organ)) == len(app_ids)
    assert await count(urls["catalog"], count_of(Document, Document.source_system == "oa-system")) == len(doc_ids)
    print(f"\nidempotency: {len(ops)} creates, {sum(op.sends for op in ops)} sends, faults {dict(faults)}, "
          f"{chaos_seconds:.1f} s")


async def test_a_create_without_a_key_is_not_deduplicated_but_a_bad_key_is_refused(system):
    """Control: the dedup above comes from the key (without one, two sends are two applications), and an
    over-long key is refused before anything is written."""
    sys_, urls = system
    async with httpx.AsyncClient(base_url=sys_.gateway, timeout=30) as client:
        organ = await make_organ(client)
        await wait_known_organ(urls["request"], organ)
        clerk = auth("intake_clerk", organ=organ, sub=f"clerk@{organ}")
        body = application_body(channel="in_person")
        for _ in range(2):
            assert (await client.post(f"{REQUESTS}/applications/register", headers=clerk, json=body)).status_code == 201
        assert await count(urls["request"], count_of(Application, Application.organ_code == organ)) == 2
        r = await client.post(f"{REQUESTS}/applications/register", headers={**clerk, "Idempotency-Key": "x" * 256},
                              json=application_body(channel="in_person"))
        assert problem_code(r) == "validation_error", r.text
        system_client = auth("integration", organ=organ, sub="oa-system")
        r = await client.post(f"{CATALOG}/documents/bulk", json={"records": [bulk_record("long-key")]},
                              headers={**system_client, "Idempotency-Key": "x" * 256})
        assert problem_code(r) == "validation_error", r.text
        assert await count(urls["request"], count_of(Application, Application.organ_code == organ)) == 2


def test_no_errors_were_logged(system):
    """Runs last in this module: the faults above made warnings at most — no 500, no unhandled exception."""
    assert system[0].errors_logged() == []
