"""Several instances of the request service on one database (issue 17 item 1, 多实例): two apps, each with its own
engine and its own background jobs, as two uvicorn processes would have.

The expiry sweep (到期处理: consultations without reply, 补正 and fee deadlines passed → 视为放弃) runs every 50 ms on
both instances and their first rounds start together on the same overdue applications: each application is closed
(or its consultation expired) once — one handling step, one event on the feed the statistics service counts. The
working-day calendar (工作日历) each process caches is reloaded when another instance loads a year.

On SQLite there is one process by design (the embedded default); the test still runs there, where the database's
single writer already serialises the two rounds."""

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from request_service.app import create_app
from request_service.config import Settings
from services.db import Database, make_engine
from tests.harness import drop_database, new_database
from tests.request_service.helpers import API, Desk, accepted, act, organ_code
from tests.support import WarningRecorder, auth, serve_instances

ADMIN = auth("admin")


@pytest.fixture
def request_url(tmp_path: Path) -> Iterator[str]:
    url = new_database("request", tmp_path)
    yield url
    drop_database(url)


def instance_settings(url: str, job_interval: float) -> Settings:
    return Settings(database_url=url, job_interval_seconds=job_interval, organ_feed_enabled=False)


def instances(url: str, count: int, *, job_interval: float):
    """`count` request-service instances on one database, each with its own engine and its own jobs."""
    return serve_instances(lambda: create_app(instance_settings(url, job_interval)), count)


async def events(client: httpx.AsyncClient) -> list[dict]:
    items, after = [], "0"
    while True:
        page = (await client.get("/internal/v1/events", headers=auth("service"),
                                 params={"after": after, "limit": 1000})).json()
        items += page["items"]
        if not page["has_more"]:
            return items
        after = page["next_cursor"]


async def test_two_instances_close_each_overdue_application_once(request_url):
    desk = Desk(organ_code())
    database = Database(make_engine(request_url, null_pool=True))
    kinds: dict[str, str] = {}
    failed_rounds = WarningRecorder()
    logging.getLogger("gongkai.jobs").addHandler(failed_rounds)  # the apps' logging setup replaces root's handlers
    try:
        # Set up with the sweep off, so the overdue applications wait for both instances' first rounds.
        async with instances(request_url, 1, job_interval=0) as (setup,):
            for n in range(8):
                app_id = await accepted(setup, database, desk, "2025-09-26", title=f"申请公开补正事项（第{n}号）")
                await act(setup, desk.handler, app_id, "request-supplement",
                          {"items": ["请明确所需信息的名称"], "on": "2025-10-09", "days": 10})
                kinds[app_id] = "supplement"
                app_id = await accepted(setup, database, desk, "2025-09-26", title=f"申请公开收费事项（第{n}号）")
                await act(setup, desk.handler, app_id, "notify-fee",
                          {"fee_method": "per_volume", "pages": 31, "on": "2025-10-13"})
                kinds[app_id] = "fee"
                app_id = await accepted(setup, database, desk, "2025-09-26", title=f"申请公开会签事项（第{n}号）")
                await act(setup, desk.handler, app_id, "consult",
                          {"party_kind": "co_author_organ", "party_name": "示例市发展改革委", "on": "2025-10-13"})
                kinds[app_id] = "consultation"
            before = Counter(e["type"] for e in await events(setup))

        expected_status = {"supplement": "closed", "fee": "closed", "consultation": "accepted"}
        # Rounds every 50 ms on both instances, started together: they meet on every overdue application.
        async with instances(request_url, 2, job_interval=0.05) as (first, second):
            deadline = time.monotonic() + 20
            while True:
                listed = (await second.get(f"{API}/applications", headers=desk.handler,
                                           params={"limit": 100})).json()["items"]
                statuses = {item["id"]: item["status"] for item in listed}
                if statuses == {i: expected_status[k] for i, k in kinds.items()} or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.1)
            assert statuses == {i: expected_status[k] for i, k in kinds.items()}
            await asyncio.sleep(0.5)  # further rounds of both instances: nothing more may happen

            feed = await events(first)
            closed = Counter(e["entity_id"] for e in feed if e["type"] == "application.closed")
            assert closed == Counter({i: 1 for i, k in kinds.items() if k != "consultation"}), \
                "each overdue application closed (and announced) exactly once"
            expired = Counter(e["entity_id"] for e in feed if e["type"] == "application.consultation_expired")
            assert expired == Counter({i: 1 for i, k in kinds.items() if k == "consultation"})
            # One instance does each round and the other skips it (take_round), rather than doing the same work
            # and failing on the applications' versions (a round rolled back and logged).
            assert failed_rounds.messages == []
            assert Counter(e["type"] for e in feed) - before == Counter(
                {"application.closed": 16, "application.consultation_expired": 8}), "no other event either"

            outcome = {"supplement": "other.no_supplement", "fee": "other.fee_unpaid"}
            for n, (app_id, kind) in enumerate(kinds.items()):
                client = (first, second)[n % 2]
                record = (await client.get(f"{API}/applications/{app_id}", headers=desk.handler)).json()
                steps = (await client.get(f"{API}/applications/{app_id}/history", headers=desk.handler)
                         ).json()["items"]
                system = [s["action"] for s in steps if s["role"] == "system"]
                if kind == "consultation":
                    assert system == ["consultation_expired"], steps
                    consultation = (await client.get(f"{API}/applications/{app_id}/third-party-consultations",
                                                     headers=desk.handler)).json()["items"]
                    assert [c["opinion"] for c in consultation] == ["no_reply"]
                    assert record["due_on"] == "2025-11-20"  # resumed once, with 13 working days left
                else:
                    assert system == ["deemed_abandoned"], steps
                    assert record["outcome"] == outcome[kind]
                    # Dated the day the period ran out (legal-rules §1.13), whichever instance closed it.
                    assert record["closed_on"] == ("2025-10-22" if kind == "supplement" else "2025-11-10")
    finally:
        logging.getLogger("gongkai.jobs").removeHandler(failed_rounds)
        await database.bind.dispose()


async def test_a_calendar_year_loaded_on_one_instance_is_counted_by_the_other(request_url):
    """Each process keeps the working-day calendar in memory (domain/calendar.py); a year an admin loads through
    one instance must be counted by the other's next deadline, not after a restart."""
    calendar = f"{API}/calendar"
    official = {"notice": "国务院办公厅关于2027年部分节假日安排的通知（测试数据）",
                "holidays": [{"date": f"2027-02-{d:02d}", "name": "春节"} for d in range(6, 13)],
                "makeup_workdays": [{"date": "2027-02-20", "name": "春节"}]}

    async def tenth_working_day(client: httpx.AsyncClient) -> dict:
        r = await client.get(f"{calendar}/add-working-days", params={"start": "2027-02-01", "days": 10})
        assert r.status_code == 200, r.text
        return r.json()

    async with instances(request_url, 2, job_interval=0) as (first, second):
        provisional = await tenth_working_day(second)  # the second instance has the calendar cached now
        assert (provisional["date"], provisional["provisional"]) == ("2027-02-15", True)
        r = await first.put(f"{calendar}/years/2027", json=official, headers=ADMIN)
        assert r.status_code == 200, r.text
        official_answer = await tenth_working_day(second)
        # 2/2–2/5 are working days 1–4, 春节 2/6–2/12 is off, 2/15–2/19 are 5–9 and Saturday 2/20 (调休上班) is 10.
        assert (official_answer["date"], official_answer["provisional"]) == ("2027-02-20", False)
        assert (await second.get(f"{calendar}/years/2027")).json()["status"] == "official"
