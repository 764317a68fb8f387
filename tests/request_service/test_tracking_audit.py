"""Failed anonymous look-ups (申请进度查询 with a wrong tracking number or 查询码) stay out of the hash-chained audit
log (security review, issue 11 item 10): anyone can send them, so each one chained would let anonymous traffic grow the
log without bound and slow every verify. The audit log is for changes and privileged reads; a failed look-up is
counted (the request service's /metrics) and limited per tracking number by the lockout, which still works."""

import re

from tests.request_service.intake_support import API, Desk, applicant, register, submit
from tests.support import assert_problem, auth

AUDITOR = auth("auditor", sub="auditor-1")


async def track(client, tracking_no: str, query_code: str):
    return await client.post(f"{API}/track", json={"tracking_no": tracking_no, "query_code": query_code})


async def audit_actions(client) -> list[str]:
    entries, after = [], 0
    while True:
        r = await client.get("/internal/v1/audit", headers=AUDITOR, params={"after": after, "limit": 500})
        assert r.status_code == 200, r.text
        page = r.json()["items"]
        if not page:
            return [e["action"] for e in entries]
        entries += page
        after = page[-1]["seq"]


def failures_metric(text: str) -> float:
    match = re.search(r"^gongkai_request_tracking_lookup_failures_total (\S+)$", text, re.M)
    assert match, text
    return float(match.group(1))


async def test_failed_lookups_do_not_grow_the_audit_log(client, organ):
    receipt = await submit(client, organ)
    before = await audit_actions(client)
    for _ in range(4):  # wrong 查询码: one short of the lock
        assert_problem(await track(client, receipt["tracking_no"], "WRONGCODE2"), 404)
    for n in range(20):  # numbers that do not exist, each its own counter
        assert_problem(await track(client, f"GK2026-AAAAAA{chr(65 + n)}A", "WRONGCODE2"), 404)
    assert await audit_actions(client) == before
    verified = (await client.get("/internal/v1/audit/verify", headers=AUDITOR)).json()
    assert verified["ok"] is True and verified["entries"] == len(before)


async def test_failed_lookups_are_counted(client, organ):
    receipt = await submit(client, organ)
    metrics = await client.get("/metrics")
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
    before = failures_metric(metrics.text)
    assert_problem(await track(client, receipt["tracking_no"], "WRONGCODE2"), 404)
    assert_problem(await track(client, "GK2026-AAAAAAAA", "WRONGCODE2"), 404)
    assert (await track(client, receipt["tracking_no"], receipt["query_code"])).status_code == 200
    assert failures_metric((await client.get("/metrics")).text) == before + 2


async def test_the_lockout_still_holds(client, organ):
    receipt = await submit(client, organ)
    before = await audit_actions(client)
    for _ in range(5):
        assert_problem(await track(client, receipt["tracking_no"], "WRONGCODE2"), 404)
    assert_problem(await track(client, receipt["tracking_no"], receipt["query_code"]), 429, "lookup_locked")
    assert await audit_actions(client) == before


async def test_successful_and_privileged_reads_are_still_audited(client, organ):
    desk = Desk(organ)
    receipt = await submit(client, organ)
    before = await audit_actions(client)
    assert (await track(client, receipt["tracking_no"], receipt["query_code"])).status_code == 200
    registered = await register(client, desk, "in_person", applicant=applicant())
    r = await client.get(f"{API}/applications/{registered['id']}/applicant", headers=desk.handler,
                         params={"unmask": "true", "reason": "核实申请人身份"})
    assert r.status_code == 200, r.text
    assert (await audit_actions(client))[len(before):] == [
        "POST /api/v1/requests/track", "POST /api/v1/requests/applications/register", "pii.unmask"]


async def test_replayed_submissions_do_not_grow_the_audit_log(client, organ):
    """The same class: an anonymous retry with the same Idempotency-Key replays the receipt and changes nothing, so
    it leaves no entry either (else one submission could be replayed into any number of entries)."""
    from tests.request_service.intake_support import application_body

    body = application_body(organ)
    before = await audit_actions(client)
    for _ in range(5):
        r = await client.post(f"{API}/applications", json=body, headers={"Idempotency-Key": "retry-me-0001"})
        assert r.status_code == 201, r.text
    assert r.headers["Idempotent-Replayed"] == "true"
    assert (await audit_actions(client))[len(before):] == ["POST /api/v1/requests/applications"]
