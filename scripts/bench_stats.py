#!/usr/bin/env python
"""Statistics service at 1,000,000 applications on PostgreSQL: ingest rate and annual-report latency.

    .venv/bin/python scripts/bench_stats.py [--applications 1000000] [--dir /tmp/gk-bench-stats] [--port 54397]
        [--batch 1000] [--reps 50] [--http-feed-events 200000] [--budget 1200] [--keep]

Phases (each timed; the whole run is bounded: ingest stops at --budget seconds and says so):
  1. a throwaway PostgreSQL 15 cluster (scripts/pg_cluster.sh; note it runs with fsync=off) and a database
     migrated with `alembic -n stats upgrade head` (STATS_DATABASE_URL);
  2. a deterministic event history in the shape of request_service.domain.events.stats_projection: 49 organs in a
     3-level hierarchy (city → 12 departments / districts → 36 sub-units), all applicant types, channels and
     outcomes, receipt dates 2024-01-01 … 2026-12-31, two events per application (received, then closed; ~6 %
     still open), plus fees, appeals and consultations. Kept compact in memory; each batch is materialised
     when the consumer fetches it, and that time is measured and reported separately;
  3. ingest through services.outbox.FeedConsumer + stats_service.domain.ingest.apply_request_events, batch size
     as in production (Settings.consumer_batch_size = 1000), rate per slice of the stream;
  4. report generation: build_report p50/p95 over --reps calls (one department-year; the city with all
     subordinates), with the time of each SQL statement; then the HTTP endpoints under uvicorn (1 worker):
     the live draft, the published (frozen snapshot) report with wrk, the exports and a dashboard;
  5. --http-feed-events events through a real HTTP feed: a producer (the stats app serving its own
     /internal/v1/events from a second database loaded with those events) and stats_service.consumers.HttpFeed.
Results: JSON lines appended to bench-results/stats.jsonl, and bench-results/stats.md (rewritten; regenerate it
from the lines of one run with `scripts/bench_stats.py --markdown-from bench-results/stats.jsonl <run>`).
Every process is started here, bound to 127.0.0.1 and stopped by its own PID; the cluster is removed unless --keep.
"""

import argparse
import asyncio
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import time
from array import array
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import httpx
from sqlalchemy import event, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from services.auth import mint_token
from services.db import Database, make_engine
from services.outbox import EventRead, FeedConsumer, FeedPage
from services.settings import AuthSettings
from stats_service.config import Settings
from stats_service.consumers import HttpFeed
from stats_service.domain.ingest import apply_catalog_events, apply_request_events
from stats_service.domain.report import APPLICANT_COLUMNS, build_report
from stats_service.models import outbox

RUN = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
OUT_JSONL = ROOT / "bench-results" / "stats.jsonl"
OUT_MD = ROOT / "bench-results" / "stats.md"
DB, FEED_DB, HTTP_DB = "gk_bench_stats", "gk_bench_feed", "gk_bench_http"
EPOCH, END = date(2024, 1, 1), date(2026, 12, 31)
DAYS = (END - EPOCH).days + 1
CHANNELS = ["in_person", "mail_signed", "mail_ordinary", "online", "email", "fax", "other"]
CHANNEL_WEIGHTS = [15, 8, 4, 55, 12, 1, 5]
APPLICANT_WEIGHTS = [72, 15, 2, 2, 3, 6]
OUTCOME_WEIGHTS = {"granted": 38, "partially_granted": 9, "unable.not_held": 16, "unable.needs_creation": 4,
                   "unable.still_unclear_after_supplement": 2, "not_processed.repeat_application": 3,
                   "not_processed.petition_complaint": 5, "other.no_supplement": 3, "other.other": 2}
APPEAL_KINDS = ["reconsideration", "litigation_direct", "litigation_after_reconsideration"]
APPEAL_OUTCOMES = ["upheld", "corrected", "other", "pending"]
results: list[dict[str, Any]] = []


def busy_pct() -> int:
    """CPU busy % of the whole machine over 1 s (other sessions may share this box)."""
    def sample() -> tuple[int, int]:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
        return values[3] + values[4], sum(values)
    idle0, total0 = sample()
    time.sleep(1)
    idle1, total1 = sample()
    return round(100 * (1 - (idle1 - idle0) / max(total1 - total0, 1)))


def wait_quiet(max_busy: int = 25, max_wait: float = 90) -> int:
    """Before a measurement: wait (bounded) until nothing else loads the machine; returns the busy % seen."""
    waited, busy = 0.0, busy_pct()
    while busy > max_busy and waited < max_wait:
        if waited == 0:
            log(f"  machine busy ({busy}% CPU outside this benchmark): waiting up to {max_wait:.0f}s")
        time.sleep(4)
        waited += 5
        busy = busy_pct()
    return busy


def log(msg: str) -> None:
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {msg}", flush=True)


def record(kind: str, **values: Any) -> dict[str, Any]:
    line = {"run": RUN, "kind": kind, **values}
    results.append(line)
    OUT_JSONL.parent.mkdir(exist_ok=True)
    with OUT_JSONL.open("a", encoding="utf-8") as f:
        f.write(json.dumps(line, ensure_ascii=False, default=str) + "\n")
    return line


def pct(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))], 2)


def summary(samples_ms: list[float]) -> dict[str, float]:
    return {"n": len(samples_ms), "p50_ms": pct(samples_ms, 50), "p95_ms": pct(samples_ms, 95),
            "mean_ms": round(statistics.fmean(samples_ms), 2), "max_ms": round(max(samples_ms), 2)}


# --------------------------------------------------------------------------------------------------- data

class Organs:
    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []  # announce parents before children, as the catalogue does
        city = self._add("示例市人民政府", "peoples_government", None)
        self.city = city
        names = ["财政局", "教育局", "卫生健康委员会", "自然资源和规划局", "住房和城乡建设局", "生态环境局",
                 "交通运输局", "市场监督管理局"]
        self.level2: list[str] = []
        for name in names:
            code = self._add(f"示例市{name}", "department", city)
            self.level2.append(code)
            for i in range(3):
                self._add(f"示例市{name}第{i + 1}分局", "department", code)
        for district in ["东城区", "西城区", "南山区", "北湖区"]:
            code = self._add(f"示例市{district}人民政府", "peoples_government", city)
            self.level2.append(code)
            for i, street in enumerate(["城关街道办事处", "新港街道办事处", "河西镇人民政府"]):
                self._add(f"{district}{street}", "township_street" if i < 2 else "peoples_government", code)
        self.codes = [r["code"] for r in self.rows]

    def _add(self, name: str, kind: str, parent: str | None) -> str:
        code = f"114401{len(self.rows):011d}X"
        self.rows.append({"code": code, "name": name, "kind": kind, "parent_code": parent})
        return code

    def weights(self) -> list[float]:
        # the city office itself 4 %, each department / district 5 %, each sub-unit 1 %
        return [4.0 if r["parent_code"] is None else 5.0 if r["parent_code"] == self.city else 1.0 for r in self.rows]


class History:
    """One million applications, kept compact; events are (day, application, kind) sort keys."""

    def __init__(self, n: int, seed: int = 42) -> None:
        rng = random.Random(seed)
        self.n, self.organs = n, Organs()
        t0 = time.perf_counter()
        self.organ = array("B", rng.choices(range(len(self.organs.codes)), self.organs.weights(), k=n))
        self.applicant = array("B", rng.choices(range(6), APPLICANT_WEIGHTS, k=n))
        self.channel = array("B", rng.choices(range(7), CHANNEL_WEIGHTS, k=n))
        self.received = array("H", (rng.randrange(DAYS) for _ in range(n)))
        outcomes = list(OUTCOME_WEIGHTS)
        self.outcome = array("B", rng.choices(range(len(outcomes)), list(OUTCOME_WEIGHTS.values()), k=n))
        self.outcomes = outcomes
        delays = array("H")
        flags = array("B")
        for i in range(n):
            delay = rng.randint(1, 60)
            open_ = self.received[i] + delay >= DAYS or rng.random() < 0.03
            delays.append(0 if open_ else delay)
            r = rng.random()
            flags.append((r < 0.02) | ((0.02 <= r < 0.03) << 1) | ((rng.random() < 0.05) << 2))
        self.delay, self.flags = delays, flags
        keys = []
        for i in range(n):
            keys.append((self.received[i] << 22 | i) << 2)
            if delays[i]:
                keys.append(((self.received[i] + delays[i]) << 22 | i) << 2 | 1)
            if flags[i] & 4:
                keys.append((self.received[i] << 22 | i) << 2 | 2)
        keys.sort()
        self.keys = keys
        self.generate_s = round(time.perf_counter() - t0, 1)

    @staticmethod
    def app_id(i: int) -> str:
        return f"00000000-0000-4000-8000-{i:012d}"

    def event(self, event_id: int, key: int) -> EventRead:
        kind, i = key & 3, (key >> 2) & ((1 << 22) - 1)
        received = EPOCH + timedelta(days=self.received[i])
        organ = self.organs.codes[self.organ[i]]
        if kind == 2:
            return EventRead.model_construct(
                id=event_id, type="consultation.recorded", entity_type="consultation", entity_id=f"c-{i}",
                version=1, occurred_at=datetime(received.year, received.month, received.day, tzinfo=UTC),
                payload={"organ_code": organ, "channel": ("phone", "online", "in_person")[i % 3],
                         "received_on": received.isoformat()})
        payload: dict[str, Any] = {
            "organ_code": organ, "applicant_type": APPLICANT_COLUMNS[self.applicant[i]],
            "channel": CHANNELS[self.channel[i]], "status": "accepted", "receipt_date": received.isoformat(),
            "submitted_on": received.isoformat(), "closed_on": None, "outcome": None,
            "due_on": (received + timedelta(days=28)).isoformat(), "fee_method": None, "fee_amount": None,
            "fee_noticed_on": None, "fee_paid_amount": None, "fee_paid_on": None, "fee_waived": False, "appeals": []}
        day = received
        if kind == 1:
            day = received + timedelta(days=self.delay[i])
            outcome = self.outcomes[self.outcome[i]]
            payload.update(status="closed" if outcome.startswith("other.") else "replied",
                           closed_on=day.isoformat(), outcome=outcome)
            if self.flags[i] & 1:
                payload.update(fee_method="per_application", fee_amount="100.00",
                               fee_noticed_on=(received + timedelta(days=min(5, self.delay[i]))).isoformat(),
                               fee_paid_amount="100.00", fee_paid_on=day.isoformat())
            if self.flags[i] & 2:
                filed = day + timedelta(days=15)
                decided = filed + timedelta(days=60)
                payload["appeals"] = [{"id": f"10000000-0000-4000-8000-{i:012d}", "kind": APPEAL_KINDS[i % 3],
                                       "outcome": APPEAL_OUTCOMES[i % 4], "filed_on": filed.isoformat(),
                                       "decided_on": decided.isoformat() if i % 4 != 3 else None}]
        return EventRead.model_construct(
            id=event_id, type="application.changed", entity_type="application", entity_id=self.app_id(i),
            version=kind + 1, payload=payload, occurred_at=datetime(day.year, day.month, day.day, tzinfo=UTC))

    def organ_events(self) -> list[EventRead]:
        now = datetime.now(UTC)
        return [EventRead.model_construct(id=n, type="organ.created", entity_type="organ", entity_id=f"o-{n}",
                                          version=1, payload=row, occurred_at=now)
                for n, row in enumerate(self.organs.rows, start=1)]


class MemoryFeed:
    """FeedConsumer's fetch over the in-memory history; the time spent materialising events is kept apart."""

    def __init__(self, history: History, limit_events: int | None = None) -> None:
        self.history = history
        self.head = min(len(history.keys), limit_events or len(history.keys))
        self.fetch_s = 0.0

    async def __call__(self, after: int, limit: int) -> FeedPage:
        t0 = time.perf_counter()
        stop = min(after + limit, self.head)
        items = [self.history.event(after + j + 1, key)
                 for j, key in enumerate(self.history.keys[after:stop])]
        self.fetch_s += time.perf_counter() - t0
        return FeedPage.model_construct(items=items, next_cursor=str(stop if items else after), head=self.head)


# --------------------------------------------------------------------------------------------------- postgres

def pg_cluster(*args: str) -> str:
    return subprocess.run([str(ROOT / "scripts/pg_cluster.sh"), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


async def create_database(admin_dsn: str, name: str) -> str:
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {name}")
        await conn.execute(f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' "
                           "LC_CTYPE 'C.UTF-8'")
    finally:
        await conn.close()
    url = admin_dsn.rsplit("/", 1)[0] + f"/{name}"
    subprocess.run([str(ROOT / ".venv/bin/alembic"), "-n", "stats", "upgrade", "head"], cwd=ROOT, check=True,
                   env={**os.environ, "STATS_DATABASE_URL": url.replace("postgresql://", "postgresql+asyncpg://")},
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return url


def async_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+asyncpg://", 1)


# --------------------------------------------------------------------------------------------------- phases

async def ingest(database: Database, history: History, args: argparse.Namespace, feed: Any, label: str,
                 total: int) -> dict[str, Any]:
    catalog = FeedConsumer("catalog", database, outbox, _static(history.organ_events()), apply_catalog_events)
    await catalog.drain()
    busy = wait_quiet()
    consumer = FeedConsumer("request", database, outbox, feed, apply_request_events, batch_size=args.batch)
    t0 = time.perf_counter()
    applied, slice_start, slice_applied, slices, stopped = 0, t0, 0, [], False
    slice_size = max(total // 10, args.batch)
    while True:
        n = await consumer.poll_once()
        if n == 0:
            break
        applied += n
        slice_applied += n
        if slice_applied >= slice_size:
            now = time.perf_counter()
            slices.append(round(slice_applied / (now - slice_start)))
            log(f"  {label}: {applied:,}/{total:,} events, {slices[-1]:,} events/s in the last slice")
            slice_start, slice_applied = now, 0
        if time.perf_counter() - t0 > args.budget:
            stopped = True
            log(f"  {label}: budget of {args.budget}s reached, stopping at {applied:,} events")
            break
    wall = time.perf_counter() - t0
    fetch_s = getattr(feed, "fetch_s", 0.0)
    return {"busy_before_pct": busy, "events": applied, "of_events": total, "stopped_by_budget": stopped,
            "wall_s": round(wall, 1),
            "events_per_s": round(applied / wall), "feed_materialise_s": round(fetch_s, 1),
            "events_per_s_excluding_feed": round(applied / (wall - fetch_s)) if fetch_s else None,
            "batch_size": args.batch, "slices_events_per_s": slices}


def _static(events: list[EventRead]):
    async def fetch(after: int, limit: int) -> list[EventRead]:
        return [e for e in events if e.id > after][:limit]
    return fetch


class StatementTimer:
    def __init__(self, engine: Any) -> None:
        self.on, self.times = False, {}
        sync = engine.sync_engine

        @event.listens_for(sync, "before_cursor_execute")
        def before(conn, cursor, statement, parameters, context, executemany):
            conn.info["t0"] = time.perf_counter()

        @event.listens_for(sync, "after_cursor_execute")
        def after(conn, cursor, statement, parameters, context, executemany):
            if self.on:
                key = " ".join(statement.split())[:110]
                self.times.setdefault(key, []).append((time.perf_counter() - conn.info["t0"]) * 1000)


async def time_reports(database: Database, timer: StatementTimer, cases: list[tuple[str, str, int, bool]],
                       reps: int) -> None:
    for label, organ, year, sub in cases:
        async with database.transaction(write=False) as session:
            for _ in range(3):
                await build_report(session, organ, year, sub)
        busy = wait_quiet(max_wait=45)
        samples = []
        timer.times, timer.on = {}, True
        for _ in range(reps):
            async with database.transaction(write=False) as session:
                t0 = time.perf_counter()
                report = await build_report(session, organ, year, sub)
                samples.append((time.perf_counter() - t0) * 1000)
        timer.on = False
        statements = sorted(({"sql": k, "p50_ms": pct(v, 50), "calls_per_report": len(v) // reps}
                             for k, v in timer.times.items()), key=lambda s: -s["p50_ms"])
        line = record("build_report", case=label, busy_before_pct=busy, organ_code=organ, year=year,
                      include_subordinates=sub,
                      new_received_total=report["section3"]["rows"]["new_received"]["total"],
                      checks_ok=all(c["ok"] for c in report["checks"]), **summary(samples),
                      slowest_statements=statements[:4])
        log(f"  build_report {label}: p50 {line['p50_ms']} ms, p95 {line['p95_ms']} ms "
            f"(new_received {line['new_received_total']:,})")


class Server:
    def __init__(self, name: str, port: int, env: dict[str, str], tmp: Path) -> None:
        self.name, self.port = name, port
        self.log = (tmp / f"{name}.log").open("w")
        self.proc = subprocess.Popen(
            [str(ROOT / ".venv/bin/uvicorn"), "stats_service.app:app", "--host", "127.0.0.1", "--port", str(port),
             "--workers", "1", "--no-access-log", "--log-level", "warning"],
            cwd=ROOT, env={**os.environ, "STATS_CONSUME": "false", "STATS_LOG_LEVEL": "WARNING",
                           "STATS_ACCESS_LOG": "false", **env}, stdout=self.log, stderr=subprocess.STDOUT)
        self.base = f"http://127.0.0.1:{port}"

    def wait(self) -> None:
        for _ in range(450):  # up to 90 s: the box may be shared with other work
            if self.proc.poll() is not None:
                break
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.log.flush()
        tail = Path(self.log.name).read_text(errors="replace")[-2000:]
        raise RuntimeError(f"{self.name} did not start ({self.log.name}):\n{tail}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def bearer(*roles: str, organ: str | None = None) -> dict[str, str]:
    return {"Authorization": "Bearer " + mint_token(AuthSettings(), sub="bench", roles=roles, organ=organ,
                                                    name="bench", ttl_seconds=3600)}


async def time_http(session: aiohttp.ClientSession, label: str, url: str, headers: dict[str, str],
                    reps: int, **extra: Any) -> dict[str, Any]:
    for _ in range(3):
        async with session.get(url, headers=headers) as r:
            await r.read()
            assert r.status == 200, (url, r.status, await r.text())
    extra["busy_before_pct"] = wait_quiet(max_wait=20)
    samples = []
    size = 0
    for _ in range(reps):
        t0 = time.perf_counter()
        async with session.get(url, headers=headers) as r:
            body = await r.read()
        samples.append((time.perf_counter() - t0) * 1000)
        size = len(body)
    line = record("http", case=label, url=url.split("127.0.0.1", 1)[-1], bytes=size, conns=1, **summary(samples),
                  **extra)
    log(f"  HTTP {label}: p50 {line['p50_ms']} ms, p95 {line['p95_ms']} ms ({size:,} bytes)")
    return line


def wrk(label: str, url: str, seconds: int, conns: int) -> dict[str, Any] | None:
    script = Path("/work/shared/bench/http_bench.sh")
    if not script.exists() or not subprocess.run(["which", "wrk"], capture_output=True).returncode == 0:
        return None
    busy = wait_quiet(max_wait=20)
    out = subprocess.run([str(script), url, f"{seconds}s", str(conns), "1", label], capture_output=True, text=True)
    try:
        line = json.loads(out.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        log(f"  wrk {label} failed: {out.stdout[-300:]} {out.stderr[-300:]}")
        return None
    record("wrk", case=label, busy_before_pct=busy, **{k: v for k, v in line.items() if k not in ("label",)})
    log(f"  wrk {label}: {line.get('rps')} req/s, p50 {line.get('p50_ms')} ms, p99 {line.get('p99_ms')} ms")
    return line


async def http_phase(args: argparse.Namespace, url: str, history: History, tmp: Path) -> None:
    organs = history.organs
    dept, city = organs.level2[0], organs.city
    server = Server("stats", args.port + 1, {"STATS_DATABASE_URL": async_url(url)}, tmp)
    try:
        server.wait()
        api = f"{server.base}/api/v1/stats"
        admin = bearer("admin")
        async with aiohttp.ClientSession() as s:
            await time_http(s, "report draft (live build), department-year", f"{api}/annual-reports/{dept}/2025",
                            admin, args.reps)
            await time_http(s, "report draft (live build), city + subordinates",
                            f"{api}/annual-reports/{city}/2025?include_subordinates=true", admin, args.reps)
            await time_http(s, "export xlsx, city + subordinates (draft)",
                            f"{api}/annual-reports/{city}/2025/export.xlsx?include_subordinates=true", admin, 20)
            await time_http(s, "export csv, city + subordinates (draft)",
                            f"{api}/annual-reports/{city}/2025/export.csv?include_subordinates=true", admin, 20)
            await time_http(s, "export html, city + subordinates (draft)",
                            f"{api}/annual-reports/{city}/2025/export.html?include_subordinates=true", admin, 20)
            await time_http(s, "dashboard timeseries, department, 12 months",
                            f"{api}/dashboards/{dept}/timeseries?from=2025-01-01&to=2025-12-31", admin, 10)
            await time_http(s, "dashboard timeseries, city + subordinates, 3 years",
                            f"{api}/dashboards/{city}/timeseries?from=2024-01-01&to=2026-12-31", admin, 5)
            await time_http(s, "dashboard breakdown by organ, city, 12 months",
                            f"{api}/dashboards/{city}/breakdown?by=organ&from=2025-01-01&to=2025-12-31", admin, 5)
            # Sign off the city's 2025 report: from then on GET serves the frozen snapshot (the precomputed case).
            report = f"{api}/annual-reports/{city}/2025"
            officer = bearer("stats_officer", organ=city)
            async with s.get(f"{report}/status?include_subordinates=true", headers=officer) as r:
                etag = r.headers["ETag"]
            async with s.post(f"{report}/submit?include_subordinates=true", headers={**officer, "If-Match": etag}) as r:
                etag = r.headers["ETag"]
            async with s.post(f"{report}/publish?include_subordinates=true", headers={**admin, "If-Match": etag}) as r:
                assert r.status == 200, await r.text()
            await time_http(s, "report published (snapshot), city + subordinates, anonymous",
                            f"{report}?include_subordinates=true", {}, args.reps * 4)
        wrk("wrk /healthz (same server, reference)", f"{server.base}/healthz", args.wrk_seconds, 16)
        wrk("wrk published report (snapshot), city + subordinates",
            f"{api}/annual-reports/{city}/2025?include_subordinates=true", args.wrk_seconds, 16)
    finally:
        server.stop()


async def http_feed_phase(args: argparse.Namespace, admin_dsn: str, history: History, tmp: Path) -> None:
    n = min(args.http_feed_events, len(history.keys))
    feed_url = await create_database(admin_dsn, FEED_DB)
    conn = await asyncpg.connect(feed_url)
    t0 = time.perf_counter()
    try:
        chunk = 50_000
        for start in range(0, n, chunk):
            events = [history.event(start + j + 1, key) for j, key in enumerate(history.keys[start:min(n, start +
                                                                                                         chunk)])]
            await conn.copy_records_to_table(
                "outbox_event", columns=["id", "type", "entity_type", "entity_id", "version", "payload",
                                         "occurred_at"],
                records=[(e.id, e.type, e.entity_type, e.entity_id, e.version, json.dumps(e.payload), e.occurred_at)
                         for e in events])
    finally:
        await conn.close()
    log(f"  producer outbox loaded with {n:,} events in {time.perf_counter() - t0:.1f}s")
    consumer_url = await create_database(admin_dsn, HTTP_DB)
    producer = Server("producer", args.port + 2, {"STATS_DATABASE_URL": async_url(feed_url)}, tmp)
    database = Database(make_engine(async_url(consumer_url), pool_size=4))
    try:
        producer.wait()
        settings = Settings(consume=False)
        async with httpx.AsyncClient(base_url=producer.base, timeout=httpx.Timeout(30.0, connect=2.0)) as client:
            feed = HttpFeed(client, settings)
            result = await ingest(database, history, args, feed, "HTTP feed", n)
        line = record("ingest", case="through a real HTTP feed (producer: uvicorn, /internal/v1/events)", **result)
        log(f"  HTTP-feed ingest: {line['events_per_s']:,} events/s")
    finally:
        producer.stop()
        await database.dispose()


async def main(args: argparse.Namespace) -> None:
    global OUT_JSONL, OUT_MD
    OUT_JSONL, OUT_MD = Path(args.results) / "stats.jsonl", Path(args.results) / "stats.md"
    tmp = Path(args.dir)
    logs = Path(f"{args.dir}-logs")  # outside the cluster directory, which is removed at the end
    logs.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240
    started = time.perf_counter()
    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                         capture_output=True, text=True).stdout.strip()
    record("meta", applications=args.applications, batch=args.batch, reps=args.reps, nproc=os.cpu_count(),
           python=sys.version.split()[0], git=git,
           postgres="scripts/pg_cluster.sh: fsync=off, synchronous_commit=off, shared_buffers=256MB")
    log(f"generating the history of {args.applications:,} applications")
    history = History(args.applications)
    events = len(history.keys)
    record("generate", applications=args.applications, events=events, organs=len(history.organs.codes),
           seconds=history.generate_s)
    log(f"  {events:,} events ({events / args.applications:.2f} per application), {history.generate_s}s")

    log(f"starting PostgreSQL in {tmp} on port {args.port}")
    admin_dsn = pg_cluster("start", str(tmp), str(args.port))
    try:
        url = await create_database(admin_dsn, DB)
        engine = make_engine(async_url(url), pool_size=4)
        timer = StatementTimer(engine)
        database = Database(engine)
        log(f"ingesting {events:,} events through FeedConsumer + apply_request_events (batch {args.batch})")
        result = await ingest(database, history, args, MemoryFeed(history), "ingest", events)
        line = record("ingest", case="in-memory feed through FeedConsumer", **result)
        log(f"  ingest: {line['events_per_s']:,} events/s wall ({line['events_per_s_excluding_feed']:,} excluding "
            f"the in-memory feed's {line['feed_materialise_s']}s)")
        async with database.transaction() as session:
            sizes = (await session.execute(text(
                "SELECT relname, n_live_tup, pg_total_relation_size(relid) FROM pg_stat_user_tables "
                "ORDER BY pg_total_relation_size(relid) DESC"))).all()
        await database.dispose()
        conn = await asyncpg.connect(url)
        await conn.execute("VACUUM ANALYZE")
        await conn.close()
        record("tables", sizes={name: {"rows": rows, "mb": round(size / 2**20, 1)} for name, rows, size in sizes})
        engine = make_engine(async_url(url), pool_size=4)
        timer = StatementTimer(engine)
        database = Database(engine)
        organs = history.organs
        cases = [("department-year", organs.level2[0], 2025, False),
                 ("sub-unit-year", organs.codes[2], 2026, False),
                 ("district + subordinates", organs.level2[-1], 2025, True),
                 ("city + all subordinates", organs.city, 2025, True)]
        log("report generation (build_report, direct)")
        await time_reports(database, timer, cases, args.reps)
        await database.dispose()
        log("HTTP endpoints under uvicorn (1 worker)")
        await http_phase(args, url, history, logs)
        if args.http_feed_events:
            log(f"ingest of {min(args.http_feed_events, events):,} events through a real HTTP feed")
            await http_feed_phase(args, admin_dsn, history, logs)
    finally:
        if not args.keep:
            pg_cluster("stop", str(tmp))
    record("done", total_s=round(time.perf_counter() - started, 1))
    write_markdown()


def write_markdown() -> None:
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for line in results:
        by_kind.setdefault(line["kind"], []).append(line)
    meta, gen = by_kind["meta"][0], by_kind["generate"][0]
    md = [f"# Statistics service benchmark — run {RUN}", "",
          f"`scripts/bench_stats.sh` (scripts/bench_stats.py). {meta['nproc']} CPUs, Python {meta['python']}, "
          f"git {meta['git']}. PostgreSQL 15 throwaway cluster ({meta['postgres']}). The load generator, the "
          "service and PostgreSQL share the same cores. Targets (task brief): ingest ≥ 2,000 events/s on 2 cores; "
          "any report < 200 ms once ingested; performance.md T1 for precomputed figures.", "",
          f"Data: {gen['applications']:,} applications → {gen['events']:,} events "
          f"({gen['events'] / gen['applications']:.2f} per application: received, then closed for ~94 %; "
          f"~5 % also a consultation), {gen['organs']} organs in 3 levels, receipt dates 2024–2026, all applicant "
          "types, channels and 9 outcome rows, 2 % with fees, 1 % with an appeal. Generated in "
          f"{gen['seconds']} s, materialised per batch when fetched (time reported apart).", "",
          "## Ingest", "", "| case | events | wall s | events/s | events/s excl. feed | per-slice events/s |",
          "|---|---|---|---|---|---|"]
    for line in by_kind.get("ingest", []):
        md.append(f"| {line['case']} (batch {line['batch_size']}) | {line['events']:,} of {line['of_events']:,}"
                  f"{' (budget hit)' if line['stopped_by_budget'] else ''} | {line['wall_s']} | "
                  f"**{line['events_per_s']:,}** | {line['events_per_s_excluding_feed'] or '—'} | "
                  f"{', '.join(f'{v:,}' for v in line['slices_events_per_s'])} |")
    if "tables" in by_kind:
        sizes = by_kind["tables"][0]["sizes"]
        md += ["", "Tables after ingest: " + ", ".join(f"{k} {v['rows']:,} rows / {v['mb']} MB"
                                                       for k, v in sizes.items() if v["rows"]) + "."]
    md += ["", "## Report generation — build_report (direct, one session per call)", "",
           "| case | new_received | p50 ms | p95 ms | max ms | CPU busy before | slowest statements (p50 ms) |",
           "|---|---|---|---|---|---|---|"]
    for line in by_kind.get("build_report", []):
        slow = "; ".join(f"`{s['sql'][:60]}…` {s['p50_ms']}" for s in line["slowest_statements"][:2])
        md.append(f"| {line['case']} ({line['year']}) | {line['new_received_total']:,} | **{line['p50_ms']}** | "
                  f"**{line['p95_ms']}** | {line['max_ms']} | {line.get('busy_before_pct', '?')} % | {slow} |")
    md += ["", "## HTTP (uvicorn, 1 worker, sequential requests at 1 connection)", "",
           "| endpoint | bytes | p50 ms | p95 ms | CPU busy before |", "|---|---|---|---|---|"]
    for line in by_kind.get("http", []):
        md.append(f"| {line['case']} | {line['bytes']:,} | **{line['p50_ms']}** | **{line['p95_ms']}** | "
                  f"{line.get('busy_before_pct', '?')} % |")
    if by_kind.get("wrk"):
        md += ["", "wrk (16 connections, 1 thread, same box):", "", "| endpoint | req/s | p50 ms | p99 ms | errors |",
               "|---|---|---|---|---|"]
        for line in by_kind["wrk"]:
            errors = sum(v for k, v in line.items() if k.startswith(("errors", "non2xx", "timeouts"))
                         and isinstance(v, int | float))
            md.append(f"| {line['case']} | {line.get('rps')} | {line.get('p50_ms')} | {line.get('p99_ms')} | "
                      f"{errors} |")
    md += ["", "## Notes", "",
           "- CPU busy before = whole-machine CPU use in the second before the measurement, after a bounded wait for "
           "quiet: other sessions share this 2-core box, so absolute figures move between runs (compare runs in "
           "bench-results/stats.jsonl).",
           "- The cluster runs with fsync=off (scripts/pg_cluster.sh): ingest commits once per batch of 1,000 "
           "events, so a real fsync adds roughly one flush per 1,000 events.",
           "- A published report is served from its frozen snapshot (one primary-key read, no aggregation); the live "
           "draft is built from report_counter (the precomputed table 三) plus indexed queries for the other sections.",
           "- Dashboards scan the facts in their range (at most 3 years); a city-wide 3-year series at 1 M "
           "applications is the worst case measured here.", ""]
    done = by_kind.get("done", [{}])[0]
    md += ["", f"Total run time: {done.get('total_s', '?')} s. Raw lines: bench-results/stats.jsonl (run {RUN}).", ""]
    OUT_MD.write_text("\n".join(md), encoding="utf-8")
    log(f"wrote {OUT_MD}")


def markdown_from_jsonl(path: Path, run: str) -> None:
    """Rewrite stats.md from the JSON lines of an earlier run."""
    global RUN, OUT_MD
    RUN, OUT_MD = run, path.parent / "stats.md"
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = json.loads(raw)
        if line.get("run") == run:
            results.append(line)
    write_markdown()


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--markdown-from":  # --markdown-from stats.jsonl RUN
        markdown_from_jsonl(Path(sys.argv[2]), sys.argv[3])
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--applications", type=int, default=1_000_000)
    parser.add_argument("--dir", default="/tmp/gk-bench-stats")
    parser.add_argument("--port", type=int, default=54397)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--reps", type=int, default=50)
    parser.add_argument("--http-feed-events", type=int, default=200_000)
    parser.add_argument("--wrk-seconds", type=int, default=5)
    parser.add_argument("--budget", type=float, default=1200, help="seconds at most for each ingest phase")
    parser.add_argument("--results", default=str(ROOT / "bench-results"), help="where stats.jsonl / stats.md go")
    parser.add_argument("--keep", action="store_true", help="leave the PostgreSQL cluster running")
    asyncio.run(main(parser.parse_args()))
