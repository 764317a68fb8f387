"""Integrating agencies (issue 15): webhook delivery throughput and commit→delivery lag, and the NDJSON snapshot's
time and memory as the catalogue grows — against a real catalog service on a throwaway PostgreSQL.

    python scripts/bench_sync.py [--parts webhooks,snapshot] [--subscriptions 10,100] [--burst-docs 100,10]
                                 [--steady-seconds 20,10] [--steady-interval 2] [--snapshot-sizes 100000,300000]

webhooks — a receiver (aiohttp, 127.0.0.1, answers 204 at once) gets every delivery; the service runs with its
dispatcher as configured by default (CATALOG_WEBHOOK_CONCURRENCY 8, idle interval 1 s), with http and loopback
allowed for the benchmark (CATALOG_WEBHOOK_ALLOW_HTTP, CATALOG_WEBHOOK_ALLOWED_NETWORKS). For each number of
subscriptions S (all on one organ, all event types):
  * steady — one record published every --steady-interval s (bulk import, review proactive) for --steady-seconds
    (per case): lag of each
    delivery = its arrival at the receiver minus the arrival of the bulk response that committed its record (the
    commit is before the response, so this slightly under-estimates the lag), p50/p99/max;
  * burst — --burst-docs records (per case) published in batches of 100 as fast as the import goes: deliveries/s =
    S × docs
    over the time from the first batch's response to the last delivery's arrival; the lag percentiles of the burst
    are queueing behind the backlog, reported too.
  Every delivery is checked: each (subscription, record) arrives, and per subscription in `seq` order.
snapshot — for each size (ascending, in one run, on one server) the catalogue is filled up to that many documents
straight in the database, NOT through the API (the bulk API's ~165 documents/s would take hours for 1 M): the
generator of the search benchmark (scripts/bench_search_data.py — realistic 政务公开 titles, summaries and bodies,
the public projection computed by the service's own refresh_projection, ~92 % of the documents public, the others
drafts, in review, withdrawn or classified), COPYed by --seed-workers processes, plus attachment rows for about one
record in 16 (some withheld), then VACUUM ANALYZE. GET /snapshot is then read through HTTP from the running
uvicorn process to its trailer, counting lines as bytes arrive (nothing kept); the server's RSS (process and
children) and this client's are sampled every 20 ms, and the server's VmHWM read at the end. Streamed means the
RSS peak during the stream minus the RSS before it does not grow with N, nor does the client's.
Result: JSON lines appended to bench-results/sync.jsonl; a summary in bench-results/sync.md and on stdout.
Every process is started here and stopped by its own PID; the cluster directory is removed afterwards.
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
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import bench_search
import bench_search_data as seed_data
from bench_bulk import cpu_seconds, make_record, rss_kib, wait_ready

from catalog_service.codes import uscc_check_char
from services.auth import mint_token
from services.settings import AuthSettings

API = "/api/v1/catalog"


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    return round(sorted(values)[min(len(values) - 1, int(q * len(values)))] * 1000, 1)  # ms


class Receiver:
    """Webhook receiver on loopback: remembers (path, seq, document_id, arrival) of every delivery, answers 204."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[str, int, str, float]] = []
        self.runner: web.AppRunner | None = None
        self.port = 0

    async def _hook(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.arrivals.append((request.match_info["name"], body["data"]["seq"], body["data"]["document_id"],
                              time.perf_counter()))
        return web.Response(status=204)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook/{name}", self._hook)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self.runner:
            await self.runner.cleanup()


def organ_code(k: int) -> str:
    base = f"11440100MB8{k:06d}"
    return base + uscc_check_char(base)


def published_record(rng: random.Random, n: int) -> dict[str, Any]:
    record = make_record(rng, n, 1.0)
    assert "review" in record
    return record


class Publisher:
    """Publishes generated records through the bulk import; remembers when each record's commit was answered."""

    def __init__(self, client: httpx.AsyncClient, organ: str, label: str) -> None:
        self.client, self.rng, self.label = client, random.Random(hash(label) & 0xFFFF), label
        self.headers = {"Authorization": "Bearer " + mint_token(AuthSettings(), sub=f"bench-{label}",
                                                                roles=["integration"], organ=organ, name="公文系统")}
        self.committed: dict[str, float] = {}  # document id → arrival of the response that committed it
        self.n = 0

    async def publish(self, count: int) -> list[str]:
        records = []
        for _ in range(count):
            self.n += 1
            records.append(published_record(self.rng, self.n) | {"external_id": f"{self.label}-{self.n}"})
        r = await self.client.post(f"{API}/documents/bulk", headers=self.headers, json={"records": records})
        at = time.perf_counter()
        r.raise_for_status()
        answer = r.json()
        if answer["summary"]["published"] != count:
            raise RuntimeError(f"not all published: {answer['summary']}")
        ids = [item["document_id"] for item in answer["results"]]
        for doc_id in ids:
            self.committed[doc_id] = at
        return ids


async def wait_for_deliveries(receiver: Receiver, names: set[str], ids: set[str], within: float) -> float:
    """Until every (subscription, record) has arrived; returns when the last one did."""
    want = {(name, doc_id) for name in names for doc_id in ids}
    deadline = time.perf_counter() + within
    while True:
        got = {(name, doc_id) for name, _, doc_id, _ in receiver.arrivals if name in names and doc_id in ids}
        if want <= got:
            return max(at for name, _, doc_id, at in receiver.arrivals if (name, doc_id) in want)
        if time.perf_counter() > deadline:
            raise RuntimeError(f"{len(want - got)} of {len(want)} deliveries missing after {within} s")
        await asyncio.sleep(0.2)


def lags(receiver: Receiver, names: set[str], committed: dict[str, float]) -> list[float]:
    first: dict[tuple[str, str], float] = {}
    for name, _, doc_id, at in receiver.arrivals:
        if name in names and doc_id in committed:
            first.setdefault((name, doc_id), at)  # at-least-once: the first arrival counts
    return [max(0.0, at - committed[doc_id]) for (name, doc_id), at in first.items()]


def check_order(receiver: Receiver, names: set[str]) -> None:
    last: dict[str, int] = {}
    for name, seq, _, _ in receiver.arrivals:
        if name in names:
            if seq < last.get(name, 0):
                raise RuntimeError(f"subscription {name}: seq {seq} after {last[name]}")
            last[name] = seq


async def webhook_case(client: httpx.AsyncClient, receiver: Receiver, subscriptions: int, burst_docs: int,
                       steady_seconds: float, interval: float, case: int, server_pid: int, pg_pid: int
                       ) -> dict[str, Any]:
    admin = {"Authorization": f"Bearer {mint_token(AuthSettings(), sub='bench-admin', roles=['admin'])}"}
    organ = organ_code(case)
    (await client.post(f"{API}/organs", headers=admin, json={"code": organ, "name": f"推送基准测试{case}局",
                                                             "kind": "department"})).raise_for_status()
    publisher = Publisher(client, organ, f"wh{case}")
    names = set()
    for i in range(subscriptions):
        name = f"c{case}s{i}"
        r = await client.post(f"{API}/webhooks/subscriptions", headers=publisher.headers,
                              json={"url": f"http://127.0.0.1:{receiver.port}/hook/{name}"})
        if r.status_code != 201:
            raise RuntimeError(f"subscription refused: {r.status_code} {r.text[:300]}")
        names.add(name)
    await publisher.publish(1)  # warm-up: connections, caches
    await wait_for_deliveries(receiver, names, set(publisher.committed), 120)

    # Steady: one record every `interval` seconds.
    steady_ids: set[str] = set()
    started = time.perf_counter()
    while time.perf_counter() - started < steady_seconds:
        tick = time.perf_counter()
        steady_ids.update(await publisher.publish(1))
        await asyncio.sleep(max(0.0, interval - (time.perf_counter() - tick)))
    await wait_for_deliveries(receiver, names, steady_ids, 600)
    steady = lags(receiver, names, {i: publisher.committed[i] for i in steady_ids})

    # Burst: batches of 100 as fast as the import goes.
    cpu = (cpu_seconds(server_pid), cpu_seconds(pg_pid))
    burst_ids: set[str] = set()
    first_commit = None
    for _ in range(0, burst_docs, 100):
        burst_ids.update(await publisher.publish(min(100, burst_docs - len(burst_ids))))
        first_commit = first_commit or min(publisher.committed[i] for i in burst_ids)
    import_done = time.perf_counter()
    last = await wait_for_deliveries(receiver, names, burst_ids, 1800)
    cpu = (cpu_seconds(server_pid) - cpu[0], cpu_seconds(pg_pid) - cpu[1])
    burst = lags(receiver, names, {i: publisher.committed[i] for i in burst_ids})
    check_order(receiver, names)
    deliveries = subscriptions * len(burst_ids)
    assert first_commit is not None
    return {
        "subscriptions": subscriptions, "steady_records": len(steady_ids), "steady_interval_s": interval,
        "steady_deliveries": len(steady), "steady_lag_p50_ms": pct(steady, 0.5),
        "steady_lag_p99_ms": pct(steady, 0.99), "steady_lag_max_ms": pct(steady, 1.0),
        "burst_records": len(burst_ids), "burst_deliveries": deliveries,
        "burst_import_s": round(import_done - first_commit, 2),
        "burst_seconds": round(last - first_commit, 2),
        "deliveries_per_s": round(deliveries / (last - first_commit), 1),
        "burst_lag_p50_ms": pct(burst, 0.5), "burst_lag_p99_ms": pct(burst, 0.99),
        "server_cpu_ms_per_delivery": round(cpu[0] / deliveries * 1000, 2),
        "postgres_cpu_ms_per_delivery": round(cpu[1] / deliveries * 1000, 2),
        "duplicates": len(receiver.arrivals) - len({(n, d) for n, _, d, _ in receiver.arrivals}),
    }


SEED_CHUNK = 20_000  # documents generated and COPYed per worker task


def _vm_kib(pid: int, key: str) -> int:
    """One Vm* line of /proc/<pid>/status (VmHWM: the process's peak resident memory so far)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


async def seed_to(db_url: str, have: int, size: int, n_total: int, workers: int) -> dict[str, Any]:
    """Documents `have`..`size`-1 of scripts/bench_search_data.py (the 政务公开 generator of the search benchmark:
    public projection by the service's own refresh_projection, ~92 % public, the rest drafts, withdrawn,
    classified…) COPYed straight into the table by worker processes (bench_search._load_chunk) — not through the
    API — and an attachment (one visible, every 32nd record also a withheld one) on about one record in 16."""
    started = time.perf_counter()
    if have == 0:
        conn = await asyncpg.connect(db_url)
        try:
            now = datetime.now(UTC)
            await conn.copy_records_to_table("organ", records=[
                (o.id, o.code, o.name, o.kind, o.parent_id, o.path, 1, now, now) for o in seed_data.organs()],
                columns=["id", "code", "name", "kind", "parent_id", "path", "version", "created_at", "updated_at"])
        finally:
            await conn.close()
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(workers) as pool:
        await asyncio.gather(*[loop.run_in_executor(pool, bench_search._load_chunk, db_url, start,
                                                    min(start + SEED_CHUNK, size), n_total)
                               for start in range(have, size, SEED_CHUNK)])
    conn = await asyncpg.connect(db_url)
    try:
        first = f"{have:08x}"  # generated ids begin with the document's number in hex: the new ones sort after
        await conn.execute(
            "INSERT INTO attachment (id, document_id, filename, content_type, size, sha256, withheld, created_by, "
            "created_at) SELECT gen_random_uuid()::text, d.id, '附件' || w || '：' || left(d.title, 20) || '.pdf', "
            "'application/pdf', 20000 + length(d.body) * w, encode(sha256(convert_to(d.id || w, 'UTF8')), 'hex'), "
            "w = 2, 'bench', d.created_at FROM document d CROSS JOIN generate_series(1, 2) w "
            "WHERE d.id >= $1 AND right(d.id, 1) = '0' AND (w = 1 OR right(d.id, 2) IN ('00', '80'))", first)
        await conn.execute("VACUUM ANALYZE document")
        await conn.execute("VACUUM ANALYZE attachment")
        public = await conn.fetchval("SELECT count(*) FROM document WHERE status = 'published' AND NOT classified")
        attachments = await conn.fetchval("SELECT count(*) FROM attachment WHERE NOT withheld")
    finally:
        await conn.close()
    return {"documents": size, "public": public, "visible_attachments": attachments,
            "seed_seconds": round(time.perf_counter() - started, 1)}


async def read_snapshot(base: str, server_pid: int) -> dict[str, Any]:
    """GET /snapshot to its trailer, counting lines as the bytes arrive (nothing kept but the current line's tail),
    with the server's and this client's resident memory sampled every 20 ms."""
    before, client_before = rss_kib(server_pid), _vm_kib(os.getpid(), "VmRSS")
    peak, client_peak = before, client_before
    done = False

    async def sample() -> None:
        nonlocal peak, client_peak
        while not done:
            peak, client_peak = max(peak, rss_kib(server_pid)), max(client_peak, _vm_kib(os.getpid(), "VmRSS"))
            await asyncio.sleep(0.02)

    sampler = asyncio.create_task(sample())
    lines = size = 0
    tail = b""
    started = time.perf_counter()
    first_byte = None
    async with httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(3600)) as client, \
            client.stream("GET", f"{API}/snapshot") as response:
        response.raise_for_status()
        async for chunk in response.aiter_raw(1 << 20):
            first_byte = first_byte or time.perf_counter() - started
            lines += chunk.count(b"\n")
            size += len(chunk)
            tail = (tail + chunk)[-(1 << 16):]  # the trailer is the last line, far shorter than this
    elapsed = time.perf_counter() - started
    done = True
    await sampler
    trailer = json.loads(tail.rstrip(b"\n").rsplit(b"\n", 1)[-1])["end"]
    return {"records": trailer.get("records"), "lines": lines, "mb": round(size / 1e6, 1),
            "seconds": round(elapsed, 1), "records_per_s": round((trailer.get("records") or 0) / elapsed),
            "mb_per_s": round(size / 1e6 / elapsed, 1), "first_line_ms": round((first_byte or 0) * 1000),
            "rss_before_mib": round(before / 1024, 1), "rss_peak_mib": round(peak / 1024, 1),
            "rss_growth_mib": round((peak - before) / 1024, 1), "server_vmhwm_mib": round(
                _vm_kib(server_pid, "VmHWM") / 1024, 1),
            "client_rss_before_mib": round(client_before / 1024, 1),
            "client_rss_peak_mib": round(client_peak / 1024, 1)}


async def snapshot_part(base: str, db_url: str, server_pid: int, sizes: list[int], workers: int
                        ) -> list[dict[str, Any]]:
    results = []
    have = 0
    for size in sorted(sizes):
        seeded = await seed_to(db_url, have, size, max(sizes), workers)
        have = size
        load = os.getloadavg()[0]
        result = {"size": seeded["public"], **seeded, "load_avg_1m_before": round(load, 2),
                  **await read_snapshot(base, server_pid)}
        if result["records"] != seeded["public"]:
            raise RuntimeError(f"snapshot has {result['records']} records, {seeded['public']} are public")
        results.append(result)
        print(f"  {size:,} documents seeded in {seeded['seed_seconds']} s (not through the API); snapshot of "
              f"{result['records']:,} public records: {result['seconds']} s ({result['records_per_s']:,}/s, "
              f"{result['mb']} MB), server RSS {result['rss_before_mib']} → peak {result['rss_peak_mib']} MiB "
              f"(+{result['rss_growth_mib']} MiB), client RSS {result['client_rss_before_mib']} → "
              f"{result['client_rss_peak_mib']} MiB, load {load:.1f}", flush=True)
    return results


def start_database(tmp: Path, port: int) -> str:
    started = subprocess.run([str(ROOT / "scripts/pg_cluster.sh"), "start", str(tmp / "pg"), str(port)],
                             capture_output=True, text=True)
    if started.returncode != 0:
        raise RuntimeError(f"PostgreSQL did not start:\n{started.stderr[-3000:]}")
    admin_url = started.stdout.strip()

    async def prepare() -> None:
        conn = await asyncpg.connect(admin_url)
        await conn.execute("CREATE DATABASE catalog TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' "
                           "LC_CTYPE 'C.UTF-8'")
        await conn.close()

    asyncio.run(prepare())
    return admin_url.rsplit("/", 1)[0] + "/catalog"


async def webhooks_part(base: str, server_pid: int, pg_pid: int, args: argparse.Namespace) -> list[dict[str, Any]]:
    receiver = Receiver()
    await receiver.start()
    results = []
    try:
        async with httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(600)) as client:
            for case, (subs, docs, steady) in enumerate(zip(args.subscriptions, args.burst_docs,
                                                            args.steady_seconds, strict=True)):
                result = await webhook_case(client, receiver, subs, docs, steady, args.steady_interval, case,
                                            server_pid, pg_pid)
                results.append(result)
                print(f"  webhooks, {subs} subscriptions: steady lag p50 {result['steady_lag_p50_ms']} ms, p99 "
                      f"{result['steady_lag_p99_ms']} ms ({result['steady_deliveries']} deliveries); burst "
                      f"{result['burst_deliveries']:,} deliveries in {result['burst_seconds']} s = "
                      f"{result['deliveries_per_s']}/s (lag p50 {result['burst_lag_p50_ms']} ms, p99 "
                      f"{result['burst_lag_p99_ms']} ms)", flush=True)
    finally:
        await receiver.stop()
    return results


def summary(result: dict[str, Any]) -> str:
    lines = [f"# Integrating agencies: webhooks and snapshot ({result['at']}, git {result['git']}, "
             f"{result['nproc']} cores, load average at start {result['load_avg_1m_at_start']:.1f})", ""]
    if result.get("webhooks"):
        lines += ["PostgreSQL, 1 uvicorn worker, dispatcher defaults (concurrency 8, idle interval 1 s), receiver "
                  "on loopback (aiohttp, 204).", "",
                  "| Subscriptions | Steady lag p50 / p99 / max (1 record per interval) | Burst: deliveries, seconds, "
                  "deliveries/s | Burst lag p50 / p99 | CPU per delivery (service / PostgreSQL) |",
                  "|---|---|---|---|---|"]
        for w in result["webhooks"]:
            lines.append(f"| {w['subscriptions']} | {w['steady_lag_p50_ms']} / {w['steady_lag_p99_ms']} / "
                         f"{w['steady_lag_max_ms']} ms ({w['steady_deliveries']} deliveries, one record per "
                         f"{w['steady_interval_s']} s) | "
                         f"{w['burst_deliveries']:,} in {w['burst_seconds']} s = **{w['deliveries_per_s']}/s** | "
                         f"{w['burst_lag_p50_ms']} / {w['burst_lag_p99_ms']} ms | "
                         f"{w['server_cpu_ms_per_delivery']} / {w['postgres_cpu_ms_per_delivery']} ms |")
        lines.append("")
    if result.get("snapshot"):
        lines += ["Snapshot: documents seeded straight into PostgreSQL (generator of the search benchmark, not through "
                  "the API), then GET /snapshot read through HTTP from the uvicorn process (1 worker).", "",
                  "| Documents (public records) | Seeding | Snapshot time | Records/s | MB (MB/s) | Server RSS before → "
                  "peak (growth), VmHWM | Client RSS before → peak | Load (1 min) |", "|---|---|---|---|---|---|---|---|"]
        for s in result["snapshot"]:
            lines.append(f"| {s['documents']:,} ({s['records']:,}) | {s['seed_seconds']} s | {s['seconds']} s | "
                         f"**{s['records_per_s']:,}** | {s['mb']} ({s['mb_per_s']}) | {s['rss_before_mib']} → "
                         f"{s['rss_peak_mib']} MiB (+{s['rss_growth_mib']}), {s['server_vmhwm_mib']} MiB | "
                         f"{s['client_rss_before_mib']} → {s['client_rss_peak_mib']} MiB | {s['load_avg_1m_before']} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ints = lambda text: [int(x) for x in text.split(",") if x]  # noqa: E731
    parser.add_argument("--parts", default="webhooks,snapshot")
    parser.add_argument("--subscriptions", type=ints, default=[10, 100])
    parser.add_argument("--burst-docs", type=ints, default=[100, 10])
    parser.add_argument("--steady-seconds", type=ints, default=[20, 10])
    parser.add_argument("--steady-interval", type=float, default=2.0)
    parser.add_argument("--snapshot-sizes", type=ints, default=[100_000, 1_000_000],
                        help="documents in the catalogue at each snapshot (~92 %% of them public)")
    parser.add_argument("--seed-workers", type=int, default=2, help="processes generating and COPYing documents")
    parser.add_argument("--port", type=int, default=18131)
    parser.add_argument("--pg-port", type=int, default=54351)
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results/sync.jsonl")
    args = parser.parse_args()
    parts = set(args.parts.split(","))

    tmp = Path(tempfile.mkdtemp(prefix="gongkai-sync-"))
    tmp.chmod(0o755)  # as root the cluster runs as `postgres`, which must reach its directory inside
    load_at_start = os.getloadavg()[0]
    server = None
    try:
        db_url = start_database(tmp, args.pg_port)
        env = {**os.environ, "CATALOG_DATABASE_URL": db_url.replace("postgresql://", "postgresql+asyncpg://"),
               "CATALOG_ACCESS_LOG": "false", "CATALOG_LOG_LEVEL": "WARNING",
               "CATALOG_SCHEDULER_INTERVAL_SECONDS": "0", "CATALOG_ATTACHMENT_DIR": str(tmp / "attachments"),
               "CATALOG_WEBHOOK_ALLOW_HTTP": "true", "CATALOG_WEBHOOK_ALLOWED_NETWORKS": '["127.0.0.0/8"]'}
        subprocess.run([str(ROOT / ".venv/bin/alembic"), "-n", "catalog", "upgrade", "head"], cwd=ROOT, env=env,
                       check=True, capture_output=True)
        log = tmp / "catalog.log"
        with log.open("wb") as out:
            server = subprocess.Popen(
                [str(ROOT / ".venv/bin/uvicorn"), "catalog_service.app:app", "--host", "127.0.0.1", "--port",
                 str(args.port), "--no-access-log", "--log-level", "warning"],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{args.port}"
        wait_ready(f"{base}/healthz", server, log)
        pg_pid = int((tmp / "pg" / "data" / "postmaster.pid").read_text().split()[0])
        git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        result: dict[str, Any] = {"bench": "sync", "at": datetime.now(UTC).isoformat(timespec="seconds"),
                                  "git": git.stdout.strip(), "nproc": os.cpu_count(),
                                  "load_avg_1m_at_start": load_at_start, "database": "postgresql"}
        if "webhooks" in parts:
            result["webhooks"] = asyncio.run(webhooks_part(base, server.pid, pg_pid, args))
        if "snapshot" in parts:
            result["snapshot"] = asyncio.run(snapshot_part(base, db_url, server.pid, args.snapshot_sizes,
                                                           args.seed_workers))
    finally:
        if server is not None:
            server.terminate()  # our own child, by its PID
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
        subprocess.run([str(ROOT / "scripts/pg_cluster.sh"), "stop", str(tmp / "pg")], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("a", encoding="utf-8") as out:
        out.write(json.dumps(result, ensure_ascii=False) + "\n")
    text = summary(result)
    args.out.with_suffix(".md").write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
