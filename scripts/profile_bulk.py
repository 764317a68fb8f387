"""Profile the write path of the bulk import (批量导入): CPU of the event-loop thread and SQL statements per batch.

    python scripts/profile_bulk.py [--batches 5] [--batch 1000] [--top 40] [--pg-port 54350] [--dump FILE]

The catalogue runs in this process (httpx's ASGI transport, no HTTP server, no search indexer) against a throwaway
PostgreSQL (scripts/pg_cluster.sh, catalog migrations); batches are the ones scripts/bench_bulk.py sends (same
generator, same seed, one organ). cProfile's timer is `time.thread_time`: CPU of this thread only — asyncpg's
waits for the database and other processes do not count, which the default wall-clock timer would blame on
whatever happened to be running. Statements are counted with SQLAlchemy's `before_cursor_execute` (an
insertmanyvalues INSERT of many rows may be sent as several statements, each counted).
Prints per batch: thread CPU, statements by kind; then the profile's top functions (cumulative and own time).
Diagnostic only; the figures to quote come from scripts/bench_bulk.py.
"""

import argparse
import asyncio
import cProfile
import importlib.util
import io
import json
import os
import pstats
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy import event

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from catalog_service.app import create_app
from catalog_service.codes import uscc_check_char
from catalog_service.config import Settings
from services.auth import mint_token
from services.db import Database, make_engine
from services.settings import AuthSettings

_spec = importlib.util.spec_from_file_location("bench_bulk", ROOT / "scripts" / "bench_bulk.py")
assert _spec and _spec.loader
bench_bulk = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_bulk)
API = "/api/v1/catalog"


def _kind(statement: str) -> str:
    words = statement.split()
    head = " ".join(words[:3]).upper() if words else ""
    if head.startswith("INSERT INTO"):
        return "INSERT " + words[2]
    if head.startswith("UPDATE"):
        return "UPDATE " + words[1]
    if head.startswith("DELETE FROM"):
        return "DELETE " + words[2]
    if head.startswith("SELECT") or head.startswith("WITH"):
        lowered = statement.lower()
        table = lowered.split(" from ", 1)[1].split()[0] if " from " in lowered else "?"
        return "SELECT " + table
    return head.split()[0] if head else "?"


async def run(args: argparse.Namespace, db_url: str) -> None:
    settings = Settings(database_url=db_url, access_log=False, scheduler_interval_seconds=0)
    engine = make_engine(db_url)
    statements: Counter[str] = Counter()

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def count(conn, cursor, statement, parameters, context, executemany):
        statements[_kind(statement)] += 1

    app = create_app(settings, database=Database(engine))
    code = "11440100MB9000000"
    code += uscc_check_char(code)
    admin = {"Authorization": f"Bearer {mint_token(AuthSettings(), sub='bench-admin', roles=['admin'])}"}
    token = {"Authorization": "Bearer " + mint_token(AuthSettings(), sub="oa-bench-0", roles=["integration"],
                                                      organ=code, name="公文系统"),
             "Content-Type": "application/json"}
    args.docs = args.batches * args.batch
    batches = bench_bulk.make_batches(args, [token])
    profile = cProfile.Profile(time.thread_time)
    async with app.router.lifespan_context(app) as state:
        async def with_state(scope, receive, send):  # lifespan state into each request, as uvicorn does
            if scope["type"] == "http":
                scope = {**scope, "state": dict(state or {})}
            await app(scope, receive, send)

        transport = httpx.ASGITransport(app=with_state)
        async with httpx.AsyncClient(transport=transport, base_url="http://catalog", timeout=300) as client:
            r = await client.post(f"{API}/organs", headers=admin,
                                  json={"code": code, "name": "示范市基准测试1局", "kind": "department"})
            r.raise_for_status()
            warm = json.dumps({"records": [bench_bulk.make_record(random.Random(0), 10**7 + n, args.published_share)
                                           for n in range(bench_bulk.WARM_UP_RECORDS)]},
                              ensure_ascii=False).encode()
            (await client.post(f"{API}/documents/bulk", headers=token, content=warm)).raise_for_status()
            for i, (headers, body) in enumerate(batches):
                statements.clear()
                cpu, wall = time.thread_time(), time.perf_counter()
                if args.profile:
                    profile.enable()
                r = await client.post(f"{API}/documents/bulk", headers=headers, content=body)
                if args.profile:
                    profile.disable()
                cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
                assert r.status_code == 200, r.text[:500]
                summary = r.json()["summary"]
                print(f"batch {i}: thread CPU {cpu:.3f} s, wall {wall:.3f} s, {sum(statements.values())} statements "
                      f"{dict(statements.most_common())}; {summary}")
    if not args.profile:
        return
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.sort_stats("cumulative").print_stats(args.top)
    stats.sort_stats("tottime").print_stats(args.top)
    print(out.getvalue())
    if args.dump:
        profile.dump_stats(args.dump)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--published-share", type=float, default=0.8)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--pg-port", type=int, default=54350)
    parser.add_argument("--dump", type=Path)
    parser.add_argument("--no-profile", dest="profile", action="store_false",
                        help="thread CPU and statements only (cProfile roughly doubles the CPU of Python code)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="gongkai-profile-"))
    tmp.chmod(0o755)
    try:
        started = subprocess.run([str(ROOT / "scripts/pg_cluster.sh"), "start", str(tmp / "pg"), str(args.pg_port)],
                                 capture_output=True, text=True, check=True)
        admin_url = started.stdout.strip()

        async def prepare() -> None:
            conn = await asyncpg.connect(admin_url)
            await conn.execute("CREATE DATABASE catalog TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' "
                               "LC_CTYPE 'C.UTF-8'")
            await conn.close()

        asyncio.run(prepare())
        db_url = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + "/catalog"
        env = {**os.environ, "CATALOG_DATABASE_URL": db_url}
        subprocess.run([str(ROOT / ".venv/bin/alembic"), "-n", "catalog", "upgrade", "head"], cwd=ROOT, env=env,
                       check=True, capture_output=True)
        asyncio.run(run(args, db_url))
    finally:
        subprocess.run([str(ROOT / "scripts/pg_cluster.sh"), "stop", str(tmp / "pg")], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
