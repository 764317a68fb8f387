"""Racing workflow transitions through real servers on the real database (reliability.md §2.3, issue 6).

Rounds of racers send the same transition on the same record with the same If-Match, all at once, through the
gateway: exactly one wins per version, every other racer gets 412, and the record's version, its review or
handling log and its outbox events show exactly one step per round — the winner's (each racer's comment or handler
is its own, so the log says who won). Without If-Match every change is a 428. Concurrent PATCHes of one draft or
one organ with the same If-Match lose no update: one is applied whole, the others are 412.

These races pass on the row lock (documents and applications are loaded FOR UPDATE) and on SQLite's single writer
as much as on the compare-and-set of the version; test_compare_and_set.py (catalog_service, request_service) holds
two writers that both read the same version, so that only the compare-and-set can refuse one."""

import asyncio
import time

import httpx
import pytest
from sqlalchemy import select

from catalog_service.models import Document, Organ
from catalog_service.models import outbox as catalog_outbox
from request_service.models import outbox as request_outbox
from tests.catalog_service.helpers import Staff
from tests.faults.support import (
    ADMIN,
    CATALOG,
    REQUESTS,
    make_organ,
    query,
    wait_known_organ,
)
from tests.harness import System, drop_database, new_databases
from tests.request_service.intake_support import application_body
from tests.support import assert_problem, auth

pytestmark = pytest.mark.slow

CATALOG_ROUNDS, REQUEST_ROUNDS, RACERS = 10, 4, 50  # 500 racers on one document, 200 on one application
EDITORS = 20


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("concurrency")
    urls = new_databases(tmp, services=("catalog", "request"))
    system = System(tmp, urls, names=("catalog", "request", "gateway"))
    try:
        with system:
            yield system, urls
    finally:
        for url in urls.values():
            drop_database(url)


@pytest.fixture
async def client(system):
    sys_, _ = system
    # One connection per racer, opened before the race: the racers leave together instead of queueing on connects.
    async with httpx.AsyncClient(base_url=sys_.gateway, timeout=60,
                                 limits=httpx.Limits(max_connections=RACERS, max_keepalive_connections=RACERS)
                                 ) as client:
        await asyncio.gather(*(client.get("/healthz") for _ in range(RACERS)))
        yield client


async def race(client: httpx.AsyncClient, requests: list[tuple[str, str, dict, dict]]) -> list[httpx.Response]:
    """Send every (method, url, headers, json) at once; all start only when every racer is ready."""
    gate = asyncio.Event()

    async def one(method: str, url: str, headers: dict, body: dict) -> httpx.Response:
        await gate.wait()
        return await client.request(method, url, headers=headers, json=body)

    tasks = [asyncio.create_task(one(*r)) for r in requests]
    await asyncio.sleep(0)
    gate.set()
    return list(await asyncio.gather(*tasks))


def one_winner(responses: list[httpx.Response]) -> int:
    """Index of the single 200; every other answer must be 412 problem+json."""
    winners = [i for i, r in enumerate(responses) if r.status_code == 200]
    assert len(winners) == 1, [(r.status_code, r.text[:200]) for r in responses if r.status_code != 412]
    for i, r in enumerate(responses):
        if i != winners[0]:
            assert_problem(r, 412, "precondition_failed")
    return winners[0]


async def test_racing_review_transitions_on_one_document(system, client):
    sys_, urls = system
    organ = await make_organ(client)
    staff = Staff(organ)
    r = await client.post(f"{CATALOG}/documents", headers=staff.drafter, json={
        "title": "关于并发审核的通知", "body": "正文。", "genre": "notice", "proposed_attribute": "proactive"})
    assert r.status_code == 201, r.text
    doc_id, tag = r.json()["id"], r.headers["etag"]
    started = time.monotonic()
    winners: list[tuple[str, str]] = []
    for n in range(CATALOG_ROUNDS):
        action, who = ("submit", staff.drafter) if n % 2 == 0 else ("return", staff.division_head)
        racers = [("POST", f"{CATALOG}/documents/{doc_id}/{action}", {**who, "If-Match": tag},
                   {"comment": f"第{n}轮第{i}号"}) for i in range(RACERS)]
        responses = await race(client, racers)
        won = one_winner(responses)
        assert responses[won].headers["etag"] == f'"{n + 2}"'
        assert responses[won].json()["version"] == n + 2
        tag = responses[won].headers["etag"]
        winners.append((action, f"第{n}轮第{won}号"))
    race_seconds = time.monotonic() - started

    doc = (await client.get(f"{CATALOG}/documents/{doc_id}/record", headers=staff.drafter)).json()
    assert doc["version"] == CATALOG_ROUNDS + 1 and doc["status"] == "draft"
    log = (await client.get(f"{CATALOG}/documents/{doc_id}/review-log", headers=staff.drafter)).json()["items"]
    assert [(s["action"], s["comment"]) for s in log if s["action"] in ("submit", "return")] == winners
    events = catalog_outbox.events
    versions = [v for (v,) in await query(urls["catalog"], select(events.c.version).where(
        events.c.entity_id == doc_id).order_by(events.c.id))]
    assert versions == list(range(1, CATALOG_ROUNDS + 2))  # created, then one event per won round
    [(stored_version,)] = await query(urls["catalog"], select(Document.version).where(Document.id == doc_id))
    assert stored_version == CATALOG_ROUNDS + 1
    print(f"\n{CATALOG_ROUNDS * RACERS} racing transitions on one document: {race_seconds:.1f} s")

    # No If-Match: 428 for a transition and for an edit, and nothing changes.
    assert_problem(await client.post(f"{CATALOG}/documents/{doc_id}/submit", headers=staff.drafter, json={}), 428,
                   "precondition_required")
    assert_problem(await client.patch(f"{CATALOG}/documents/{doc_id}", headers=staff.drafter,
                                      json={"title": "无条件修改"}), 428, "precondition_required")
    # A stale If-Match is a 412 even when nobody races it.
    assert_problem(await client.post(f"{CATALOG}/documents/{doc_id}/submit", headers={**staff.drafter,
                                     "If-Match": '"1"'}, json={}), 412, "precondition_failed")
    after = (await client.get(f"{CATALOG}/documents/{doc_id}/record", headers=staff.drafter)).json()
    assert (after["version"], after["status"], after["title"]) == (CATALOG_ROUNDS + 1, "draft", "关于并发审核的通知")


async def test_racing_handling_transitions_on_one_application(system, client):
    sys_, urls = system
    organ = await make_organ(client)
    await wait_known_organ(urls["request"], organ)
    clerk = auth("intake_clerk", organ=organ, sub=f"clerk@{organ}", name="受理员")
    r = await client.post(f"{REQUESTS}/applications/register", headers=clerk,
                          json=application_body(channel="in_person"))
    assert r.status_code == 201, r.text
    app_id = r.json()["id"]
    tag = (await client.get(f"{REQUESTS}/applications/{app_id}", headers=clerk)).headers["etag"]
    start_version = int(tag.strip('"'))
    assigned = []
    for n in range(REQUEST_ROUNDS):
        racers = [("POST", f"{REQUESTS}/applications/{app_id}/assign", {**clerk, "If-Match": tag},
                   {"handler_sub": f"handler-{n}-{i}", "comment": f"分办{n}-{i}"}) for i in range(RACERS)]
        responses = await race(client, racers)
        won = one_winner(responses)
        tag = responses[won].headers["etag"]
        assert tag == f'"{start_version + n + 1}"'
        assert responses[won].json()["handler_sub"] == f"handler-{n}-{won}"
        assigned.append(f"分办{n}-{won}")

    app = await client.get(f"{REQUESTS}/applications/{app_id}", headers=clerk)
    assert app.json()["handler_sub"] == racers[won][3]["handler_sub"]
    assert app.headers["etag"] == f'"{start_version + REQUEST_ROUNDS}"'
    history = (await client.get(f"{REQUESTS}/applications/{app_id}/history", headers=clerk)).json()["items"]
    assert [s["comment"] for s in history if s["action"] == "assign"] == assigned
    events = request_outbox.events
    assign_versions = [v for (v,) in await query(urls["request"], select(events.c.version).where(
        events.c.entity_id == app_id, events.c.type == "application.assign").order_by(events.c.id))]
    assert assign_versions == [start_version + n + 1 for n in range(REQUEST_ROUNDS)]

    assert_problem(await client.post(f"{REQUESTS}/applications/{app_id}/assign", headers=clerk,
                                     json={"handler_sub": "no-if-match"}), 428, "precondition_required")
    assert (await client.get(f"{REQUESTS}/applications/{app_id}", headers=clerk)).headers["etag"] == tag


async def test_concurrent_edits_lose_no_update(system, client):
    sys_, urls = system
    organ = await make_organ(client)
    staff = Staff(organ)
    r = await client.post(f"{CATALOG}/documents", headers=staff.drafter, json={
        "title": "原标题", "summary": "原概述", "body": "正文。", "genre": "notice"})
    doc_id, tag = r.json()["id"], r.headers["etag"]

    # Each editor changes two fields; a lost update would mix them or keep a loser's.
    edits = [("PATCH", f"{CATALOG}/documents/{doc_id}", {**staff.drafter, "If-Match": tag},
              {"title": f"编辑{i}的标题", "summary": f"编辑{i}的概述"}) for i in range(EDITORS)]
    won = one_winner(await race(client, edits))
    doc = (await client.get(f"{CATALOG}/documents/{doc_id}/record", headers=staff.drafter)).json()
    assert (doc["title"], doc["summary"], doc["version"]) == (f"编辑{won}的标题", f"编辑{won}的概述", 2)
    [(title, version)] = await query(urls["catalog"], select(Document.title, Document.version)
                                     .where(Document.id == doc_id))
    assert (title, version) == (f"编辑{won}的标题", 2)

    # The organ directory entry: same rule, and one organ.updated event for the one applied change.
    organ_tag = (await client.get(f"{CATALOG}/organs/{organ}")).headers["etag"]
    renames = [("PATCH", f"{CATALOG}/organs/{organ}", {**ADMIN, "If-Match": organ_tag},
                {"name": f"改名{i}局", "short_name": f"改{i}"}) for i in range(EDITORS)]
    won = one_winner(await race(client, renames))
    [(name, short, version, organ_id)] = await query(urls["catalog"], select(
        Organ.name, Organ.short_name, Organ.version, Organ.id).where(Organ.code == organ))
    assert (name, short, version) == (f"改名{won}局", f"改{won}", 2)
    events = catalog_outbox.events
    updated = await query(urls["catalog"], select(events.c.version).where(
        events.c.entity_id == organ_id, events.c.type == "organ.updated"))
    assert [v for (v,) in updated] == [2]
    assert_problem(await client.patch(f"{CATALOG}/organs/{organ}", headers=ADMIN, json={"name": "无条件改名"}), 428,
                   "precondition_required")


def test_no_errors_were_logged(system):
    """Runs last in this module: the faults above made warnings at most — no 500, no unhandled exception."""
    assert system[0].errors_logged() == []
