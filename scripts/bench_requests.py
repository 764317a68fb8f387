"""Request-service benchmark (issue 4): on PostgreSQL with 1,000,000 applications —
intake throughput through the API (target ≥ 300 applications/s), the overdue work-list p95 (target < 100 ms),
and the deadline computation per application (in process and through GET /deadline).

    scripts/bench_requests.sh            # starts a throwaway PostgreSQL, loads the data, runs, stops everything
    N=200000 scripts/bench_requests.sh   # a smaller run
    CASES=intake INTAKE_REPS=3 scripts/bench_requests.sh           # intake only, three repetitions
    COMPARE_TREE=/tmp/old-checkout CASES=intake scripts/bench_requests.sh   # A/B: the same intake run against
                                         # another source tree (e.g. `git archive HEAD`), alternating per repetition;
                                         # TREE_LABEL / COMPARE_LABEL name the two in the results
    SUMMARIZE=<run>,<run> .venv/bin/python scripts/bench_requests.py   # requests.md again from requests.jsonl

Intake is measured INTAKE_REPS times (default 3; the machine is shared, so one figure says little), each after an
unrecorded warm-up and a bounded wait for the machine to be quiet, and next to the shared baseline of the same run:
../shared/bench/bare_app.py `/db` (one asyncpg query per request, performance.md B_db) driven by the same client at
the same concurrency, so `ratio_to_bare_db` is comparable across days. Each repetition also records the CPU time
the service process and the PostgreSQL cluster spent per application (where the time goes).

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

ADMIN_DSN = os.environ.get("BENCH_PG_DSN", "")  # postgresql://postgres@127.0.0.1:PORT/postgres
N = int(os.environ.get("N", 1_000_000))
PORT = int(os.environ.get("REQUEST_BENCH_PORT", 18202))
INTAKE_SECONDS = float(os.environ.get("INTAKE_SECONDS", 20))
CONCURRENCY = int(os.environ.get("CONCURRENCY", 16))
CASES = os.environ.get("CASES", "intake worklists deadlines").split()
INTAKE_REPS = int(os.environ.get("INTAKE_REPS", 3))
WARMUP_SECONDS = float(os.environ.get("WARMUP_SECONDS", 3))
# Another checkout to measure in the same run (A/B), e.g. `git archive HEAD | tar -x -C /tmp/before`.
COMPARE_TREE = Path(os.environ["COMPARE_TREE"]).resolve() if os.environ.get("COMPARE_TREE") else None
LABELS = {ROOT: os.environ.get("TREE_LABEL", "this"), COMPARE_TREE: os.environ.get("COMPARE_LABEL", str(COMPARE_TREE))}
SHARED_BENCH = Path(os.environ.get("SHARED_BENCH") or next(
    (p for p in (ROOT.parent / "shared" / "bench", Path("/work/shared/bench")) if p.is_dir()), ROOT / "missing"))
BARE_PORT = int(os.environ.get("BARE_BENCH_PORT", PORT + 1))
TICKS = os.sysconf("SC_CLK_TCK")
OUT = Path(os.environ.get("BENCH_OUT", ROOT / "bench-results"))  # elsewhere for trial runs
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


async def serve(db_url: str, tree: Path = ROOT) -> subprocess.Popen:
    """The request service from `tree` (this checkout, or COMPARE_TREE: `python -m` imports from the cwd first)."""
    env = {**os.environ, "REQUEST_DATABASE_URL": db_url, "REQUEST_ACCESS_LOG": "false", "REQUEST_LOG_LEVEL": "WARNING",
           "REQUEST_JOB_INTERVAL_SECONDS": "0", "REQUEST_ORGAN_FEED_ENABLED": "false",
           "REQUEST_CATALOG_URL": "http://127.0.0.1:9"}  # the catalogue is not part of this measurement
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "request_service.app:app", "--host", "127.0.0.1",
                             "--port", str(PORT), "--no-access-log", "--log-level", "warning"], cwd=tree, env=env)
    await wait_ready(proc, f"http://127.0.0.1:{PORT}/readyz")
    return proc


async def wait_ready(proc: subprocess.Popen, url: str) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(150):
            try:
                async with http.get(url) as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    proc.kill()
    raise SystemExit(f"{url} did not become ready")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    proc.wait(timeout=20)


def machine_ticks() -> tuple[int, int]:
    """(idle, total) CPU ticks of the whole machine so far (/proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return values[3] + values[4], sum(values)


def busy_pct() -> int:
    """CPU busy % of the whole machine over 1 s (other sessions share this box)."""
    idle0, total0 = machine_ticks()
    time.sleep(1)
    idle1, total1 = machine_ticks()
    return round(100 * (1 - (idle1 - idle0) / max(total1 - total0, 1)))


def wait_quiet(max_busy: int = 25, max_wait: float = 60) -> int:
    """Before a measurement: wait (bounded) until nothing else loads the machine; returns the busy % seen."""
    waited, busy = 0.0, busy_pct()
    while busy > max_busy and waited < max_wait:
        time.sleep(4)
        waited += 5
        busy = busy_pct()
    return busy


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of these processes (a process that has gone counts 0)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / TICKS


def children(ppid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if parent_pid(int(entry.name)) == ppid:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


async def postmaster_pid(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    backend = await conn.fetchval("SELECT pg_backend_pid()")
    try:
        return parent_pid(backend)  # while the backend still exists
    finally:
        await conn.close()


def parent_pid(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


async def load_loop(url: str, headers: dict[str, str], body_of, seconds: float, expect: int) -> tuple[list[float], int]:
    """CONCURRENCY clients, each sending its next request as soon as the last answered, for `seconds`."""
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker(http: aiohttp.ClientSession, w: int) -> None:
        nonlocal errors
        n = 0
        while time.perf_counter() < deadline:
            n += 1
            body = body_of(w, n)
            t = time.perf_counter()
            async with (http.post(url, json=body, headers=headers) if body is not None
                        else http.get(url, headers=headers)) as r:
                await r.read()
                if r.status != expect:
                    errors += 1
            latencies.append((time.perf_counter() - t) * 1000)

    async with aiohttp.ClientSession() as http:
        await asyncio.gather(*(worker(http, w) for w in range(CONCURRENCY)))
    return latencies, errors


async def intake(organ: str, *, tree: Path, rep: int, server: subprocess.Popen, postmaster: int) -> dict:
    """POST /applications/register (in person: accepted at once, the clock starts) for INTAKE_SECONDS."""
    token = mint_token(AuthSettings(), sub="bench-clerk", roles=["intake_clerk"], organ=organ)
    headers = {"Authorization": f"Bearer {token}"}
    url = f"http://127.0.0.1:{PORT}/api/v1/requests/applications/register"

    def body_of(w: int, n: int) -> dict:
        return {"channel": "in_person", "info_title": f"申请公开2026年度部门预算（基准{rep}-{w}-{n}）",
                "applicant": {"type": "natural_person", "name": "基准申请人", "phone": "13800138000"}}

    await load_loop(url, headers, lambda w, n: body_of(w, -n), WARMUP_SECONDS, 201)  # unrecorded warm-up
    busy = wait_quiet()
    pg = children(postmaster)
    cpu0 = (cpu_seconds([server.pid]), cpu_seconds(pg), cpu_seconds([os.getpid()]))
    idle0, total0 = machine_ticks()
    started = time.perf_counter()
    latencies, errors = await load_loop(url, headers, body_of, INTAKE_SECONDS, 201)
    elapsed = time.perf_counter() - started
    idle1, total1 = machine_ticks()
    cpu1 = (cpu_seconds([server.pid]), cpu_seconds(pg), cpu_seconds([os.getpid()]))
    n = max(len(latencies), 1)
    per_app = [round((b - a) / n * 1000, 2) for a, b in zip(cpu0, cpu1, strict=True)]
    # What the rest of the machine (other people's work) used meanwhile, in % of one core.
    ours = sum(b - a for a, b in zip(cpu0, cpu1, strict=True))
    others = max(((total1 - total0) - (idle1 - idle0)) / TICKS - ours, 0.0) / elapsed * 100
    return {"case": "intake_api", "tree": LABELS[tree], "rep": rep,
            "busy_before_pct": busy, "others_cpu_pct_of_core_during": round(others), "concurrency": CONCURRENCY,
            "requests": len(latencies), "errors": errors, "seconds": round(elapsed, 2), "applications_per_s": round(len(latencies) / elapsed, 1),
            "p50_ms": pct(latencies, 50), "p95_ms": pct(latencies, 95), "p99_ms": pct(latencies, 99),
            "cpu_ms_per_application": {"service": per_app[0], "postgresql": per_app[1], "client": per_app[2]},
            "target_per_s": 300, "meets_target": len(latencies) / elapsed >= 300 and errors == 0}


async def bare_db_baseline(dsn: str, rep: int) -> dict | None:
    """The shared baseline of this run: ../shared/bench/bare_app.py GET /db (one asyncpg query per request,
    performance.md B_db), uvicorn 1 worker, driven by the same client at the same concurrency."""
    if not (SHARED_BENCH / "bare_app.py").exists():
        return None
    env = {**os.environ, "BENCH_PG_DSN": dsn}
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "bare_app:app", "--host", "127.0.0.1", "--port",
                             str(BARE_PORT), "--no-access-log", "--log-level", "warning"], cwd=SHARED_BENCH, env=env)
    try:
        url = f"http://127.0.0.1:{BARE_PORT}/db"
        await wait_ready(proc, url)
        await load_loop(url, {}, lambda w, n: None, WARMUP_SECONDS, 200)
        busy = wait_quiet()
        started = time.perf_counter()
        latencies, errors = await load_loop(url, {}, lambda w, n: None, INTAKE_SECONDS, 200)
        elapsed = time.perf_counter() - started
    finally:
        stop(proc)
    return {"case": "baseline_bare_db", "rep": rep, "busy_before_pct": busy, "concurrency": CONCURRENCY,
            "requests": len(latencies), "errors": errors, "requests_per_s": round(len(latencies) / elapsed, 1),
            "p50_ms": pct(latencies, 50), "p95_ms": pct(latencies, 95)}


async def intake_runs(dsn: str, db_url: str) -> list[dict]:
    """INTAKE_REPS repetitions; each: the baseline, then this tree (and COMPARE_TREE), each on a fresh server."""
    trees = [ROOT] + ([COMPARE_TREE] if COMPARE_TREE else [])
    postmaster = await postmaster_pid(dsn)
    results = []
    for rep in range(1, INTAKE_REPS + 1):
        baseline = await bare_db_baseline(dsn, rep)
        if baseline:
            emit(baseline)
            results.append(baseline)
        for tree in trees if rep % 2 else trees[::-1]:  # alternate the order: drift in load hits both alike
            proc = await serve(db_url, tree)
            try:
                line = await intake(ORGANS[0], tree=tree, rep=rep, server=proc, postmaster=postmaster)
            finally:
                stop(proc)
            if baseline:
                line["ratio_to_bare_db"] = round(line["applications_per_s"] / baseline["requests_per_s"], 3)
            emit(line)
            results.append(line)
    return results


QUIET_OTHERS_PCT = 25  # a repetition counts as quiet when other processes used at most this much of a core


def _rates(runs: list[dict]) -> str:
    rates = sorted(r["applications_per_s"] for r in runs)
    return f"{rates[0]}–{rates[-1]}/s ({len(runs)})" if len(rates) > 1 else f"{rates[0]}/s (1)"


def intake_summary(results: list[dict]) -> list[str]:
    """One line per tree: the rate of the quiet repetitions and of those with other load on the machine apart (a
    shared box: the second kind says more about the neighbours than about the service), p95, errors, and the CPU
    per application of the service and of PostgreSQL (steadier than rates when the box is shared)."""
    lines = []
    base = sorted(r["requests_per_s"] for r in results if r["case"] == "baseline_bare_db")
    for tree in dict.fromkeys(r["tree"] for r in results if r["case"] == "intake_api"):
        runs = [r for r in results if r["case"] == "intake_api" and r["tree"] == tree]
        quiet = [r for r in runs if r["others_cpu_pct_of_core_during"] <= QUIET_OTHERS_PCT]
        busy = [r for r in runs if r not in quiet]
        rates = "; ".join(part for part in (f"quiet runs {_rates(quiet)}" if quiet else "",
                                            f"with other load on the box {_rates(busy)}" if busy else "") if part)
        service = sorted(r["cpu_ms_per_application"]["service"] for r in runs)
        database = sorted(r["cpu_ms_per_application"]["postgresql"] for r in runs)
        label = "intake via API" + ("" if tree == "this" else f" ({tree})")
        lines.append(f"| {label}, c={runs[0]['concurrency']}, 1 worker | **{rates}**; p95 "
                     f"{min(r['p95_ms'] for r in runs)}–{max(r['p95_ms'] for r in runs)} ms; "
                     f"{sum(r['errors'] for r in runs)} errors; CPU per application: service "
                     f"{service[0]}–{service[-1]} ms, PostgreSQL {database[0]}–{database[-1]} ms; other processes "
                     f"used {[r['others_cpu_pct_of_core_during'] for r in runs]} % of a core | ≥ 300/s |")
    if base:
        lines.append(f"| shared baseline: bare_app /db (B_db), same client, same runs | {base[0]}–{base[-1]} "
                     f"requests/s | — |")
    return lines


def write_summary(run: str, applications: int, results: list[dict]) -> None:
    lines = [f"# Request service benchmark ({run}, {applications:,} applications on PostgreSQL, 2 cores)", "",
             "| case | result | target |", "|---|---|---|", *intake_summary(results)]
    for r in results:
        if r["case"].startswith("worklist") and "http" in r["case"]:
            lines.append(f"| {r['case']} | p50 {r['p50_ms']} ms, p95 {r['p95_ms']} ms | p95 < 100 ms |")
        elif r["case"] == "worklist_overdue_raw_sql":
            lines.append(f"| overdue work-list, raw SQL | p50 {r['p50_ms']} ms, p95 {r['p95_ms']} ms | — |")
        elif r["case"] == "deadline_compute_in_process":
            lines.append(f"| deadline computation, in process | {r['microseconds_per_application']} µs "
                         f"({r['microseconds_with_day_by_day_explanation']} µs explained day by day) | — |")
        elif r["case"] == "deadline_http":
            lines.append(f"| GET /deadline | p50 {r['p50_ms']} ms, p95 {r['p95_ms']} ms | — |")
    if any(r["case"] == "intake_api" for r in results):
        lines += ["", f"Intake: each repetition after a {WARMUP_SECONDS:g} s unrecorded warm-up and a bounded wait "
                  f"for a quiet machine; quiet = other processes used ≤ {QUIET_OTHERS_PCT} % of a core meanwhile. "
                  "Trees measured alternately in the same run (COMPARE_TREE). Raw lines: requests.jsonl."]
    (OUT / "requests.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


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
    results = await intake_runs(dsn, db_url) if "intake" in CASES else []
    later = []
    if "worklists" in CASES or "deadlines" in CASES:
        proc = await serve(db_url)
        try:
            later = [*(await worklists(dsn) if "worklists" in CASES else []),
                     *(await deadlines(dsn) if "deadlines" in CASES else [])]
        finally:
            stop(proc)
        for record in later:
            emit(record)
    write_summary(RUN, N, results + later)


def summarize(runs: list[str]) -> None:
    """SUMMARIZE=<run>[,<run>…]: rewrite requests.md from requests.jsonl: the intake repetitions of all these runs
    together (more of them quiet), everything else from the last one."""
    lines = [json.loads(line) for line in (OUT / "requests.jsonl").read_text(encoding="utf-8").splitlines()]
    chosen = [r for r in lines if r.get("run") in runs and r.get("case") != "load"
              and (r["case"] in ("intake_api", "baseline_bare_db") or r["run"] == runs[-1])]
    applications = next(r["applications"] for r in lines if r.get("run") == runs[-1] and r.get("case") == "load")
    write_summary(" + ".join(runs), applications, chosen)


if __name__ == "__main__":
    if os.environ.get("SUMMARIZE"):
        summarize(os.environ["SUMMARIZE"].split(","))
    else:
        asyncio.run(main())
