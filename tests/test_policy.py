"""The access policy (services/policy.py) walked with every principal, on every endpoint of every service.

1. Completeness: every route has an entry and every entry a route; an endpoint without one is refused.
2. The table walk: each (endpoint, principal) pair is called; a principal the entry does not admit gets 401
   (anonymous) or 403 `wrong_role` before anything is looked up; an admitted one is never refused by role (the
   domain's own role rules agree with the table) and never gets a 5xx.
3. Organ scope: staff of organ X, with every role the table admits, acting on organ Y's records, on every endpoint
   that addresses a record or an organ, get exactly what a record that does not exist gets (404 and its code;
   statistics: 403 outside the organ's scope) — with a request that is otherwise valid (a body from the OpenAPI
   request schema, the record's ETag in If-Match), so that every probe reaches the organ check: an answer of
   `validation_error` fails the sweep.
"""

import functools
import importlib
import re
import uuid
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from catalog_service.policy import POLICY as CATALOG_POLICY
from request_service.policy import POLICY as REQUEST_POLICY
from services.policy import ALL_ROLES, Policy, Rule, public
from services.settings import ServiceSettings
from stats_service.policy import POLICY as STATS_POLICY
from tests.catalog_service.helpers import Staff, draft, make_organ, new_code
from tests.request_service.helpers import insert_application
from tests.request_service.intake_support import add_organ
from tests.stats_service.helpers import Feed, drain, organ
from tests.support import assert_problem, auth, serve

ORGAN_X = new_code()

# The principals of reliability.md's walk: anonymous, two applicants, and one of every staff and system role.
PRINCIPALS: dict[str, dict[str, str]] = {
    "anonymous": {},
    "applicant_a": auth("applicant", sub="applicant-a"),
    "applicant_b": auth("applicant", sub="applicant-b"),
    **{role: auth(role, organ=ORGAN_X, sub=f"{role}@x") for role in sorted(ALL_ROLES - {"applicant"})},
}


def roles_of(name: str) -> set[str]:
    return set() if name == "anonymous" else {"applicant"} if name.startswith("applicant") else {name}


def fill(path: str, organ_code: str, ids: dict[str, str] | None = None) -> str:
    values = {"year": "2025", "code": organ_code, "organ_code": organ_code, "row": "granted",
              "column": "natural_person", "metric": "stale_columns", **(ids or {})}
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), str(uuid.uuid4())), path)


# Required query parameters, so that a call gets past validation to the access rules it is probing.
QUERY = {"/breakdown": {"by": "organ"}}


async def call(client: httpx.AsyncClient, key: str, path: str, headers: dict[str, str]) -> httpx.Response:
    method = key.split(" ", 1)[0]
    params = next((q for suffix, q in QUERY.items() if path.endswith(suffix)), None)
    if params:
        path = f"{path}?{httpx.QueryParams(params)}"
    if method in ("POST", "PUT", "PATCH"):
        return await client.request(method, path, headers={**headers, "If-Match": '"1"'}, json={})
    return await client.request(method, path, headers=headers)


def is_role_refusal(response: httpx.Response) -> bool:
    if response.status_code == 401:
        return True
    return response.status_code == 403 and response.json().get("code") == "wrong_role"


async def walk(client: httpx.AsyncClient, policy: Policy) -> int:
    calls = 0
    for key, rule in sorted(policy.table.items()):
        for name, headers in PRINCIPALS.items():
            response = await call(client, key, fill(key.split(" ", 1)[1], ORGAN_X), headers)
            calls += 1
            assert response.status_code < 500, (key, name, response.text)
            if rule.allows(roles_of(name), anonymous=name == "anonymous"):
                assert not is_role_refusal(response), (key, name, response.text)
            elif name == "anonymous":
                assert_problem(response, 401, "authentication_required")
            else:
                assert_problem(response, 403, "wrong_role")
    return calls


# --- 1. completeness ---------------------------------------------------------------------------------------------

@functools.cache
def app_of(service: str) -> FastAPI:
    """One app per service for its OpenAPI document (generating it takes seconds; the sweeps below read it too)."""
    return importlib.import_module(f"{service}_service.app").create_app()


@pytest.mark.parametrize("service", ["catalog", "request", "stats"])
def test_every_route_has_exactly_one_entry(service):
    policy = {"catalog": CATALOG_POLICY, "request": REQUEST_POLICY, "stats": STATS_POLICY}[service]
    app = app_of(service)
    policy.check(app)
    operations = [op for ops in app.openapi()["paths"].values() for op in ops.values()]
    assert operations and all("x-gongkai-access" in op and "Access (权限)" in op["description"] for op in operations)


async def test_a_route_without_an_entry_is_refused_and_fails_the_check(catalog_db):
    from services.app import create_service_app

    router = APIRouter()

    @router.get("/listed")
    async def listed() -> dict:
        return {"ok": True}

    @router.get("/forgotten")
    async def forgotten() -> dict:
        return {"secret": True}

    policy = Policy("probe", {"GET /listed": public(), "GET /healthz": public(), "GET /readyz": public()})
    app = create_service_app(name="probe", title="probe", description="", settings=ServiceSettings(),
                             routers=[router], database=catalog_db, policy=policy)
    with pytest.raises(RuntimeError, match="forgotten"):
        policy.check(app)
    async with serve(app) as client:
        assert (await client.get("/listed")).json() == {"ok": True}
        assert_problem(await client.get("/forgotten", headers=auth("admin")), 403, "policy_missing")


def test_rules_name_only_known_roles():
    for policy in (CATALOG_POLICY, REQUEST_POLICY, STATS_POLICY):
        for key, rule in policy.table.items():
            assert rule.roles is None or rule.roles <= ALL_ROLES, key
            assert isinstance(rule, Rule)


# --- 2. the table walk -------------------------------------------------------------------------------------------

async def test_catalog_table_walk(catalog):
    await make_organ(catalog)
    assert await walk(catalog, CATALOG_POLICY) == len(CATALOG_POLICY.table) * len(PRINCIPALS)


async def test_request_table_walk(requests_client, request_db):
    await add_organ(request_db, ORGAN_X)
    assert await walk(requests_client, REQUEST_POLICY) == len(REQUEST_POLICY.table) * len(PRINCIPALS)


async def test_stats_table_walk(stats, stats_db):
    catalog_feed, request_feed = Feed(), Feed()
    organ(catalog_feed, ORGAN_X, "测试局")
    await drain(stats_db, catalog_feed, request_feed)
    assert await walk(stats, STATS_POLICY) == len(STATS_POLICY.table) * len(PRINCIPALS)


# --- 3. organ scope ----------------------------------------------------------------------------------------------
#
# Each probe is a request the owning organ's staff could send: a body that passes validation (from the operation's
# own OpenAPI request schema), its required query parameters, and If-Match with the record's current ETag. A probe
# that stopped at request validation (422 `validation_error`) would prove nothing about the organ check behind it,
# and one with a stale version could stop at 412: so every probe has to reach the check and get its exact answer.

PROBE_TEXT = "组织范围探针"  # organ-scope probe
SHANGHAI_TODAY = datetime.now(ZoneInfo("Asia/Shanghai")).date()
PDF = b"%PDF-1.7\n" + "政务公开附件".encode() * 20 + b"\n%%EOF\n"

# What a schema cannot say: string patterns and cross-field rules, the service's own included (a probe must be a
# request the owner's staff could make, or a missing organ check would show up as a 422 instead of a change).
# Keyed by operation; merged over the generated body (a required property with a `pattern` and no value here fails
# the generation, it is never guessed).
BODIES: dict[str, dict[str, Any]] = {
    "POST /api/v1/catalog/documents/{document_id}/redactions": {"field": "title", "start": 0, "end": 2},
    # 定密 needs a secrecy period or a declassification date (a rule of the workflow, not of the schema)
    "POST /api/v1/catalog/documents/{document_id}/classify": {"secrecy_period_years": 10},
}
# Multipart file parts: (filename, content, declared type) that the attachment rules accept.
FILES: dict[str, tuple[str, bytes, str]] = {"file": ("探针.pdf", PDF, "application/pdf")}


def resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def example(spec: dict[str, Any], schema: dict[str, Any], where: str, fixed: dict[str, Any] | None = None) -> Any:
    """A minimal valid instance of `schema`: required properties only, the first enum value, lower bounds, today for
    dates. `fixed` gives an object's properties outright."""
    schema = resolve(spec, schema)
    if "anyOf" in schema:
        return example(spec, next(s for s in schema["anyOf"] if s.get("type") != "null"), where, fixed)
    if "allOf" in schema and len(schema["allOf"]) == 1:
        return example(spec, schema["allOf"][0], where, fixed)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        fixed = fixed or {}
        return {**{name: example(spec, sub, f"{where}.{name}") for name, sub in schema.get("properties", {}).items()
                   if name in schema.get("required", ()) and name not in fixed}, **fixed}
    if kind == "array":
        return [example(spec, schema["items"], f"{where}[]") for _ in range(schema.get("minItems", 0))]
    if kind in ("integer", "number"):
        low = schema.get("minimum", schema["exclusiveMinimum"] + 1 if "exclusiveMinimum" in schema else 1)
        return int(low) if kind == "integer" else float(low)
    if kind == "boolean":
        return False
    if kind == "string":
        assert "pattern" not in schema, f"{where}: give a value matching {schema['pattern']} in BODIES"
        if schema.get("format") == "date":
            return SHANGHAI_TODAY.isoformat()  # the services' "today": a date that is never in the future
        if schema.get("format") == "date-time":
            return f"{SHANGHAI_TODAY.isoformat()}T00:00:00+08:00"
        length = min(max(schema.get("minLength", 0), len(PROBE_TEXT)), schema.get("maxLength", len(PROBE_TEXT)))
        return (PROBE_TEXT * (length // len(PROBE_TEXT) + 1))[:length]
    raise AssertionError(f"{where}: no example for the schema {schema}")


class Probes:
    """Well-formed requests for a service's operations, from the service's own OpenAPI document."""

    def __init__(self, service: str) -> None:
        self.spec = app_of(service).openapi()

    def operation(self, key: str) -> dict[str, Any]:
        method, path = key.split(" ", 1)
        return self.spec["paths"][path][method.lower()]

    def takes_body(self, key: str) -> bool:
        return "requestBody" in self.operation(key)

    def request(self, key: str, path: str, headers: dict[str, str], etag: str) -> dict[str, Any]:
        """Keyword arguments of `client.request` for operation `key` on the filled-in `path`."""
        op, method = self.operation(key), key.split(" ", 1)[0]
        params, headers = {}, dict(headers)
        for param in op.get("parameters", []):
            if not param.get("required"):
                continue
            if param["in"] == "query":
                params[param["name"]] = example(self.spec, param["schema"], f"{key} ?{param['name']}")
            elif param["in"] == "header" and param["name"].lower() == "if-match":
                headers["If-Match"] = etag  # the record's current version: a probe never stops at 412
        kwargs: dict[str, Any] = {"method": method, "url": path, "headers": headers, "params": params}
        content = op.get("requestBody", {}).get("content", {})
        if "application/json" in content:
            kwargs["json"] = example(self.spec, content["application/json"]["schema"], key, BODIES.get(key))
        elif "multipart/form-data" in content:
            schema = resolve(self.spec, content["multipart/form-data"]["schema"])
            files = {name: FILES[name] for name in schema["properties"] if name in FILES}
            form = example(self.spec, schema, key, {**files, **BODIES.get(key, {})})
            kwargs["files"] = files
            kwargs["data"] = {name: str(value) for name, value in form.items() if name not in files}
        else:
            assert not content, f"{key}: no probe for a body of {sorted(content)}"
        return kwargs

    async def send(self, client: httpx.AsyncClient, key: str, path: str, headers: dict[str, str],
                   etag: str) -> httpx.Response:
        return await client.request(**self.request(key, path, headers, etag))


def same_answer(theirs: httpx.Response, random_: httpx.Response) -> bool:
    """Nothing tells an existing record of another organ from one that does not exist."""
    if theirs.status_code != random_.status_code:
        return False
    return theirs.status_code < 400 or theirs.json()["code"] == random_.json()["code"]


def outcome(response: httpx.Response) -> tuple[int, str | None]:
    """Status and problem code (None for an answer that is not a problem: a leak, say, of JSON, CSV or a PDF)."""
    problem = response.headers.get("content-type", "").startswith("application/problem+json")
    return response.status_code, response.json()["code"] if problem else None


def stopped_at_validation(response: httpx.Response) -> bool:
    return outcome(response) == (422, "validation_error")


def staff_of_x(rule: Rule) -> dict[str, dict[str, str]]:
    return {name: headers for name, headers in PRINCIPALS.items()
            if name not in ("anonymous", "admin", "service") and rule.allows(roles_of(name), anonymous=False)
            and rule.roles is not None}


class Sweep:
    """Staff of organ X probing organ Y's record on every endpoint that addresses it, each probe paired with a
    twin on a random id; both must get exactly `expected` — the answer for a record that does not exist."""

    def __init__(self, client: httpx.AsyncClient, probes: Probes, etag: str) -> None:
        self.client, self.probes, self.etag = client, probes, etag
        self.probed = self.with_body = 0  # probes, and those of them that send a body

    async def probe(self, key: str, name: str, theirs: str, random_path: str, headers: dict[str, str],
                    expected: tuple[int, str], secret: str = "") -> None:
        response = await self.probes.send(self.client, key, theirs, headers, self.etag)
        self.probed += 1
        self.with_body += self.probes.takes_body(key)
        assert not stopped_at_validation(response), (
            f"{key} ({name}) answered a validation error instead of the organ check's answer; the probe must be a "
            f"valid request (BODIES): {response.text}")
        assert outcome(response) == expected, (
            key, name, expected, response.status_code, response.text)
        if random_path:
            random_ = await self.probes.send(self.client, key, random_path, headers, self.etag)
            assert same_answer(response, random_), (key, name, response.text, random_.text)
        if secret:
            assert secret not in response.text


CATALOG_NOT_FOUND = {  # what a record that does not exist answers (GET of an attachment looks the attachment up)
    "GET /api/v1/catalog/documents/{document_id}/attachments/{attachment_id}": (404, "attachment_not_found"),
}


async def test_catalog_staff_cannot_touch_another_organs_records(catalog):
    await make_organ(catalog)
    organ_y = await make_organ(catalog, "别的局")
    doc_id, etag = await draft(catalog, Staff(organ_y), title="乙局内部草稿")
    sweep = Sweep(catalog, Probes("catalog"), etag)
    for key, rule in CATALOG_POLICY.table.items():
        if "{document_id}" not in key:
            continue
        for name, headers in {**staff_of_x(rule), "public": {}}.items():
            if name == "public" and rule.roles is not None:
                continue
            path = key.split(" ", 1)[1]
            await sweep.probe(key, name, fill(path, organ_y, {"document_id": doc_id}), fill(path, organ_y), headers,
                              CATALOG_NOT_FOUND.get(key, (404, "document_not_found")), "乙局内部草稿")
    assert sweep.probed > 40 and sweep.with_body > 25


async def test_request_staff_cannot_touch_another_organs_applications(requests_client, request_db):
    await add_organ(request_db, ORGAN_X)
    organ_y = await add_organ(request_db)
    app_id = await insert_application(request_db, organ_y, submitted=date(2026, 3, 2), title="乙局的申请")
    owner = auth("handler", organ=organ_y, sub="handler@y")
    etag = (await requests_client.get(f"/api/v1/requests/applications/{app_id}", headers=owner)).headers["etag"]
    sweep = Sweep(requests_client, Probes("request"), etag)
    for key, rule in REQUEST_POLICY.table.items():
        if "{application_id}" not in key:
            continue
        for name, headers in staff_of_x(rule).items():
            path = key.split(" ", 1)[1]
            await sweep.probe(key, name, fill(path, organ_y, {"application_id": app_id}), fill(path, organ_y),
                              headers, (404, "application_not_found"), "乙局的申请")
    assert sweep.probed > 50 and sweep.with_body > 20
    # Listing the organ's work: X's staff never see Y's application.
    for role in ("intake_clerk", "handler", "reply_approver"):
        listing = await requests_client.get("/api/v1/requests/applications", headers=PRINCIPALS[role])
        assert app_id not in listing.text


async def test_stats_staff_cannot_read_another_organs_drafts(stats, stats_db):
    catalog_feed, request_feed = Feed(), Feed()
    organ_y = new_code()
    organ(catalog_feed, ORGAN_X, "甲局")
    organ(catalog_feed, organ_y, "乙局")
    await drain(stats_db, catalog_feed, request_feed)
    owner = auth("stats_officer", organ=organ_y, sub="stats@y")
    status = await stats.get(f"/api/v1/stats/annual-reports/{organ_y}/2025/status", headers=owner)
    sweep = Sweep(stats, Probes("stats"), status.headers["etag"])
    for key, rule in STATS_POLICY.table.items():
        if "{organ_code}" not in key:
            continue
        principals: dict[str, Any] = staff_of_x(rule) if rule.roles is not None else PRINCIPALS
        for name, headers in principals.items():
            if name in ("admin", "service"):
                continue
            # A draft report is not published: public endpoints say 404, staff endpoints 403 outside the scope (the
            # organ directory is public, so the organ's existence is no secret).
            expected = (404, "report_not_found") if rule.roles is None else (403, "forbidden")
            await sweep.probe(key, name, fill(key.split(" ", 1)[1], organ_y), "", headers, expected)
    assert sweep.probed > 70 and sweep.with_body >= 2
