"""Limits (reliability.md API4, API6): what exists elsewhere is listed here, the gaps are tested here.

Already covered: the general body limit (tests/services/test_errors.py, catalogue), the bulk route's own limit and
the 1,000-record cap (tests/catalog_service/test_sync.py), upload size (tests/catalog_service/test_attachments.py),
`limit`/`q`/`offset` of search (tests/catalog_service/test_search.py), the gateway's 413/429 on stand-in services
(tests/gateway/test_edge.py), the look-up lock (tests/request_service/test_self_service.py).

Here:
1. Every bounded query parameter of every service (from the OpenAPI documents): one past its maximum or below its
   minimum, or one character past its maximum length, is a 422 problem, and the bound itself is accepted — page
   sizes above the maximum are refused, never silently clamped, and the search query is capped.
2. The body limit on every service (413 problem, declared or streamed), each large-body route at its own limit,
   and a limit that admits every body the schema admits (a 500,000-character document body).
3. An upload over the limit is refused and leaves no file behind.
4. The gateway's per-client rate limit: 429 problem with a Retry-After that is honest (waiting that long is
   enough), anonymous callers by address, signed-in ones by subject, and a flood of bad tokens is limited too.
5. The look-up lock follows its configured threshold, for known and unknown tracking numbers alike.
"""

import asyncio
import importlib
import json
import re
import uuid
from contextlib import AsyncExitStack
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from catalog_service.config import Settings as CatalogSettings
from services.auth import mint_token
from services.policy import Policy
from services.settings import AuthSettings
from tests.catalog_service.helpers import Staff, draft, make_organ, with_etag
from tests.gateway.conftest import Env
from tests.request_service.intake_support import FakeCatalog, add_organ, submit
from tests.support import assert_problem, auth, serve

SERVICES = ("catalog", "request", "stats")
# Required parameters of some routes, so that the one under test is the only thing wrong.
REQUIRED = {"month": date.today().strftime("%Y-%m"), "year": str(date.today().year), "by": "organ",
            "method": "per_application", "quantity": "1", "start": date.today().isoformat(), "days": "5"}


def bounded_parameters() -> list[tuple[str, str, str, dict[str, Any], dict[str, Any]]]:
    """(service, method, path, parameter, schema) of every query parameter with a bound."""
    out = []
    for service in SERVICES:
        spec = importlib.import_module(f"{service}_service.app").create_app().openapi()
        for path, item in spec["paths"].items():
            for method, operation in item.items():
                for parameter in operation.get("parameters", []):
                    if parameter["in"] != "query":
                        continue
                    schema = parameter.get("schema", {})
                    options = [schema, *schema.get("anyOf", [])]
                    bounds = {k: v for o in options for k, v in o.items()
                              if k in ("maximum", "minimum", "maxLength")}
                    if bounds:
                        out.append((service, method.upper(), path, parameter, bounds))
    return out


def fill(path: str, organ: str) -> str:
    values = {"organ_code": organ, "code": organ, "year": str(date.today().year)}
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), str(uuid.uuid4())), path)


def policy_of(service: str) -> Policy:
    return importlib.import_module(f"{service}_service.policy").POLICY


@pytest.fixture
async def clients(catalog_db, request_db, stats_db, tmp_path: Path):
    from catalog_service.app import create_app as catalog_app
    from request_service.app import create_app as request_app
    from stats_service.app import create_app as stats_app

    async with serve(catalog_app(CatalogSettings(attachment_dir=str(tmp_path)), database=catalog_db)) as catalog, \
            serve(request_app(database=request_db,
                              catalog_transport=httpx.MockTransport(FakeCatalog().handler))) as requests, \
            serve(stats_app(database=stats_db)) as stats:
        yield {"catalog": catalog, "request": requests, "stats": stats}


async def test_every_bounded_query_parameter_is_enforced(clients):
    organ = "11440100MC0000001N"
    checked = 0
    for service, method, path, parameter, bounds in bounded_parameters():
        rule = policy_of(service).rule_for(method, path)
        assert rule is not None
        headers = {} if rule.roles is None else auth(sorted(rule.roles)[0], organ=organ)
        name = parameter["name"]
        url = fill(path, organ)
        base = {k: v for k, v in REQUIRED.items() if k != name}
        cases: list[tuple[Any, bool]] = []  # (value, refused)
        if "maximum" in bounds:
            cases += [(bounds["maximum"] + 1, True), (bounds["maximum"], False)]
        if "minimum" in bounds:
            cases += [(bounds["minimum"] - 1, True), (bounds["minimum"], False)]
        if "maxLength" in bounds:
            cases += [("9" * (bounds["maxLength"] + 1), True)]
        for value, refused in cases:
            r = await clients[service].request(method, url, headers=headers, params={**base, name: value})
            assert r.status_code < 500, (service, path, name, value, r.text)
            problem = r.json() if r.status_code == 422 else None
            at_parameter = bool(problem) and any(e["loc"][-1] == name for e in problem.get("errors") or [])
            if refused:
                body = assert_problem(r, 422)
                assert any(e["loc"][-1] == name for e in body["errors"]), (service, path, name, value, body)
            else:
                assert not at_parameter, (service, path, name, value, r.text)
            checked += 1
    limits = {(s, p) for s, _, p, param, b in bounded_parameters() if param["name"] == "limit"}
    assert len(limits) >= 8, limits  # every list endpoint has a bounded page size
    assert checked >= 60, checked


async def test_the_search_query_is_capped(clients):
    catalog = clients["catalog"]
    assert (await catalog.get("/api/v1/catalog/documents", params={"q": "政" * 100})).status_code == 200
    body = assert_problem(await catalog.get("/api/v1/catalog/documents", params={"q": "政" * 101}), 422)
    assert body["errors"][0]["loc"] == ["query", "q"]
    for params in ({"limit": 101}, {"limit": 10**9}, {"offset": 10_001}, {"limit": -1}):
        assert_problem(await catalog.get("/api/v1/catalog/documents", params=params), 422)


# --- 2. body limits ------------------------------------------------------------------------------------------------

async def test_every_service_refuses_a_body_over_its_limit(catalog_db, request_db, stats_db, tmp_path: Path):
    from catalog_service.app import create_app as catalog_app
    from request_service.app import create_app as request_app
    from request_service.config import Settings as RequestSettings
    from stats_service.app import create_app as stats_app
    from stats_service.config import Settings as StatsSettings

    limit = 4000
    organ = "11440100MC0000001N"
    apps = {
        "catalog": (catalog_app(CatalogSettings(attachment_dir=str(tmp_path), max_body_bytes=limit,
                                                max_bulk_body_bytes=3 * limit, max_attachment_bytes=5 * limit),
                                database=catalog_db),
                    "POST", "/api/v1/catalog/organs", auth("admin")),
        "request": (request_app(RequestSettings(max_body_bytes=limit), database=request_db),
                    "POST", "/api/v1/requests/applications", {}),
        "stats": (stats_app(StatsSettings(max_body_bytes=limit), database=stats_db),
                  "PUT", f"/api/v1/stats/annual-reports/{organ}/2025/figures", auth("stats_officer", organ=organ)),
    }
    for service, (app, method, path, headers) in apps.items():
        async with serve(app) as client:
            over = json.dumps({"name": "长" * limit}).encode()
            r = await client.request(method, path, headers={**headers, "Content-Type": "application/json"},
                                     content=over)
            assert_problem(r, 413, "payload_too_large")

            async def chunks():  # streamed, no Content-Length: counted as it arrives
                for _ in range(10):
                    yield b"x" * (limit // 4)

            assert_problem(await client.request(method, path, headers=headers, content=chunks()), 413,
                           "payload_too_large")
            at_limit = b"{" + b" " * (limit - 2) + b"}"  # exactly the limit: read, then judged by the schema
            r = await client.request(method, path, headers={**headers, "Content-Type": "application/json"},
                                     content=at_limit)
            assert r.status_code != 413, (service, r.text)
            if service == "catalog":
                # The large-body routes have their own limits; over them, 413 as well.
                staff = Staff(await make_organ(client))
                doc_id, etag = await draft(client, staff)
                r = await client.post("/api/v1/catalog/documents/bulk",
                                      headers={**auth("integration", organ=staff.organ), "Content-Type":
                                               "application/json"}, content=b" " * (3 * limit + 1))
                assert_problem(r, 413, "payload_too_large")
                r = await client.post("/api/v1/catalog/documents/bulk", headers={
                    **auth("integration", organ=staff.organ), "Content-Type": "application/json"},
                    content=json.dumps({"records": [{"external_id": "a", "title": "长" * 50}]}).encode()
                    + b" " * (2 * limit))
                assert r.status_code == 200, r.text  # above the general limit, within the bulk one
                r = await client.post(f"/api/v1/catalog/documents/{doc_id}/attachments",
                                      headers=with_etag(staff.drafter, etag),
                                      files={"file": ("a.txt", b"x" * (5 * limit), "text/plain")})
                assert r.status_code == 201, r.text  # at the file limit: more than the general body limit


async def test_the_body_limit_admits_every_document_the_schema_admits(catalog_db, tmp_path: Path):
    """DocumentCreate allows a 500,000-character body: in Chinese, ASCII-escaped JSON (as many clients send),
    that is about 3 MB — the general 1 MiB limit must not refuse what the schema accepts."""
    from catalog_service.app import create_app

    async with serve(create_app(CatalogSettings(attachment_dir=str(tmp_path)), database=catalog_db)) as client:
        staff = Staff(await make_organ(client))
        largest = {"title": "长" * 500, "summary": "概" * 5000, "body": "正" * 500_000, "genre": "notice",
                   "keywords": ["词" * 50] * 20, "attribute_reason": "理" * 2000}
        content = json.dumps(largest).encode()  # ensure_ascii: 6 bytes per character
        assert len(content) > 3_000_000
        headers = {**staff.drafter, "Content-Type": "application/json"}
        r = await client.post("/api/v1/catalog/documents", headers=headers, content=content)
        assert r.status_code == 201, r.text[:500]
        doc = r.json()
        assert len(doc["body"]) == 500_000
        r = await client.patch(f"/api/v1/catalog/documents/{doc['id']}",
                               headers={**with_etag(staff.drafter, f'"{doc["version"]}"'),
                                        "Content-Type": "application/json"},
                               content=json.dumps({"body": "改" * 500_000}).encode())
        assert r.status_code == 200, r.text[:500]
        # One character more than the schema allows is the schema's 422, not the body limit's 413.
        r = await client.post("/api/v1/catalog/documents", headers=headers,
                              content=json.dumps({**largest, "body": "正" * 500_001}).encode())
        assert_problem(r, 422)


# --- 3. uploads ----------------------------------------------------------------------------------------------------

async def test_an_upload_over_the_limit_leaves_nothing_behind(catalog_db, tmp_path: Path):
    from catalog_service.app import create_app

    storage = tmp_path / "files"
    settings = CatalogSettings(attachment_dir=str(storage), max_attachment_bytes=10_000)
    async with serve(create_app(settings, database=catalog_db)) as client:
        staff = Staff(await make_organ(client))
        doc_id, etag = await draft(client, staff)
        for size in (10_001, 10_000 + 64 * 1024 + 1, 200_000):  # over the file limit; over the route's body limit
            r = await client.post(f"/api/v1/catalog/documents/{doc_id}/attachments",
                                  headers=with_etag(staff.drafter, etag),
                                  files={"file": ("big.txt", b"x" * size, "text/plain")})
            assert_problem(r, 413)
        files = [p for p in storage.rglob("*") if p.is_file()] if storage.exists() else []
        assert files == [], files  # no blob, no half-written temporary file
        record = (await client.get(f"/api/v1/catalog/documents/{doc_id}/record", headers=staff.drafter)).json()
        assert record["attachments"] == [] and f'"{record["version"]}"' == etag


# --- 4. the gateway's rate limit ------------------------------------------------------------------------------------

@pytest.fixture
async def env() -> Any:
    async with AsyncExitStack() as stack:
        yield Env(stack)


async def test_gateway_rate_limit_answers_429_with_an_honest_retry_after(env):
    await env.start_upstreams()
    gw = await env.gateway(rate_limit_per_second=2, rate_limit_burst=3)
    path = "/api/v1/catalog/documents"
    assert [(await gw.get(path)).status_code for _ in range(3)] == [200, 200, 200]
    refused = await gw.get(path)
    assert_problem(refused, 429, "too_many_requests")
    wait = int(refused.headers["retry-after"])
    assert 1 <= wait <= 2
    assert refused.headers["x-request-id"] and len(env.upstreams["catalog"].seen) == 3
    await asyncio.sleep(wait)
    assert (await gw.get(path)).status_code == 200  # waiting as told is enough
    # Each signed-in subject has its own bucket; the address's bucket is not theirs.
    alice = {"Authorization": f"Bearer {mint_token(AuthSettings(), sub='alice', roles=[])}"}
    assert [(await gw.get(path, headers=alice)).status_code for _ in range(3)] == [200, 200, 200]
    assert_problem(await gw.get(path, headers=alice), 429, "too_many_requests")


async def test_a_flood_of_bad_tokens_is_rate_limited(env):
    await env.start_upstreams()
    gw = await env.gateway(rate_limit_per_second=1, rate_limit_burst=5)
    statuses = []
    for n in range(12):
        r = await gw.get("/api/v1/requests/applications", headers={"Authorization": f"Bearer guess-{n}"})
        statuses.append(r.status_code)
        if r.status_code == 429:
            assert_problem(r, 429, "too_many_requests")
            assert int(r.headers["retry-after"]) >= 1
    assert statuses[:5] == [401] * 5 and set(statuses[6:]) == {429}, statuses
    # The same address, now without a token, waits too: the guesses were spent from its bucket.
    assert_problem(await gw.get("/api/v1/catalog/documents"), 429, "too_many_requests")
    assert all(u.seen == [] for u in env.upstreams.values())


# --- 5. the look-up lock -----------------------------------------------------------------------------------------

async def test_the_lookup_lock_follows_its_threshold(request_db):
    from request_service.app import create_app
    from request_service.config import Settings

    settings = Settings(lookup_max_failures=3, lookup_window_seconds=120)
    async with serve(create_app(settings, database=request_db,
                                catalog_transport=httpx.MockTransport(FakeCatalog().handler))) as client:
        organ = await add_organ(request_db)
        receipt = await submit(client, organ)
        unknown = receipt["tracking_no"][:7] + "AAAAAAAA"
        for number in (receipt["tracking_no"], unknown):
            answers = []
            for code in ("WRONG001", "WRONG002", "WRONG003", receipt["query_code"]):
                r = await client.post("/api/v1/requests/track", json={"tracking_no": number, "query_code": code})
                answers.append(r.status_code)
            assert answers == [404, 404, 404, 429], (number, answers)  # the third failure locks, right code or not
            assert_problem(r, 429, "lookup_locked")
            assert 0 < int(r.headers["retry-after"]) <= 120
