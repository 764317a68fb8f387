"""Read replicas of the request and statistics services (只读副本, issue 17): the same real primary + delayed streaming
standby as the catalogue's tests (tests/harness.primary_and_standby, `recovery_min_apply_delay`), one migrated
database per service on it.

What is shown through the API: the applicant's own list and the public calendar, the dashboards, report cells and
the annual report for readers who do not write it are answered by the standby (a fact committed on the primary is
not there yet); the applicant who sends back the `X-Gongkai-Commit-LSN` of their submission sees it; report staff
read the primary (they see their own writes); a lagging or stopped standby leaves the rotation, the reads are
answered by the primary meanwhile, and it comes back by itself; /readyz and /metrics of both services show it."""

import asyncio
import time
import uuid

import httpx
import pytest
from sqlalchemy import func, select

from services.db import Database, make_engine
from services.replicas import COMMIT_LSN_HEADER, MIN_LSN_HEADER
from stats_service.models import ApplicationFact
from tests.harness import drop_database, new_database, postgres_binaries_available, primary_and_standby
from tests.request_service.intake_support import FakeCatalog, add_organ, application_body
from tests.stats_service.helpers import Apps, Feed, drain, organ
from tests.support import auth, missing, serve

APPLY_DELAY_SECONDS = 5.0
REQUESTS = "/api/v1/requests"
STATS = "/api/v1/stats"
CITY, DEPT = "11440100MS0000001A", "11440100MS0000002B"


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory):
    if not postgres_binaries_available():
        missing("REQUIRE_POSTGRES", "no PostgreSQL server binaries (initdb, pg_ctl, pg_basebackup) to start a "
                                    "primary and a standby")
    with primary_and_standby(apply_delay=f"{APPLY_DELAY_SECONDS:g}s") as (primary, standby):
        tmp = tmp_path_factory.mktemp("replica-reads")
        urls = {service: new_database(service, tmp, admin_url=primary.admin_url, postgres=True)
                for service in ("request", "stats")}
        standby.create()  # after the migrations: the standby starts with the schemas
        yield primary, standby, urls
        for url in urls.values():
            drop_database(url, admin_url=primary.admin_url)


@pytest.fixture(scope="module")
def feeds() -> tuple[Feed, Feed, Apps]:
    """The producers' feeds the statistics database follows (one per module: its consumers' cursors persist)."""
    requests = Feed()
    return Feed(), requests, Apps(requests)


def replica_settings(url: str, replica_url: str, max_lag: float) -> dict:
    return {"database_url": url, "database_replica_urls": replica_url, "replica_check_interval_seconds": 0.2,
            "replica_max_lag_seconds": max_lag, "access_log": False}


def request_app(url: str, replica_url: str, max_lag: float = 60):
    from request_service.app import create_app
    from request_service.config import Settings

    settings = Settings(**replica_settings(url, replica_url, max_lag), organ_feed_enabled=False,
                        job_interval_seconds=0)
    return create_app(settings, database=Database(make_engine(url)),
                      catalog_transport=httpx.MockTransport(FakeCatalog().handler))


def stats_app(url: str, replica_url: str, max_lag: float = 60):
    from stats_service.app import create_app
    from stats_service.config import Settings

    return create_app(Settings(**replica_settings(url, replica_url, max_lag), consume=False),
                      database=Database(make_engine(url)))


def metric(body: str, name: str) -> float:
    for line in body.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in /metrics")


async def caught_up(standby) -> None:
    await asyncio.to_thread(standby.wait_caught_up, timeout=60)


async def until(predicate, what: str, within: float = 30) -> None:
    deadline = time.monotonic() + within
    while not await predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


async def in_rotation(client) -> int:
    return (await client.get("/readyz")).json()["checks"]["replicas"]["in_rotation"]


@pytest.mark.slow
@pytest.mark.postgres_only
async def test_the_applicants_reads_go_to_the_replica_and_read_their_write_with_its_lsn(pair):
    _, standby, urls = pair
    url = urls["request"]
    primary = Database(make_engine(url))
    try:
        organ_code = await add_organ(primary)
    finally:
        await primary.dispose()
    applicant = auth("applicant", sub=f"citizen-{uuid.uuid4()}", name="申请人甲")
    async with serve(request_app(url, standby.url(url))) as client:
        await caught_up(standby)
        await until(lambda: _eq(in_rotation(client), 1), "the replica in rotation")
        assert (await client.get(f"{REQUESTS}/calendar/years/2026")).status_code == 200
        assert metric((await client.get("/metrics")).text, "gongkai_db_replica_reads_total") >= 1

        submitted = await client.post(f"{REQUESTS}/applications", json=application_body(organ_code),
                                      headers=applicant)
        assert submitted.status_code == 201, submitted.text
        app_id = submitted.json()["id"]
        # The standby applies the submission 5 s later: the applicant's list read on it does not have it yet …
        mine = await client.get(f"{REQUESTS}/applications/mine", headers=applicant)
        assert mine.status_code == 200 and mine.json()["items"] == [], (await client.get("/readyz")).text
        # … unless the applicant sends back their write's position (answered by the primary: the replica does not
        # reach it within REQUEST_REPLICA_WAIT_SECONDS).
        lsn = submitted.headers[COMMIT_LSN_HEADER]
        mine = await client.get(f"{REQUESTS}/applications/mine", headers={**applicant, MIN_LSN_HEADER: lsn})
        assert [a["id"] for a in mine.json()["items"]] == [app_id]
        metrics = (await client.get("/metrics")).text
        assert metric(metrics, "gongkai_db_replica_fallbacks_total{reason=\"behind_client\"}") == 1
        # The tracking door stays on the primary (its failure count and lock must be the primary's).
        receipt = submitted.json()
        tracked = await client.post(f"{REQUESTS}/track", json={"tracking_no": receipt["tracking_no"],
                                                                 "query_code": receipt["query_code"]})
        assert tracked.status_code == 200, tracked.text

        await caught_up(standby)
        served = metric((await client.get("/metrics")).text, "gongkai_db_replica_reads_total")
        mine = await client.get(f"{REQUESTS}/applications/mine", headers=applicant)
        assert [a["id"] for a in mine.json()["items"]] == [app_id]
        assert metric((await client.get("/metrics")).text, "gongkai_db_replica_reads_total") == served + 1


async def feed_stats(url: str, catalog: Feed, requests: Feed) -> None:
    primary = Database(make_engine(url))
    try:
        await drain(primary, catalog, requests)
    finally:
        await primary.dispose()


async def facts_on_primary(url: str) -> int:
    primary = Database(make_engine(url))
    try:
        async with primary.session(write=False) as session:
            return (await session.execute(select(func.count()).select_from(ApplicationFact))).scalar_one()
    finally:
        await primary.dispose()


def received(timeseries: httpx.Response) -> int:
    assert timeseries.status_code == 200, timeseries.text
    return timeseries.json()["totals"]["received"]


def new_received(report: httpx.Response) -> int:
    assert report.status_code == 200, report.text
    return report.json()["section3"]["rows"]["new_received"]["total"]


RANGE = {"from": "2026-01-01", "to": "2026-12-31"}
OFFICER, AUDITOR = auth("stats_officer", organ=DEPT), auth("auditor", organ=DEPT)


@pytest.mark.slow
@pytest.mark.postgres_only
async def test_dashboards_and_reports_are_read_on_the_replica_and_report_staff_read_the_primary(pair, feeds):
    _, standby, urls = pair
    url = urls["stats"]
    catalog, requests, apps = feeds
    organ(catalog, CITY, "示例市人民政府", "peoples_government")
    organ(catalog, DEPT, "示例市财政局", parent=CITY)
    apps.put(organ_code=DEPT, receipt_date="2026-03-02", due_on="2026-03-30")
    await feed_stats(url, catalog, requests)
    async with serve(stats_app(url, standby.url(url))) as client:
        await caught_up(standby)
        await until(lambda: _eq(in_rotation(client), 1), "the replica in rotation")
        timeseries = f"{STATS}/dashboards/{DEPT}/timeseries"
        assert received(await client.get(timeseries, headers=OFFICER, params=RANGE)) == 1

        # A second application reaches the primary's figures; the standby applies it 5 s later.
        apps.put(organ_code=DEPT, receipt_date="2026-03-03", due_on="2026-03-31")
        await feed_stats(url, catalog, requests)
        assert await facts_on_primary(url) == 2
        assert received(await client.get(timeseries, headers=OFFICER, params=RANGE)) == 1  # the replica's
        cell = await client.get(f"{STATS}/annual-reports/{DEPT}/2026/cells/new_received/total", headers=AUDITOR)
        assert cell.status_code == 200 and cell.json()["total"] == 1, cell.text
        # The draft report: the auditor (reads, never writes it) on the replica; the statistics officer, who enters
        # its figures and submits it, on the primary.
        assert new_received(await client.get(f"{STATS}/annual-reports/{DEPT}/2026", headers=AUDITOR)) == 1
        assert new_received(await client.get(f"{STATS}/annual-reports/{DEPT}/2026", headers=OFFICER)) == 2

        await caught_up(standby)
        assert received(await client.get(timeseries, headers=OFFICER, params=RANGE)) == 2
        assert new_received(await client.get(f"{STATS}/annual-reports/{DEPT}/2026", headers=AUDITOR)) == 2
        assert metric((await client.get("/metrics")).text, "gongkai_db_replica_reads_total") >= 5


@pytest.mark.slow
@pytest.mark.postgres_only
async def test_a_lagging_or_stopped_replica_of_the_stats_service_leaves_and_returns(pair, feeds):
    _, standby, urls = pair
    url = urls["stats"]
    catalog, requests, apps = feeds
    organ(catalog, "11440100MS0000005E", "示例市审计局")
    apps.put(organ_code="11440100MS0000005E", receipt_date="2026-05-06", due_on="2026-06-03")
    await feed_stats(url, catalog, requests)
    officer = auth("stats_officer", organ="11440100MS0000005E")
    timeseries = f"{STATS}/dashboards/11440100MS0000005E/timeseries"
    async with serve(stats_app(url, standby.url(url), max_lag=1.0)) as client:
        await caught_up(standby)
        await until(lambda: _eq(in_rotation(client), 1), "the replica in rotation")
        assert received(await client.get(timeseries, headers=officer, params=RANGE)) == 1

        apps.put(organ_code="11440100MS0000005E", receipt_date="2026-05-07", due_on="2026-06-04")
        await feed_stats(url, catalog, requests)  # applied 5 s later on the standby: lag > 1 s
        await until(lambda: _eq(in_rotation(client), 0), "the lagging replica to leave the rotation")
        ready = await client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["checks"]["replicas"]["replicas"][0]["lag_seconds"] > 1.0
        assert metric((await client.get("/metrics")).text, "gongkai_db_replica_lag_seconds") > 1.0
        assert received(await client.get(timeseries, headers=officer, params=RANGE)) == 2  # the primary's
        await until(lambda: _eq(in_rotation(client), 1), "the replica to return once caught up")

        await asyncio.to_thread(standby.stop)
        try:
            await until(lambda: _eq(in_rotation(client), 0), "the stopped replica to leave the rotation")
            ready = await client.get("/readyz")
            assert ready.status_code == 200 and ready.json()["checks"]["replicas"]["replicas"][0]["error"]
            assert received(await client.get(timeseries, headers=officer, params=RANGE)) == 2
        finally:
            await asyncio.to_thread(standby.start)
        await until(lambda: _eq(in_rotation(client), 1), "the restarted replica to return")
        served = metric((await client.get("/metrics")).text, "gongkai_db_replica_reads_total")
        assert received(await client.get(timeseries, headers=officer, params=RANGE)) == 2
        assert metric((await client.get("/metrics")).text, "gongkai_db_replica_reads_total") == served + 1


async def _eq(value, expected) -> bool:
    return (await value) == expected
