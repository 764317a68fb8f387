"""Schemathesis against the merged OpenAPI of the running system (issue 6, Robustness; reliability.md §2.2, API8/9).

The four real processes (tests/test_system.py's `system` fixture, on fresh databases of the selected backend with
the demo organs and documents) are fuzzed through the gateway by the schemathesis CLI (`st run`), once per
principal — anonymous, admin, and staff of a real organ in each workflow role — with every phase (examples,
coverage, fuzzing, stateful: the OpenAPI links of the create operations drive create → read → transition flows)
and every check (`--checks all`), plus this module's own `problem_details` check. A run passes with:

- 0 server errors (and the gateway's own 5xx counter, read back from its /metrics, agrees);
- every response conforming to its documented status codes, content types, headers and body schema;
- every error a valid RFC 9457 problem+json: our ErrorBody exactly, `status` equal to the HTTP status, the
  `urn:gongkai:problem:<code>` type, a Chinese title and the request id; no traceback in any body.

Each principal's run covers the operations its role may call (x-gongkai-access); then the three linked flows
(drafter: draft → record → submit; intake clerk: register → read → confirm; anonymous: apply → track) run the
stateful phase alone with enough scenarios to reach the transitions, and the test checks that they did.
In CI (FUZZ_SIZE=ci, 6 principals, ~7,000 requests) the public operations are fuzzed as anonymous and as the
drafter; at bench size (`make bench`: scripts/bench_fuzz.py, PostgreSQL, ≥ 10,000 requests) every one of 12
principals also gets them and the anonymous run covers every operation (401 on each non-public one). Knobs:
FUZZ_MAX_EXAMPLES, FUZZ_FLOW_EXAMPLES, FUZZ_SEED, FUZZ_PRINCIPALS; FUZZ_RESULTS receives the summary (JSON).
Failing output and schemathesis' own reports are kept per run under the test's tmp_path.

This module is also the CLI's hooks module (SCHEMATHESIS_HOOKS=tests.test_fuzz), which registers the check.
"""

import asyncio
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from pydantic import ValidationError

from services.errors import PROBLEM_JSON, ErrorBody
from tests.support import ROOT, SERVICES, create_database, drop_database, migrate, token
from tests.test_system import system  # noqa: F401  (the running system, reused)

pytestmark = pytest.mark.slow

# FUZZ_SIZE=ci (the suite: a few principals, minutes) or bench (every principal, larger; scripts/bench_fuzz.py).
SIZE = os.environ.get("FUZZ_SIZE", "ci")
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "3" if SIZE == "ci" else "10"))
FLOW_EXAMPLES = int(os.environ.get("FUZZ_FLOW_EXAMPLES", "25" if SIZE == "ci" else "100"))
SEED = int(os.environ.get("FUZZ_SEED", "20261123"))
RESULTS = os.environ.get("FUZZ_RESULTS")  # where to write the run's summary (JSON), for scripts/bench_fuzz.py
PRINCIPAL_FILTER = os.environ.get("FUZZ_PRINCIPALS")  # e.g. "drafter,intake_clerk" for a partial run
CALLS_LOG = "FUZZ_CALLS_LOG"  # set for the CLI: the after_call hook appends "status METHOD /path" lines here
ST = Path(sys.executable).with_name("st")
CI_PRINCIPALS = ("anonymous", "admin", "drafter", "intake_clerk", "handler", "auditor")
# The stateful flows the create operations' OpenAPI links describe, each run by the principal who may walk it.
FLOWS = {
    "drafter": ("catalog-create_document", "catalog-get_document_record", "catalog-list_review_steps",
                "catalog-update_document", "catalog-submit_document"),
    "intake_clerk": ("request-register_application", "request-get_application", "request-get_application_deadline",
                     "request-list_application_history", "request-confirm_application"),
    "anonymous": ("request-submit_application", "request-track_application"),
}


@dataclass(frozen=True)
class Principal:
    name: str
    roles: tuple[str, ...] = ()
    organ: str | None = None

    def headers(self) -> list[str]:
        if not self.roles:
            return []
        bearer = token(*self.roles, organ=self.organ, sub=f"fuzz-{self.name}", name=f"模糊测试{self.name}")
        return ["--header", f"Authorization: Bearer {bearer}"]


def _office() -> str:
    from catalog_service.seed import DEMO_ORGAN_CODES

    return DEMO_ORGAN_CODES[1]


def _principals() -> list[Principal]:
    from catalog_service.seed import DEMO_ORGAN_CODES

    city, office = DEMO_ORGAN_CODES[0], DEMO_ORGAN_CODES[1]
    every = [
        Principal("anonymous"),
        Principal("admin", ("admin",)),
        Principal("drafter", ("drafter",), office),
        Principal("division_head", ("division_head",), office),
        Principal("unit_head", ("unit_head",), office),
        Principal("secrecy_officer", ("secrecy_officer",), office),
        Principal("intake_clerk", ("intake_clerk",), office),
        Principal("handler", ("handler",), office),
        Principal("reply_approver", ("reply_approver",), office),
        Principal("stats_officer", ("stats_officer",), city),
        Principal("auditor", ("auditor",), city),
        Principal("integration", ("integration",), office),
    ]
    wanted = set(PRINCIPAL_FILTER.split(",")) if PRINCIPAL_FILTER else set(CI_PRINCIPALS) if SIZE == "ci" else None
    return [p for p in every if wanted is None or p.name in wanted]


# --- The check every response goes through ---------------------------------------------------------------------

_CODE = re.compile(r"^[a-z][a-z0-9_]*$")


def _header(response: Any, name: str) -> str:
    for key, values in response.headers.items():
        if key.lower() == name:
            return values[0] if isinstance(values, list) else str(values)
    return ""


@schemathesis.check
def problem_details(ctx: Any, response: Any, case: Any) -> None:
    """Every 4xx/5xx is RFC 9457 `application/problem+json` and exactly our ErrorBody (reliability.md §2.2); no
    response of any status carries a Python traceback (API8)."""
    if b"Traceback (most recent call last)" in response.content:
        raise AssertionError("The response body carries a Python traceback")
    if response.status_code < 400 or response.request.method == "HEAD":
        return
    content_type = _header(response, "content-type")
    if content_type.split(";")[0].strip() != PROBLEM_JSON:
        raise AssertionError(f"A {response.status_code} error served as {content_type!r}, not {PROBLEM_JSON}")
    try:
        body = ErrorBody.model_validate_json(response.content)
    except ValidationError as exc:
        raise AssertionError(f"The problem body is not an ErrorBody: {exc.errors()[:3]}") from None
    if body.status != response.status_code:
        raise AssertionError(f"Problem `status` {body.status} differs from the HTTP status {response.status_code}")
    if not _CODE.match(body.code) or body.type != f"urn:gongkai:problem:{body.code}":
        raise AssertionError(f"Problem type {body.type!r} / code {body.code!r} are not urn:gongkai:problem:<code>")
    if not (body.title and body.title_zh and body.detail):
        raise AssertionError("Problem title, title_zh and detail must not be empty")
    if not body.request_id or body.request_id != _header(response, "x-request-id"):
        raise AssertionError("Problem `request_id` missing or different from the X-Request-ID header")


@schemathesis.hook
def after_call(context: Any, case: Any, response: Any) -> None:
    """Log every call's operation and status (one process, one worker: plain appends), so that the test can
    tell which authorised paths answered 2xx and whether the linked transitions really ran."""
    log = os.environ.get(CALLS_LOG)
    if log:
        with open(log, "a", encoding="utf-8") as out:
            out.write(f"{response.status_code} {case.operation.label}\n")


# The flow runs (FUZZ_FLOW=1) walk the links with realistic create bodies — a known organ, a reachable applicant,
# a channel that waits for 双方确认 — so that the creates succeed and the linked reads and transitions get a real
# record; the per-principal runs fuzz these bodies freely.
APPLICANT = {"type": "natural_person", "name": "张三", "email": "zhang.san@example.com"}


def _without(body: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in keys}


FLOW_BODIES = {
    "POST /api/v1/requests/applications": lambda body: {
        **body, "organ_code": os.environ.get("FUZZ_ORGAN", ""), "applicant": APPLICANT},
    "POST /api/v1/requests/applications/register": lambda body: {
        **_without(body, "submitted_on", "signed_for_on"), "channel": "email", "applicant": APPLICANT},
    "POST /api/v1/requests/applications/{application_id}/confirm": lambda body: _without(body, "on"),
}


@schemathesis.hook
def map_body(context: Any, body: Any) -> Any:
    operation = getattr(context, "operation", None)
    change = FLOW_BODIES.get(operation.label) if operation is not None and os.environ.get("FUZZ_FLOW") else None
    return change(body) if change is not None and isinstance(body, dict) else body


# --- Running schemathesis ----------------------------------------------------------------------------------------

CONFIG = """\
# Written by tests/test_fuzz.py for `st run`.
[checks.positive_data_acceptance]
# Schema-valid is not always acceptable: 412 is a stale (generated) If-Match, 422 a rule beyond what JSON Schema
# says (a GB 32100 check character, an unknown organ, "phone, e-mail or address"). 400/415/5xx still fail.
expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "412", "422", "429"]

[checks.negative_data_rejection]
# The default list, plus 412: a stale (generated) If-Match refuses the request before its body is looked at.
expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "412", "415", "422", "428", "429", "5xx"]

[checks.missing_required_header]
# RFC 6585: a missing If-Match is 428 Precondition Required.
expected-statuses = ["400", "401", "403", "406", "415", "422", "428"]

[phases.stateful.inference]
# The flows follow the links the OpenAPI document declares (create → read → transition), not links guessed from
# response fields: a guessed one can make a transition look like a flow's start (it then only ever meets 404s).
algorithms = []
"""


def _operations_for(spec: dict[str, Any], principal: Principal, *, public: bool) -> list[str]:
    """Operation ids the published policy (x-gongkai-access) lets this principal call; the public ones too if
    `public`. Anonymous callers outside CI: every operation, so that each non-public one is fuzzed for its 401
    (in CI tests/test_policy.py walks those)."""
    selected = []
    for item in spec["paths"].values():
        for operation in item.values():
            if not isinstance(operation, dict) or "operationId" not in operation:
                continue
            access = operation.get("x-gongkai-access")
            roles = None if access is None else access["roles"]
            if ((roles is None and public) or set(principal.roles) & set(roles or ())
                    or (not principal.roles and SIZE != "ci")):
                selected.append(operation["operationId"])
    return sorted(selected)


def gateway_counts(base: str) -> dict[str, float]:
    """gateway_requests_total by status class, summed over upstreams and methods."""
    counts: dict[str, float] = {}
    for line in httpx.get(f"{base}/metrics", timeout=10).text.splitlines():
        if line.startswith("gateway_requests_total{"):
            status_class = re.search(r'status_class="(\w+)"', line)
            if status_class:
                counts[status_class.group(1)] = counts.get(status_class.group(1), 0.0) + float(line.rsplit(" ", 1)[1])
    return counts


def run_schemathesis(base: str, principal: Principal, work: Path, *, max_examples: int, seed: int,
                     phases: str = "examples,coverage,fuzzing,stateful", operations: list[str] | None = None,
                     public: bool = True, name: str | None = None) -> dict[str, Any]:
    """One `st run` as `principal` (every check; one worker: the two cores also serve the four processes, and
    hypothesis' lambda parsing is not thread-safe on Python 3.11); returns its JSON report, the requests the
    gateway counted meanwhile, and the per-operation statuses the after_call hook logged."""
    name = name or principal.name
    spec = httpx.get(f"{base}/openapi.json", timeout=10).json()
    config = work / "schemathesis.toml"
    config.write_text(CONFIG, encoding="utf-8")
    report, calls = work / f"{name}.json", work / f"{name}.calls"
    cmd = [str(ST), "--config-file", str(config), "run", f"{base}/openapi.json", "--checks", "all",
           "--phases", phases, "--max-examples", str(max_examples),
           "--seed", str(seed), "--workers", "1", "--request-timeout", "30", "--no-color",
           "--generation-database", "none", "--report", "json", "--report-json-path", str(report),
           "--warnings", "off", *principal.headers()]
    for operation_id in operations or _operations_for(spec, principal, public=public):
        cmd += ["--include-operation-id", operation_id]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.test_fuzz", "PYTHONPATH": str(ROOT), CALLS_LOG: str(calls),
           "FUZZ_ORGAN": principal.organ or _office()}
    if phases == "stateful" and operations:
        env["FUZZ_FLOW"] = "1"
        cmd += ["--mode", "positive"]  # map_body makes the create bodies valid: negative cases would lie
    before = gateway_counts(base)
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=1800)
    duration = time.monotonic() - started
    after = gateway_counts(base)
    (work / f"{name}.log").write_text(proc.stdout + proc.stderr, encoding="utf-8")
    if not report.exists():
        raise AssertionError(f"schemathesis wrote no report for {name}:\n{proc.stdout[-3000:]}"
                             f"\n{proc.stderr[-3000:]}")
    data = json.loads(report.read_text(encoding="utf-8"))
    delta = {k: after.get(k, 0.0) - before.get(k, 0.0) for k in after}
    ok_by_operation: dict[str, int] = {}
    for line in calls.read_text(encoding="utf-8").splitlines() if calls.exists() else []:
        status, label = line.split(" ", 1)
        if status.startswith("2"):
            ok_by_operation[label] = ok_by_operation.get(label, 0) + 1
    links = re.search(r"API Links:\s+(\d+) covered", proc.stdout)
    return {
        "run": name,
        "principal": principal.name,
        "ok_by_operation": ok_by_operation,
        "links_covered": int(links.group(1)) if links else 0,
        "operations": data["operations"]["tested"] if data.get("operations") else 0,
        "requests": int(sum(delta.values())),
        "status_classes": {k: int(v) for k, v in sorted(delta.items()) if v},
        "test_cases": data["test_cases"]["generated"],
        "failures": [{"title": f["title"], "code": f.get("code"), "count": f["count"],
                      "operations": f["operations"]} for f in data["failures"]],
        # A principal whose operations link nowhere has no stateful phase; schemathesis reports that as an error.
        "errors": [e for e in data["errors"] if e["title"] != "Missing Open API links"],
        "phases": {name: phase["status"] for name, phase in (data.get("phases") or {}).items()},
        "duration_s": round(duration, 1),
        "exit_code": proc.returncode,
        "output": proc.stdout,
    }


# --- Fixtures: the running system on databases of its own ------------------------------------------------------

async def _seed_demo(url: str) -> None:
    """The demo organs and published documents, as `make run` seeds them: real organs for the staff principals'
    tokens, and published records for the public reads."""
    from catalog_service.config import Settings
    from catalog_service.seed import seed
    from services.db import Database, make_engine

    database = Database(make_engine(url, null_pool=True))
    try:
        await seed(database, Settings(database_url=url))
    finally:
        await database.dispose()


@pytest.fixture(scope="module")
def database_urls(tmp_path_factory: pytest.TempPathFactory):
    """Overrides the session databases for this module: the fuzzer commits thousands of rows, which must not
    reach the tests that share the session's databases."""
    tmp = tmp_path_factory.mktemp("fuzz-db")
    urls = {service: create_database(service, tmp) for service in SERVICES}
    for service, url in urls.items():
        migrate(service, url)
    asyncio.run(_seed_demo(urls["catalog"]))
    with pytest.MonkeyPatch.context() as env:
        # The per-client rate limit would answer most of a fuzzer's burst with 429s (documented, and tested in
        # tests/gateway): lift it so the requests reach the services.
        env.setenv("GATEWAY_RATE_LIMIT_PER_SECOND", "0")
        yield urls
    for url in urls.values():
        drop_database(url)


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    by_check: dict[str, int] = {}
    for run in runs:
        for failure in run["failures"]:
            by_check[failure["title"]] = by_check.get(failure["title"], 0) + failure["count"]
    return {
        "size": SIZE,
        "max_examples": MAX_EXAMPLES,
        "flow_examples": FLOW_EXAMPLES,
        "seed": SEED,
        "runs_count": len(runs),
        "requests": sum(r["requests"] for r in runs),
        "test_cases": sum(r["test_cases"] for r in runs),
        "server_errors": sum(r["status_classes"].get("5xx", 0) for r in runs),
        "failures_by_check": by_check,
        "errors": sum(e["count"] for r in runs for e in r["errors"]),
        "duration_s": round(sum(r["duration_s"] for r in runs), 1),
        "runs": [{k: v for k, v in r.items() if k != "output"} for r in runs],
    }


def _plan() -> list[dict[str, Any]]:
    """Per principal: its operations (in CI the public ones only for anonymous and the drafter, who also searches
    their organ's drafts); then the linked flows, stateful phase only, with enough scenarios to walk them."""
    principals = _principals()
    plan: list[dict[str, Any]] = [
        {"principal": p, "name": p.name, "max_examples": MAX_EXAMPLES,
         "public": SIZE != "ci" or p.name in ("anonymous", "drafter")} for p in principals]
    for p in principals:
        if p.name in FLOWS:
            plan.append({"principal": p, "name": f"{p.name}-flow", "phases": "stateful",
                         "operations": list(FLOWS[p.name]), "max_examples": FLOW_EXAMPLES})
    return plan


def test_the_merged_openapi_links_create_to_read_and_transition(system):  # noqa: F811
    base, _ = system
    spec = httpx.get(f"{base}/openapi.json").json()
    links = {
        ("/api/v1/catalog/documents", "post"): {"catalog-get_document_record", "catalog-submit_document"},
        ("/api/v1/requests/applications/register", "post"): {"request-get_application",
                                                              "request-confirm_application"},
        ("/api/v1/requests/applications", "post"): {"request-track_application"},
    }
    for (path, method), targets in links.items():
        declared = spec["paths"][path][method]["responses"]["201"]["links"]
        assert targets <= {link["operationId"] for link in declared.values()}, (path, declared)
    errors = spec["paths"]["/api/v1/catalog/documents/{document_id}"]["get"]["responses"]["404"]["content"]
    assert list(errors) == [PROBLEM_JSON]


def test_what_the_fuzzer_found_stays_fixed(system):  # noqa: F811
    """Each finding of the first runs, pinned (the fuzzer may not draw the same input again)."""
    from catalog_service.seed import DEMO_ORGAN_CODES

    base, _ = system
    office = DEMO_ORGAN_CODES[1]
    drafter = {"Authorization": f"Bearer {token('drafter', organ=office)}"}
    handler = {"Authorization": f"Bearer {token('handler', organ=office)}"}
    # The gateway asserted a non-empty Authorization header (500); empty is no credentials, as for the services.
    assert httpx.get(f"{base}/api/v1/catalog/vocabularies", headers={"Authorization": ""}).status_code == 200
    # 405 lists every method of the resource (Starlette named only the first route's), and the most specific one.
    r = httpx.request("OPTIONS", f"{base}/api/v1/catalog/documents")
    assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD, POST", r.headers
    assert httpx.request("OPTIONS", f"{base}/api/v1/catalog/documents/bulk").headers["allow"] == "POST"
    # JSON types as documented: 0 is no date, false no integer (Pydantic's lax mode took both).
    r = httpx.post(f"{base}/api/v1/requests/consultations", headers=handler,
                   json={"topic": "咨询", "channel": "email", "received_on": 0, "answer": ""})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "received_on"], r.text
    # NUL cannot reach PostgreSQL (500 there): 422 in a query and in a body; "" is no document id (500 via the FK).
    assert httpx.get(f"{base}/api/v1/catalog/documents", params={"q": "政务\x00"}).status_code == 422
    for bad in ({"title": "通知\x00"}, {"title": "通知", "interpretation_of": ""}):
        r = httpx.post(f"{base}/api/v1/catalog/documents", headers=drafter, json=bad)
        assert r.status_code == 422, r.text
    # A draft's NOT NULL fields cannot be nulled (500), only left out.
    created = httpx.post(f"{base}/api/v1/catalog/documents", headers=drafter, json={"title": "关于测试的通知"})
    assert created.status_code == 201, created.text
    r = httpx.patch(f"{base}/api/v1/catalog/documents/{created.json()['id']}", json={"body": None},
                    headers={**drafter, "If-Match": created.headers["etag"]})
    assert r.status_code == 422, r.text
    # A month of year 0 is not a month (500 from date()).
    r = httpx.get(f"{base}/api/v1/requests/applicants/monthly-counts", params={"month": "0000-01"}, headers=handler)
    assert r.status_code == 422, r.text


@pytest.mark.timeout(900 if SIZE == "ci" else 7200)  # CI size takes 2–3 minutes on a quiet machine
def test_schemathesis_finds_nothing(system, tmp_path: Path):  # noqa: F811
    base, _ = system
    runs = []
    for step in _plan():
        work = tmp_path / step["name"]
        work.mkdir()
        principal = step.pop("principal")
        runs.append(run_schemathesis(base, principal, work, seed=SEED, **step))
    summary = _summary(runs)
    if RESULTS:
        Path(RESULTS).write_text(json.dumps(summary, ensure_ascii=False, indent=1), encoding="utf-8")
    print(json.dumps({k: v for k, v in summary.items() if k != "runs"}, ensure_ascii=False))
    failed = [r for r in runs if r["failures"] or r["errors"] or r["exit_code"] not in (0, 1)]
    assert not failed, "\n\n".join(f"== {r['run']} (exit {r['exit_code']})\n{r['output'][-6000:]}" for r in failed)
    assert summary["server_errors"] == 0, summary

    # The run was real: every principal's own (non-public) operations answered 2xx somewhere, not only 401/403.
    spec = httpx.get(f"{base}/openapi.json").json()
    public = {f"{method.upper()} {path}" for path, item in spec["paths"].items() for method, op in item.items()
              if isinstance(op, dict) and (op.get("x-gongkai-access") or {}).get("roles", None) is None}
    for run in runs:
        if run["principal"] != "anonymous" and not run["run"].endswith("-flow"):
            assert set(run["ok_by_operation"]) - public, (run["run"], run["ok_by_operation"])
    # The links were followed to the end: a drafted record submitted, a registered application confirmed, a
    # submitted one tracked with its own tracking number and 查询码.
    ends = {"drafter-flow": "POST /api/v1/catalog/documents/{document_id}/submit",
            "intake_clerk-flow": "POST /api/v1/requests/applications/{application_id}/confirm",
            "anonymous-flow": "POST /api/v1/requests/track"}
    for run in runs:
        if run["run"] in ends:
            assert run["links_covered"] >= 1 and run["ok_by_operation"].get(ends[run["run"]], 0) > 0, (
                run["run"], run["links_covered"], run["ok_by_operation"])
