"""Object-level access (BOLA, reliability.md API1): applicant A can never read, change or even detect applicant
B's application.

B holds applications in every state an applicant can reach (received, accepted, replied with letters, under
appeal; signed in, anonymous, and registered at the counter by a clerk), at two organs. A then probes every
route an applicant can reach — the look-up by tracking number + 查询码, their own list, and every route addressed
by an application, appeal or letter id — signed in, anonymously, with their own query code, and with a token that
names B's organ. Every probe is paired with a twin that asks the same of a random id (a random tracking number
for the look-up, locked in step with B's: a locked number answers 429 to everyone, so the comparison stays
fair), and the two answers must be indistinguishable: status, problem code, body (with the asked-for values
substituted) and headers. No probe may succeed: no 2xx, and nothing of B's (ids, tracking numbers, titles,
name) in any answer.
"""

import random
import string
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from request_service.domain.applications import today
from request_service.models import LookupAttempt
from request_service.policy import POLICY
from services.db import utcnow
from services.pagination import encode_cursor
from tests.request_service.helpers import act
from tests.request_service.intake_support import API, Desk, FakeCatalog, add_organ, submit
from tests.security.support import assert_indistinguishable, hits
from tests.support import assert_problem, auth, serve

A_SUB, B_SUB = "citizen-a", "citizen-b"
A = auth("applicant", sub=A_SUB, name="申请人甲")
B = auth("applicant", sub=B_SUB, name="申请人乙")
TRACKING_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
ROUNDS = 6  # look-up rounds per tracking number: 5 failures lock it, then probes of the locked number
rng = random.Random(20261124)  # deterministic probes (reliability.md: fixed seed in CI)


@pytest.fixture
async def client(request_db):
    from request_service.app import create_app

    app = create_app(database=request_db, catalog_transport=httpx.MockTransport(FakeCatalog().handler))
    async with serve(app) as c:
        yield c


def random_tracking_no(like: str) -> str:
    return like[:7] + "".join(rng.choice(TRACKING_ALPHABET) for _ in range(8))


def random_code(n: int = 8) -> str:
    return "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(n))


def near_miss(code: str) -> str:
    """The code with one character changed: the closest a guess can get without being right."""
    i = rng.randrange(len(code))
    return code[:i] + ("A" if code[i] != "A" else "B") + code[i + 1:]


class World:
    def __init__(self) -> None:
        self.a: list[dict[str, Any]] = []  # A's receipts (tracking_no, query_code, id)
        self.b: list[dict[str, Any]] = []  # B's applications: id, tracking_no, query_code, organ, etag
        self.b_letters: list[tuple[str, str]] = []  # (application id, letter id)
        self.b_appeals: list[str] = []
        self.secrets: set[str] = set()  # anything of B's that must never show up in an answer to A


async def build_world(client: httpx.AsyncClient, request_db) -> World:
    w = World()
    x, y = await add_organ(request_db, name="测试市财政局"), await add_organ(request_db, name="测试市教育局")
    desks = {x: Desk(x), y: Desk(y)}
    w.a.append(await submit(client, x, headers=A, info_title="甲的申请：道路修缮计划"))
    w.a.append(await submit(client, y, headers=A, info_title="甲的申请：学校招生简章"))
    w.a.append(await submit(client, x, info_title="甲的匿名申请"))  # A, not signed in

    async def b_application(organ: str, *, signed_in: bool = True, state: str = "received") -> None:
        marker = uuid.uuid4().hex[:10]
        title = f"乙的申请{marker}"
        name = f"申请人乙{marker[:4]}"
        applicant = {"type": "natural_person", "name": name, "phone": f"139{rng.randrange(10**8):08d}",
                     "address": f"北京市乙区{marker}号"}
        receipt = await submit(client, organ, headers=B if signed_in else None, info_title=title,
                               applicant=applicant)
        desk, app_id = desks[organ], receipt["id"]
        if state in ("accepted", "replied", "appealed"):
            await act(client, desk.clerk, app_id, "confirm", {"on": today().isoformat(), "method": "电话确认"})
        if state in ("replied", "appealed"):
            await act(client, desk.handler, app_id, "draft-reply", {"outcome": "granted", "comment": "予以公开"})
            await act(client, desk.approver, app_id, "approve-reply", {"comment": "同意"})
            letters = (await client.get(f"{API}/applications/{app_id}/letters",
                                        headers=desk.handler)).json()["items"]
            assert letters, "a replied application has its reply letter"
            w.b_letters += [(app_id, letter["id"]) for letter in letters]
            w.secrets.update(letter["id"] for letter in letters)
        if state == "appealed":
            r = await client.post(f"{API}/applications/{app_id}/appeals", headers=desk.handler,
                                  json={"kind": "reconsideration", "filed_on": today().isoformat()})
            assert r.status_code == 201, r.text
            w.b_appeals.append(r.json()["id"])
            w.secrets.add(r.json()["id"])
        etag = (await client.get(f"{API}/applications/{app_id}", headers=desk.clerk)).headers["etag"]
        w.b.append({**receipt, "organ": organ, "etag": etag})
        w.secrets.update({app_id, receipt["tracking_no"], title, name, marker})

    for organ in (x, y):
        for state in ("received", "accepted", "replied", "appealed"):
            await b_application(organ, state=state)
        await b_application(organ, signed_in=False)  # B applied without signing in
    # Registered at the counter by X's clerk from B's letter: no applicant_sub, B's details only.
    marker = uuid.uuid4().hex[:10]
    r = await client.post(f"{API}/applications/register", headers=desks[x].clerk, json={
        "applicant": {"type": "natural_person", "name": f"申请人乙{marker[:4]}", "address": f"北京市乙区{marker}号"},
        "info_title": f"乙的申请{marker}", "channel": "in_person"})
    assert r.status_code == 201, r.text
    receipt = r.json()
    w.b.append({**receipt, "organ": x, "etag": r.headers["etag"]})
    w.secrets.update({receipt["id"], receipt["tracking_no"], f"乙的申请{marker}", marker})
    # The register receipt carries a query code too (the clerk hands it over): B's, not A's.
    assert len(w.b) >= 11 and len(w.b_letters) >= 4 and len(w.b_appeals) >= 2
    return w


# --- every route addressed by an application, appeal or letter id -------------------------------------------------

def action_body(path: str) -> dict[str, Any]:
    """A body that would be accepted for the route's action if the caller were allowed to act at all."""
    day = today().isoformat()
    bodies = {
        "confirm": {"on": day, "method": "电话确认"}, "assign": {"handler_sub": A_SUB},
        "request-supplement": {"items": ["补充身份证明"]}, "receive-supplement": {}, "close-unsupplemented": {},
        "consult": {"party_kind": "third_party", "party_name": "第三方公司"},
        "record-opinion": {"consultation_id": str(uuid.uuid4()), "opinion": "agree"}, "extend": {
            "days": 10, "comment": "情况复杂"}, "defer": {"due_on": day, "comment": "延期"},
        "notify-fee": {"fee_method": "per_application"}, "record-payment": {"amount": "100.00"},
        "waive-fee": {"comment": "减免"}, "close-unpaid": {}, "draft-reply": {"outcome": "granted"},
        "return-reply": {"comment": "请修改"}, "approve-reply": {"comment": "同意"},
        "appeals": {"kind": "reconsideration", "filed_on": day},
    }
    last = path.rsplit("/", 1)[-1]
    if "/appeals/" in path:
        return {"outcome": "upheld", "decided_on": day}
    return bodies.get(last, {})


def addressed_routes() -> list[tuple[str, str]]:
    """(method, path template) of every route of the request service addressed by an id."""
    routes = []
    for key in sorted(POLICY.table):
        method, path = key.split(" ", 1)
        if any(p in path for p in ("{application_id}", "{appeal_id}", "{letter_id}")):
            routes.append((method, path))
    return routes


def principals(w: World, organ: str) -> dict[str, tuple[dict[str, str], dict[str, str]]]:
    """name → (headers, query params): how A (or anyone, anonymously) may knock."""
    mine = w.a[0]
    code = {"tracking_no": mine["tracking_no"], "query_code": mine["query_code"]}
    return {
        "A": (A, {}),
        "anonymous": ({}, {}),
        "A+own_query_code": (A, code),
        "anonymous+own_query_code": ({"X-Query-Code": mine["query_code"]}, code),
        "A_naming_B's_organ": (auth("applicant", sub=A_SUB, organ=organ), {}),
    }


async def probe(client: httpx.AsyncClient, method: str, template: str, ids: dict[str, str],
                headers: dict[str, str], params: dict[str, str], etag: str) -> httpx.Response:
    path = template
    for name, value in ids.items():
        path = path.replace(f"{{{name}}}", value)
    if "{" in path:
        raise AssertionError(f"unfilled path {path}")
    params = {**params, **({"method": "per_application"} if path.endswith("/fee-preview") else {})}
    if method == "GET":
        return await client.get(path, headers=headers, params=params)
    return await client.request(method, path, headers={**headers, "If-Match": etag}, params=params,
                                json=action_body(template))


def no_success(response: httpx.Response, w: World, echoed: list[str], context: Any) -> None:
    assert response.status_code >= 400, (context, response.status_code, response.text)
    assert not hits(response, w.secrets, echoed=echoed), (context, response.text)


async def test_applicant_a_can_never_reach_or_detect_b(client, request_db):
    w = await build_world(client, request_db)
    probes = 0

    # 1. Every id-addressed route, with B's ids and with random ids, as A in every guise.
    for method, template in addressed_routes():
        for app in w.b:
            targets: list[tuple[dict[str, str], dict[str, str]]] = []  # (B's ids, twin's random ids)
            if "{appeal_id}" in template:
                targets = [({"appeal_id": a}, {"appeal_id": str(uuid.uuid4())}) for a in w.b_appeals
                           if app is w.b[0]]
            elif "{letter_id}" in template:
                mine = [lid for aid, lid in w.b_letters if aid == app["id"]] or [str(uuid.uuid4())]
                targets = [({"application_id": app["id"], "letter_id": lid},
                            {"application_id": str(uuid.uuid4()), "letter_id": str(uuid.uuid4())}) for lid in mine]
            else:
                targets = [({"application_id": app["id"]}, {"application_id": str(uuid.uuid4())})]
            for real_ids, twin_ids in targets:
                for name, (headers, params) in principals(w, app["organ"]).items():
                    real = await probe(client, method, template, real_ids, headers, params, app["etag"])
                    twin = await probe(client, method, template, twin_ids, headers, params, app["etag"])
                    context = (method, template, name)
                    no_success(real, w, list(real_ids.values()), context)
                    assert_indistinguishable(real, twin, {v: f"<{k}>" for k, v in real_ids.items()},
                                             {v: f"<{k}>" for k, v in twin_ids.items()}, context)
                    probes += 1

    # 2. The applicant's own list: whatever A sends, only A's applications — a cursor forged from B's record
    # lists the same as one forged from a random id at the same moment.
    a_ids = {a["id"] for a in w.a[:2]}  # A's signed-in applications (the anonymous one is nobody's)
    for app in w.b:
        at = (utcnow() + timedelta(seconds=1)).isoformat()
        for extra in ({}, {"applicant_sub": B_SUB}, {"sub": B_SUB, "organ_code": app["organ"]},
                      {"id": app["id"], "tracking_no": app["tracking_no"]}, {"limit": "100"}):
            for headers in (A, {}):
                real = await client.get(f"{API}/applications/mine", headers=headers,
                                        params={**extra, "after": encode_cursor([at, app["id"]])})
                twin = await client.get(f"{API}/applications/mine", headers=headers,
                                        params={**extra, "after": encode_cursor([at, str(uuid.uuid4())])})
                echoed = [str(v) for v in extra.values()]
                if headers:
                    assert real.status_code == 200, real.text
                    assert {i["id"] for i in real.json()["items"]} == a_ids
                    assert not hits(real, w.secrets, echoed=echoed)
                else:
                    no_success(real, w, echoed, "mine anonymous")
                assert_indistinguishable(real, twin, {}, {}, ("mine", extra, bool(headers)))
                probes += 1

    # 3. The look-up by tracking number + 查询码. Each of B's numbers has a random twin that gets the very same
    # sequence of guesses, so both lock (429) at the same moment; after each round both locks are expired.
    a_code = w.a[0]["query_code"]
    twins = {app["tracking_no"]: random_tracking_no(app["tracking_no"]) for app in w.b}
    for round_no in range(ROUNDS):
        for app in w.b:
            number, twin_number = app["tracking_no"], twins[app["tracking_no"]]
            guesses = [(random_code(), {}), (a_code, {}), (near_miss(app["query_code"]), {}),
                       (random_code(12), A), (a_code, A), (near_miss(app["query_code"]), A),
                       (random_code(), {}), (a_code, A)]
            for i, (code, headers) in enumerate(guesses):
                # Tracking numbers are folded (case, spaces): the loosely typed form is the same number.
                loose = (lambda n: n.lower()) if (i + round_no) % 3 == 0 else (lambda n: n)
                real = await client.post(f"{API}/track", headers=headers,
                                         json={"tracking_no": loose(number), "query_code": code})
                twin = await client.post(f"{API}/track", headers=headers,
                                         json={"tracking_no": loose(twin_number), "query_code": code})
                context = ("track", round_no, i)
                no_success(real, w, [number, number.lower()], context)
                assert real.status_code == (404 if i < 5 else 429), (context, real.text)
                assert_indistinguishable(real, twin, {}, {}, context)
                probes += 1
        # A's own look-up is unaffected by the locks on B's numbers (and proves a look-up can succeed).
        own = await client.post(f"{API}/track", headers=A,
                                json={"tracking_no": w.a[0]["tracking_no"], "query_code": a_code})
        assert own.status_code == 200 and own.json()["id"] == w.a[0]["id"], own.text
        assert not hits(own, w.secrets)
        async with request_db.transaction() as session:  # the lock window passes, for B's numbers and the twins
            await session.execute(update(LookupAttempt).where(
                LookupAttempt.tracking_no.in_([*twins, *twins.values()])).values(
                locked_until=utcnow() - timedelta(seconds=1), window_started_at=utcnow() - timedelta(hours=1)))

    # 4. Work-lists and feeds that list many applications: closed to A whatever A sends.
    for key in sorted(POLICY.table):
        method, path = key.split(" ", 1)
        if method != "GET" or "{" in path or path.endswith("/mine") or POLICY.table[key].roles is None:
            continue
        for name, (headers, params) in principals(w, w.b[0]["organ"]).items():
            r = await client.get(path, headers=headers, params={**params, "organ_code": w.b[0]["organ"],
                                                                  "month": today().strftime("%Y-%m"),
                                                                  "year": str(today().year)})
            no_success(r, w, [], (path, name))
            assert_problem(r, 401 if not headers.get("Authorization") else 403)
            probes += 1

    # Nothing of B's changed: every application is at the version it had before the probes.
    for app in w.b:
        clerk = auth("intake_clerk", organ=app["organ"], sub="clerk-check")
        r = await client.get(f"{API}/applications/{app['id']}", headers=clerk)
        assert r.headers["etag"] == app["etag"], (app["id"], r.headers["etag"], app["etag"])
    # B, for contrast, reaches every one of their applications with the real code once the lock has passed.
    for app in w.b:
        mine = await client.post(f"{API}/track", json={"tracking_no": app["tracking_no"],
                                                       "query_code": app["query_code"]})
        assert mine.status_code == 200 and mine.json()["id"] == app["id"], mine.text
    b_list = (await client.get(f"{API}/applications/mine", headers=B, params={"limit": 100})).json()["items"]
    assert {i["id"] for i in b_list} == {a["id"] for a in w.b[:4] + w.b[5:9]}  # signed in when applying
    print(f"BOLA: {probes} probes of B's applications by A, each with a random twin; 0 successes")
    assert probes >= 2000, probes
