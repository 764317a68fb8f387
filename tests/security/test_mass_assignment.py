"""Mass assignment (reliability.md API3): privileged fields sent in create/update bodies are never persisted.

1. Generated from the OpenAPI request schemas of every service: every JSON request body (and every object nested
   in it) is closed (`additionalProperties: false`, apart from declared free-form maps), and each privileged field
   — a field of the operation's read model that the body does not declare, plus the usual suspects (status,
   attribute, organ, outcome, ids, version, 索引号, timestamps, query codes, tracking numbers, classified …) — sent
   on its own to an allowed principal is refused with 422 `extra_forbidden` at exactly that location. The bulk
   import refuses such a record on its own (the others still apply).
2. Read back: creates and updates sent with privileged fields write nothing (no record, version unchanged); the
   same bodies without them are accepted and the record shows what the server decided (draft, the token's organ,
   server-made 索引号 and ids); fields carried where nothing reads them (query string, multipart form, bodies of
   bodiless transitions) are ignored; a reply approver cannot rewrite the drafted decision through the letter's
   context.
"""

import functools
import importlib
import re
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from catalog_service.config import Settings as CatalogSettings
from request_service.domain.applications import today
from services.policy import Policy
from tests.catalog_service.helpers import Staff, make_organ, with_etag
from tests.request_service.helpers import act
from tests.request_service.intake_support import Desk, FakeCatalog, add_organ, application_body, submit
from tests.support import assert_problem, auth, serve

SUSPECTS = {
    "id": str(uuid.uuid4()), "status": "published", "attribute": "proactive", "disclosure_attribute": "proactive",
    "organ": "91350100M000100Y43", "organ_code": "91350100M000100Y43", "organ_id": str(uuid.uuid4()),
    "outcome": "granted", "version": 99, "index_no": "X/2000-00001", "created_at": "2000-01-01T00:00:00Z",
    "updated_at": "2000-01-01T00:00:00Z", "published_at": "2000-01-01T00:00:00Z", "withdrawn_at": None,
    "query_code": "AAAAAAAA", "query_code_hash": "x", "tracking_no": "GK2026-AAAAAAAA", "classified": False,
    "classification_level": "secret", "created_by": "mallory", "applicant_sub": "mallory", "applicant_key": "k",
    "handler_sub": "mallory", "reply_approved_by": "mallory", "recorded_by": "mallory", "loaded_by": "mallory",
    "roles": ["admin"], "sub": "mallory", "owner": "mallory", "source_system": "evil", "external_id": "x",
    "content_hash": "0" * 64, "document_id": str(uuid.uuid4()), "application_id": str(uuid.uuid4()),
    "sha256": "0" * 64, "public_title": "x", "public_body": "x", "search_text": "x", "path": "/x/",
    "channel": "in_person", "receipt_date": "2000-01-01", "closed_on": "2000-01-01", "due_on": "2000-01-01",
    "year": 2000, "decided_on": "2000-01-01", "kind": "reconsideration", "parent_id": str(uuid.uuid4()),
}
# Free-form maps a body may declare (not closed on purpose): (schema name, property).
OPEN_MAPS = {("ApproveReplyBody", "context")}
SERVICES = ("catalog", "request", "stats")


@functools.cache
def spec_of(service: str) -> dict[str, Any]:
    return importlib.import_module(f"{service}_service.app").create_app().openapi()


def policy_of(service: str) -> Policy:
    return importlib.import_module(f"{service}_service.policy").POLICY


def resolve(spec: dict[str, Any], schema: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    ref = schema.get("$ref")
    if ref:
        name = ref.rsplit("/", 1)[-1]
        return name, spec["components"]["schemas"][name]
    for key in ("anyOf", "allOf", "oneOf"):
        for option in schema.get(key, []):
            name, inner = resolve(spec, option)
            if inner.get("type") == "object" or "properties" in inner:
                return name, inner
    return None, schema


def closed_objects(spec: dict[str, Any], schema: dict[str, Any], loc: tuple[Any, ...] = ("body",),
                   seen: frozenset[str] = frozenset()) -> list[tuple[tuple[Any, ...], str, dict[str, Any]]]:
    """(location, schema name, object schema) of the body and every object nested in it, with the path to reach
    it in a request (list items as index 0)."""
    name, obj = resolve(spec, schema)
    if "properties" not in obj or (name and name in seen):
        return []
    out = [(loc, name or "", obj)]
    for prop, sub in obj["properties"].items():
        if (name, prop) in OPEN_MAPS:
            continue
        _, inner = resolve(spec, sub)
        if inner.get("type") == "array" or "items" in inner:
            out += closed_objects(spec, inner.get("items", {}), (*loc, prop, 0), seen | {name or ""})
        else:
            out += closed_objects(spec, sub, (*loc, prop), seen | {name or ""})
    return out


def read_fields(spec: dict[str, Any], operation: dict[str, Any]) -> set[str]:
    fields: set[str] = set()
    for status, response in operation.get("responses", {}).items():
        if not status.startswith("2"):
            continue
        schema = response.get("content", {}).get("application/json", {}).get("schema")
        if schema:
            _, obj = resolve(spec, schema)
            fields |= set(obj.get("properties", {}))
    return fields


def json_operations() -> list[tuple[str, str, str, dict[str, Any]]]:
    ops = []
    for service in SERVICES:
        spec = spec_of(service)
        for path, item in spec["paths"].items():
            for method, operation in item.items():
                body = operation.get("requestBody", {}).get("content", {}).get("application/json")
                if body:
                    ops.append((service, method.upper(), path, operation))
    return ops


def test_every_json_body_is_closed():
    """No body model accepts unknown fields, at any depth (except declared free-form maps)."""
    checked = 0
    for service, method, path, operation in json_operations():
        spec = spec_of(service)
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        for loc, name, obj in closed_objects(spec, schema):
            assert obj.get("additionalProperties") is False, (service, method, path, loc, name)
            checked += 1
    assert checked >= 45, checked


# --- 1. generated: every privileged field, on its own, to every body -----------------------------------------------

class Env:
    def __init__(self, clients: dict[str, httpx.AsyncClient], organ: str) -> None:
        self.clients = clients
        self.organ = organ


@pytest.fixture
async def env(catalog_db, request_db, stats_db, tmp_path: Path):
    from catalog_service.app import create_app as catalog_app
    from request_service.app import create_app as request_app
    from stats_service.app import create_app as stats_app

    async with serve(catalog_app(CatalogSettings(attachment_dir=str(tmp_path)), database=catalog_db)) as catalog, \
            serve(request_app(database=request_db,
                              catalog_transport=httpx.MockTransport(FakeCatalog().handler))) as requests, \
            serve(stats_app(database=stats_db)) as stats:
        organ = await make_organ(catalog, "防批量赋值测试局")
        await add_organ(request_db, organ)
        yield Env({"catalog": catalog, "request": requests, "stats": stats}, organ)


def fill(path: str, organ: str) -> str:
    values = {"organ_code": organ, "code": organ, "year": str(date.today().year)}
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), str(uuid.uuid4())), path)


def principal_for(service: str, method: str, path: str, organ: str) -> dict[str, str]:
    rule = policy_of(service).rule_for(method, path)
    assert rule is not None, (service, method, path)
    if rule.roles is None:
        return {}
    return auth(sorted(rule.roles)[0], organ=organ, sub=f"ma-{uuid.uuid4().hex[:6]}")


def nested(loc: tuple[Any, ...], payload: dict[str, Any]) -> Any:
    """The body that carries `payload` at `loc` (below "body")."""
    value: Any = payload
    for part in reversed(loc[1:]):
        value = [value] if part == 0 else {part: value}
    return value


async def test_privileged_fields_are_refused_by_every_body(env):
    injected = 0
    for service, method, path, operation in json_operations():
        spec = spec_of(service)
        client = env.clients[service]
        headers = {**principal_for(service, method, path, env.organ), "If-Match": '"1"'}
        url = fill(path, env.organ)
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        privileged = set(SUSPECTS) | read_fields(spec, operation)
        for loc, _name, obj in closed_objects(spec, schema):
            for field in sorted(privileged - set(obj["properties"])):
                value = SUSPECTS.get(field, "x")
                r = await client.request(method, url, headers=headers, json=nested(loc, {field: value}))
                injected += 1
                if path.endswith("/documents/bulk") and len(loc) > 1:
                    # A bad record of a batch is rejected on its own, with the field named; nothing of it written.
                    assert r.status_code == 200, (path, field, r.text)
                    result = r.json()["results"][0]
                    assert result["status"] == "rejected" and result["reason"] == "invalid", (field, result)
                    assert [field] in [e["loc"][-1:] for e in result["errors"] if e["type"] == "extra_forbidden"]
                    continue
                body = assert_problem(r, 422, "validation_error")
                wanted = [*loc, field]
                assert any(e["loc"] == wanted and e["type"] == "extra_forbidden" for e in body["errors"]), (
                    service, method, path, wanted, body["errors"])
    print(f"mass assignment: {injected} privileged fields injected, all refused")
    assert injected >= 500, injected


# --- 2. read back ----------------------------------------------------------------------------------------------------

async def test_catalogue_writes_persist_only_what_the_server_decides(catalog_db, tmp_path: Path):
    from catalog_service.app import create_app

    async with serve(create_app(CatalogSettings(attachment_dir=str(tmp_path)), database=catalog_db)) as catalog:
        x, y = await make_organ(catalog, "甲局"), await make_organ(catalog, "乙局")
        staff = Staff(x)
        api = "/api/v1/catalog"
        good = {"title": "关于批量赋值测试的通知", "body": "正文", "genre": "notice", "proposed_attribute": "proactive"}
        bad = {"status": "published", "attribute": "proactive", "organ_code": y, "organ_id": str(uuid.uuid4()),
               "id": str(uuid.uuid4()), "version": 9, "index_no": f"{y}/2000-00001", "classified": False,
               "published_at": "2000-01-01T00:00:00Z", "created_by": "mallory", "created_at": "2000-01-01T00:00:00Z"}

        async def own_records() -> list[str]:
            r = await catalog.get(f"{api}/documents", headers=staff.drafter, params={"scope": "organ", "limit": 100})
            return sorted(i["id"] for i in r.json()["items"])

        before = await own_records()
        for field, value in bad.items():
            assert_problem(await catalog.post(f"{api}/documents", headers=staff.drafter, json={**good, field: value}),
                           422, "validation_error")
        assert await own_records() == before  # nothing was created
        # Unknown query parameters are not fields: ignored.
        r = await catalog.post(f"{api}/documents", headers=staff.drafter, json=good,
                               params={"status": "published", "organ_code": y, "classified": "true"})
        assert r.status_code == 201, r.text
        doc = r.json()
        assert (doc["status"], doc["organ_code"], doc["version"], doc["attribute"], doc["classified"]) == (
            "draft", x, 1, None, False)
        # No 索引号 before publication (the server gives it then): the one sent is not taken either.
        assert doc["index_no"] is None and doc["published_at"] is None and doc["id"] != bad["id"]
        etag = r.headers["etag"]

        for field, value in bad.items():
            assert_problem(await catalog.patch(f"{api}/documents/{doc['id']}", headers=with_etag(staff.drafter, etag),
                                               json={"summary": "改", field: value}), 422, "validation_error")
        record = (await catalog.get(f"{api}/documents/{doc['id']}/record", headers=staff.drafter)).json()
        assert record == doc  # not a byte changed

        # The anchor (text, context, state) and the adding role are the server's (issue 11 items 3, 4).
        for field, value in (("id", str(uuid.uuid4())), ("document_id", str(uuid.uuid4())), ("created_by", "m"),
                             ("text", "x"), ("prefix", ""), ("suffix", ""), ("state", "anchored"),
                             ("created_role", "secrecy_officer")):
            assert_problem(await catalog.post(f"{api}/documents/{doc['id']}/redactions",
                                              headers=with_etag(staff.drafter, etag),
                                              json={"field": "body", "start": 0, "end": 1,
                                                    "ground": "third_party_rights", field: value}), 422)
        # Multipart: form fields nothing declares are ignored; the file's facts are the server's.
        r = await catalog.post(f"{api}/documents/{doc['id']}/attachments", headers=with_etag(staff.drafter, etag),
                               files={"file": ("说明.txt", "附件正文".encode(), "text/plain")},
                               data={"withheld": "true", "sha256": "0" * 64, "created_by": "mallory", "size": "1",
                                     "id": str(uuid.uuid4()), "document_id": str(uuid.uuid4())})
        assert r.status_code == 201, r.text
        attachment = r.json()
        assert attachment["sha256"] != "0" * 64 and attachment["created_by"] == f"drafter@{x}"
        assert attachment["size"] == len("附件正文".encode()) and attachment["withheld"] is True
        etag = r.headers["etag"]
        # Transitions: the decision's own fields only.
        r = await catalog.post(f"{api}/documents/{doc['id']}/submit", headers=with_etag(staff.drafter, etag),
                               json={"status": "published"})
        assert_problem(r, 422, "validation_error")
        assert (await catalog.get(f"{api}/documents/{doc['id']}/record", headers=staff.drafter)).json()[
            "status"] == "draft"

        # Organs: code, hierarchy path and version are the server's.
        r = await catalog.get(f"{api}/organs/{y}")
        for field, value in (("id", str(uuid.uuid4())), ("version", 5), ("code", x), ("path", "/x/"),
                             ("parent_id", str(uuid.uuid4())), ("created_at", "2000-01-01T00:00:00Z")):
            assert_problem(await catalog.patch(f"{api}/organs/{y}", headers=with_etag(auth("admin"), r.headers["etag"]),
                                               json={"office_hours": "9-17", field: value}), 422)
        assert (await catalog.get(f"{api}/organs/{y}")).json() == r.json()

        # Bulk import: a record naming its organ, status or 索引号 is rejected alone; nothing of it is written.
        integration = auth("integration", organ=x, sub="doc-system")
        records = [{"external_id": f"ma-{field}", "title": "导入测试文件", field: value}
                   for field, value in bad.items()]
        r = await catalog.post(f"{api}/documents/bulk", headers=integration,
                               json={"records": [*records, {"external_id": "ma-ok", "title": "导入测试文件"}]})
        assert r.status_code == 200, r.text
        results = r.json()["results"]
        assert [x_["status"] for x_ in results] == ["rejected"] * len(bad) + ["created"]
        created = (await catalog.get(f"{api}/documents/{results[-1]['document_id']}/record",
                                     headers=staff.drafter)).json()
        assert (created["status"], created["organ_code"], created["classified"]) == ("draft", x, False)
        assert await own_records() == sorted([*before, doc["id"], created["id"]])


async def test_request_writes_persist_only_what_the_server_decides(request_db):
    from request_service.app import create_app

    api = "/api/v1/requests"
    async with serve(create_app(database=request_db,
                                catalog_transport=httpx.MockTransport(FakeCatalog().handler))) as client:
        x = await add_organ(request_db, name="甲局")
        desk = Desk(x)
        citizen = auth("applicant", sub="citizen-ma")
        bad = {"status": "replied", "channel": "in_person", "outcome": "granted", "receipt_date": "2000-01-01",
               "due_on": "2000-01-01", "tracking_no": "GK2026-AAAAAAAA", "query_code": "AAAAAAAA",
               "id": str(uuid.uuid4()), "applicant_sub": "mallory", "handler_sub": "mallory", "version": 9,
               "submitted_at": "2000-01-01T00:00:00Z"}

        async def mine() -> list[str]:
            r = await client.get(f"{api}/applications/mine", headers=citizen, params={"limit": 100})
            return [i["id"] for i in r.json()["items"]]

        for field, value in bad.items():
            assert_problem(await client.post(f"{api}/applications", headers=citizen,
                                             json={**application_body(x), field: value}), 422, "validation_error")
            applicant = {**application_body(x)["applicant"], field: value}
            assert_problem(await client.post(f"{api}/applications", headers=citizen,
                                             json={**application_body(x), "applicant": applicant}), 422)
        assert await mine() == []
        receipt = await submit(client, x, headers=citizen)
        assert receipt["status"] == "received" and receipt["channel"] == "online" and receipt["receipt_date"] is None
        assert receipt["tracking_no"] != bad["tracking_no"] and receipt["id"] != bad["id"]
        assert await mine() == [receipt["id"]]

        # Registration: the organ is the clerk's, never the body's.
        other = await add_organ(request_db, name="乙局")
        for field, value in {**bad, "organ_code": other}.items():
            if field == "channel":  # the clerk does say how it came in
                continue
            assert_problem(await client.post(f"{api}/applications/register", headers=desk.clerk,
                                             json=application_body(channel="in_person", **{field: value})), 422)
        listing = await client.get(f"{api}/applications", headers=desk.clerk, params={"limit": 100})
        assert [i["id"] for i in listing.json()["items"]] == [receipt["id"]]

        # Transitions carry their own fields only; the application is unchanged by a refused one.
        before = (await client.get(f"{api}/applications/{receipt['id']}", headers=desk.clerk)).json()
        for field, value in (("status", "accepted"), ("receipt_date", "2000-01-01"), ("outcome", "granted"),
                             ("organ_code", other), ("version", 9)):
            r = await client.post(f"{api}/applications/{receipt['id']}/confirm",
                                  headers={**desk.clerk, "If-Match": f'"{before["version"]}"'},
                                  json={"method": "电话确认", field: value})
            assert_problem(r, 422, "validation_error")
        assert (await client.get(f"{api}/applications/{receipt['id']}", headers=desk.clerk)).json() == before

        # Consultations (咨询): the organ and the recorder are the token's.
        for field, value in (("organ_code", other), ("recorded_by", "mallory"), ("id", str(uuid.uuid4())),
                             ("created_at", "2000-01-01T00:00:00Z")):
            assert_problem(await client.post(f"{api}/consultations", headers=desk.clerk, json={
                "channel": "phone", "received_on": today().isoformat(), "topic": "咨询", field: value}), 422)
        assert (await client.get(f"{api}/consultations", headers=desk.clerk)).json()["items"] == []

        # Appeals: the outcome is recorded by PATCH, with If-Match; kind and dates of filing are fixed.
        await act(client, desk.clerk, receipt["id"], "confirm", {"on": today().isoformat(), "method": "电话确认"})
        await act(client, desk.handler, receipt["id"], "draft-reply", {"outcome": "granted", "comment": "公开"})
        await act(client, desk.approver, receipt["id"], "approve-reply", {"comment": "同意"})
        filed = {"kind": "reconsideration", "filed_on": today().isoformat()}
        for field, value in (("outcome", "revised"), ("decided_on", today().isoformat()), ("id", str(uuid.uuid4())),
                             ("application_id", str(uuid.uuid4())), ("version", 9)):
            assert_problem(await client.post(f"{api}/applications/{receipt['id']}/appeals", headers=desk.handler,
                                             json={**filed, field: value}), 422)
        r = await client.post(f"{api}/applications/{receipt['id']}/appeals", headers=desk.handler, json=filed)
        assert r.status_code == 201 and r.json()["outcome"] == "pending", r.text
        appeal = r.json()
        for field, value in (("kind", "litigation_direct"), ("filed_on", "2000-01-01"), ("version", 9),
                             ("application_id", str(uuid.uuid4()))):
            assert_problem(await client.patch(f"{api}/appeals/{appeal['id']}",
                                              headers={**desk.handler, "If-Match": '"1"'},
                                              json={"notes": "备注", field: value}), 422)
        assert (await client.get(f"{api}/appeals/{appeal['id']}", headers=desk.handler)).json() == appeal

        # The calendar: who loaded it and when are the server's.
        year = today().year + 3
        for field, value in (("status", "official"), ("source", "admin"), ("loaded_by", "mallory"), ("version", 9),
                             ("year", year + 1), ("loaded_at", "2000-01-01T00:00:00Z")):
            assert_problem(await client.put(f"{api}/calendar/years/{year}", headers=auth("admin"),
                                            json={"notice": "国办发明电", "holidays": [], field: value}), 422)
        assert (await client.get(f"{api}/calendar/years/{year}")).json()["version"] == 0


async def test_reply_approver_cannot_rewrite_the_decision_through_the_letter(request_db):
    """The drafted reply (outcome, articles, reasons, withheld parts) is what is signed off: the approver's letter
    `context` may add details (a document's URL, a contact line) but never replace the application's facts — else
    the letter sent would say 予以公开 while the record (and the annual report) says 不予公开."""
    from request_service.app import create_app

    api = "/api/v1/requests"
    async with serve(create_app(database=request_db,
                                catalog_transport=httpx.MockTransport(FakeCatalog().handler))) as client:
        x = await add_organ(request_db, name="甲局")
        desk = Desk(x)
        receipt = await submit(client, x)
        await act(client, desk.clerk, receipt["id"], "confirm", {"on": today().isoformat(), "method": "电话确认"})
        await act(client, desk.handler, receipt["id"], "draft-reply", {
            "outcome": "withheld.third_party_rights", "articles": ["第十五条"], "comment": "涉及第三方商业秘密"})
        drafted = (await client.get(f"{api}/applications/{receipt['id']}", headers=desk.approver))
        for key, value in (("outcome", "granted"), ("articles", ["第十九条"]), ("reasons", "同意公开"),
                           ("withheld_parts", []), ("tracking_no", "GK2026-AAAAAAAA"), ("applicant_name", "他人"),
                           ("addressee", "他人"), ("organ_name", "别的机关"), ("issued_on", "2000-01-01"),
                           ("kind", "receipt"), ("title", "受理回执"), ("received_on", "2000-01-01"),
                           ("info_title", "别的信息")):
            r = await client.post(f"{api}/applications/{receipt['id']}/approve-reply",
                                  headers={**desk.approver, "If-Match": drafted.headers["etag"]},
                                  json={"comment": "同意", "context": {key: value}})
            body = assert_problem(r, 422)
            assert body["errors"][0]["loc"][:2] == ["body", "context"], body
        after = (await client.get(f"{api}/applications/{receipt['id']}", headers=desk.approver))
        assert after.json() == drafted.json()  # nothing was signed off
        # Details the letter may carry are accepted; the letter states the drafted outcome.
        r = await client.post(f"{api}/applications/{receipt['id']}/approve-reply",
                              headers={**desk.approver, "If-Match": drafted.headers["etag"]},
                              json={"comment": "同意", "context": {"contact": "联系电话：020-12345678"}})
        assert r.status_code == 200 and r.json()["outcome"] == "withheld.third_party_rights", r.text
        letters = (await client.get(f"{api}/applications/{receipt['id']}/letters",
                                    headers=desk.approver)).json()["items"]
        reply = next(letter for letter in letters if letter["kind"] == "reply")
        html = (await client.get(f"{api}/applications/{receipt['id']}/letters/{reply['id']}",
                                 headers=desk.approver)).text
        assert "第十五条" in html and "020-12345678" in html and receipt["tracking_no"] in html
        assert "予以公开" not in html.replace("不予公开", "")


async def test_statistics_figures_and_sign_off_ignore_what_they_do_not_declare(stats, stats_db):
    from tests.stats_service.helpers import Feed, drain, organ

    code = "11440100MS0000777X"
    catalog_feed = Feed()
    organ(catalog_feed, code, "统计测试局")
    await drain(stats_db, catalog_feed, Feed())
    officer = auth("stats_officer", organ=code)
    year = today().year
    report = f"/api/v1/stats/annual-reports/{code}/{year}"
    for field, value in (("status", "published"), ("organ_code", "11440100MS0000001A"), ("year", 2000),
                         ("version", 9), ("section3", {}), ("new_received", 5), ("checks", [])):
        assert_problem(await stats.put(f"{report}/figures", headers=officer, json={"overview": "概况", field: value}),
                       422, "validation_error")
    assert (await stats.get(f"{report}/status", headers=officer)).json()["status"] == "draft"
    assert (await stats.put(f"{report}/figures", headers=officer, json={"overview": "概况"})).status_code == 200
    # Sign-off actions take no body: a body saying "published" is not read; submit submits.
    etag = (await stats.get(f"{report}/status", headers=officer)).headers["etag"]
    r = await stats.post(f"{report}/submit", headers={**officer, "If-Match": etag},
                         json={"status": "published", "version": 1})
    assert r.status_code == 200 and r.json()["status"] == "submitted", r.text
    assert_problem(await stats.get(report), 404)  # still not public


def test_suspects_are_not_declared_by_accident():
    """Guard on the generated test: a suspect a body legitimately declares is simply skipped for that body; make
    sure the set still hits every body with many fields."""
    counts = {}
    for service, method, path, operation in json_operations():
        spec = spec_of(service)
        _, obj = resolve(spec, operation["requestBody"]["content"]["application/json"]["schema"])
        if "properties" not in obj:  # a free-form body by design (the exchange profiles' validator takes any JSON)
            continue
        counts[(method, path)] = len(set(SUSPECTS) - set(obj["properties"]))
    assert min(counts.values()) >= len(SUSPECTS) - 6, counts

