"""Read replicas on these two cores (issue 17, "Measured in make bench"): a primary and a streaming standby, the
primary pinned to core 0 and the standby to core 1 (taskset), the catalogue and the request service under uvicorn.

    python scripts/bench_replicas.py [--docs 4000] [--batch 500] [--phase-seconds 60] [--reps 3]
                                     [--intake-rate 10] [--storm-concurrency 16] [--throughput-seconds 15] [--nice -5]

1. Replica lag under a bulk import (批量导入): the catalogue's POST /documents/bulk (scripts/bench_bulk.py's records,
   --docs in batches of --batch) while the primary's pg_stat_replication is sampled every 0.1 s — lag in bytes
   (primary's current WAL position − the standby's replayed one) and in seconds (replay_lag) — p50/p99/max. The
   import also fills the catalogue that the storms search.
2. Intake p95 on the primary, quiet and under a search storm: POST /api/v1/requests/applications (online
   applications, open loop at --intake-rate per second) to the request service on the primary; three phases of
   --phase-seconds each (60: ~600 intakes, so a phase's p95 is not moved ±15 % by chance as at 20 s), --reps
   times in alternation: quiet; a storm of the public's reads (searches, documents,
   change-feed pages; closed loop, --storm-concurrency in flight) sent to a catalogue instance whose public reads go to the standby
   (CATALOG_DATABASE_REPLICA_URLS); the same storm sent to a catalogue instance without the replica (it reads the
   primary). Ratio = storm p95 / quiet p95 (target with the replica ≤ 1.2). Placement: core 0 = primary, request
   service, intake client; core 1 = standby, both catalogue instances, storm client — so what the storm costs the
   primary (and so intake) is what reaches it through the database. Intake's catalogue suggestions are off
   (REQUEST_CATALOG_URL unreachable, as in bench_requests.py): the database is what is measured. Both clusters,
   the request service and the intake client run at --nice (default -5 as root), the catalogue and the storm at 0:
   on a shared machine the scheduler moves other people's work onto core 0 when the storm fills core 1, which is
   not the storm's effect through the database.
3. Throughput of one vs two catalogue instances: the replica-reading catalogue under uvicorn --workers 1, then 2
   (not pinned: two cores for two workers), the same storm for --throughput-seconds from a client pinned to core 0
   (the primary's core, idle but for the revocation checks, apart from the standby's).

The machine may be shared: the 1-minute load average at start and during each phase, and the CPU the primary
and the standby spent per phase, are recorded. Result: one JSON line appended to bench-results/replicas.jsonl and
bench-results/replicas.md. Every process is started here and stopped by its own PID; the clusters' directory is
removed afterwards.
"""

import argparse
import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.bench_bulk import TOPICS, cpu_seconds, make_record

CATALOG = "/api/v1/catalog"
REQUESTS = "/api/v1/requests"
TARGET_RATIO = 1.2
PRIMARY_CORE, STANDBY_CORE = 0, 1
PLACES = "示范市 东湖区 西山区 南江县 北岭镇 城南街道 高新区 经开区".split()


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    return round(sorted(values)[min(len(values) - 1, int(q * len(values)))] * 1000, 1)


def descendants(pid: int) -> list[int]:
    found, stack = [], [pid]
    while stack:
        p = stack.pop()
        found.append(p)
        try:
            for task in Path(f"/proc/{p}/task").iterdir():
                stack += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return found


def pin_cluster(data: Path, core: int, nice: int) -> int:
    """Every process of a running cluster onto one core (`taskset -a -p`) at priority `nice`; backends forked later
    inherit both from the postmaster. Returns the postmaster's PID."""
    postmaster = int((data / "postmaster.pid").read_text().split()[0])
    for pid in descendants(postmaster):
        subprocess.run(["taskset", "-a", "-p", "-c", str(core), str(pid)], capture_output=True)
        os.setpriority(os.PRIO_PROCESS, pid, nice)
    return postmaster


def cluster_cpu(postmaster: int) -> float:
    """CPU seconds of a cluster so far: its live processes' own, plus what the postmaster's exited children (the
    backends of closed connections) used (cutime/cstime of the postmaster)."""
    try:
        fields = Path(f"/proc/{postmaster}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    reaped = (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")
    return cpu_seconds(postmaster) + reaped


def load_avg() -> float:
    return round(os.getloadavg()[0], 2)


# ---- the storm: its own process, pinned where the caller says ------------------------------------------------------

async def storm(base: str, concurrency: int, seconds: float, ids: list[str]) -> dict[str, Any]:
    """The public's reads, closed loop (each of `concurrency` clients sends its next request when the last one is
    answered): of every 10, 6 searches (a topic, sometimes with a place), 3 document reads and 1 page of the change
    feed (100 records: an integrating agency syncing). (Organ digests are left out: one of a 4,000-record organ
    takes seconds of the catalogue's CPU and turns the storm into a queue of digests.)"""
    rng = random.Random(7)
    latencies: list[float] = []
    errors: dict[str, int] = {}
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        async def worker() -> None:
            while time.perf_counter() < deadline:
                kind = rng.randrange(10)
                if kind < 6 or not ids:
                    q = rng.choice(TOPICS) + (" " + rng.choice(PLACES) if rng.random() < 0.3 else "")
                    call = client.get(f"{CATALOG}/documents", params={"q": q, "limit": 20})
                elif kind < 9:
                    call = client.get(f"{CATALOG}/documents/{rng.choice(ids)}")
                else:
                    call = client.get(f"{CATALOG}/changes", params={"limit": 100})
                started = time.perf_counter()
                try:
                    r = await call
                    status = str(r.status_code)
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                if status == "200":
                    latencies.append(time.perf_counter() - started)
                else:
                    errors[status] = errors.get(status, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {"requests": len(latencies), "per_s": round(len(latencies) / elapsed, 1), "p50_ms": pct(latencies, 0.5),
            "p95_ms": pct(latencies, 0.95), "errors": errors}


def start_storm(base: str, concurrency: int, seconds: float, ids_file: Path, core: int) -> subprocess.Popen:
    """The storm in its own process on `core`; `ids_file` holds the published records' ids."""
    return subprocess.Popen(["taskset", "-c", str(core), sys.executable, str(Path(__file__)), "--storm", base,
                             "--storm-concurrency", str(concurrency), "--storm-seconds", str(seconds),
                             "--ids-file", str(ids_file)], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                            preexec_fn=lambda: os.setpriority(os.PRIO_PROCESS, 0, 0))


def storm_result(proc: subprocess.Popen) -> dict[str, Any]:
    out, _ = proc.communicate(timeout=300)
    return json.loads(out.strip().splitlines()[-1])


# ---- servers -------------------------------------------------------------------------------------------------------

def serve(name: str, module: str, port: int, env: dict[str, str], tmp: Path, *, core: int | str = "0,1",
          workers: int = 1, nice: int = 0) -> subprocess.Popen:
    """uvicorn on the given core(s) (default both: this process itself is pinned to core 0), at priority `nice`."""
    cmd = ["taskset", "-c", str(core), str(ROOT / ".venv/bin/uvicorn"), module, "--host", "127.0.0.1", "--port",
           str(port), "--workers", str(workers), "--no-access-log", "--log-level", "warning"]
    log = (tmp / f"{name}.log").open("ab")
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT,
                            preexec_fn=lambda: os.setpriority(os.PRIO_PROCESS, 0, nice))
    for _ in range(600):
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited:\n{(tmp / f'{name}.log').read_text()[-3000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{name} did not become ready:\n{(tmp / f'{name}.log').read_text()[-3000:]}")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()  # our own child, by its PID
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


def catalog_env(db_url: str, tmp: Path, label: str, replica_url: str | None) -> dict[str, str]:
    env = {"CATALOG_DATABASE_URL": db_url, "CATALOG_ACCESS_LOG": "false", "CATALOG_LOG_LEVEL": "WARNING",
           "CATALOG_SCHEDULER_INTERVAL_SECONDS": "0", "CATALOG_ATTACHMENT_DIR": str(tmp / "attachments"),
           "CATALOG_SEARCH_INDEX_DIR": str(tmp / f"search-index-{label}"), "CATALOG_WEBHOOKS_ENABLED": "false",
           "CATALOG_DATABASE_REPLICA_URLS": replica_url or ""}
    return env


# ---- phases --------------------------------------------------------------------------------------------------------

async def lag_sampler(admin_url: str, stop_at: asyncio.Event) -> list[tuple[int, float]]:
    """(bytes, seconds) every 0.1 s from the primary's view of its standby."""
    samples: list[tuple[int, float]] = []
    conn = await asyncpg.connect(admin_url)
    try:
        while not stop_at.is_set():
            row = await conn.fetchrow(
                "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint AS bytes, "
                "coalesce(extract(epoch FROM replay_lag), 0)::float8 AS seconds FROM pg_stat_replication")
            if row is not None:
                samples.append((int(row["bytes"] or 0), float(row["seconds"])))
            await asyncio.sleep(0.1)
    finally:
        await conn.close()
    return samples


async def bulk_import(base: str, args: argparse.Namespace, admin_url: str, organ: str) -> dict[str, Any]:
    from services.auth import mint_token
    from services.settings import AuthSettings

    admin = {"Authorization": f"Bearer {mint_token(AuthSettings(), sub='bench-admin', roles=['admin'])}"}
    token = {"Authorization": "Bearer " + mint_token(AuthSettings(), sub="oa-bench-replicas", roles=["integration"],
                                                     organ=organ, name="公文系统"),
             "Content-Type": "application/json"}
    rng = random.Random(42)
    batches = [json.dumps({"records": [make_record(rng, n, 0.9) for n in range(s, min(s + args.batch, args.docs))]},
                          ensure_ascii=False).encode() for s in range(0, args.docs, args.batch)]
    ids: list[str] = []
    async with httpx.AsyncClient(base_url=base, timeout=300) as client:
        (await client.post(f"{CATALOG}/organs", headers=admin,
                           json={"code": organ, "name": "示范市副本基准局", "kind": "department"})).raise_for_status()
        stop_at = asyncio.Event()
        sampler = asyncio.create_task(lag_sampler(admin_url, stop_at))
        started = time.perf_counter()
        for body in batches:
            r = await client.post(f"{CATALOG}/documents/bulk", headers=token, content=body)
            if r.status_code != 200:
                raise RuntimeError(f"bulk import answered {r.status_code}: {r.text[:500]}")
            ids += [item["document_id"] for item in r.json()["results"] if item.get("published")]
        import_s = time.perf_counter() - started
        await asyncio.sleep(1.0)  # the tail of the replay
        stop_at.set()
        samples = await sampler
    lag_bytes = [b / 1000 for b, _ in samples]  # pct() multiplies by 1000: back to bytes
    lag_s = [s for _, s in samples]
    return {"docs": args.docs, "batch": args.batch, "import_s": round(import_s, 2),
            "docs_per_s": round(args.docs / import_s), "published": len(ids), "lag_samples": len(samples),
            "lag_bytes_p50": pct(lag_bytes, 0.5), "lag_bytes_p99": pct(lag_bytes, 0.99),
            "lag_bytes_max": max((b for b, _ in samples), default=None),
            "lag_s_p50": round((pct(lag_s, 0.5) or 0) / 1000, 3), "lag_s_p99": round((pct(lag_s, 0.99) or 0) / 1000, 3),
            "lag_s_max": round(max(lag_s, default=0.0), 3), "ids": ids}


async def wait_searchable(base: str, published: int) -> None:
    """Until the instance's search index holds every published record (its indexer catches up on its own)."""
    deadline = time.monotonic() + 180
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        while time.monotonic() < deadline:
            r = await client.get(f"{CATALOG}/documents", params={"limit": 1})
            if r.status_code == 200 and r.json()["total"] >= published:
                return
            await asyncio.sleep(0.5)
    raise RuntimeError(f"{base}: the search index did not reach {published} records")


async def intake(base: str, organ: str, rate: float, seconds: float, tag: str) -> dict[str, Any]:
    """Open loop: one online application every 1/rate s, whatever the answers take."""
    from tests.request_service.intake_support import application_body

    latencies: list[float] = []
    errors: dict[str, int] = {}

    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        async def one(n: int) -> None:
            body = application_body(organ, info_title=f"申请公开2026年度部门预算执行情况（基准{tag}-{n}）")
            started = time.perf_counter()
            try:
                r = await client.post(f"{REQUESTS}/applications", json=body)
                status = str(r.status_code)
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            if status == "201":
                latencies.append(time.perf_counter() - started)
            else:
                errors[status] = errors.get(status, 0) + 1

        tasks, started = [], time.perf_counter()
        for n in range(int(rate * seconds)):
            await asyncio.sleep(max(0.0, started + n / rate - time.perf_counter()))
            tasks.append(asyncio.create_task(one(n)))
        await asyncio.gather(*tasks)
    return {"requests": len(latencies), "p50_ms": pct(latencies, 0.5), "p95_ms": pct(latencies, 0.95),
            "p99_ms": pct(latencies, 0.99), "errors": errors}


def intake_phases(args: argparse.Namespace, request_base: str, organ: str, storms: dict[str, str | None],
                  ids_file: Path, pids: dict[str, int]) -> list[dict[str, Any]]:
    asyncio.run(intake(request_base, organ, args.intake_rate, 5, "warm"))  # unrecorded warm-up
    # Each storm target warmed up once, unrecorded: the first storm of a run otherwise pays for cold caches (the
    # catalogue's search index and plans, the standby's buffers) and its rep measured that, not the storm.
    for target in (t for t in storms.values() if t is not None):
        storm_result(start_storm(target, args.storm_concurrency, 10, ids_file, STANDBY_CORE))
    phases = []
    for rep in range(args.reps):
        for name, target in storms.items():
            proc = None
            if target is not None:
                proc = start_storm(target, args.storm_concurrency, args.phase_seconds + 8, ids_file, STANDBY_CORE)
                time.sleep(5)  # the storm process started and at full strength before intake is measured
            cpu0 = {k: cluster_cpu(pid) for k, pid in pids.items()}
            result = asyncio.run(intake(request_base, organ, args.intake_rate, args.phase_seconds, f"{name}{rep}"))
            cpu = {f"{k}_cpu_s": round(cluster_cpu(pid) - cpu0[k], 2) for k, pid in pids.items()}
            phase = {"phase": name, "rep": rep, "load_avg_1m": load_avg(), **result, **cpu}
            if proc is not None:
                phase["storm"] = storm_result(proc)
            phases.append(phase)
            print(f"  intake [{name}, rep {rep}]: p50 {phase['p50_ms']} ms, p95 {phase['p95_ms']} ms"
                  + (f"; storm {phase['storm']['per_s']}/s" if proc else "") + f"; {cpu}", flush=True)
    return phases


def bench(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    # Imported here, not at the top: the storm's own process needs none of it and must start fast.
    from catalog_service.codes import uscc_check_char
    from tests.harness import PgCluster, PgStandby, free_port

    load_at_start = load_avg()
    os.sched_setaffinity(0, {PRIMARY_CORE})  # the intake client beside the primary; children are pinned explicitly
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    primary = PgCluster(tmp / "primary", free_port()).start()
    standby = PgStandby(primary, tmp / "standby", free_port())
    procs: list[subprocess.Popen] = []
    try:
        async def prepare() -> None:
            conn = await asyncpg.connect(primary.admin_url)
            await conn.execute("CREATE DATABASE catalog TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' "
                               "LC_CTYPE 'C.UTF-8'")
            await conn.execute("CREATE DATABASE request")
            await conn.close()

        asyncio.run(prepare())
        base_url = primary.admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
        catalog_db, request_db = f"{base_url}/catalog", f"{base_url}/request"
        for service, url in (("catalog", catalog_db), ("request", request_db)):
            subprocess.run([str(ROOT / ".venv/bin/alembic"), "-n", service, "upgrade", "head"], cwd=ROOT,
                           env={**os.environ, f"{service.upper()}_DATABASE_URL": url}, check=True,
                           capture_output=True)
        organ = (code := "11440100MB9900001") + uscc_check_char(code)

        async def known_organ() -> None:  # the request service's copy of the organ (its feed is off here)
            conn = await asyncpg.connect(request_db.replace("+asyncpg", ""))
            await conn.execute("INSERT INTO known_organ (code, id, name, parent_code, path, version) "
                               "VALUES ($1::text, gen_random_uuid()::text, '示范市副本基准局', NULL, '/' || $1::text || '/', 1)",
                               organ)
            await conn.close()

        asyncio.run(known_organ())
        standby.create()
        pids = {"primary": pin_cluster(primary.data, PRIMARY_CORE, args.nice),
                "standby": pin_cluster(standby.data, STANDBY_CORE, args.nice)}
        replica_db = standby.url(catalog_db)

        ports = {"request": free_port(), "replica": free_port(), "primary": free_port()}
        procs.append(serve("request", "request_service.app:app", ports["request"], {
            "REQUEST_DATABASE_URL": request_db, "REQUEST_ACCESS_LOG": "false", "REQUEST_LOG_LEVEL": "WARNING",
            "REQUEST_JOB_INTERVAL_SECONDS": "0", "REQUEST_ORGAN_FEED_ENABLED": "false",
            "REQUEST_CATALOG_URL": "http://127.0.0.1:9"}, tmp, core=PRIMARY_CORE, nice=args.nice))
        with_replica = serve("catalog-replica", "catalog_service.app:app", ports["replica"],
                             catalog_env(catalog_db, tmp, "replica", replica_db), tmp, core=STANDBY_CORE)
        procs.append(with_replica)
        procs.append(serve("catalog-primary", "catalog_service.app:app", ports["primary"],
                           catalog_env(catalog_db, tmp, "primary", None), tmp, core=STANDBY_CORE))
        base = {k: f"http://127.0.0.1:{p}" for k, p in ports.items()}

        print(f"== bulk import of {args.docs:,} records, replica lag sampled", flush=True)
        imported = asyncio.run(bulk_import(base["primary"], args, primary.admin_url, organ))
        ids = imported.pop("ids")
        ids_file = tmp / "ids.json"
        ids_file.write_text(json.dumps(ids))
        print(f"  {imported}", flush=True)
        standby.wait_caught_up(timeout=120)
        for k in ("replica", "primary"):
            asyncio.run(wait_searchable(base[k], len(ids)))

        os.setpriority(os.PRIO_PROCESS, 0, args.nice)  # the intake client (the storms are started at 0)
        print("== intake p95: quiet / storm on the replica / storm on the primary", flush=True)
        phases = intake_phases(args, base["request"], organ,
                               {"quiet": None, "storm_replica": base["replica"], "storm_primary": base["primary"]},
                               ids_file, pids)

        # Each storm against the quiet phase of its own repetition (the machine's other load drifts between reps).
        by_rep = {(p["phase"], p["rep"]): p["p95_ms"] for p in phases}
        ratios = {name: [round(by_rep[(name, rep)] / by_rep[("quiet", rep)], 2) for rep in range(args.reps)
                         if by_rep.get((name, rep)) and by_rep.get(("quiet", rep))]
                  for name in ("storm_replica", "storm_primary")}
        ratio = {name: max(values) for name, values in ratios.items()}

        print("== throughput: the replica-reading catalogue, 1 vs 2 workers", flush=True)
        stop(procs.pop(procs.index(with_replica)))
        throughput = []
        for workers in (1, 2):
            proc = serve(f"catalog-replica-w{workers}", "catalog_service.app:app", ports["replica"],
                         catalog_env(catalog_db, tmp, "replica", replica_db), tmp, workers=workers)
            try:
                asyncio.run(wait_searchable(base["replica"], len(ids)))
                warm = start_storm(base["replica"], args.storm_concurrency, 3, ids_file, PRIMARY_CORE)
                storm_result(warm)
                cpu0 = {k: cluster_cpu(pid) for k, pid in pids.items()}
                result = storm_result(start_storm(base["replica"], args.storm_concurrency, args.throughput_seconds,
                                                  ids_file, PRIMARY_CORE))
                cpu = {f"{k}_cpu_s": round(cluster_cpu(pid) - cpu0[k], 2) for k, pid in pids.items()}
            finally:
                stop(proc)
            throughput.append({"workers": workers, "load_avg_1m": load_avg(), **result, **cpu})
            print(f"  workers {workers}: {result['per_s']}/s, p95 {result['p95_ms']} ms; {cpu}", flush=True)
    finally:
        for proc in procs:
            stop(proc)
        standby.destroy()
        primary.destroy()

    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return {"bench": "replicas", "at": datetime.now(UTC).isoformat(timespec="seconds"), "git": git.stdout.strip(),
            "nproc": os.cpu_count(), "uptime_at_start": uptime, "load_avg_1m_at_start": load_at_start,
            "placement": {"core0": "primary, request service, intake client (throughput: the storm client)",
                          "core1": "standby, catalogue instances, storm client (throughput: workers unpinned)"},
            "intake_rate_per_s": args.intake_rate, "phase_seconds": args.phase_seconds, "reps": args.reps,
            "storm_concurrency": args.storm_concurrency, "nice": args.nice, "bulk": imported, "intake": phases,
            "quiet_p95_ms": [p["p95_ms"] for p in phases if p["phase"] == "quiet"], "ratios": ratios,
            "ratio_worst": ratio, "target_ratio": TARGET_RATIO,
            "meets_target": ratio["storm_replica"] <= TARGET_RATIO, "throughput": throughput,
            "two_workers_speedup": round(throughput[1]["per_s"] / throughput[0]["per_s"], 2)}


def summary(result: dict[str, Any]) -> str:
    b = result["bulk"]
    lines = [f"# Read replicas ({result['at']}, git {result['git']})", "",
             f"Machine: {result['nproc']} cores, shared; `{result['uptime_at_start']}`. Primary on core 0, "
             f"standby on core 1 (taskset); nice {result['nice']} for both clusters, the request service and the "
             "intake client.", "",
             f"* Replica lag during a bulk import of {b['docs']:,} records ({b['docs_per_s']:,}/s): bytes p50 "
             f"{b['lag_bytes_p50']}, p99 {b['lag_bytes_p99']}, max {b['lag_bytes_max']}; seconds p50 {b['lag_s_p50']}, "
             f"p99 {b['lag_s_p99']}, max {b['lag_s_max']}.",
             f"* Intake p95 quiet {result['quiet_p95_ms']} ms (per rep); under a storm on the replica × "
             f"{result['ratios']['storm_replica']} of the same rep's quiet p95, the same storm on the primary × "
             f"{result['ratios']['storm_primary']}; target ≤ {result['target_ratio']} with the replica (worst rep): "
             f"{'met' if result['meets_target'] else 'NOT met'}.", "",
             "| phase | rep | intake p50 ms | intake p95 ms | storm req/s | storm p95 ms | primary CPU s | standby CPU s |"
             " load |", "|---|---|---|---|---|---|---|---|---|"]
    for p in result["intake"]:
        s = p.get("storm", {})
        lines.append(f"| {p['phase']} | {p['rep']} | {p['p50_ms']} | {p['p95_ms']} | {s.get('per_s', '')} | "
                     f"{s.get('p95_ms', '')} | {p['primary_cpu_s']} | {p['standby_cpu_s']} | {p['load_avg_1m']} |")
    lines += ["", "| catalogue workers | req/s | p50 ms | p95 ms | primary CPU s | standby CPU s | load |",
              "|---|---|---|---|---|---|---|"]
    for t in result["throughput"]:
        lines.append(f"| {t['workers']} | {t['per_s']} | {t['p50_ms']} | {t['p95_ms']} | {t['primary_cpu_s']} | "
                     f"{t['standby_cpu_s']} | {t['load_avg_1m']} |")
    lines.append(f"\nTwo workers / one: × {result['two_workers_speedup']}.")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=int(os.environ.get("REPLICA_DOCS", 4000)))
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--phase-seconds", type=float, default=float(os.environ.get("REPLICA_PHASE_SECONDS", 60)))
    parser.add_argument("--reps", type=int, default=int(os.environ.get("REPLICA_REPS", 3)))
    parser.add_argument("--intake-rate", type=float, default=10.0, help="online applications per second")
    parser.add_argument("--nice", type=int, default=-5 if os.geteuid() == 0 else 0, help=(
        "priority of both clusters, the request service and the intake client (not of the catalogue or the storm): "
        "on a shared machine, keeps other people's work that the scheduler moves onto core 0 from being measured "
        "as the storm's effect"))
    parser.add_argument("--storm-concurrency", type=int, default=16)
    parser.add_argument("--throughput-seconds", type=float, default=15.0)
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results" / "replicas.jsonl")
    # The storm's own process (started by the benchmark itself).
    parser.add_argument("--storm", help=argparse.SUPPRESS)
    parser.add_argument("--storm-seconds", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--ids-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.storm:
        ids = json.loads(args.ids_file.read_text())
        print(json.dumps(asyncio.run(storm(args.storm, args.storm_concurrency, args.storm_seconds, ids))))
        return 0
    if shutil.which("taskset") is None:
        print("taskset (util-linux) is needed to pin the primary and the standby", file=sys.stderr)
        return 3

    tmp = Path(tempfile.mkdtemp(prefix="gongkai-replicas-", dir="/tmp"))
    tmp.chmod(0o755)  # as root the clusters run as `postgres`, which must reach their directories inside
    try:
        result = bench(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("a", encoding="utf-8") as out:
        out.write(json.dumps(result, ensure_ascii=False) + "\n")
    text = summary(result)
    (args.out.parent / "replicas.md").write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
