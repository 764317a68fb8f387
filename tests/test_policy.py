"""The access policy (services/policy.py) walked with every principal, on every endpoint of every service.

1. Completeness: every route has an entry and every entry a route; an endpoint without one is refused.
2. The table walk: each (endpoint, principal) pair is called; a principal the entry does not admit gets 401
   (anonymous) or 403 `wrong_role` before anything is looked up; an admitted one is never refused by role (the
   domain's own role rules agree with the table) and never gets a 5xx.
3. Organ scope: staff of organ X, with every role the table admits, acting on organ Y's records get 403/404 and
   never a 2xx, on every endpoint that addresses a record or an organ.
"""

import re
import uuid
from datetime import date
from typing import Any

import httpx
import pytest
from fastapi import APIRouter

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
              "column": "natural_person", **(ids or {})}
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

@pytest.mark.parametrize("service", ["catalog", "request", "stats"])
def test_every_route_has_exactly_one_entry(service):
    import importlib

    module = importlib.import_module(f"{service}_service.app")
    policy = {"catalog": CATALOG_POLICY, "request": REQUEST_POLICY, "stats": STATS_POLICY}[service]
    app = module.create_app()
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

def same_answer(theirs: httpx.Response, random_: httpx.Response) -> bool:
    """Nothing tells an existing record of another organ from one that does not exist."""
    if theirs.status_code != random_.status_code:
        return False
    return theirs.status_code < 400 or theirs.json()["code"] == random_.json()["code"]


def staff_of_x(rule: Rule) -> dict[str, dict[str, str]]:
    return {name: headers for name, headers in PRINCIPALS.items()
            if name not in ("anonymous", "admin", "service") and rule.allows(roles_of(name), anonymous=False)
            and rule.roles is not None}


async def test_catalog_staff_cannot_touch_another_organs_records(catalog):
    await make_organ(catalog)
    organ_y = await make_organ(catalog, "别的局")
    doc_id, _ = await draft(catalog, Staff(organ_y), title="乙局内部草稿")
    probed = 0
    for key, rule in CATALOG_POLICY.table.items():
        if "{document_id}" not in key:
            continue
        for name, headers in {**staff_of_x(rule), "public": {}}.items():
            if name == "public" and rule.roles is not None:
                continue
            path = key.split(" ", 1)[1]
            response = await call(catalog, key, fill(path, organ_y, {"document_id": doc_id}), headers)
            random_ = await call(catalog, key, fill(path, organ_y), headers)
            probed += 1
            assert response.status_code in (403, 404, 422), (key, name, response.status_code, response.text)
            assert same_answer(response, random_), (key, name, response.text, random_.text)
            assert "乙局内部草稿" not in response.text
    assert probed > 20


async def test_request_staff_cannot_touch_another_organs_applications(requests_client, request_db):
    await add_organ(request_db, ORGAN_X)
    organ_y = await add_organ(request_db)
    app_id = await insert_application(request_db, organ_y, submitted=date(2026, 3, 2), title="乙局的申请")
    probed = 0
    for key, rule in REQUEST_POLICY.table.items():
        if "{application_id}" not in key:
            continue
        for name, headers in staff_of_x(rule).items():
            path = key.split(" ", 1)[1]
            response = await call(requests_client, key, fill(path, organ_y, {"application_id": app_id}), headers)
            random_ = await call(requests_client, key, fill(path, organ_y), headers)
            probed += 1
            assert response.status_code in (403, 404, 422), (key, name, response.status_code, response.text)
            assert same_answer(response, random_), (key, name, response.text, random_.text)
            assert "乙局的申请" not in response.text
    assert probed > 30
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
    probed = 0
    for key, rule in STATS_POLICY.table.items():
        if "{organ_code}" not in key:
            continue
        principals: dict[str, Any] = staff_of_x(rule) if rule.roles is not None else PRINCIPALS
        for name, headers in principals.items():
            if name in ("admin", "service"):
                continue
            response = await call(stats, key, fill(key.split(" ", 1)[1], organ_y), headers)
            probed += 1
            # A draft report is not published: public endpoints say 404, staff endpoints 403 outside the scope.
            assert response.status_code in (403, 404), (key, name, response.status_code, response.text)
    assert probed > 30
