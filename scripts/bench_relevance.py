#!/usr/bin/env python
"""Relevance of the catalogue search (issue 12): the service against a reference BM25 over CJK bigrams, on the same
corpus and judged queries, in the same run.

    .venv/bin/python scripts/bench_relevance.py [--backends sqlite,postgres] [--size 5200]

- Corpus and judged queries: scripts/relevance/corpus.py (≥ 5,000 records, scripts/relevance/judged_queries.jsonl).
- The service: the catalogue app in this process (httpx over ASGI), a fresh database per backend migrated to head,
  one organ per issuing organ of the corpus, the records published through POST /documents/bulk (an integration
  token per organ), then GET /documents?q=…&limit=10 per query (sort=relevance).
- The reference: scripts/relevance/reference_bm25.py in .venv-bench (bm25s; made here on first use).
Metrics per engine, over all queries and per style: success@3 (a relevant record in the top 3), MRR@10, nDCG@10
(binary gains), zero-result rate, and for 文号 queries whether the meant record came first.
Results: bench-results/relevance.jsonl (one line per engine and style) and bench-results/relevance.md.
"""

import argparse
import asyncio
import json
import logging
import math
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts" / "relevance"))

import corpus as corpus_mod
from alembic import command
from alembic.config import Config

from catalog_service.app import create_app
from catalog_service.codes import uscc_check_char
from catalog_service.config import Settings
from services.auth import AuthSettings, mint_token

API = "/api/v1/catalog"
BENCH_VENV = ROOT / ".venv-bench"
RESULTS = ROOT / "bench-results"


# ---- metrics ------------------------------------------------------------------------------------------------------

def score(ranked: list[str], relevant: set[str]) -> dict[str, float]:
    first = next((i for i, d in enumerate(ranked[:10]) if d in relevant), None)
    dcg = sum(1 / math.log2(i + 2) for i, d in enumerate(ranked[:10]) if d in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(len(relevant), 10)))
    return {"success@3": float(first is not None and first < 3), "mrr": 0.0 if first is None else 1 / (first + 1),
            "ndcg@10": dcg / ideal, "zero": float(not ranked), "first": float(first == 0)}


def summarise(queries: list[dict], ranked: dict[str, list[str]]) -> dict[str, dict[str, float]]:
    groups: dict[str, list[dict[str, float]]] = defaultdict(list)
    for q in queries:
        s = score(ranked.get(q["id"], []), set(q["relevant"]))
        groups["all"].append(s)
        groups["natural" if q["natural"] else "control"].append(s)
        groups[q["style"]].append(s)
    return {g: {"n": len(rows), **{k: round(sum(r[k] for r in rows) / len(rows), 4) for k in rows[0]}}
            for g, rows in groups.items()}


# ---- the reference ------------------------------------------------------------------------------------------------

def reference(records: list, queries: list[dict], tmp: Path) -> dict[str, list[str]]:
    if not (BENCH_VENV / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(BENCH_VENV)], check=True)
    if subprocess.run([str(BENCH_VENV / "bin/python"), "-c", "import bm25s"], capture_output=True).returncode:
        subprocess.run([str(BENCH_VENV / "bin/pip"), "install", "-q", "bm25s==0.3.16", "numpy", "scipy"],
                       check=True)
    with (tmp / "corpus.jsonl").open("w", encoding="utf-8") as out:
        for r in records:
            text = " ".join([r.title, r.doc_number or "", " ".join(r.keywords), r.summary or "", r.body])
            out.write(json.dumps({"external_id": r.external_id, "text": text}, ensure_ascii=False) + "\n")
    with (tmp / "queries.jsonl").open("w", encoding="utf-8") as out:
        for q in queries:
            out.write(json.dumps({"id": q["id"], "query": q["query"]}, ensure_ascii=False) + "\n")
    subprocess.run([str(BENCH_VENV / "bin/python"), str(ROOT / "scripts/relevance/reference_bm25.py"),
                    str(tmp / "corpus.jsonl"), str(tmp / "queries.jsonl"), str(tmp / "reference.json")], check=True)
    return json.loads((tmp / "reference.json").read_text(encoding="utf-8"))


# ---- the service --------------------------------------------------------------------------------------------------

def organ_code(n: int) -> str:
    base = f"11440100MR{n:07d}"
    return base + uscc_check_char(base)


async def service(records: list, queries: list[dict], database_url: str,
                  synonyms: list[list[str]] = ()) -> tuple[dict[str, list[str]], dict]:
    cfg = Config(str(ROOT / "alembic.ini"), ini_section="catalog")
    cfg.attributes["url"] = database_url
    cfg.attributes["configure_logger"] = False
    await asyncio.to_thread(command.upgrade, cfg, "head")
    app = create_app(Settings(database_url=database_url, scheduler_interval_seconds=0, calendar_feed_enabled=False))
    auth = AuthSettings()
    admin = {"Authorization": "Bearer " + mint_token(auth, sub="bench-admin", roles=["admin"])}
    timings: dict[str, float] = {}
    async with app.router.lifespan_context(app) as state:
        async def with_state(scope, receive, send):
            if scope["type"] == "http":
                scope = {**scope, "state": dict(state or {})}
            await app(scope, receive, send)

        transport = httpx.ASGITransport(app=with_state)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=120) as client:
            by_organ: dict[str, list] = defaultdict(list)
            for r in records:
                by_organ[f"{r.place}{r.organ}" or "示范市人民政府"].append(r)
            external_of: dict[str, str] = {}
            started = time.perf_counter()
            for n, (name, rows) in enumerate(sorted(by_organ.items())):
                code = organ_code(n + 1)
                r = await client.post(f"{API}/organs", headers=admin,
                                      json={"code": code, "name": name[:200], "kind": "department"})
                assert r.status_code == 201, r.text
                token = {"Authorization": "Bearer " + mint_token(auth, sub=f"bench-{n}", roles=["integration"],
                                                                 organ=code)}
                for i in range(0, len(rows), 1000):
                    r = await client.post(f"{API}/documents/bulk", headers=token,
                                          json={"records": [x.api() for x in rows[i:i + 1000]]})
                    assert r.status_code == 200, r.text
                    for res in r.json()["results"]:
                        assert res["status"] == "created" and res["published"], res
                        external_of[res["document_id"]] = res["external_id"]
            timings["load_seconds"] = round(time.perf_counter() - started, 1)
            # The search index follows the change events (catalog_service/domain/indexer.py): wait until it has
            # every record, and time what the background indexer had left to do.
            started = time.perf_counter()
            r = await client.post(f"{API}/search/index/catch-up", headers=admin)
            assert r.status_code == 200 and r.json()["lag_events"] == 0, r.text
            timings["index_catch_up_seconds"] = round(time.perf_counter() - started, 1)
            for words in synonyms:  # the search dictionary, entered as an administrator would (query time only)
                r = await client.post(f"{API}/search/synonyms", headers=admin, json={"words": words})
                assert r.status_code == 201, r.text
            ranked: dict[str, list[str]] = {}
            latencies = []
            for q in queries:
                t0 = time.perf_counter()
                r = await client.get(f"{API}/documents", params={"q": q["query"], "limit": 10})
                latencies.append(time.perf_counter() - t0)
                if r.status_code != 200:  # a query the service refuses (e.g. too short) finds nothing
                    ranked[q["id"]] = []
                    continue
                ranked[q["id"]] = [external_of.get(item["id"], "?") for item in r.json()["items"]]
            latencies.sort()
            timings["query_p50_ms"] = round(1000 * latencies[len(latencies) // 2], 1)
            timings["query_p95_ms"] = round(1000 * latencies[int(len(latencies) * 0.95)], 1)
    return ranked, timings


def postgres_cluster(tmp: Path) -> tuple[str, Path] | None:
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    pg_dir = Path(tempfile.mkdtemp(prefix="gk-relevance-pg."))
    pg_dir.rmdir()
    out = subprocess.run([str(ROOT / "scripts/pg_cluster.sh"), "start", str(pg_dir), str(port)],
                         capture_output=True, text=True)
    if out.returncode:
        print("PostgreSQL not available:", out.stderr.strip()[:300])
        return None
    admin = out.stdout.strip()
    subprocess.run(["psql", admin, "-qc", "CREATE DATABASE gk_relevance TEMPLATE template0 ENCODING 'UTF8' "
                    "LC_COLLATE 'C' LC_CTYPE 'C.UTF-8'"], check=True, capture_output=True)
    return admin.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + "/gk_relevance", pg_dir


def report(results: dict[str, dict], timings: dict[str, dict], queries: list[dict]) -> str:
    styles = ["all", "natural", "control"] + sorted({q["style"] for q in queries})
    lines = [f"# Relevance — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
             "",
             f"{len(queries)} judged queries ({sum(q['natural'] for q in queries)} typed the way people type) over "
             f"the corpus of scripts/relevance/corpus.py. Reference: BM25 over CJK bigrams (bm25s, Lucene's cjk "
             f"analyzer). Goal (issue 12): success@3 ≥ 0.90, nDCG@10 ≥ reference + 0.05, zero results < 2 %, "
             f"every 文号 variant first.",
             "",
             "| engine | queries | n | success@3 | MRR@10 | nDCG@10 | zero-result | first |",
             "|---|---|---|---|---|---|---|---|"]
    for engine, summary in results.items():
        for style in styles:
            if style in summary:
                m = summary[style]
                lines.append(f"| {engine} | {style} | {m['n']} | {m['success@3']:.3f} | {m['mrr']:.3f} | "
                             f"{m['ndcg@10']:.3f} | {m['zero']:.1%} | {m['first']:.3f} |")
    lines += ["", "| engine | load (s) | query p50 (ms) | query p95 (ms) |", "|---|---|---|---|"]
    for engine, t in timings.items():
        lines.append(f"| {engine} | {t.get('load_seconds', '')} | {t.get('query_p50_ms', '')} | "
                     f"{t.get('query_p95_ms', '')} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--synonyms", choices=("none", "demo"), default="demo", help=(
        "search dictionary of the service: `demo` = the entries `make run` seeds (catalog_service.seed.DEMO_SYNONYMS, "
        "not the corpus generator's vocabulary), `none` = empty"))
    args = parser.parse_args()
    records = corpus_mod.build_corpus()
    queries = [json.loads(line) for line in corpus_mod.JUDGED_FILE.read_text(encoding="utf-8").splitlines()]
    known = {r.external_id for r in records}
    missing = [q["id"] for q in queries if not set(q["relevant"]) <= known]
    assert not missing, f"judged queries name records the corpus does not hold: {missing}"
    tmp = Path(tempfile.mkdtemp(prefix="gk-relevance."))
    results: dict[str, dict] = {}
    timings: dict[str, dict] = {}
    t0 = time.perf_counter()
    results["reference BM25 (bigrams)"] = summarise(queries, reference(records, queries, tmp))
    timings["reference BM25 (bigrams)"] = {"load_seconds": round(time.perf_counter() - t0, 1)}
    for backend in args.backends.split(","):
        pg_dir = None
        if backend == "sqlite":
            url = f"sqlite+aiosqlite:///{tmp / 'catalog.db'}"
        else:
            cluster = postgres_cluster(tmp)
            if cluster is None:
                continue
            url, pg_dir = cluster
        try:
            from catalog_service.seed import DEMO_SYNONYMS
            ranked, timing = asyncio.run(service(records, queries, url,
                                                 DEMO_SYNONYMS if args.synonyms == "demo" else []))
        finally:
            if pg_dir:
                subprocess.run([str(ROOT / "scripts/pg_cluster.sh"), "stop", str(pg_dir)], capture_output=True)
        engine = f"gongkai ({backend}{', no synonyms' if args.synonyms == 'none' else ''})"
        results[engine] = summarise(queries, ranked)
        timings[engine] = timing
        (tmp / f"ranked-{backend}.json").write_text(json.dumps(ranked, ensure_ascii=False), encoding="utf-8")
    RESULTS.mkdir(exist_ok=True)
    with (RESULTS / "relevance.jsonl").open("a", encoding="utf-8") as out:
        for engine, summary in results.items():
            for style, m in summary.items():
                out.write(json.dumps({"at": datetime.now(UTC).isoformat(timespec="seconds"), "engine": engine,
                                      "queries": style, **m, **timings.get(engine, {})}, ensure_ascii=False) + "\n")
    text = report(results, timings, queries)
    (RESULTS / "relevance.md").write_text(text, encoding="utf-8")
    print(text)
    print(f"rankings per query in {tmp}")
    return 0


if __name__ == "__main__":
    logging.disable(logging.INFO)  # one access line per query and per request of the load would drown the report
    sys.exit(main())
