"""The working-day calendar through its API: the worked examples of legal-rules §6.4, provisional years, and an
admin loading an official year, which recomputes the deadlines of open applications."""

import uuid
from datetime import UTC, date, datetime

import pytest

from request_service.models import Application, ClockSegment, KnownOrgan
from tests.request_service.helpers import API, Desk, organ_code
from tests.support import assert_problem, auth

CAL = f"{API}/calendar"
ADMIN = auth("admin", sub="admin-1", name="系统管理员")

# 2027 as an admin might enter it from the (hypothetical here) State Council notice.
OFFICIAL_2027 = {
    "notice": "国务院办公厅关于2027年部分节假日安排的通知（测试数据）",
    "holidays": [{"date": "2027-01-01", "name": "元旦"}]
    + [{"date": f"2027-02-{d:02d}", "name": "春节"} for d in range(6, 13)],
    "makeup_workdays": [{"date": "2027-01-31", "name": "春节"}, {"date": "2027-02-20", "name": "春节"}],
}


async def add(client, start: str, days: int) -> dict:
    r = await client.get(f"{CAL}/add-working-days", params={"start": start, "days": days})
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.parametrize(("start", "days", "expected"), [
    ("2025-09-26", 7, "2025-10-13"),   # example 1: 补正 notice deadline
    ("2025-09-26", 20, "2025-10-30"),  # example 1: reply deadline
    ("2025-09-26", 40, "2025-11-27"),  # example 1: with the maximum extension
    ("2026-02-10", 20, "2026-03-16"),  # example 2
    ("2026-02-10", 40, "2026-04-14"),  # example 2 with the extension (skips 清明 4/4–4/6)
    ("2026-02-13", 20, "2026-03-19"),  # example 2 variant: 2/14 (Sat, make-up) is WD 1
    ("2025-12-29", 20, "2026-01-27"),  # example 3: 元旦 2026, Sunday make-up day
    ("2025-04-25", 20, "2025-05-27"),  # 劳动节 2025
    ("2026-09-18", 20, "2026-10-22"),  # 中秋 + 国庆 2026
    ("2025-01-20", 20, "2025-02-21"),  # 春节 2025
    ("2025-10-14", 15, "2025-11-04"),  # third party's own 15 working days
])
async def test_worked_examples(requests_client, start, days, expected):
    body = await add(requests_client, start, days)
    assert body == {**body, "start": start, "days": days, "date": expected, "provisional": False}


async def test_skipped_days_name_the_holidays(requests_client):
    body = await add(requests_client, "2025-09-26", 7)
    skipped = {d["date"]: d for d in body["skipped"]}
    assert skipped["2025-09-27"] == {"date": "2025-09-27", "reason": "weekend", "name": None}
    assert skipped["2025-10-01"] == {"date": "2025-10-01", "reason": "holiday", "name": "国庆节"}
    assert skipped["2025-10-06"]["name"] == "中秋节"
    assert [d for d in skipped if d.startswith("2025-10-0")] == [f"2025-10-0{i}" for i in range(1, 9)]
    # make-up working days are counted, never skipped
    assert "2025-09-28" not in skipped and "2025-10-11" not in skipped
    assert list(skipped) == sorted(skipped)


async def test_zero_days_and_a_rest_day_start(requests_client):
    assert (await add(requests_client, "2025-10-01", 0))["date"] == "2025-10-01"
    # received on a holiday: day 1 is the first working day after it
    assert (await add(requests_client, "2025-10-04", 1))["date"] == "2025-10-09"


@pytest.mark.parametrize("params", [
    {"start": "2025-09-26", "days": -1}, {"start": "2025-09-26", "days": 401}, {"start": "2025-13-01", "days": 5},
    {"start": "not-a-date", "days": 5}, {"start": "2025-09-26"}, {"days": 3}, {"start": "2025-09-26", "days": "x"},
])
async def test_bad_input_is_a_422_problem(requests_client, params):
    r = await requests_client.get(f"{CAL}/add-working-days", params=params)
    assert_problem(r, 422, "validation_error")


async def test_years_official_and_provisional(requests_client):
    r = await requests_client.get(f"{CAL}/years/2026")
    assert r.status_code == 200 and r.headers["etag"] == '"1"'
    y2026 = r.json()
    assert y2026["status"] == "official" and y2026["source"] == "chinese-calendar"
    holidays = {d["date"]: d["name"] for d in y2026["holidays"]}
    assert all(holidays[f"2026-02-{d}"] == "春节" for d in range(15, 24))
    assert {d["date"] for d in y2026["makeup_workdays"]} >= {"2026-01-04", "2026-02-14", "2026-02-28"}

    y2027 = (await requests_client.get(f"{CAL}/years/2027")).json()
    assert y2027["status"] == "provisional" and y2027["source"] is None and y2027["version"] == 0
    assert {d["date"] for d in y2027["holidays"]} == {"2027-01-01", "2027-05-01", "2027-05-02", "2027-10-01",
                                                     "2027-10-02", "2027-10-03"}
    assert y2027["makeup_workdays"] == []
    answer = await add(requests_client, "2027-02-01", 5)
    assert answer["date"] == "2027-02-08" and answer["provisional"] is True
    # a count that only touches 2026 is not provisional; one that reaches into 2027 is
    assert (await add(requests_client, "2026-12-01", 5))["provisional"] is False
    assert (await add(requests_client, "2026-12-15", 20))["provisional"] is True
    assert_problem(await requests_client.get(f"{CAL}/years/1999"), 422)


async def test_loading_a_year_needs_an_admin(requests_client):
    r = await requests_client.put(f"{CAL}/years/2027", json=OFFICIAL_2027)
    assert_problem(r, 401)
    r = await requests_client.put(f"{CAL}/years/2027", json=OFFICIAL_2027, headers=auth("handler", organ="X"))
    assert_problem(r, 403)


@pytest.mark.parametrize(("change", "loc"), [
    ({"holidays": [{"date": "2028-01-01", "name": "元旦"}]}, ["body", "holidays", 0, "date"]),
    ({"holidays": [{"date": "2027-01-01", "name": "元旦"}, {"date": "2027-01-01", "name": "元旦"}]},
     ["body", "holidays", 1, "date"]),
    ({"makeup_workdays": [{"date": "2027-02-06", "name": "春节"}]}, ["body", "makeup_workdays", 0, "date"]),
    ({"makeup_workdays": [{"date": "2027-02-15", "name": "春节"}]}, ["body", "makeup_workdays", 0, "date"]),
])
async def test_inconsistent_years_are_refused(requests_client, change, loc):
    r = await requests_client.put(f"{CAL}/years/2027", json={**OFFICIAL_2027, **change}, headers=ADMIN)
    body = assert_problem(r, 422, "invalid_calendar_year")
    assert loc in [e["loc"] for e in body["errors"]]
    assert (await requests_client.get(f"{CAL}/years/2027")).json()["status"] == "provisional"


async def test_body_is_validated(requests_client):
    r = await requests_client.put(f"{CAL}/years/2027", json={**OFFICIAL_2027, "notice": ""}, headers=ADMIN)
    assert_problem(r, 422, "validation_error")
    r = await requests_client.put(f"{CAL}/years/2027", json={**OFFICIAL_2027, "extra": 1}, headers=ADMIN)
    assert_problem(r, 422, "validation_error")


async def _open_application(db, organ: str, *, receipt: date, extension_days: int = 0, status: str = "accepted",
                            due_on: date | None = None, provisional: bool = False) -> str:
    app_id = str(uuid.uuid4())
    async with db.transaction() as session:
        if await session.get(KnownOrgan, organ) is None:
            session.add(KnownOrgan(code=organ, id=str(uuid.uuid4()), name="测试市财政局", path=f"/{organ}/"))
        session.add(Application(
            id=app_id, tracking_no=f"T{uuid.uuid4().hex[:12]}", query_code_hash="x", organ_code=organ,
            channel="online", submitted_at=datetime(receipt.year, receipt.month, receipt.day, 2, tzinfo=UTC),
            receipt_date=receipt, applicant_type="natural_person", applicant_name="张三",
            applicant_key=uuid.uuid4().hex, info_title="申请公开2026年度部门预算", status=status,
            extension_days=extension_days, due_on=due_on, due_provisional=provisional,
            closed_on=due_on if status == "replied" else None))
        await session.flush()
        session.add(ClockSegment(application_id=app_id, seq=1, state="running", restart=True, start_on=receipt,
                                 end_on=due_on if status == "replied" else None, basis="条例第三十一条"))
    return app_id


async def test_loading_an_official_year_changes_answers_and_recomputes_open_deadlines(requests_client, request_db):
    desk = Desk(organ_code())
    # Received 2026-12-15: 20 working days end 2027-01-13, 40 (extended) end 2027-02-10 — both on a provisional 2027.
    short = await _open_application(request_db, desk.organ, receipt=date(2026, 12, 15),
                                    due_on=date(2027, 1, 13), provisional=True)
    extended = await _open_application(request_db, desk.organ, receipt=date(2026, 12, 15), extension_days=20,
                                       due_on=date(2027, 2, 10), provisional=True)
    replied = await _open_application(request_db, desk.organ, receipt=date(2026, 12, 15), status="replied",
                                      due_on=date(2027, 1, 13), provisional=True)
    untouched = await _open_application(request_db, desk.organ, receipt=date(2026, 3, 2),
                                        due_on=date(2026, 3, 30))
    before = {a: (await requests_client.get(f"{API}/applications/{a}", headers=desk.handler)).headers["etag"]
              for a in (short, extended, replied, untouched)}
    feed_head = (await requests_client.get("/internal/v1/events", headers=auth("service"),
                                           params={"limit": 1})).json()["head"]

    before_load = await add(requests_client, "2027-02-01", 5)
    assert before_load["date"] == "2027-02-08" and before_load["provisional"] is True

    r = await requests_client.put(f"{CAL}/years/2027", json=OFFICIAL_2027, headers=ADMIN)
    assert r.status_code == 200, r.text
    loaded = r.json()
    assert r.headers["etag"] == '"1"'
    assert loaded["status"] == "official" and loaded["source"] == "admin" and loaded["version"] == 1
    assert loaded["loaded_by"] == "admin-1" and loaded["notice"] == OFFICIAL_2027["notice"]
    assert len(loaded["holidays"]) == 8 and len(loaded["makeup_workdays"]) == 2
    recomputed = {c["application_id"]: c for c in loaded["recomputed"]}
    assert set(recomputed) == {short, extended}
    assert recomputed[short] == {**recomputed[short], "due_on_before": "2027-01-13", "due_on_after": "2027-01-13",
                                 "provisional_before": True, "provisional_after": False}
    # 33 = Sunday 1/31 (make-up), 34–38 = 2/1–2/5, 春节 2/6–2/12 off, 39 = 2/15, 40 = 2/16.
    assert recomputed[extended]["due_on_after"] == "2027-02-16"

    # The public answer changed and is no longer provisional.
    after_load = await add(requests_client, "2027-02-01", 5)
    assert after_load["date"] == "2027-02-15" and after_load["provisional"] is False
    assert {d["date"]: d["name"] for d in after_load["skipped"]}["2027-02-08"] == "春节"
    year = (await requests_client.get(f"{CAL}/years/2027")).json()
    assert year["status"] == "official" and year["version"] == 1

    # The applications carry the new deadline, a new version and a step in their history.
    r = await requests_client.get(f"{API}/applications/{extended}", headers=desk.handler)
    assert r.json()["due_on"] == "2027-02-16" and r.json()["due_provisional"] is False
    assert r.headers["etag"] != before[extended]
    history = (await requests_client.get(f"{API}/applications/{extended}/history",
                                         headers=desk.handler)).json()["items"]
    step = history[-1]
    assert step["action"] == "calendar_recomputed" and step["role"] == "admin" and step["actor_sub"] == "admin-1"
    assert "2027-02-10（暂定） → 2027-02-16" in step["comment"]
    for unchanged in (replied, untouched):
        r = await requests_client.get(f"{API}/applications/{unchanged}", headers=desk.handler)
        assert r.headers["etag"] == before[unchanged]
        history = (await requests_client.get(f"{API}/applications/{unchanged}/history", headers=desk.handler))
        assert "calendar_recomputed" not in [s["action"] for s in history.json()["items"]]

    # Events: the year for the catalogue, the deadline changes for the statistics.
    events = (await requests_client.get("/internal/v1/events", headers=auth("service"),
                                        params={"after": feed_head, "limit": 1000})).json()["items"]
    year_events = [e for e in events if e["type"] == "calendar.year_loaded"]
    assert len(year_events) == 1
    payload = year_events[0]["payload"]
    assert payload["year"] == 2027 and payload["status"] == "official"
    assert {"date": "2027-02-08", "name": "春节"} in payload["holidays"]
    assert payload["makeups"] == OFFICIAL_2027["makeup_workdays"]
    changed = {e["entity_id"] for e in events if e["type"] == "application.deadline_changed"}
    assert changed == {short, extended}


async def test_reloading_a_year_replaces_its_days_under_if_match(requests_client):
    r = await requests_client.put(f"{CAL}/years/2027", json=OFFICIAL_2027, headers=ADMIN)
    assert r.status_code == 200, r.text
    corrected = {**OFFICIAL_2027, "holidays": [{"date": "2027-01-01", "name": "元旦"}],
                 "makeup_workdays": []}
    r = await requests_client.put(f"{CAL}/years/2027", json=corrected, headers={**ADMIN, "If-Match": '"7"'})
    assert_problem(r, 412)
    r = await requests_client.put(f"{CAL}/years/2027", json=corrected, headers={**ADMIN, "If-Match": '"1"'})
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2 and r.headers["etag"] == '"2"'
    assert r.json()["holidays"] == [{"date": "2027-01-01", "name": "元旦"}] and r.json()["makeup_workdays"] == []
    # The days of the first load are gone: 2/8 is an ordinary Monday again.
    assert (await add(requests_client, "2027-02-05", 1))["date"] == "2027-02-08"


async def test_an_admin_can_correct_a_seeded_year(requests_client):
    y2026 = (await requests_client.get(f"{CAL}/years/2026")).json()
    body = {"notice": "国务院办公厅关于2026年部分节假日安排的通知（更正）",
            "holidays": y2026["holidays"], "makeup_workdays": y2026["makeup_workdays"]}
    r = await requests_client.put(f"{CAL}/years/2026", json=body, headers={**ADMIN, "If-Match": '"1"'})
    assert r.status_code == 200, r.text
    assert r.json()["source"] == "admin" and r.json()["version"] == 2
    assert (await add(requests_client, "2026-02-10", 20))["date"] == "2026-03-16"
