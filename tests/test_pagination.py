"""One pagination contract for every list of the three services (分页约定; issue 14 item 3).

Every GET route of the OpenAPI surface whose answer is a list is found from the document itself (a bare array or an
object with `items`), so a new list route cannot escape. Each must:
- answer the envelope `{items, next_cursor, has_more, total}` (no bare arrays), declare `after` and `limit`;
- page with `after` = the previous `next_cursor`, with an RFC 8288 `Link: <…>; rel="next"` header exactly while
  `has_more`, and reach the end in finitely many pages with no item twice (crawled at `limit=1` over a small world
  of several items per list);
- refuse a foreign paging parameter (`cursor`, `offset`, `page` …) with a 422 `unknown_paging_parameter` instead of
  ignoring it (a "load more" button sending `cursor` looped on page 1).
"""

import json
import re
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from request_service.domain.letters import issue_letter
from request_service.models import Application
from tests.catalog_service.helpers import Staff, make_organ, publish
from tests.catalog_service.helpers import draft as draft_document
from tests.request_service.helpers import Desk, act, insert_application, organ_code
from tests.stats_service.helpers import Apps, Feed, drain, organ
from tests.support import auth

ENVELOPE = {"items", "next_cursor", "has_more", "total"}
# Dashboards are chart data: one aggregate whose `items` are its buckets (every organ of a subtree, every channel),
# always whole — a chart cannot be drawn from page 1 — so they are not lists of records and take no paging.
AGGREGATES = re.compile(r"^/api/v1/stats/dashboards/")
FEEDS = {"/api/v1/catalog/changes", "/internal/v1/events", "/internal/v1/audit"}  # never end: next_cursor always set


def list_routes(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """GET operations whose JSON answer is a list: a bare array, or an object with `items`."""
    schemas = spec.get("components", {}).get("schemas", {})
    found = {}
    for path, item in spec["paths"].items():
        op = item.get("get")
        if not op:
            continue
        schema = op["responses"].get("200", {}).get("content", {}).get("application/json", {}).get("schema")
        if not schema:
            continue
        if "$ref" in schema:
            schema = schemas[schema["$ref"].rsplit("/", 1)[-1]]
        if (schema.get("type") == "array" or "items" in schema.get("properties", {})) and not AGGREGATES.match(path):
            found[path] = {"op": op, "schema": schema}
    return found


def check_declared(spec: dict[str, Any]) -> dict[str, set[str]]:
    """Each list route's query parameters, after checking the envelope and `after`/`limit` are declared."""
    routes = list_routes(spec)
    declared = {}
    for path, route in routes.items():
        schema = route["schema"]
        assert schema.get("type") != "array", f"{path} answers a bare array, not the envelope"
        assert ENVELOPE <= set(schema["properties"]), (path, sorted(schema["properties"]))
        names = {p["name"] for p in route["op"].get("parameters", []) if p["in"] == "query"}
        assert {"after", "limit"} <= names and "cursor" not in names, (path, names)
        declared[path] = names
    return declared


async def crawl(client, path: str, headers: dict[str, str], params: dict[str, Any] | None = None,
                *, expect_pages: int = 2, declared: set[str] = frozenset()) -> list[Any]:
    """Follow `next_cursor` at limit=1 to the end: envelope, Link header, no duplicates, termination."""
    feed = any(path.endswith(f) or path == f for f in FEEDS)
    seen: list[str] = []
    after: str | None = None
    pages = 0
    while True:
        query = {**(params or {}), "limit": 1, **({"after": after} if after else {})}
        r = await client.get(path, headers=headers, params=query)
        assert r.status_code == 200, (path, query, r.text)
        body = r.json()
        assert ENVELOPE <= set(body), (path, sorted(body))
        assert len(body["items"]) <= 1 and isinstance(body["has_more"], bool), (path, body)
        assert body["total"] is None or isinstance(body["total"], int), (path, body)
        link = r.headers.get("link")
        if body["has_more"]:
            assert body["next_cursor"], (path, body)
            match = re.fullmatch(r'<([^>]+)>; rel="next"', link or "")
            assert match, (path, link)
            assert f"after={body['next_cursor']}" in match.group(1).replace("%3D", "="), (path, link)
        else:
            assert link is None, (path, link)
            assert (body["next_cursor"] is not None) if feed else (body["next_cursor"] is None), (path, body)
        seen += [json.dumps(item, sort_keys=True) for item in body["items"]]
        pages += 1
        assert pages <= 200, f"{path} did not reach its end"
        if not body["has_more"]:
            break
        after = body["next_cursor"]
    assert len(seen) == len(set(seen)), f"{path}: an item came twice"
    assert pages >= expect_pages, f"{path}: only {pages} page(s) at limit=1; the world should fill {expect_pages}"
    if not feed and seen and pages == len(seen) + 0 and body["total"] is not None:
        assert body["total"] == len(seen), (path, body["total"], len(seen))
    # A foreign paging name is refused, never ignored (both spellings a front-end might try).
    for name, value in (("cursor", after or "x"), ("offset", "1"), ("page", "2")):
        if name in declared:  # documented by this list (the search's numbered pages take `offset`)
            continue
        r = await client.get(path, headers=headers, params={**(params or {}), name: value})
        assert r.status_code == 422 and r.json()["code"] == "unknown_paging_parameter", (path, name, r.text)
    return [json.loads(s) for s in seen]


async def forged_cursor_and_large_limit(client) -> None:
    r = await client.get("/internal/v1/events", headers=auth("service"), params={"after": "not-a-cursor"})
    assert r.status_code == 422, r.text
    r = await client.get("/internal/v1/audit", headers=auth("auditor"), params={"limit": 100_000})
    assert r.status_code == 422 and r.json()["code"] == "validation_error", r.text


# --------------------------------------------------------------------------------------------------- catalogue


async def test_every_catalogue_list_follows_the_contract(catalog, catalog_db):
    spec = (await catalog.get("/openapi.json")).json()
    routes = check_declared(spec)
    parent = await make_organ(catalog, "分页测试市人民政府", kind="peoples_government")
    for i in range(2):
        await make_organ(catalog, f"分页测试局{i}", parent=parent)
    staff = Staff(parent)
    # Two flagged major policies (重大政策): due a 解读, on the 解读 work-list (issue 16).
    # The same two end their 有效期 within a month: on the validity-review work-list; all three are in force today.
    soon = (datetime.now(ZoneInfo("Asia/Shanghai")).date() + timedelta(days=30)).isoformat()
    doc_ids = [await publish(catalog, staff, title=f"关于分页测试的通知{i}", major_policy=i < 2,
                             **({"valid_until": soon} if i < 2 else {})) for i in range(3)]
    await draft_document(catalog, staff)
    admin = auth("admin")
    for name in ("工作动态", "通知公告", "政策文件"):  # 公开目录栏目 (issue 16)
        r = await catalog.post("/api/v1/catalog/columns", headers=admin,
                               json={"organ_code": parent, "name": name, "rule": "when_changed"})
        assert r.status_code == 201, r.text
    # 基层政务公开标准目录 (issue 16 item 4): two catalogues, the organ adopts both.
    from tests.catalog_service.test_standard_catalogue import catalogue

    for code in ("page-a", "page-b"):
        r = await catalog.post("/api/v1/catalog/standard-catalogues", headers=admin, json=catalogue(code))
        assert r.status_code == 201, r.text
        r = await catalog.post("/api/v1/catalog/standard-adoptions", headers=admin,
                               json={"organ_code": parent, "catalogue_id": r.json()["id"]})
        assert r.status_code == 201, r.text
    for term in ("分页", "游标"):
        r = await catalog.post("/api/v1/catalog/search/synonyms", headers=admin,
                               json={"words": [term, f"{term}同义{uuid.uuid4().hex[:4]}"]})
        assert r.status_code == 201, r.text

    # Two webhook subscriptions of one integration client (written directly: registering one resolves its host).
    from catalog_service.models import Organ, WebhookSubscription

    owner = f"pager-{uuid.uuid4().hex[:6]}"
    integration = auth("integration", organ=parent, sub=owner)
    async with catalog_db.transaction() as session:
        organ_id = (await session.execute(select(Organ.id).where(Organ.code == parent))).scalar_one()
        subs = [WebhookSubscription(owner=owner, organ_id=organ_id,
                                    url=f"https://hooks.example.org/{i}", event_types=["document.published"],
                                    secret="whsec_" + "A" * 32) for i in range(2)]
        session.add_all(subs)
        await session.flush()
        sub_id = subs[0].id

    cases: dict[str, tuple[str, dict[str, str], dict[str, Any], int]] = {
        "/api/v1/catalog/changes": ("/api/v1/catalog/changes", {}, {}, 3),
        "/api/v1/catalog/export": ("/api/v1/catalog/export", {}, {"profile": "jiyuehua", "organ": parent}, 3),
        "/api/v1/catalog/webhooks/subscriptions": ("/api/v1/catalog/webhooks/subscriptions", integration, {}, 2),
        "/api/v1/catalog/webhooks/subscriptions/{subscription_id}/deliveries": (
            f"/api/v1/catalog/webhooks/subscriptions/{sub_id}/deliveries", integration, {}, 1),
        "/api/v1/catalog/documents": ("/api/v1/catalog/documents", {}, {"organ": parent}, 3),
        "/api/v1/catalog/documents/{document_id}/review-log": (
            f"/api/v1/catalog/documents/{doc_ids[0]}/review-log", staff.drafter, {}, 3),
        "/api/v1/catalog/organs": ("/api/v1/catalog/organs", {}, {"under": parent}, 3),
        "/api/v1/catalog/columns": ("/api/v1/catalog/columns", {}, {"organ": parent}, 3),
        "/api/v1/catalog/worklists/interpretation": ("/api/v1/catalog/worklists/interpretation", staff.drafter, {},
                                                     2),
        "/api/v1/catalog/worklists/validity-review": ("/api/v1/catalog/worklists/validity-review", staff.drafter,
                                                      {}, 2),
        "/api/v1/catalog/registers/in-force": ("/api/v1/catalog/registers/in-force", staff.drafter, {}, 3),
        "/api/v1/catalog/search/synonyms": ("/api/v1/catalog/search/synonyms", admin, {}, 2),
        "/api/v1/catalog/standard-catalogues": ("/api/v1/catalog/standard-catalogues", {}, {}, 2),
        "/api/v1/catalog/standard-adoptions": ("/api/v1/catalog/standard-adoptions", {}, {"organ": parent}, 2),
        "/api/v1/catalog/worklists/publication": ("/api/v1/catalog/worklists/publication", staff.drafter, {}, 1),
        "/api/v1/catalog/worklists/reevaluation": ("/api/v1/catalog/worklists/reevaluation", staff.drafter, {}, 1),
        "/internal/v1/audit": ("/internal/v1/audit", auth("auditor"), {}, 3),
        "/internal/v1/events": ("/internal/v1/events", auth("service"), {}, 3),
    }
    assert set(routes) == set(cases), f"list routes without a crawl case: {set(routes) ^ set(cases)}"
    for route, (path, headers, params, pages) in cases.items():
        await crawl(catalog, path, headers, params, expect_pages=pages, declared=routes[route])
    await forged_cursor_and_large_limit(catalog)


# --------------------------------------------------------------------------------------------------- requests


async def test_every_request_list_follows_the_contract(requests_client, request_db):
    client = requests_client
    spec = (await client.get("/openapi.json")).json()
    routes = check_declared(spec)
    desk = Desk(organ_code())
    apps = [await insert_application(request_db, desk.organ, submitted=date(2026, 3, d)) for d in (2, 3, 4)]
    await act(client, desk.clerk, apps[0], "confirm", {"on": "2026-03-02", "method": "电话确认"})
    replied = str(uuid.uuid4())
    async with request_db.transaction() as session:
        session.add(Application(
            id=replied, tracking_no=f"T{uuid.uuid4().hex[:12]}", query_code_hash="x", organ_code=desk.organ,
            channel="online", submitted_at=datetime(2026, 2, 9, 2, tzinfo=UTC), receipt_date=date(2026, 2, 10),
            applicant_type="natural_person", applicant_name="张三", applicant_key=uuid.uuid4().hex,
            info_title="申请公开某项目的环评报告", status="replied", outcome="withheld.process_information",
            closed_on=date(2026, 3, 16), due_on=date(2026, 3, 16)))
    async with request_db.transaction() as session:
        app = await session.get(Application, replied)
        for kind in ("receipt", "receipt"):
            await issue_letter(session, app, kind, "handler-1", None)
    for filed_on, kind in (("2026-04-01", "reconsideration"), ("2026-05-01", "litigation_direct")):
        r = await client.post(f"/api/v1/requests/applications/{replied}/appeals", headers=desk.handler,
                              json={"kind": kind, "filed_on": filed_on})
        assert r.status_code == 201, r.text
    for day in ("2025-01-02", "2025-02-03", "2025-03-04"):
        r = await client.post("/api/v1/requests/consultations", headers=desk.clerk,
                              json={"channel": "phone", "received_on": day, "topic": "如何申请"})
        assert r.status_code == 201, r.text
    # 依申请转主动 (issue 16): two granted applications (the disclosure log) and two open tasks, written directly.
    from request_service.models import ProactiveTask

    async with request_db.transaction() as session:
        for n in range(2):
            session.add(Application(
                id=str(uuid.uuid4()), tracking_no=f"T{uuid.uuid4().hex[:12]}", query_code_hash="x",
                organ_code=desk.organ, channel="online", submitted_at=datetime(2026, 2, 9, 2, tzinfo=UTC),
                receipt_date=date(2026, 2, 10), applicant_type="natural_person", applicant_name="张三",
                applicant_key=uuid.uuid4().hex, info_title=f"申请公开第{n}号文件", info_key=f"key-{n}",
                status="replied", outcome="granted", closed_on=date(2026, 3, 10 + n), due_on=date(2026, 3, 16)))
            session.add(ProactiveTask(organ_code=desk.organ, info_key=f"key-{n}", info_title=f"第{n}号文件",
                                      granted_application_id="x", opened_on=date(2026, 3, 10),
                                      due_on=date(2026, 4, 7 + n), status="open", version=1))
    citizen = auth("applicant", sub=f"citizen-{uuid.uuid4().hex[:6]}", name="申请人")
    async with request_db.transaction() as session:
        for app_id in apps[1:]:
            (await session.get(Application, app_id)).applicant_sub = citizen_sub(citizen)
    base = "/api/v1/requests"
    cases: dict[str, tuple[str, dict[str, str], dict[str, Any], int]] = {
        f"{base}/applicants/monthly-counts": (f"{base}/applicants/monthly-counts", desk.handler,
                                              {"month": "2026-03"}, 3),
        f"{base}/applications": (f"{base}/applications", desk.clerk, {"view": "all"}, 4),
        f"{base}/applications/mine": (f"{base}/applications/mine", citizen, {}, 2),
        f"{base}/applications/{{application_id}}/appeals": (f"{base}/applications/{replied}/appeals",
                                                           desk.handler, {}, 2),
        f"{base}/applications/{{application_id}}/history": (f"{base}/applications/{apps[0]}/history",
                                                            desk.handler, {}, 1),
        f"{base}/applications/{{application_id}}/letters": (f"{base}/applications/{replied}/letters",
                                                            desk.handler, {}, 2),
        f"{base}/applications/{{application_id}}/third-party-consultations": (
            f"{base}/applications/{replied}/third-party-consultations", desk.handler, {}, 1),
        f"{base}/applications/{{application_id}}/suggestions": (f"{base}/applications/{apps[0]}/suggestions",
                                                                desk.handler, {}, 1),
        f"{base}/consultations": (f"{base}/consultations", desk.clerk, {"year": 2025}, 3),
        f"{base}/worklists/proactive-disclosure": (f"{base}/worklists/proactive-disclosure", desk.handler, {}, 2),
        f"{base}/disclosure-log": (f"{base}/disclosure-log", desk.handler, {}, 2),
        f"{base}/staff": (f"{base}/staff", desk.handler, {}, 1),
        f"{base}/applications/mine/{{application_id}}/letters": (f"{base}/applications/mine/{apps[1]}/letters",
                                                                 citizen, {}, 1),
        f"{base}/withholding-grounds": (f"{base}/withholding-grounds", {}, {}, 5),
        "/internal/v1/audit": ("/internal/v1/audit", auth("auditor"), {}, 3),
        "/internal/v1/events": ("/internal/v1/events", auth("service"), {}, 3),
    }
    assert set(routes) == set(cases), f"list routes without a crawl case: {set(routes) ^ set(cases)}"
    for route, (path, headers, params, pages) in cases.items():
        await crawl(client, path, headers, params, expect_pages=pages, declared=routes[route])
    await forged_cursor_and_large_limit(client)


def citizen_sub(headers: dict[str, str]) -> str:
    import jwt

    return jwt.decode(headers["Authorization"].split()[1], options={"verify_signature": False})["sub"]


# --------------------------------------------------------------------------------------------------- statistics


async def test_every_statistics_list_follows_the_contract(stats, stats_db):
    spec = (await stats.get("/openapi.json")).json()
    routes = check_declared(spec)
    catalog_feed, request_feed = Feed(), Feed()
    city, dept = "11440100MP0000001A", "11440100MP0000002B"
    organ(catalog_feed, city, "分页市人民政府", "peoples_government")
    organ(catalog_feed, dept, "分页市财政局", parent=city)
    for name in ("财政预决算", "规划计划"):  # 公开目录栏目 empty without a 备注说明: the scorecard's blank columns
        catalog_feed.add("column.created", "column", f"col-{name}", 1, {
            "id": f"col-{name}", "organ_code": dept, "name": name, "rule": "when_changed", "note": None,
            "genres": [], "subject_categories": [], "created_on": "2026-01-01", "active": True})
    apps = Apps(request_feed)
    for day in ("2026-03-02", "2026-04-02", "2026-05-02"):
        apps.put(organ_code=dept, receipt_date=day)
    await drain(stats_db, catalog_feed, request_feed)
    officer = auth("stats_officer", organ=dept)
    report = f"/api/v1/stats/annual-reports/{dept}/2026"
    etag = (await stats.get(f"{report}/status", headers=officer)).headers["etag"]
    etag = (await stats.post(f"{report}/submit", headers={**officer, "If-Match": etag})).headers["etag"]
    r = await stats.post(f"{report}/publish", headers={**auth("unit_head", organ=dept), "If-Match": etag})
    assert r.status_code == 200, r.text
    apps.put(organ_code=dept, receipt_date="2026-11-02")  # late: the live figures now differ in several cells
    await drain(stats_db, catalog_feed, request_feed)
    cases: dict[str, tuple[str, dict[str, str], dict[str, Any], int]] = {
        "/api/v1/stats/annual-reports/reminders": ("/api/v1/stats/annual-reports/reminders",
                                                   auth("stats_officer", organ=city), {"year": 2026}, 2),
        "/api/v1/stats/annual-reports/{organ_code}/{year}/cells/{row}/{column}": (
            f"{report}/cells/new_received/total", officer, {}, 4),
        "/api/v1/stats/annual-reports/{organ_code}/{year}/discrepancies": (f"{report}/discrepancies", officer, {}, 2),
        "/api/v1/stats/scorecards/{organ_code}/metrics/{metric}/records": (
            f"/api/v1/stats/scorecards/{dept}/metrics/empty_columns_without_note/records", officer,
            {"as_of": "2026-06-30"}, 2),
        "/internal/v1/audit": ("/internal/v1/audit", auth("auditor"), {}, 1),
        "/internal/v1/events": ("/internal/v1/events", auth("service"), {}, 1),
    }
    assert set(routes) == set(cases), f"list routes without a crawl case: {set(routes) ^ set(cases)}"
    for route, (path, headers, params, pages) in cases.items():
        await crawl(stats, path, headers, params, expect_pages=pages, declared=routes[route])
    await forged_cursor_and_large_limit(stats)
