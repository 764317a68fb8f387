"""Request-service benchmark (issue 4): on PostgreSQL with 1,000,000 applications —
intake throughput through the API (target ≥ 300 applications/s), the overdue work-list p95 (target < 100 ms),
and the deadline computation per application (in process and through GET /deadline).

    scripts/bench_requests.sh            # starts a throwaway PostgreSQL, loads the data, runs, stops everything
    N=200000 scripts/bench_requests.sh   # a smaller run

Results: JSON lines appended to bench-results/requests.jsonl and a summary in bench-results/requests.md.
Everything binds 127.0.0.1; every loop is bounded in count and time.
"""

import asyncio
import json
import os
import random
import subprocess
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import aiohttp
import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from request_service.domain import clock
from request_service.domain.calendar import Calendar, package_year
from request_service.models import ClockSegment
from services.auth import mint_token
from services.settings import AuthSettings

ADMIN_DSN = os.environ["BENCH_PG_DSN"]  # postgresql://postgres@127.0.0.1:PORT/postgres
N = int(os.environ.get("N", 1_000_000))
PORT = int(os.environ.get("REQUEST_BENCH_PORT", 18202))
INTAKE_SECONDS = float(os.environ.get("INTAKE_SECONDS", 20))
CONCURRENCY = int(os.environ.get("CONCURRENCY", 16))
OUT = ROOT / "bench-results"
RUN = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
ORGANS = [f"11440100MQ{i:07d}X"[:18] for i in range(20)]
TYPES = ["natural_person"] * 7 + ["commercial_enterprise", "research_institution", "social_welfare_org",
                                  "legal_service_org", "other_org"]
OUTCOMES = ["granted"] * 5 + ["partially_granted", "withheld.third_party_rights", "unable.not_held",
                               "not_processed.repeat_application", "other.no_supplement"]
CHANNELS = ["online", "online", "in_person", "mail_signed", "email", "fax"]
TITLES = ["申请公开{}年度部门预算", "申请公开{}年征地补偿安置方案", "申请公开{}年行政处罚决定书", "申请公开{}年政府采购合同",
          "申请公开{}年老旧小区改造项目资金使用情况"]


def emit(record: dict) -> None:
    OUT.mkdir(exist_ok=True)
    line = json.dumps({"run": RUN, **record}, ensure_ascii=False, default=str)
    print(line, flush=True)
    with (OUT / "requests.jsonl").open("a", encoding="utf-8") as fh:
        fh.write(line + "\n")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))], 2)


async def load(dsn: str) -> float:
    """COPY N applications (20 organs, 2024–2026, 85 % answered, the rest open, some overdue)."""
    rng = random.Random(42)
    conn = await asyncpg.connect(dsn)
    today = date.today()
    started = time.perf_counter()
    await conn.execute("INSERT INTO known_organ (code, id, name, parent_code, path, version) SELECT c, gen_random_uuid()::text, "
                       "'基准测试机关' || c, NULL, '/' || c || '/', 1 FROM unnest($1::text[]) AS c", ORGANS)
    columns = ["id", "tracking_no", "query_code_hash", "organ_code", "channel", "submitted_at", "receipt_date",
               "applicant_type", "applicant_name", "applicant_key", "info_title", "info_description",
               "preferred_form", "delivery", "suggestions", "status", "due_on", "due_provisional", "extension_days",
               "fee_waived", "reply_articles", "withheld_parts", "outcome", "closed_on", "version", "created_at",
               "updated_at"]
    batch: list[tuple] = []
    for i in range(N):
        received = date(2024, 1, 1) + timedelta(days=rng.randrange((today - date(2024, 1, 1)).days))
        due = received + timedelta(days=28)
        answered = rng.random() < 0.85 and due < today + timedelta(days=10)
        closed = received + timedelta(days=rng.randrange(5, 40)) if answered else None
        status = "replied" if answered else rng.choice(["accepted", "accepted", "accepted", "consulting",
                                                        "supplement_requested", "reply_drafted"])
        submitted = datetime(received.year, received.month, received.day, 2, tzinfo=UTC)
        batch.append((str(uuid.uuid4()), f"GKB{i:010d}", "bench", rng.choice(ORGANS), rng.choice(CHANNELS),
                      submitted, received, rng.choice(TYPES), "基准申请人", uuid.uuid4().hex,
                      rng.choice(TITLES).format(received.year), "", "electronic", "online", "[]", status,
                      due if status in ("accepted", "reply_drafted") else (None if status != "replied" else due),
                      False, 0, False, "[]", "[]", rng.choice(OUTCOMES) if answered else None, closed, 1,
                      submitted, submitted))
        if len(batch) == 50_000:
            await conn.copy_records_to_table("application", records=batch, columns=columns)
            batch.clear()
    if batch:
        await conn.copy_records_to_table("application", records=batch, columns=columns)
    await conn.execute("ANALYZE application")
    await conn.close()
    return time.perf_counter() - started


async def serve(db_url: str) -> subprocess.Popen:
    env = {**os.environ, "REQUEST_DATABASE_URL": db_url, "REQUEST_ACCESS_LOG": "false", "REQUEST_LOG_LEVEL": "WARNING",
           "REQUEST_JOB_INTERVAL_SECONDS": "0", "REQUEST_ORGAN_FEED_ENABLED": "false",
           "REQUEST_CATALOG_URL": "http://127.0.0.1:9"}  # the catalogue is not part of this measurement
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "request_service.app:app", "--host", "127.0.0.1",
                             "--port", str(PORT), "--no-access-log", "--log-level", "warning"], cwd=ROOT, env=env)
    async with aiohttp.ClientSession() as http:
        for _ in range(150):
            try:
                async with http.get(f"http://127.0.0.1:{PORT}/readyz") as r:
                    if r.status == 200:
                        return proc
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    proc.kill()
    raise SystemExit("request service did not become ready")


async def intake(organ: str) -> dict:
    """POST /applications/register (in person: accepted at once, the clock starts) for INTAKE_SECONDS."""
    token = mint_token(AuthSettings(), sub="bench-clerk", roles=["intake_clerk"], organ=organ)
    headers = {"Authorization": f"Bearer {token}"}
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + INTAKE_SECONDS

    async def worker(http: aiohttp.ClientSession, w: int) -> None:
        nonlocal errors
        n = 0
        while time.perf_counter() < deadline:
            n += 1
            body = {"channel": "in_person", "info_title": f"申请公开2026年度部门预算（基准{w}-{n}）",
                    "applicant": {"type": "natural_person", "name": "基准申请人", "phone": "13800138000"}}
            t = time.perf_counter()
            async with http.post(f"http://127.0.0.1:{PORT}/api/v1/requests/applications/register", json=body,
                                 headers=headers) as r:
                await r.read()
                if r.status != 201:
                    errors += 1
            latencies.append((time.perf_counter() - t) * 1000)

    started = time.perf_counter()
    async with aiohttp.ClientSession() as http:
        await asyncio.gather(*(worker(http, w) for w in range(CONCURRENCY)))
    elapsed = time.perf_counter() - started
    return {"case": "intake_api", "concurrency": CONCURRENCY, "requests": len(latencies), "errors": errors,
            "seconds": round(elapsed, 2), "applications_per_s": round(len(latencies) / elapsed, 1),
            "p50_ms": pct(latencies, 50), "p95_ms": pct(latencies, 95), "p99_ms": pct(latencies, 99),
            "target_per_s": 300, "meets_target": len(latencies) / elapsed >= 300 and errors == 0}


async def timed_gets(url: str, token: str, count: int, concurrency: int) -> list[float]:
    latencies: list[float] = []
    headers = {"Authorization": f"Bearer {token}"}
    queue = list(range(count))

    async def worker(http: aiohttp.ClientSession) -> None:
        while queue:
            queue.pop()
            t = time.perf_counter()
            async with http.get(url, headers=headers) as r:
                await r.read()
                assert r.status == 200, (r.status, await r.text())
            latencies.append((time.perf_counter() - t) * 1000)

    async with aiohttp.ClientSession() as http:
        await asyncio.gather(*(worker(http) for _ in range(concurrency)))
    return latencies


async def worklists(dsn: str) -> list[dict]:
    organ = ORGANS[3]
    token = mint_token(AuthSettings(), sub="bench-handler", roles=["handler"], organ=organ)
    results = []
    conn = await asyncpg.connect(dsn)
    for view in ("overdue", "due_soon", "waiting_third_party"):
        url = f"http://127.0.0.1:{PORT}/api/v1/requests/applications?view={view}&limit=50"
        await timed_gets(url, token, 20, 2)  # warm-up
        lat = await timed_gets(url, token, 400, 4)
        results.append({"case": f"worklist_{view}_http", "organ_rows": N // len(ORGANS), "n": len(lat),
                        "p50_ms": pct(lat, 50), "p95_ms": pct(lat, 95), "p99_ms": pct(lat, 99),
                        "target_p95_ms": 100, "meets_target": pct(lat, 95) < 100})
    sql = ("SELECT * FROM application WHERE organ_code = $1 AND status = ANY($2::text[]) AND due_on < $3 "
           "ORDER BY due_on, id LIMIT 51")
    raw = []
    for _ in range(200):
        t = time.perf_counter()
        await conn.fetch(sql, organ, ["accepted", "reply_drafted"], date.today())
        raw.append((time.perf_counter() - t) * 1000)
    plan = await conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + sql, organ, ["accepted", "reply_drafted"], date.today())
    results.append({"case": "worklist_overdue_raw_sql", "n": len(raw), "p50_ms": pct(raw, 50), "p95_ms": pct(raw, 95),
                    "plan": [r[0] for r in plan][:8]})
    await conn.close()
    return results


async def deadlines(dsn: str) -> list[dict]:
    calendar = Calendar({y: package_year(y) for y in (2025, 2026)})
    d = date.fromisoformat
    segments = [ClockSegment(seq=1, state="running", restart=True, start_on=d("2025-09-26"), end_on=d("2025-10-13")),
                ClockSegment(seq=2, state="paused", restart=False, start_on=d("2025-10-13"), end_on=d("2025-10-24")),
                ClockSegment(seq=3, state="running", restart=False, start_on=d("2025-10-24"), end_on=None)]
    n = 20_000
    t = time.perf_counter()
    for _ in range(n):
        clock.compute(segments, calendar, 20, d("2025-10-28"))
    per_compute = (time.perf_counter() - t) / n * 1e6
    t = time.perf_counter()
    for _ in range(2_000):
        clock.compute(segments, calendar, 20, d("2025-10-28"), explain=True)
    per_explain = (time.perf_counter() - t) / 2_000 * 1e6
    # Through the API: a freshly registered application's GET /deadline (day-by-day explanation).
    organ = ORGANS[5]
    clerk = mint_token(AuthSettings(), sub="bench-clerk", roles=["intake_clerk"], organ=organ)
    async with aiohttp.ClientSession() as http:
        async with http.post(f"http://127.0.0.1:{PORT}/api/v1/requests/applications/register",
                             headers={"Authorization": f"Bearer {clerk}"},
                             json={"channel": "in_person", "info_title": "申请公开预算",
                                   "applicant": {"type": "natural_person", "name": "张三", "phone": "13800138000"}}) as r:
            app_id = (await r.json())["id"]
    handler = mint_token(AuthSettings(), sub="bench-handler", roles=["handler"], organ=organ)
    lat = await timed_gets(f"http://127.0.0.1:{PORT}/api/v1/requests/applications/{app_id}/deadline", handler, 300, 2)
    return [{"case": "deadline_compute_in_process", "microseconds_per_application": round(per_compute, 1),
             "microseconds_with_day_by_day_explanation": round(per_explain, 1)},
            {"case": "deadline_http", "n": len(lat), "p50_ms": pct(lat, 50), "p95_ms": pct(lat, 95)}]


async def main() -> None:
    base = ADMIN_DSN.rsplit("/", 1)[0]
    admin = await asyncpg.connect(ADMIN_DSN)
    await admin.execute("DROP DATABASE IF EXISTS bench_request")
    await admin.execute("CREATE DATABASE bench_request TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' "
                        "LC_CTYPE 'C.UTF-8'")
    await admin.close()
    dsn = f"{base}/bench_request"
    db_url = dsn.replace("postgresql://", "postgresql+asyncpg://")
    subprocess.run([str(ROOT / ".venv/bin/alembic"), "-n", "request", "upgrade", "head"], cwd=ROOT, check=True,
                   env={**os.environ, "REQUEST_DATABASE_URL": db_url}, capture_output=True)
    load_s = await load(dsn)
    emit({"case": "load", "applications": N, "seconds": round(load_s, 1)})
    proc = await serve(db_url)
    try:
        results = [await intake(ORGANS[0]), *await worklists(dsn), *await deadlines(dsn)]
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    for record in results:
        emit(record)
    lines = [f"# Request service benchmark ({RUN}, {N:,} applications on PostgreSQL, 2 cores)", "",
             "| case | result | target |", "|---|---|---|"]
    for r in results:
        if r["case"] == "intake_api":
            lines.append(f"| intake via API (c={r['concurrency']}) | {r['applications_per_s']} applications/s, "
                         f"p95 {r['p95_ms']} ms, {r['errors']} errors | ≥ 300/s |")
        elif r["case"].startswith("worklist") and "http" in r["case"]:
            lines.append(f"| {r['case']} | p50 {r['p50_ms']} ms, p95 {r['p95_ms']} ms | p95 < 100 ms |")
        elif r["case"] == "worklist_overdue_raw_sql":
            lines.append(f"| overdue work-list, raw SQL | p50 {r['p50_ms']} ms, p95 {r['p95_ms']} ms | — |")
        elif r["case"] == "deadline_compute_in_process":
            lines.append(f"| deadline computation, in process | {r['microseconds_per_application']} µs "
                         f"({r['microseconds_with_day_by_day_explanation']} µs explained day by day) | — |")
        elif r["case"] == "deadline_http":
            lines.append(f"| GET /deadline | p50 {r['p50_ms']} ms, p95 {r['p95_ms']} ms | — |")
    (OUT / "requests.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    asyncio.run(main())
