"""The applicant's side: tracking number + 查询码, the brute-force lock, /mine, and no way to see (or detect) anyone
else's application (reliability.md API1: 404 exactly as for a random id)."""

import re
import uuid
from datetime import timedelta

from sqlalchemy import select

from request_service.models import Application, Letter, LookupAttempt
from services.db import utcnow
from tests.request_service.intake_support import API, assert_no_pii, submit
from tests.support import assert_problem, auth

A = auth("applicant", sub="citizen-a", name="申请人甲")
B = auth("applicant", sub="citizen-b", name="申请人乙")


async def track(client, tracking_no: str, query_code: str):
    return await client.post(f"{API}/track", json={"tracking_no": tracking_no, "query_code": query_code})


def comparable(problem: dict, *ids: str) -> dict:
    """A problem body without what legitimately differs per request: the request id, and the id asked for."""
    body = {k: v for k, v in problem.items() if k != "request_id"}
    text = str(body)
    for i, value in enumerate(ids):
        text = text.replace(value, f"<id{i}>") if value else text
    return {"text": re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", "<id>", text)}


async def test_tracking_number_and_query_code_show_the_application(client, organ):
    receipt = await submit(client, organ)
    r = await track(client, receipt["tracking_no"].lower(), " ".join(receipt["query_code"]))  # typed loosely
    assert r.status_code == 200, r.text
    view = r.json()
    assert view["tracking_no"] == receipt["tracking_no"] and view["status"] == "received"
    assert view["status_label"] == {"code": "received", "zh": "已收到，待确认", "en": "Received, awaiting confirmation"}
    assert view["organ_name"] == "测试市财政局" and view["info_title"] == "2025年度部门预算执行情况"
    assert view["receipt_date"] is None and view["outcome"] is None and view["letters"] == []
    assert view["applicant"]["masked"] is True and view["applicant"]["name"] == "张三"
    # No staff fields: the applicant's view is its own closed schema.
    for staff_field in ("handler_sub", "repeat_of", "suggestions", "reply_drafted_by", "applicant_key",
                        "query_code", "query_code_hash", "extension_approved_by", "version"):
        assert staff_field not in view
    assert_no_pii(r)


async def test_wrong_number_and_wrong_code_are_the_same_404(client, organ):
    receipt = await submit(client, organ)
    wrong_code = await track(client, receipt["tracking_no"], "WRONGCODE2")
    wrong_number = await track(client, "GK2026-AAAAAAAA", receipt["query_code"])
    a = assert_problem(wrong_code, 404, "application_not_found")
    b = assert_problem(wrong_number, 404, "application_not_found")
    assert comparable(a) == comparable(b)
    assert wrong_code.headers.keys() - {"x-request-id"} == wrong_number.headers.keys() - {"x-request-id"}
    assert_problem(await client.post(f"{API}/track", json={"tracking_no": receipt["tracking_no"]}), 422)
    assert_problem(await track(client, "not-a-number", receipt["query_code"]), 422)  # could never exist


async def test_five_failures_lock_the_number(client, request_db, organ):
    receipt = await submit(client, organ)
    for _ in range(5):
        assert_problem(await track(client, receipt["tracking_no"], "WRONGCODE2"), 404)
    locked = await track(client, receipt["tracking_no"], receipt["query_code"])  # even the right code now
    assert_problem(locked, 429, "lookup_locked")
    assert 0 < int(locked.headers["retry-after"]) <= 900
    # An unknown number locks the same way: the lock says nothing about existence.
    for _ in range(5):
        assert_problem(await track(client, "GK2026-BBBBBBBB", "WRONGCODE2"), 404)
    assert_problem(await track(client, "GK2026-BBBBBBBB", "WRONGCODE2"), 429, "lookup_locked")
    # Once the window is over, the right code works again and clears the count.
    async with request_db.transaction() as session:
        attempt = await session.get(LookupAttempt, receipt["tracking_no"])
        attempt.locked_until = utcnow() - timedelta(seconds=1)
        attempt.window_started_at = utcnow() - timedelta(minutes=16)
    assert (await track(client, receipt["tracking_no"], receipt["query_code"])).status_code == 200
    async with request_db.transaction(write=False) as session:
        assert await session.get(LookupAttempt, receipt["tracking_no"]) is None


async def test_failures_outside_the_window_do_not_add_up(client, request_db, organ):
    receipt = await submit(client, organ)
    for _ in range(4):
        await track(client, receipt["tracking_no"], "WRONGCODE2")
    async with request_db.transaction() as session:
        (await session.get(LookupAttempt, receipt["tracking_no"])).window_started_at = utcnow() - timedelta(hours=1)
    await track(client, receipt["tracking_no"], "WRONGCODE2")  # the first failure of a new window
    assert (await track(client, receipt["tracking_no"], receipt["query_code"])).status_code == 200


async def test_mine_lists_only_my_applications(client, organ):
    mine = [await submit(client, organ, headers=A, info_title=f"申请{i}") for i in range(3)]
    theirs = await submit(client, organ, headers=B)
    await submit(client, organ)  # anonymous: nobody's list
    r = await client.get(f"{API}/applications/mine", headers=A)
    assert r.status_code == 200, r.text
    assert [i["id"] for i in r.json()["items"]] == [m["id"] for m in reversed(mine)]
    assert theirs["id"] not in r.text
    assert_no_pii(r)
    # Paged newest first with an opaque cursor (a timestamp inside: PostgreSQL must get it typed back).
    page = await client.get(f"{API}/applications/mine", params={"limit": 2}, headers=A)
    assert len(page.json()["items"]) == 2 and 'rel="next"' in page.headers["link"]
    rest = await client.get(f"{API}/applications/mine", params={"limit": 2, "after": page.json()["next_cursor"]},
                            headers=A)
    assert [i["id"] for i in rest.json()["items"]] == [mine[0]["id"]] and rest.json()["next_cursor"] is None
    assert_problem(await client.get(f"{API}/applications/mine", params={"cursor": "garbage"}, headers=A), 422)
    b = await client.get(f"{API}/applications/mine", headers=B)
    assert [i["id"] for i in b.json()["items"]] == [theirs["id"]]
    assert_problem(await client.get(f"{API}/applications/mine"), 401)
    assert_problem(await client.get(f"{API}/applications/mine", headers=auth("handler", organ=organ)), 403)


async def test_another_applicants_id_is_a_random_id(client, organ):
    """Every endpoint that takes an application id answers applicant A the same for B's id as for a random one."""
    theirs = await submit(client, organ, headers=B)
    random_id = str(uuid.uuid4())
    paths = ["", "/applicant", "/applicant?unmask=false", "/suggestions", "/deadline", "/history",
             "/third-party-consultations", "/letters"]
    for path in paths:
        for caller in (A, auth("applicant", sub="citizen-b-twin")):
            r_theirs = await client.get(f"{API}/applications/{theirs['id']}{path}", headers=caller)
            r_random = await client.get(f"{API}/applications/{random_id}{path}", headers=caller)
            # The access policy refuses an applicant on staff endpoints before looking anything up: the same
            # answer whether the id exists or not.
            assert r_theirs.status_code == r_random.status_code == 403, (path, r_theirs.text)
            assert comparable(r_theirs.json(), theirs["id"]) == comparable(r_random.json(), random_id), path
    # Writes too: A cannot act on B's application.
    for action in ("confirm", "supplement-request", "draft-reply"):
        headers = {**A, "If-Match": '"1"'}
        r_theirs = await client.post(f"{API}/applications/{theirs['id']}/{action}", json={}, headers=headers)
        r_random = await client.post(f"{API}/applications/{random_id}/{action}", json={}, headers=headers)
        assert r_theirs.status_code == r_random.status_code
        if r_theirs.status_code == 404:
            assert comparable(r_theirs.json(), theirs["id"]) == comparable(r_random.json(), random_id)
    # And B's own list still shows it, unchanged.
    assert (await client.get(f"{API}/applications/mine", headers=B)).json()["items"][0]["status"] == "received"


async def test_track_needs_both_halves_of_the_same_application(client, organ):
    a = await submit(client, organ, headers=A)
    b = await submit(client, organ, headers=B)
    r = await track(client, b["tracking_no"], a["query_code"])  # A's code does not open B's application
    assert_problem(r, 404, "application_not_found")


async def test_the_applicant_sees_a_decision_only_when_signed_off(client, request_db, organ):
    receipt = await submit(client, organ, headers=A)
    async with request_db.transaction() as session:
        app = await session.get(Application, receipt["id"])
        app.status, app.outcome = "reply_drafted", "withheld.process_information"
        app.receipt_date = app.submitted_at.date()
        session.add(Letter(application_id=app.id, kind="reply", html="<p>草稿</p>", sha256="0" * 64,
                           issued_on=app.submitted_at.date(), created_by="handler"))
        session.add(Letter(application_id=app.id, kind="consultation_letter", html="<p>征询</p>", sha256="1" * 64,
                           issued_on=app.submitted_at.date(), created_by="handler"))
    view = (await track(client, receipt["tracking_no"], receipt["query_code"])).json()
    assert view["status"] == "accepted" and view["outcome"] is None and view["letters"] == []
    async with request_db.transaction() as session:
        app = await session.get(Application, receipt["id"])
        app.status, app.closed_on = "replied", app.submitted_at.date()
    view = (await client.get(f"{API}/applications/mine", headers=A)).json()["items"][0]
    assert view["status"] == "replied" and view["outcome"] == "withheld.process_information"
    assert view["outcome_label"]["zh"] == "不予公开：属于四类过程性信息"
    assert [letter["kind"] for letter in view["letters"]] == ["reply"]  # never the third party's letter


async def test_query_code_is_shown_once(client, request_db, organ):
    receipt = await submit(client, organ, headers=A)
    async with request_db.transaction(write=False) as session:
        stored = (await session.execute(select(Application).where(Application.id == receipt["id"]))).scalar_one()
    assert receipt["query_code"] not in str(stored.__dict__)
    mine = await client.get(f"{API}/applications/mine", headers=A)
    tracked = await track(client, receipt["tracking_no"], receipt["query_code"])
    assert receipt["query_code"] not in mine.text and receipt["query_code"] not in tracked.text

