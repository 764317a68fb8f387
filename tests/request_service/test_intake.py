"""Intake: the online form and registration by the intake clerk, receipt dates per channel (条例第三十一条), identity
checks, mass assignment, Idempotency-Key, catalogue suggestions, repeats, monthly counts and the organ feed."""

import re
from datetime import date, timedelta

import httpx
import pytest
from sqlalchemy import event, func, select

from request_service.clients import CatalogAway, make_catalog_client
from request_service.config import Settings
from request_service.domain import intake as intake_domain
from request_service.domain.applications import today
from request_service.domain.intake import catalogue_query, fetch_suggestions
from request_service.domain.organs import apply_organ_event, apply_organ_events, subtree_codes
from request_service.domain.repeats import applications_in_month, similarity
from request_service.feeds import ORGAN_FEED
from request_service.models import (
    Application,
    CalendarDay,
    CalendarYear,
    ClockSegment,
    HandlingStep,
    IdempotencyRecord,
    KnownOrgan,
    outbox,
)
from services.db import utcnow
from services.outbox import FeedConsumer
from tests.request_service.intake_support import (
    API,
    Desk,
    FakeCatalog,
    add_organ,
    applicant,
    application_body,
    days_ago,
    events_of,
    new_organ_code,
    register,
    resident_id,
    submit,
    uscc,
    wrong_check,
)
from tests.support import assert_problem, auth

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


async def count_applications(db, organ_code: str) -> int:
    # Per organ: every test has its own organ, so the count is the test's own whatever else is in the database.
    async with db.transaction(write=False) as session:
        return (await session.execute(select(func.count()).select_from(Application).where(
            Application.organ_code == organ_code))).scalar_one()


async def row(db, app_id: str) -> Application:
    async with db.transaction(write=False) as session:
        return await session.get(Application, app_id)


# --- the online form ------------------------------------------------------------------------------------------------


async def test_online_application_waits_for_confirmation(client, request_db, organ):
    body = await submit(client, organ)
    assert body["status"] == "received" and body["status_label"]["zh"] == "已收到，待确认"
    assert body["channel"] == "online" and body["receipt_date"] is None and body["due_on"] is None
    assert re.fullmatch(r"GK\d{4}-[A-Z2-7]{8}", body["tracking_no"])
    assert len(body["query_code"]) >= 8 and body["organ_name"] == "测试市财政局"
    stored = await row(request_db, body["id"])
    assert stored.query_code_hash.startswith("hmac_sha256$") and body["query_code"] not in stored.query_code_hash
    assert stored.applicant_sub is None and stored.receipt_date is None
    events = [e for e in await events_of(request_db, "application.received") if e["entity_id"] == body["id"]]
    assert len(events) == 1 and events[0]["payload"]["channel"] == "online"
    assert "张三" not in str(events[0]["payload"]) and stored.id_number not in str(events[0]["payload"])


async def test_signed_in_applicant_is_linked_and_staff_are_sent_to_registration(client, request_db, organ):
    body = await submit(client, organ, headers=auth("applicant", sub="citizen-42"))
    assert (await row(request_db, body["id"])).applicant_sub == "citizen-42"
    r = await client.post(f"{API}/applications", json=application_body(organ),
                          headers=auth("handler", organ=organ))
    assert_problem(r, 403, "applicant_role_required")


async def test_unknown_organ_is_refused(client, request_db):
    unknown = new_organ_code()
    r = await client.post(f"{API}/applications", json=application_body(unknown))
    body = assert_problem(r, 422, "unknown_organ")
    assert body["errors"][0]["loc"] == ["body", "organ_code"]
    assert await count_applications(request_db, unknown) == 0


@pytest.mark.parametrize("field, value", [
    ("status", "replied"), ("receipt_date", "2026-01-05"), ("outcome", "granted"), ("channel", "in_person"),
    ("applicant_sub", "someone-else"), ("tracking_no", "GK2026-AAAAAAAA"), ("repeat_of", "x"),
    ("due_on", "2026-12-31"), ("handler_sub", "h"), ("query_code_hash", "x"), ("fee_waived", True),
    ("suggestions", []), ("id", "00000000-0000-4000-8000-000000000000"),
])
async def test_online_form_refuses_privileged_fields(client, request_db, organ, field, value):
    r = await client.post(f"{API}/applications", json={**application_body(organ), field: value})
    assert_problem(r, 422, "validation_error")
    assert await count_applications(request_db, organ) == 0


async def test_applicant_object_refuses_unknown_fields(client, request_db, organ):
    r = await client.post(f"{API}/applications", json=application_body(organ, applicant=applicant(applicant_key="k")))
    assert_problem(r, 422, "validation_error")


@pytest.mark.parametrize("field, value", [("organ_code", "x"), ("status", "accepted"), ("receipt_date", "2026-01-05"),
                                          ("outcome", "granted"), ("applicant_sub", "x")])
async def test_registration_refuses_privileged_fields(client, request_db, desk, field, value):
    r = await client.post(f"{API}/applications/register", headers=desk.clerk,
                          json={**application_body(channel="in_person"), field: value})
    assert_problem(r, 422, "validation_error")
    assert await count_applications(request_db, desk.organ) == 0


# --- registration: receipt date per channel (条例第三十一条) ---------------------------------------------------------


async def test_in_person_starts_the_clock_on_the_day_handed_in(client, request_db, desk):
    handed_in = days_ago(3)
    body = await register(client, desk, "in_person", submitted_on=handed_in.isoformat())
    assert body["status"] == "accepted" and body["receipt_date"] == handed_in.isoformat()
    assert body["due_on"] is not None and body["due_on"] > handed_in.isoformat()
    assert body["applicant"]["masked"] is True and body["repeat_of"] is None
    staff = (await client.get(f"{API}/applications/{body['id']}", headers=desk.handler)).json()
    assert staff["receipt_date"] == handed_in.isoformat() and staff["due_on"] == body["due_on"]
    async with request_db.transaction(write=False) as session:
        steps = (await session.execute(select(HandlingStep.action, HandlingStep.status_after).where(
            HandlingStep.application_id == body["id"]).order_by(HandlingStep.seq))).all()
    assert [tuple(s) for s in steps] == [("register", "received"), ("accept", "accepted")]
    versions = [(e["type"], e["version"]) for e in await events_of(request_db, "application.received")
                + await events_of(request_db, "application.accepted") if e["entity_id"] == body["id"]]
    assert versions == [("application.received", 1), ("application.accepted", 2)]


async def test_in_person_defaults_to_today(client, desk):
    body = await register(client, desk, "in_person")
    assert body["status"] == "accepted" and body["receipt_date"] == today().isoformat()


async def test_registration_reads_once_and_writes_once_per_table(client, request_db, desk):
    """Intake is the hot path: one read (organ, repeat candidates and the calendar's signature together, no
    tracking-number check: the unique constraint guards it); a new application has no steps, clock segments or
    appeals in the database to look up; and it is written once (one INSERT per table, both handling steps and
    both events in one)."""
    await register(client, desk, "in_person")  # the calendar cache is warm, as on a running server
    statements: list[str] = []

    def seen(_conn, _cursor, statement: str, *_args) -> None:
        if "audit_" in statement or "pg_advisory_xact_lock(" in statement and "outbox" not in statement:
            return  # the audit log's own statements at the commit (services/audit.py), the same for every write
        if insert := re.search(r"\bINSERT INTO (\w+)", statement):
            statements.append(f"INSERT {insert.group(1)}")
        elif select_ := re.match(r"\s*SELECT\b.*?\sFROM\s+(\w+)", statement, re.DOTALL):
            statements.append(f"SELECT {select_.group(1)}")
        elif not re.match(r"\s*(SAVEPOINT|RELEASE|ROLLBACK|BEGIN)", statement):
            statements.append(statement)

    engine = request_db.bind.sync_engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        body = await register(client, desk, "in_person")
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    # The one read's FROM starts with the calendar signature; on PostgreSQL the application, its clock segment and
    # both steps are one statement (WITH new_application AS (INSERT …) …).
    writes = (["INSERT application"] if request_db.dialect == "postgresql"
              else ["INSERT application", "INSERT clock_segment", "INSERT handling_step"])
    assert statements == ["SELECT calendar_year", *writes, "INSERT outbox_event"]
    async with request_db.transaction(write=False) as session:
        stored = await session.get(Application, body["id"])
        segments = (await session.execute(select(ClockSegment.seq, ClockSegment.state, ClockSegment.start_on).where(
            ClockSegment.application_id == body["id"]))).all()
        assert stored.version == 2 and str(stored.due_on) == body["due_on"] and stored.supplement_notice_due_on
        assert stored.fee_waived is False and stored.extension_days == 0
    assert [tuple(s) for s in segments] == [(1, "running", today())]
    accepted = [e for e in await events_of(request_db, "application.accepted") if e["entity_id"] == body["id"]]
    assert accepted[0]["payload"]["due_on"] == body["due_on"] and accepted[0]["payload"]["appeals"] == []


async def test_a_taken_tracking_number_is_drawn_again(client, request_db, desk, monkeypatch):
    """No look-up before the insert: the unique constraint finds the taken number, and another one is drawn
    without failing the registration or leaving half of it behind."""
    first = await register(client, desk, "in_person")
    drawn = iter([first["tracking_no"], first["tracking_no"], "GK2026-ZZZZZZZ2"])
    calls: list[int] = []

    def draw(year: int) -> str:
        calls.append(year)
        return next(drawn)

    monkeypatch.setattr(intake_domain, "_new_tracking_no", draw)
    second = await register(client, desk, "in_person")
    assert second["tracking_no"] == "GK2026-ZZZZZZZ2" and len(calls) == 3
    async with request_db.transaction(write=False) as session:
        numbers = (await session.execute(select(Application.id, Application.tracking_no).where(
            Application.organ_code == desk.organ))).all()
        steps = (await session.execute(select(HandlingStep.application_id, func.count()).where(
            HandlingStep.application_id.in_([first["id"], second["id"]])).group_by(HandlingStep.application_id)
        )).all()
        segments = (await session.execute(select(ClockSegment.application_id, func.count()).where(
            ClockSegment.application_id.in_([first["id"], second["id"]])).group_by(ClockSegment.application_id)
        )).all()
    assert sorted(numbers) == sorted([(first["id"], first["tracking_no"]), (second["id"], "GK2026-ZZZZZZZ2")])
    assert dict(steps) == {first["id"]: 2, second["id"]: 2} and dict(segments) == {first["id"]: 1, second["id"]: 1}
    # The receipt's 查询码 opens the application under the number it was finally given.
    r = await client.post(f"{API}/track", json={"tracking_no": second["tracking_no"],
                                                 "query_code": second["query_code"]})
    assert r.status_code == 200 and r.json()["id"] == second["id"]


async def test_registration_follows_a_calendar_load_by_another_process(client, request_db, desk):
    """Intake reads the calendar's signature with its other look-ups instead of on its own; a year loaded by
    another worker process (here: written to the database behind this app's back, its cache warm) is used by the
    very next registration all the same."""
    received = today().isoformat()
    calendar = f"{API}/calendar"
    before = await register(client, desk, "in_person")
    assert before["due_on"] == (await client.get(f"{calendar}/add-working-days",
                                                 params={"start": received, "days": 20})).json()["date"]
    # A new holiday on the first ordinary weekday that counts (not a 调休 make-up day): the due date moves by a day.
    for n in range(1, 15):
        day = (await client.get(f"{calendar}/add-working-days", params={"start": received, "days": n})).json()
        holiday = date.fromisoformat(day["date"])
        if holiday.weekday() < 5:
            break
    async with request_db.transaction() as session:  # what the other process's PUT /calendar/years/… commits
        year = await session.get(CalendarYear, holiday.year)
        if year is None:  # a year chinese-calendar does not know yet: the other process loads it
            session.add(CalendarYear(year=holiday.year, status="official", source="admin", version=1))
        else:
            year.version, year.loaded_at, year.source = year.version + 1, utcnow(), "admin"
        session.add(CalendarDay(day=holiday, year=holiday.year, kind="holiday", name="测试假日"))
    after = await register(client, desk, "in_person")
    expected = (await client.get(f"{calendar}/add-working-days", params={"start": received, "days": 20})).json()
    assert after["due_on"] == expected["date"] and after["due_on"] > before["due_on"]


async def test_signed_for_post_starts_the_clock_on_the_signing_date(client, desk):
    signed = days_ago(2)
    body = await register(client, desk, "mail_signed", signed_for_on=signed.isoformat())
    assert body["status"] == "accepted" and body["receipt_date"] == signed.isoformat() and body["due_on"]


@pytest.mark.parametrize("channel", ["mail_ordinary", "email", "fax", "other"])
async def test_channels_that_need_confirmation_wait(client, desk, channel):
    body = await register(client, desk, channel)
    assert body["status"] == "received" and body["receipt_date"] is None and body["due_on"] is None
    assert body["channel"] == channel


TOMORROW = object()  # a date in the future, resolved when the test runs


@pytest.mark.parametrize("channel, extra", [
    ("mail_signed", {}),  # signed_for_on missing
    ("in_person", {"signed_for_on": "2026-01-05"}),
    ("email", {"submitted_on": "2026-01-05"}),
    ("online", {}),  # online comes through the form
    ("in_person", {"submitted_on": TOMORROW}),
    ("mail_signed", {"signed_for_on": TOMORROW}),
])
async def test_registration_checks_the_channel_facts(client, request_db, desk, channel, extra):
    # Tomorrow is read when the test runs, not when it is collected: a run crossing Beijing's midnight made the
    # collected "tomorrow" today, and the registration valid.
    extra = {k: (today() + timedelta(days=1)).isoformat() if v is TOMORROW else v for k, v in extra.items()}
    r = await client.post(f"{API}/applications/register", headers=desk.clerk,
                          json=application_body(channel=channel, **extra))
    assert_problem(r, 422, "validation_error")
    assert await count_applications(request_db, desk.organ) == 0


async def test_registration_is_for_the_intake_clerk(client, desk):
    body = application_body(channel="in_person")
    assert_problem(await client.post(f"{API}/applications/register", json=body), 401)
    assert_problem(await client.post(f"{API}/applications/register", json=body, headers=desk.handler),
                   403, "wrong_role")
    assert_problem(await client.post(f"{API}/applications/register", json=body,
                                     headers=auth("applicant", sub="citizen")), 403, "wrong_role")
    assert_problem(await client.post(f"{API}/applications/register", json=body,
                                     headers=auth("intake_clerk", organ=new_organ_code())), 422, "unknown_organ")


# --- identity documents and contact details --------------------------------------------------------------------------


@pytest.mark.parametrize("applicant_fields, ok", [
    ({"id_type": "resident_id", "id_number": "11010519491231002X"}, True),  # GB 11643's published example
    ({"id_type": "resident_id", "id_number": "11010519491231002x"}, True),  # lower-case x is the same number
    ({"id_type": "resident_id", "id_number": "110105194912310021"}, False),  # wrong check character
    ({"id_type": "resident_id", "id_number": "11010519491331002X"}, False),  # month 13
    ({"id_type": "resident_id", "id_number": "1101051949123100"}, False),  # too short
    ({"id_type": "resident_id", "id_number": None}, False),  # a type without a number
    ({"id_number": "11010519491231002X", "id_type": None}, False),  # a number without a type
    ({"id_type": "uscc", "id_number": "91440101MA5CXXXXXX"}, False),  # a person has no credit code
    ({"id_type": "passport", "id_number": "E12345678"}, True),
    ({"phone": "0755-12345678"}, True),
    ({"phone": "+86 138 1234 5678"}, True),
    ({"phone": "12345678901"}, False),  # 12… is not a mobile prefix
    ({"phone": "12345"}, False),
    ({"postal_code": "10001"}, False),
    ({"email": "not-an-email"}, False),
    ({"phone": None, "email": None, "address": None}, False),  # no way to reach the applicant
])
async def test_natural_person_identity(client, organ, applicant_fields, ok):
    r = await client.post(f"{API}/applications", json=application_body(organ, applicant=applicant(**applicant_fields)))
    if ok:
        assert r.status_code == 201, r.text
    else:
        assert_problem(r, 422, "validation_error")


async def test_resident_id_check_digits_both_ways(client, organ):
    valid = resident_id(born="19900307")
    assert (await client.post(f"{API}/applications", json=application_body(
        organ, applicant=applicant(id_number=valid)))).status_code == 201
    assert_problem(await client.post(f"{API}/applications", json=application_body(
        organ, applicant=applicant(id_number=wrong_check(valid)))), 422)


async def test_organisation_credit_code(client, request_db, organ):
    code = uscc()
    company = applicant(type="commercial_enterprise", name="某某科技有限公司", id_type="uscc", id_number=code)
    body = await submit(client, organ, applicant=company)
    assert (await row(request_db, body["id"])).id_number == code
    wrong = applicant(type="commercial_enterprise", id_type="uscc", id_number=wrong_check(code, USCC_ALPHABET))
    assert_problem(await client.post(f"{API}/applications", json=application_body(organ, applicant=wrong)), 422)
    as_person = applicant(type="commercial_enterprise", id_type="resident_id", id_number=resident_id())
    assert_problem(await client.post(f"{API}/applications", json=application_body(organ, applicant=as_person)), 422)


@pytest.mark.parametrize("applicant_type", ["natural_person", "commercial_enterprise", "research_institution",
                                            "social_welfare_org", "legal_service_org", "other_org"])
async def test_applicant_types_are_the_annual_report_columns(client, request_db, organ, applicant_type):
    person = applicant_type == "natural_person"
    fields = {} if person else {"id_type": "uscc", "id_number": uscc()}
    body = await submit(client, organ, applicant=applicant(type=applicant_type, **fields))
    assert (await row(request_db, body["id"])).applicant_type == applicant_type


# --- Idempotency-Key ------------------------------------------------------------------------------------------------


async def test_idempotency_key_replays_the_first_response(client, request_db, organ):
    body = application_body(organ)
    key = {"Idempotency-Key": "3f1c9a8e-1b2c-4d5e-8f90-123456789abc"}
    first = await client.post(f"{API}/applications", json=body, headers=key)
    again = await client.post(f"{API}/applications", json=body, headers=key)
    assert first.status_code == again.status_code == 201
    assert first.content == again.content and again.headers["idempotent-replayed"] == "true"
    assert first.headers["etag"] == again.headers["etag"]
    assert await count_applications(request_db, organ) == 1
    assert [e["entity_id"] for e in await events_of(request_db, "application.received")
            if e["payload"]["organ_code"] == organ] == [first.json()["id"]]
    # The stored record holds neither the key nor the 查询码 in clear.
    query_code = first.json()["query_code"]
    async with request_db.transaction(write=False) as session:
        records = (await session.execute(select(IdempotencyRecord))).scalars().all()
    assert records and all(query_code not in r.response and key["Idempotency-Key"] not in str(r.__dict__)
                           for r in records)

    # Anonymous keys are scoped by the form: another form under the same key is simply another application —
    # neither a conflict that would reveal someone used the key, nor a replay of their receipt.
    changed = await client.post(f"{API}/applications", json={**body, "info_title": "另一个申请"}, headers=key)
    assert changed.status_code == 201 and changed.json()["id"] != first.json()["id"]
    assert "idempotent-replayed" not in changed.headers
    other_key = await client.post(f"{API}/applications", json=body, headers={"Idempotency-Key": "another-key"})
    assert other_key.status_code == 201 and other_key.json()["id"] != first.json()["id"]
    assert await count_applications(request_db, organ) == 3
    # A signed-in applicant's key is theirs: another body under it is refused.
    citizen = {**key, **auth("applicant", sub="citizen-k")}
    assert (await client.post(f"{API}/applications", json=body, headers=citizen)).status_code == 201
    assert_problem(await client.post(f"{API}/applications", json={**body, "info_title": "另一个申请"},
                                     headers=citizen), 422, "idempotency_key_reused")


async def test_idempotency_keys_are_scoped_by_caller(client, request_db, organ, desk):
    key = {"Idempotency-Key": "same-key"}
    a = await client.post(f"{API}/applications", json=application_body(organ),
                          headers={**key, **auth("applicant", sub="citizen-a")})
    b = await client.post(f"{API}/applications", json=application_body(organ),
                          headers={**key, **auth("applicant", sub="citizen-b")})
    assert a.status_code == b.status_code == 201 and a.json()["id"] != b.json()["id"]
    registered = await client.post(f"{API}/applications/register", json=application_body(channel="in_person"),
                                   headers={**key, **desk.clerk})
    assert registered.status_code == 201
    # The clerk's key is the clerk's: another body under it is refused, the same body is replayed.
    assert_problem(await client.post(f"{API}/applications/register", json=application_body(channel="in_person"),
                                     headers={**key, **desk.clerk}), 422, "idempotency_key_reused")
    replay = await client.post(f"{API}/applications/register", content=registered.request.content,
                               headers={**key, **desk.clerk, "content-type": "application/json"})
    assert replay.content == registered.content
    assert await count_applications(request_db, organ) == 3


async def test_failed_submission_does_not_burn_the_key(client, request_db, organ):
    key = {"Idempotency-Key": "retry-after-fix"}
    body = application_body(new_organ_code())
    assert_problem(await client.post(f"{API}/applications", json=body, headers=key), 422, "unknown_organ")
    # The failed request's claim rolled back with it, so the corrected body may use the same key.
    fixed = await client.post(f"{API}/applications", json=body | {"organ_code": organ}, headers=key)
    assert fixed.status_code == 201, fixed.text


# --- catalogue suggestions ------------------------------------------------------------------------------------------


async def test_suggestions_from_the_catalogue_are_stored(client, request_db, organ, desk, fake_catalog):
    doc = fake_catalog.document("关于2025年度部门预算的公告", doc_number="穗财〔2025〕1号", organ_code=organ)
    body = await submit(client, organ)
    assert body["suggestions"] == [{"id": doc["id"], "index_no": doc["index_no"], "title": doc["title"],
                                    "doc_number": "穗财〔2025〕1号", "organ_code": organ}]
    search = [r for r in fake_catalog.requests if r.url.path == "/api/v1/catalog/documents"][0]
    assert search.url.params["q"] == "2025年度部门预算执行情况" and search.url.params["limit"] == "5"
    assert (await row(request_db, body["id"])).suggestions[0]["id"] == doc["id"]

    newer = fake_catalog.document("2025年度部门预算执行情况说明")
    r = await client.get(f"{API}/applications/{body['id']}/suggestions", headers=desk.handler)
    assert r.status_code == 200 and r.json()["fresh"] is True
    assert [s["id"] for s in r.json()["items"]] == [doc["id"], newer["id"]]

    fake_catalog.down = True
    r = await client.get(f"{API}/applications/{body['id']}/suggestions", headers=desk.handler)
    assert r.json() == {"items": body["suggestions"], "fresh": False, "next_cursor": None, "has_more": False,
                        "total": len(body["suggestions"])}
    assert_problem(await client.get(f"{API}/applications/{body['id']}/suggestions",
                                    headers=auth("applicant", sub="x")), 403, "wrong_role")


def test_catalogue_query_drops_the_framing():
    assert catalogue_query("申请公开关于2025年度部门预算的信息") == "2025年度部门预算"
    assert catalogue_query("《某市城市总体规划（2021-2035年）》全文") == "某市城市总体规划（2021-2035年）"
    assert catalogue_query("信息") == "信息"


async def test_document_number_is_searched_first(client, organ, fake_catalog):
    fake_catalog.document("某市人民政府办公厅关于印发某某办法的通知", doc_number="穗府办〔2025〕8号")
    body = await submit(client, organ, info_title="申请公开某某办法全文", info_doc_number="穗府办〔2025〕8号")
    queries = [r.url.params["q"] for r in fake_catalog.requests if r.url.path == "/api/v1/catalog/documents"]
    assert queries == ["穗府办〔2025〕8号", "某某办法"]
    assert len(body["suggestions"]) == 1  # the same record from both searches, once


async def test_intake_survives_a_catalogue_outage(client, organ, desk, fake_catalog):
    fake_catalog.down = True
    assert (await submit(client, organ))["suggestions"] == []
    assert (await register(client, desk, "in_person"))["suggestions"] == []


async def test_intake_survives_a_catalogue_error_or_garbage(client, organ, fake_catalog):
    fake_catalog.documents = [{"no": "title"}]  # an answer of an unexpected shape
    assert (await submit(client, organ))["suggestions"] == []


async def test_catalogue_client_maps_failures():
    from services.errors import UpstreamTimeout, UpstreamUnavailable

    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    for handler, error in [(timeout, UpstreamTimeout), (lambda r: httpx.Response(500), UpstreamUnavailable),
                           (lambda r: httpx.Response(200, content=b"<html>"), UpstreamUnavailable)]:
        catalog = make_catalog_client(Settings(), httpx.MockTransport(handler))
        with pytest.raises(error):
            await catalog.search_documents("预算")
        await catalog.aclose()


async def test_a_catalogue_that_is_down_is_left_alone_for_a_while():
    """Circuit breaker: after 3 failures in a row the catalogue is not called for the cooldown (5 s), so intake gets
    no suggestions at once instead of waiting on it; then one call probes it, and an answer closes the circuit."""
    from services.errors import UpstreamUnavailable

    fake, now = FakeCatalog(), [100.0]
    fake.down = True
    catalog = make_catalog_client(Settings(), httpx.MockTransport(fake.handler))
    catalog.breaker.clock = lambda: now[0]
    for _ in range(3):
        with pytest.raises(UpstreamUnavailable):
            await catalog.search_documents("预算")
    with pytest.raises(CatalogAway):
        await catalog.search_documents("预算")
    assert await fetch_suggestions(catalog, "部门预算") == [] and len(fake.requests) == 3
    now[0] += 5.1  # the cooldown is over: one call probes, fails, and the circuit opens again
    with pytest.raises(UpstreamUnavailable):
        await catalog.search_documents("预算")
    with pytest.raises(CatalogAway):
        await catalog.search_documents("预算")
    assert len(fake.requests) == 4
    now[0] += 5.1
    fake.down = False
    fake.document("2025年度部门预算")
    assert len(await catalog.search_documents("预算")) == 1  # the probe is answered: the circuit closes
    assert len(await catalog.search_documents("预算")) == 1 and len(fake.requests) == 6
    await catalog.aclose()


# --- repeats and monthly counts ---------------------------------------------------------------------------------------


def test_similarity_folds_width_and_punctuation():
    assert similarity("２０２５年度部门预算", "2025年度 部门预算。") == 1.0
    assert similarity("2025年度部门预算执行情况", "2025年度部门决算") < 0.6
    assert similarity("", "x") == 0.0


async def test_repeat_of_an_answered_application_is_flagged(client, request_db, organ, desk):
    person = applicant()
    first = await submit(client, organ, applicant=person, info_title="2025年度部门预算执行情况报告")
    async with request_db.transaction() as session:
        (await session.get(Application, first["id"])).status = "replied"
    similar = await register(client, desk, "in_person", applicant=person, info_title="2025年度部门预算执行情况的报告")
    assert similar["repeat_of"] == first["id"]
    other_topic = await register(client, desk, "in_person", applicant=person, info_title="办公楼维修合同",
                                 info_description="")
    assert other_topic["repeat_of"] is None
    someone_else = await register(client, desk, "in_person", info_title="2025年度部门预算执行情况报告")
    assert someone_else["repeat_of"] is None
    # The same person typed differently (spaces, lower-case x) is the same applicant.
    typed = applicant(id_number=person["id_number"][:6] + " " + person["id_number"][6:].lower(), name="张 三",
                      phone=person["phone"])
    again = await register(client, desk, "mail_ordinary", applicant=typed, info_title="2025年度部门预算执行情况报告")
    assert again["repeat_of"] == first["id"]


async def test_monthly_counts(client, request_db, organ, desk):
    heavy, light = applicant(), applicant(name="李四")
    ids = [(await register(client, desk, "in_person", applicant=heavy))["id"] for _ in range(3)]
    await submit(client, organ, applicant=heavy)  # not confirmed yet: counted by its submission date
    await register(client, desk, "in_person", applicant=light)
    other_desk = Desk(await add_organ(request_db))
    await register(client, other_desk, "in_person", applicant=heavy)  # another organ counts on its own
    month = today().strftime("%Y-%m")
    r = await client.get(f"{API}/applicants/monthly-counts", params={"month": month}, headers=desk.handler)
    assert r.status_code == 200, r.text
    counts = [(i["applicant_name"], i["count"]) for i in r.json()["items"]]
    assert counts == [("张三", 4), ("李四", 1)]
    page = await client.get(f"{API}/applicants/monthly-counts", params={"month": month, "limit": 1},
                            headers=desk.approver)
    assert [i["count"] for i in page.json()["items"]] == [4] and page.json()["next_cursor"]
    rest = await client.get(f"{API}/applicants/monthly-counts",
                            params={"month": month, "limit": 1, "after": page.json()["next_cursor"]},
                            headers=desk.approver)
    assert [i["applicant_name"] for i in rest.json()["items"]] == ["李四"] and rest.json()["next_cursor"] is None
    r = await client.get(f"{API}/applicants/monthly-counts", params={"month": month, "min_count": 2},
                         headers=desk.handler)
    assert [i["count"] for i in r.json()["items"]] == [4]
    assert_problem(await client.get(f"{API}/applicants/monthly-counts", params={"month": month},
                                    headers=desk.clerk), 403, "wrong_role")
    assert_problem(await client.get(f"{API}/applicants/monthly-counts", params={"month": "2026-13"},
                                    headers=desk.handler), 422)

    key = (await row(request_db, ids[0])).applicant_key
    async with request_db.transaction(write=False) as session:
        assert await applications_in_month(session, key, today()) == 5
        assert await applications_in_month(session, key, today(), organ_code=organ) == 4
        assert await applications_in_month(session, key, today().replace(day=1) - timedelta(days=1)) == 0


async def test_month_is_reckoned_by_receipt_date(client, request_db, organ, desk):
    person = applicant()
    body = await register(client, desk, "mail_signed", applicant=person, signed_for_on=days_ago(40).isoformat())
    key = (await row(request_db, body["id"])).applicant_key
    async with request_db.transaction(write=False) as session:
        assert await applications_in_month(session, key, days_ago(40)) == 1
        assert await applications_in_month(session, key, today()) == (1 if days_ago(40).month == today().month
                                                                     else 0)


# --- the organ directory from the catalogue's feed ------------------------------------------------------------------


def organ_event(event_id: int, type_: str, organ_id: str, code: str, name: str, parent: str | None,
                version: int) -> dict:
    return {"id": event_id, "type": type_, "entity_type": "organ", "entity_id": organ_id, "version": version,
            "payload": {"id": organ_id, "code": code, "name": name, "parent_code": parent, "version": version,
                        "kind": "department"},
            "occurred_at": "2026-01-05T00:00:00Z"}


async def test_organ_feed_builds_the_directory(request_db):
    city, bureau, office = new_organ_code(), new_organ_code(), new_organ_code()
    catalog = FakeCatalog()
    catalog.events = [
        organ_event(1, "organ.created", "id-city", city, "某市人民政府", None, 1),
        {**organ_event(2, "document.published", "doc-1", city, "x", None, 1), "entity_type": "document"},
        organ_event(3, "organ.created", "id-bureau", bureau, "某市财政局", city, 1),
        organ_event(4, "organ.created", "id-office", office, "某市财政局办公室", bureau, 1),
        organ_event(5, "organ.updated", "id-bureau", bureau, "某市财政局（更名）", city, 2),
    ]
    client = make_catalog_client(Settings(), httpx.MockTransport(catalog.handler))
    consumer = FeedConsumer(ORGAN_FEED, request_db, outbox, client.fetch_events, apply_organ_events, batch_size=2)
    assert await consumer.drain() == 5
    assert await consumer.position() == 5 and consumer.lag()["events"] == 0
    async with request_db.transaction() as session:
        assert (await session.get(KnownOrgan, bureau)).name == "某市财政局（更名）"
        assert (await session.get(KnownOrgan, office)).path == f"/{city}/{bureau}/{office}/"
        assert await subtree_codes(session, city) == [city, bureau, office]
        # A replayed old event changes nothing; a move carries the subtree along.
        await apply_organ_event(session, organ_event(3, "organ.created", "id-bureau", bureau, "旧名", city, 1))
        assert (await session.get(KnownOrgan, bureau)).name == "某市财政局（更名）"
        await apply_organ_event(session, organ_event(6, "organ.updated", "id-bureau", bureau, "某市财政局", None, 3))
        assert (await session.get(KnownOrgan, office)).path == f"/{bureau}/{office}/"
    auth_headers = [r.headers.get("authorization") for r in catalog.requests]
    assert all(h and h.startswith("Bearer ") for h in auth_headers)
    await client.aclose()


async def test_an_organ_learnt_from_the_feed_can_be_applied_to(client, request_db):
    code = new_organ_code()
    async with request_db.transaction() as session:
        await apply_organ_event(session, organ_event(1, "organ.created", "id-x", code, "某区政务服务数据管理局",
                                                     None, 1))
    assert (await submit(client, code))["organ_name"] == "某区政务服务数据管理局"
