#!/usr/bin/env python
"""Catalogue search speed at 1,000,000 documents on PostgreSQL (issue 12): the service's search index (tantivy, built
by its indexer) through HTTP, beside a reference engine on the same corpus, in the same run.

    .venv/bin/python scripts/bench_search.py [--docs 1000000] [--dir /tmp/gk-bench-search] [--port 54395]
        [--keep] [--reuse] [--seconds 8] [--concurrency 1,16]

Phases, each timed (scripts/bench_search.sh bounds the whole run with `timeout`):
  1. a throwaway PostgreSQL 15 cluster (scripts/pg_cluster.sh, LC_CTYPE C.UTF-8), a catalogue database migrated to
     head, the organs and the documents of scripts/bench_search_data.py COPYed in (worker processes, asyncpg
     copy_records_to_table), VACUUM ANALYZE;
  2. the catalogue under uvicorn (1 worker) with CATALOG_SEARCH_INDEX_DIR: at start it builds its index from the
     document table (its indexer process, catalog_service/indexer_process.py) — the time to its first ready
     /readyz is the build;
  3. the reference engine (scripts/bench_search_reference.py: a bare tantivy searcher over that same index, AND of
     the query's bigrams, top 20 and exact count, in a raw ASGI app under uvicorn, 1 worker);
  4. per query class — natural queries of 4–12 characters, 1–2-character queries — p50/p95/p99 and throughput at
     1 and 16 clients, the service and the reference interleaved per class, same client (aiohttp), same box.
Results: one JSON line per measurement in bench-results/search.jsonl, and bench-results/search.md.
--reuse keeps an already loaded cluster and index (from --keep) and skips phase 1 (the index is then reopened, not
built: no build time is reported).
"""

import argparse
import asyncio
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.parse
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import bench_search_data as data

DB_NAME = "gk_bench_catalog"
CHUNK = 20_000
PG_SETTINGS = {"work_mem": "32MB", "maintenance_work_mem": "512MB", "random_page_cost": "1.1", "jit": "off"}
TARGET_P95_1_MS = 100  # issue 12: p95 at 1 client
TARGET_P99_16_MS = 300  # p99 at 16 clients
TARGET_THROUGHPUT_SHARE = 0.5  # of the reference engine's, at 16 clients


def log(msg: str) -> None:
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {msg}", flush=True)


# --------------------------------------------------------------------------------------------------- loading

def _load_chunk(dsn: str, start: int, stop: int, n_total: int) -> float:
    """Generate documents start..stop-1 and COPY them; runs in a worker process. Returns the generation seconds."""
    t0 = time.perf_counter()
    rows = data.documents(start, stop, n_total)
    gen_s = time.perf_counter() - t0

    async def copy() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.copy_records_to_table("document", records=rows, columns=data.COLUMNS)
        finally:
            await conn.close()

    asyncio.run(copy())
    return gen_s


async def load(dsn: str, n_docs: int, workers: int) -> dict[str, Any]:
    conn = await asyncpg.connect(dsn)
    try:
        now = datetime.now(UTC)
        await conn.copy_records_to_table("organ", records=[
            (o.id, o.code, o.name, o.kind, o.parent_id, o.path, 1, now, now) for o in data.organs()],
            columns=["id", "code", "name", "kind", "parent_id", "path", "version", "created_at", "updated_at"])
    finally:
        await conn.close()
    t0 = time.perf_counter()
    gen_s = 0.0
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(workers) as pool:
        futures = [loop.run_in_executor(pool, _load_chunk, dsn, s, min(s + CHUNK, n_docs), n_docs)
                   for s in range(0, n_docs, CHUNK)]
        for i, fut in enumerate(asyncio.as_completed(futures), 1):
            gen_s += await fut
            if i % 10 == 0:
                log(f"  loaded {min(i * CHUNK, n_docs):,} documents")
    return {"load_s": round(time.perf_counter() - t0, 1), "generate_cpu_s": round(gen_s, 1)}


def alembic(url: str, revision: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([str(ROOT / ".venv/bin/alembic"), "-n", "catalog", "upgrade", revision], cwd=ROOT, check=True,
                   env={**os.environ, "CATALOG_DATABASE_URL": url}, stdout=subprocess.DEVNULL)
    return round(time.perf_counter() - t0, 1)


async def prepare(args: argparse.Namespace, admin_dsn: str, dsn: str) -> dict[str, Any]:
    """Migrate to head, COPY organs and documents, VACUUM ANALYZE (no in-database search index since catalog_0008)."""
    info: dict[str, Any] = {}
    conn = await asyncpg.connect(admin_dsn)
    try:
        for key, value in PG_SETTINGS.items():
            await conn.execute(f"ALTER SYSTEM SET {key} = '{value}'")
        await conn.execute("SELECT pg_reload_conf()")
        await conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME}")
        await conn.execute(f"CREATE DATABASE {DB_NAME} TEMPLATE template0 ENCODING 'UTF8' "
                           "LC_COLLATE 'C' LC_CTYPE 'C.UTF-8'")
    finally:
        await conn.close()
    info["migrate_s"] = alembic(dsn.replace("postgresql://", "postgresql+asyncpg://", 1), "head")
    log(f"generating and loading {args.docs:,} documents ({args.workers} worker processes)")
    info.update(await load(dsn, args.docs, args.workers))
    info["copy_docs_per_s"] = round(args.docs / info["load_s"])
    conn = await asyncpg.connect(dsn)
    try:
        t0 = time.perf_counter()
        await conn.execute("VACUUM ANALYZE")
        info["vacuum_analyze_s"] = round(time.perf_counter() - t0, 1)
        info["documents"] = await conn.fetchval("SELECT count(*) FROM document")
        info["public_documents"] = await conn.fetchval(
            "SELECT count(*) FROM document WHERE status = 'published' AND NOT classified")
        info["size_document_table"] = await conn.fetchval("SELECT pg_size_pretty(pg_total_relation_size('document'))")
    finally:
        await conn.close()
    log(f"loaded in {info['load_s']} s ({info['copy_docs_per_s']:,} documents/s)")
    return info


# --------------------------------------------------------------------------------------------------- queries

def query_classes(titles: list[str]) -> dict[str, list[str]]:
    """Queries per class. `natural`: 4–12 characters as people type them, no spaces — a topic, a topic with its
    document type or place, a question, pieces of real titles (what users paste), one that matches nothing.
    `short`: 1–2 characters — very common (公开 is in most records), mid-frequency, rare pairs from the random names
    (the long tail) and single characters (which match every bigram that holds them)."""
    natural = ["政务公开", "安全生产", "乡村振兴", "营商环境", "专项债券", "垃圾分类", "乡村振兴实施方案",
               "安全生产通知", "广东省财政预算", "防汛抗旱应急预案", "老旧小区改造怎么申请", "义务教育的条件",
               "坚持以人民为中心", "依法主动公开", "公示期为五个工作日", "火星基地量子纠缠",
               *(t[2:2 + n] for t, n in zip(titles, (6, 8, 10, 12, 5, 9, 11, 7), strict=False))]
    short = ["公开", "预算", "通知", "教育", "防汛", "公示", "就业", "米谈", "谈引", "装速", "税", "汛", "厂"]
    return {"natural": natural, "short": short}


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))], 2)


async def _drive(call: Any, queries: list[str], seconds: float, concurrency: int) -> dict[str, Any]:
    """`concurrency` clients, each calling round-robin through the queries for `seconds`."""
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    counter = 0

    async def client() -> None:
        nonlocal errors, counter
        while time.perf_counter() < deadline:
            q = queries[counter % len(queries)]
            counter += 1
            t0 = time.perf_counter()
            try:
                await call(q)
            except Exception as exc:  # counted and reported; one failure must not hide the rest
                errors += 1
                if errors <= 3:
                    log(f"  error: {type(exc).__name__}: {exc}")
            latencies.append((time.perf_counter() - t0) * 1000)

    t0 = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    elapsed = time.perf_counter() - t0
    return {"requests": len(latencies), "errors": errors, "rps": round(len(latencies) / elapsed, 1),
            "p50_ms": pct(latencies, 50), "p95_ms": pct(latencies, 95), "p99_ms": pct(latencies, 99),
            "max_ms": round(max(latencies), 2)}


async def measure(args: argparse.Namespace, dsn: str, service_url: str, reference_url: str) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(dsn)
    try:
        titles = [r["t"] for r in await conn.fetch(
            "SELECT public_title AS t FROM document WHERE status = 'published' AND NOT classified "
            "AND char_length(public_title) >= 16 ORDER BY id LIMIT 8 OFFSET $1", args.docs // 3)]
    finally:
        await conn.close()
    classes = query_classes(titles)
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=max(args.concurrency) + 2))
    results: list[dict[str, Any]] = []
    totals: dict[str, dict[str, int]] = {}

    async def via_service(q: str) -> int:
        async with session.get(f"{service_url}/api/v1/catalog/documents?"
                               f"{urllib.parse.urlencode({'q': q, 'limit': 20})}") as resp:
            body = await resp.read()
            if resp.status != 200:
                raise RuntimeError(f"HTTP {resp.status}: {body[:200]!r}")
            return int(json.loads(body)["total"])

    async def via_reference(q: str) -> int:
        async with session.get(f"{reference_url}/search?{urllib.parse.urlencode({'q': q})}") as resp:
            body = await resp.read()
            if resp.status != 200:
                raise RuntimeError(f"HTTP {resp.status}: {body[:200]!r}")
            return int(json.loads(body)["total"])

    paths = (("service", via_service), ("reference", via_reference))
    try:
        # Warm-up: every query once through both (caches, the segmenter, the pools); the match counts, for the report.
        for queries in classes.values():
            for q in queries:
                totals[q] = {path: await call(q) for path, call in paths}
        for name, queries in classes.items():
            for conc in args.concurrency:
                for path, call in paths:
                    load_avg = os.getloadavg()[0]
                    r = await _drive(call, queries, args.seconds, conc)
                    row = {"class": name, "path": path, "concurrency": conc, "queries": len(queries),
                           "load_avg_1m": round(load_avg, 2), **r}
                    results.append(row)
                    log(f"  {name:8} {path:9} c={conc:<3} p50 {r['p50_ms']:8.2f}  p95 {r['p95_ms']:8.2f}  "
                        f"p99 {r['p99_ms']:8.2f} ms  {r['rps']:8.1f} req/s  errors {r['errors']}")
        # Per query (1 client, median of 5) to name the slow ones, with how many records each matches.
        for name, queries in classes.items():
            for q in queries:
                row: dict[str, Any] = {"class": name, "detail": q, "chars": len(q)}
                for path, call in paths:
                    ts = []
                    for _ in range(5):
                        t0 = time.perf_counter()
                        await call(q)
                        ts.append((time.perf_counter() - t0) * 1000)
                    row[f"{path}_median_ms"] = round(statistics.median(ts), 2)
                    row[f"{path}_total"] = totals[q][path]
                results.append(row)
    finally:
        await session.close()
    return results


# --------------------------------------------------------------------------------------------------- servers

def start_server(argv: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("ab") as out:
        return subprocess.Popen(argv, cwd=ROOT, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


async def wait_up(url: str, proc: subprocess.Popen[bytes], log_path: Path, timeout_s: float) -> float:
    """Seconds until `url` answers 200 (the process is started just before)."""
    t0 = time.perf_counter()
    async with aiohttp.ClientSession() as s:
        while time.perf_counter() - t0 < timeout_s:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited:\n{tail(log_path)}")
            try:
                async with s.get(url) as r:
                    if r.status == 200:
                        return round(time.perf_counter() - t0, 1)
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout_s} s")


def tail(path: Path) -> str:
    return path.read_text(errors="replace")[-3000:]


def fresh_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    path.chmod(0o755)  # as root the cluster runs as `postgres`, which must reach its directory inside


def stop_server(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)  # our own process group (start_new_session)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def rss_mib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024)
    return 0


def dir_mib(path: Path) -> int:
    return round(sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20)


# --------------------------------------------------------------------------------------------------- report

def write_report(out_dir: Path, info: dict[str, Any], results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    out_dir.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    with (out_dir / "search.jsonl").open("a", encoding="utf-8") as f:
        f.write(json.dumps({"run": stamp, "kind": "setup", **info}, ensure_ascii=False) + "\n")
        for row in results:
            f.write(json.dumps({"run": stamp, **row}, ensure_ascii=False) + "\n")
    lines = [f"# Catalogue search speed ({stamp})", "",
             "## Method", "",
             f"{info.get('documents', args.docs):,} generated documents (scripts/bench_search_data.py: 政务公开 "
             "vocabulary, Zipf-weighted, 4 % in Traditional characters, ~92 % public) COPYed into a throwaway "
             "PostgreSQL 15 cluster (scripts/pg_cluster.sh). The catalogue service under uvicorn (1 worker) with "
             "CATALOG_SEARCH_INDEX_DIR: its indexer process builds the tantivy index from the table (the build time "
             "below is start to a ready /readyz; with --reuse the index is rebuilt from the loaded table the same "
             "way). The **reference** (scripts/bench_search_reference.py) is a bare tantivy "
             "searcher over that same index directory — same corpus, same bigram analysis, same BM25 and field "
             "boosts — in a raw ASGI app under uvicorn (1 worker): every bigram of the query must occur (Lucene "
             "`cjk` analyzer with the AND operator), public records, top 20 and the exact count. The service does "
             "in addition query understanding (segmentation, 文号, synonyms, phrases), the revocation check, facets "
             "(exact up to 10,000 matches, from a named sample beyond), the page read from PostgreSQL under the visibility rule, snippets and the "
             "JSON contract. Page size 20. Client: aiohttp in the benchmark process, clients each sending one "
             f"request after another round-robin through the class's queries for {args.seconds} s per row; the "
             "service and the reference alternate per class. Client, servers and PostgreSQL share the box's "
             f"{os.cpu_count()} cores (a busy shared machine: the 1-minute load average at each row's start is "
             "shown).", "",
             "## Setup", "", "| Step | Value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in info.items()]
    lines += ["", "## Latency and throughput per query class", "",
              "| Class | Clients | Path | p50 ms | p95 ms | p99 ms | req/s | Errors | Load avg |",
              "|---|---|---|---|---|---|---|---|---|"]
    rows = [r for r in results if "p95_ms" in r]
    lines += [f"| {r['class']} | {r['concurrency']} | {r['path']} | {r['p50_ms']} | {r['p95_ms']} | {r['p99_ms']} | "
              f"{r['rps']} | {r['errors']} | {r['load_avg_1m']} |" for r in rows]
    lines += ["", f"## Targets (issue 12; stated for 1,000,000 documents — this run has {info.get('documents', args.docs):,})",
              "", "| Class | p95 at 1 client ≤ 100 ms | p99 at 16 clients ≤ 300 ms | throughput at 16 ≥ ½ reference |",
              "|---|---|---|---|"]
    for name in dict.fromkeys(r["class"] for r in rows):
        def get(path: str, conc: int, cls: str = name) -> dict[str, Any] | None:
            return next((r for r in rows if r["class"] == cls and r["path"] == path and r["concurrency"] == conc),
                        None)
        one, many, ref = get("service", 1), get("service", 16), get("reference", 16)
        cells = [f"{'met' if one['p95_ms'] <= TARGET_P95_1_MS else 'missed'} ({one['p95_ms']} ms)" if one else "–",
                 f"{'met' if many['p99_ms'] <= TARGET_P99_16_MS else 'missed'} ({many['p99_ms']} ms)" if many else "–"]
        if many and ref and ref["rps"]:
            share = many["rps"] / ref["rps"]
            cells.append(f"{'met' if share >= TARGET_THROUGHPUT_SHARE else 'missed'} "
                         f"({many['rps']} vs {ref['rps']} req/s = {share:.2f})")
        else:
            cells.append("–")
        lines.append(f"| {name} | {' | '.join(cells)} |")
    lines += ["", "## Per query (1 client, median of 5; matches: public records found)", "",
              "| Class | Query | Chars | Service ms | Service matches | Reference ms | Reference matches |",
              "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['class']} | {r['detail']} | {r['chars']} | {r['service_median_ms']} | {r['service_total']:,} | "
              f"{r['reference_median_ms']} | {r['reference_total']:,} |" for r in results if "detail" in r]
    (out_dir / "search.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------------------------------- main

async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=1_000_000)
    ap.add_argument("--dir", default="/tmp/gk-bench-search")
    ap.add_argument("--port", type=int, default=54395)
    ap.add_argument("--http-port", type=int, default=8395)
    ap.add_argument("--reference-port", type=int, default=8396)
    ap.add_argument("--workers", type=int, default=2, help="processes generating and COPYing documents")
    ap.add_argument("--seconds", type=float, default=8.0, help="per class, path and concurrency")
    ap.add_argument("--concurrency", default="1,16")
    ap.add_argument("--build-timeout", type=float, default=3600.0, help="seconds allowed for the index build")
    ap.add_argument("--keep", action="store_true", help="leave the cluster and the index (for --reuse)")
    ap.add_argument("--reuse", action="store_true", help="use the loaded cluster and index in --dir")
    ap.add_argument("--load-only", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "bench-results"))
    args = ap.parse_args()
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    admin = f"postgresql://postgres@127.0.0.1:{args.port}/postgres"
    dsn = f"postgresql://postgres@127.0.0.1:{args.port}/{DB_NAME}"
    url = dsn.replace("postgresql://", "postgresql+asyncpg://", 1)
    cluster = [str(ROOT / "scripts/pg_cluster.sh")]
    pg_dir = Path(args.dir) / "pg"
    index_dir = Path(args.dir) / "index"
    logs = Path(args.dir) / "logs"
    info: dict[str, Any] = {"docs_requested": args.docs, "nproc": os.cpu_count(),
                            "load_avg_1m_at_start": round(os.getloadavg()[0], 2)}
    t_start = time.perf_counter()
    service = reference = None
    # `timeout` sends SIGTERM: cancel the main task so the finally clause stops the servers and the cluster.
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        if not args.reuse:
            await asyncio.to_thread(subprocess.run, [*cluster, "stop", str(pg_dir)], check=False)
            await asyncio.to_thread(fresh_dir, Path(args.dir))
            await asyncio.to_thread(subprocess.run, [*cluster, "start", str(pg_dir), str(args.port)], check=True,
                                    stdout=subprocess.DEVNULL)
            log(f"cluster on port {args.port}")
            info.update(await prepare(args, admin, dsn))
        if args.load_only:
            return
        logs.mkdir(exist_ok=True)
        log("starting the catalogue service: its indexer process builds the search index (ready when built)")
        service = start_server(
            [str(ROOT / ".venv/bin/uvicorn"), "catalog_service.app:app", "--host", "127.0.0.1", "--port",
             str(args.http_port), "--no-access-log", "--log-level", "warning"],
            {"CATALOG_DATABASE_URL": url, "CATALOG_ACCESS_LOG": "false", "CATALOG_LOG_LEVEL": "WARNING",
             "CATALOG_SEARCH_INDEX_DIR": str(index_dir), "CATALOG_SCHEDULER_INTERVAL_SECONDS": "0"},
            logs / "service.log")
        service_url = f"http://127.0.0.1:{args.http_port}"
        key = "service_start_index_reopened_s" if args.reuse else "index_build_s"
        # /readyz answers 200 once the search index is built and caught up (the web process serves at once)
        info[key] = await wait_up(f"{service_url}/readyz", service, logs / "service.log", args.build_timeout)
        if not args.reuse:
            info["index_build_docs_per_s"] = round(info.get("documents", args.docs) / info[key])
        generation = index_dir / (index_dir / "CURRENT").read_text().strip()
        info["index_size_mib"] = dir_mib(generation)
        info["index_segments"] = len(list(generation.glob("*.idx")))
        log(f"index ready in {info[key]} s ({info['index_size_mib']} MiB, {info['index_segments']} segments)")
        reference = start_server(
            [str(ROOT / ".venv/bin/uvicorn"), "bench_search_reference:app", "--app-dir", str(ROOT / "scripts"),
             "--host", "127.0.0.1", "--port", str(args.reference_port), "--no-access-log", "--log-level", "warning"],
            {"BENCH_REFERENCE_INDEX": str(generation), "PYTHONPATH": str(ROOT)}, logs / "reference.log")
        reference_url = f"http://127.0.0.1:{args.reference_port}"
        await wait_up(f"{reference_url}/healthz", reference, logs / "reference.log", 120)
        results = await measure(args, dsn, service_url, reference_url)
        info["service_rss_mib"] = rss_mib(service.pid)
        info["reference_rss_mib"] = rss_mib(reference.pid)
        info["total_s"] = round(time.perf_counter() - t_start, 1)
        write_report(Path(args.out), info, results, args)
        log(f"wrote {args.out}/search.jsonl and search.md in {info['total_s']} s")
    finally:
        stop_server(reference)
        stop_server(service)
        if not args.keep:
            await asyncio.to_thread(subprocess.run, [*cluster, "stop", str(pg_dir)], check=False)
            shutil.rmtree(args.dir, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
