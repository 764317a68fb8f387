#!/usr/bin/env python
"""考评 scorecard at city scale on PostgreSQL (issue 16): latency of the city's card with all subordinates, and the
lag from a publication in the catalogue to the moved indicator.

    .venv/bin/python scripts/bench_scorecard.py [--documents 1000000] [--applications 100000] [--reps 30]
        [--lag-samples 5] [--dir /tmp/gk-bench-scorecard] [--port 54398] [--keep] [--baseline main]

Phases:
  1. a throwaway PostgreSQL 15 cluster (scripts/pg_cluster.sh: fsync off) with a stats and a catalogue database,
     each migrated to head with alembic;
  2. seeding — the feeds are BYPASSED here: synthetic facts are written with COPY (asyncpg
     copy_records_to_table) straight into the tables the stats feed consumers write (organ_fact, column_fact,
     score_document_fact, document_column_fact, application_fact, breach_fact, appeal_fact, proactive_task_fact,
     attachment_check_fact), then VACUUM ANALYZE. 100 organs in 3 levels (city → 9 → 90), 8 catalogue columns
     each (rules by 体裁 / 主题分类, explicit placements, a statutory 年度报告, "when changed" ones), documents
     published 2021-01-01 … today (genres: work news, notices, normative documents with 有效期 and 解读 duty,
     解读, annual reports, others), ~1 % withdrawn, 5 % explicitly placed; applications closed 2024 … today with
     due dates, outcomes, 依申请转主动 information keys and tasks, breaches, appeals; attachment checks (0.5 %
     failing). Deterministic (seeded random);
  3. the scorecard endpoint under uvicorn (1 worker, consumers off): GET /scorecards/{city}?include_subordinates=
     true, p50/p95 over --reps sequential requests after 3 warm-ups (and one department's own card). With
     --baseline REF, the same cards from REF's code (`git archive REF`, run with this venv) on a copy of the seeded
     database (CREATE DATABASE … TEMPLATE) migrated down to REF's stats head, the requests to the two servers
     alternating so both see the same machine (REF's migrations must be an ancestor of this tree's); beside it,
     in-process, the same card counted the pre-aggregate way (every metric's records read into Python, as the
     drill-down still does) for a ratio on the same data and machine;
  4. lag: a catalogue (uvicorn) on its own database and a stats server following it with its production
     consumers (STATS_CONSUMER_IDLE_SECONDS default 1 s). The catalogue announces the seeded city chain (same codes),
     then --lag-samples times a record is drafted, approved and published through the catalogue's API; the time
     from the publishing call's response to the department's card showing one more record in 主动公开及时率's
     denominator (polled every 50 ms) is one sample.
Results: JSON lines appended to bench-results/scorecard.jsonl and bench-results/scorecard.md (rewritten).
Every process is started here, bound to 127.0.0.1 and stopped by its own PID; the cluster is removed unless --keep.
"""

import argparse
import asyncio
import hashlib
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from itertools import accumulate
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from catalog_service.codes import uscc_check_char
from services.auth import mint_token
from services.db import Database, make_engine
from services.settings import AuthSettings

RUN = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
OUT_JSONL = ROOT / "bench-results" / "scorecard.jsonl"
OUT_MD = ROOT / "bench-results" / "scorecard.md"
STATS_DB, CATALOG_DB = "gk_bench_scorecard", "gk_bench_scorecard_catalog"
BASELINE_DB = "gk_bench_scorecard_baseline"
TODAY = datetime.now(ZoneInfo("Asia/Shanghai")).date()
EPOCH = date(2021, 1, 1)
results: list[dict[str, Any]] = []


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
    return round(ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))], 1)


def busy_pct() -> int:
    """CPU busy % of the whole machine over 1 s (other sessions share this box)."""
    def sample() -> tuple[int, int]:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
        return values[3] + values[4], sum(values)
    idle0, total0 = sample()
    time.sleep(1)
    idle1, total1 = sample()
    return round(100 * (1 - (idle1 - idle0) / max(total1 - total0, 1)))


def bearer(*roles: str, organ: str | None = None) -> dict[str, str]:
    return {"Authorization": "Bearer " + mint_token(AuthSettings(), sub="bench", roles=roles, organ=organ,
                                                    name="bench", ttl_seconds=3600)}


# ------------------------------------------------------------------------------------------------------ seeding

def organ_code(n: int) -> str:
    base = f"11440100MB{n:07d}"  # a valid 统一社会信用代码 (the catalogue checks the check character)
    return base + uscc_check_char(base)


class Organs:
    """city → 9 level-2 organs → 10 level-3 each: 100."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str, str | None, str, int]] = []
        self.city = self._add(0, "示例市人民政府", "peoples_government", None, "/")
        n = 1
        for i in range(9):
            parent = self._add(n, f"示例市第{i + 1}局", "department", self.city, f"/{self.city}/")
            n += 1
            for j in range(10):
                self._add(n, f"示例市第{i + 1}局第{j + 1}分局", "department", parent, f"/{self.city}/{parent}/")
                n += 1
        self.codes = [r[0] for r in self.rows]
        self.leaf = self.rows[2]  # a level-3 organ: the lag phase publishes there

    def _add(self, n: int, name: str, kind: str, parent: str | None, parent_path: str) -> str:
        code = organ_code(n)
        self.rows.append((code, name, kind, parent, f"{parent_path}{code}/", 1))
        return code


COLUMNS = [  # name, rule, every, unit, statutory, note, genres, subjects, explicit
    ("工作动态", "interval", 2, "week", None, None, ["work_news"], [], False),
    ("通知公告", "interval", 6, "month", None, None, ["notice"], [], False),
    ("政策文件", "interval", 6, "month", None, None, ["normative_document"], [], False),
    ("年度报告", "statutory", None, None, "01-31", None, ["annual_report"], [], False),
    ("规划计划", "when_changed", None, None, None, None, [], ["planning"], False),
    ("财政预决算", "when_changed", None, None, None, None, [], [], True),
    ("重大项目", "interval", 1, "month", None, None, [], [], True),
    ("人事信息", "when_changed", None, None, None, "本机关人事信息由上级统一公开", [], ["personnel"], False),
]
GENRES = [("work_news", 40), ("notice", 30), ("normative_document", 5), ("interpretation", 3),
          ("annual_report", 1), ("other", 21)]
OUTCOMES = [("granted", 38), ("partially_granted", 9), ("unable.not_held", 20), ("not_processed.repeat_application", 8),
            ("other.other", 25)]


def uid(prefix: str, n: int) -> str:
    return f"{prefix}{n:012d}-0000-0000-0000-000000000000"[:36]


async def seed(dsn: str, organs: Organs, documents: int, applications: int) -> dict[str, Any]:
    rng = random.Random(16)
    conn = await asyncpg.connect(dsn)
    t0 = time.perf_counter()
    counts: dict[str, int] = {}
    try:
        async def copy(table: str, columns: list[str], rows: list[tuple]) -> None:
            await conn.copy_records_to_table(table, records=rows, columns=columns)
            counts[table] = counts.get(table, 0) + len(rows)

        await copy("organ_fact", ["code", "name", "kind", "parent_code", "path", "version"], organs.rows)
        columns, explicit = [], {}
        for o, code in enumerate(organs.codes):
            for c, (name, rule, every, unit, statutory, note, genres, subjects, is_explicit) in enumerate(COLUMNS):
                column_id = uid("c", o * 100 + c)
                columns.append((column_id, 1, code, name, rule, every, unit, statutory, note, json.dumps(genres),
                                json.dumps(subjects), date(2020, 1, 1), True))
                if is_explicit:
                    explicit.setdefault(code, []).append(column_id)
        await copy("column_fact", ["column_id", "version", "organ_code", "name", "rule", "every", "unit",
                                   "statutory_date", "note", "genres", "subject_categories", "created_on", "active"],
                   columns)
        span = (TODAY - EPOCH).days
        parents = {r[3] for r in organs.rows}
        weights = list(accumulate(1 if i == 0 else 3 if code in parents else 1
                                  for i, code in enumerate(organs.codes)))  # cumulative: rng.choices is faster
        genre_names, genre_weights = zip(*GENRES, strict=True)
        genre_weights = tuple(accumulate(genre_weights))
        policies: dict[str, list[str]] = {}
        docs, placed, checks = [], [], []
        for n in range(documents):
            doc_id = uid("d", n)
            code = rng.choices(organs.codes, cum_weights=weights)[0]
            genre = rng.choices(genre_names, cum_weights=genre_weights)[0]
            published = EPOCH + timedelta(days=rng.randrange(span + 1))
            withdrawn = published + timedelta(days=rng.randrange(1, 400)) if rng.random() < 0.01 else None
            if withdrawn and withdrawn > TODAY:
                withdrawn = None
            due = published + timedelta(days=rng.choice([3, 10, 20, 28, -5])) if rng.random() < 0.9 else None
            needs = genre == "normative_document"
            expires = published + timedelta(days=365 * rng.choice([2, 5])) if needs else None
            target = None
            if genre == "interpretation" and policies.get(code):
                target = rng.choice(policies[code][-50:])
            if needs:
                policies.setdefault(code, []).append(doc_id)
            subject = rng.choice(["planning", "personnel", "finance", "other"]) if genre == "other" else None
            docs.append((doc_id, 1, code, f"{code}-{n}", genre, subject, published, withdrawn, due, needs,
                         published + timedelta(days=5) if needs else None, target, expires,
                         expires + timedelta(days=30) if expires and rng.random() < 0.5 else None))
            if code in explicit and rng.random() < 0.05:
                placed.append((doc_id, rng.choice(explicit[code]), published, withdrawn))
            if rng.random() < 0.05:
                failing = rng.random() < 0.1
                since = published + timedelta(days=rng.randrange(1, 60)) if failing else None
                checks.append((uid("a", n), 1, doc_id, code, f"附件{n}.pdf",
                               rng.choice(["missing", "sha256_mismatch"]) if failing else None, since, None,
                               published, withdrawn))
            if len(docs) >= 100_000:
                await copy("score_document_fact", DOC_COLUMNS, docs)
                docs = []
        await copy("score_document_fact", DOC_COLUMNS, docs)
        await copy("document_column_fact", ["document_id", "column_id", "published_on", "withdrawn_on"], placed)
        await copy("attachment_check_fact", ["attachment_id", "version", "document_id", "organ_code", "filename",
                                             "problem", "failing_since", "repaired_on", "published_on",
                                             "withdrawn_on"], checks)
        apps, breaches, appeals, tasks = [], [], [], {}
        outcome_names, outcome_weights = zip(*OUTCOMES, strict=True)
        outcome_weights = tuple(accumulate(outcome_weights))
        app_span = (TODAY - date(2024, 1, 1)).days
        for n in range(applications):
            app_id = uid("p", n)
            code = rng.choices(organs.codes, cum_weights=weights)[0]
            received = date(2024, 1, 1) + timedelta(days=rng.randrange(app_span))
            closed = received + timedelta(days=rng.randrange(5, 45))
            if closed > TODAY:
                closed = None
            outcome = rng.choices(outcome_names, cum_weights=outcome_weights)[0] if closed else None
            info_key = hashlib.sha256(f"{code}{rng.randrange(40)}".encode()).hexdigest() if rng.random() < 0.3 \
                else None
            if info_key and outcome in ("granted", "partially_granted") and (code, info_key) not in tasks:
                published = rng.random() < 0.4
                tasks[(code, info_key)] = (uid("t", n), 2, code, info_key, "published" if published else "declined",
                                           f"doc-{n}" if published else None, closed + timedelta(days=20))
            apps.append((app_id, 2 if closed else 1, code, "natural_person", "online",
                         "replied" if closed else "accepted", received, closed, outcome, received + timedelta(days=28),
                         info_key, datetime.now(UTC)))
            if rng.random() < 0.02:
                breaches.append((app_id, 0, 1, "late_supplement_notice", "条例第三十条", code,
                                 received + timedelta(days=9), received + timedelta(days=7)))
            if closed and rng.random() < 0.01:
                decided = closed + timedelta(days=60)
                appeals.append((uid("q", n), app_id, code, "reconsideration",
                                rng.choice(["upheld", "corrected"]), closed + timedelta(days=10),
                                decided if decided <= TODAY else None))
        await copy("application_fact", ["application_id", "version", "organ_code", "applicant_type", "channel",
                                        "status", "received_on", "closed_on", "outcome", "due_on", "info_key",
                                        "updated_at"], apps)
        await copy("breach_fact", ["application_id", "seq", "version", "code", "article", "organ_code",
                                   "occurred_on", "due_on"], breaches)
        await copy("appeal_fact", ["appeal_id", "application_id", "organ_code", "kind", "outcome", "filed_on",
                                   "decided_on"], appeals)
        await copy("proactive_task_fact", ["task_id", "version", "organ_code", "info_key", "status", "document_id",
                                           "closed_on"], list(tasks.values()))
        t1 = time.perf_counter()
        await conn.execute("VACUUM ANALYZE")
        t2 = time.perf_counter()
    finally:
        await conn.close()
    return {"rows": counts, "copy_s": round(t1 - t0, 1), "vacuum_analyze_s": round(t2 - t1, 1)}


DOC_COLUMNS = ["document_id", "version", "organ_code", "index_no", "genre", "subject_category", "published_on",
               "withdrawn_on", "publication_due_on", "needs_interpretation", "interpretation_due_on",
               "interpretation_of", "expires_on", "repeal_date"]


# ------------------------------------------------------------------------------------------------------ servers

class Server:
    def __init__(self, name: str, module: str, port: int, env: dict[str, str], tmp: Path,
                 cwd: Path = ROOT) -> None:
        self.name, self.port = name, port
        self.log = (tmp / f"{name}.log").open("w")
        self.proc = subprocess.Popen(
            [str(ROOT / ".venv/bin/uvicorn"), module, "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
             "--no-access-log", "--log-level", "warning"],
            cwd=cwd, env={**os.environ, **env}, stdout=self.log, stderr=subprocess.STDOUT)
        self.base = f"http://127.0.0.1:{port}"

    def wait(self) -> None:
        for _ in range(600):
            if self.proc.poll() is not None:
                break
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.log.flush()
        raise RuntimeError(f"{self.name} did not start:\n{Path(self.log.name).read_text(errors='replace')[-2000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def async_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+asyncpg://", 1)


async def create_database(admin_dsn: str, name: str, service: str) -> str:
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {name}")
        await conn.execute(f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' "
                           "LC_CTYPE 'C.UTF-8'")
    finally:
        await conn.close()
    url = admin_dsn.rsplit("/", 1)[0] + f"/{name}"
    subprocess.run([str(ROOT / ".venv/bin/alembic"), "-n", service, "upgrade", "head"], cwd=ROOT, check=True,
                   env={**os.environ, f"{service.upper()}_DATABASE_URL": async_url(url)},
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return url


# ------------------------------------------------------------------------------------------------------ phases

async def time_card(client: httpx.AsyncClient, label: str, url: str, headers: dict[str, str], reps: int,
                    params: dict[str, str], baseline: tuple[str, str] | None = None) -> dict[str, Any]:
    """`baseline` (its label, its server's URL for the same card): requests alternate between the two servers."""
    targets = [(label, url), *([baseline] if baseline else [])]
    for _ in range(3):
        for _, target in targets:
            r = await client.get(target, headers=headers, params=params)
            r.raise_for_status()
    busy = busy_pct()
    load = os.getloadavg()[0]
    samples: dict[str, list[float]] = {name: [] for name, _ in targets}
    bodies: dict[str, Any] = {}
    for _ in range(reps):
        for name, target in targets:
            t0 = time.perf_counter()
            r = await client.get(target, headers=headers, params=params)
            samples[name].append((time.perf_counter() - t0) * 1000)
            r.raise_for_status()
            bodies[name] = r.json()
    lines = []
    for name, _ in targets:
        line = record("scorecard_http", case=name, busy_before_pct=busy, load_1min=round(load, 2), n=reps,
                      p50_ms=pct(samples[name], 50), p95_ms=pct(samples[name], 95),
                      mean_ms=round(statistics.fmean(samples[name]), 1), max_ms=pct(samples[name], 100),
                      figures={i["key"]: [i["numerator"], i["denominator"]] for i in bodies[name]["indicators"]})
        log(f"  {name}: p50 {line['p50_ms']} ms, p95 {line['p95_ms']} ms over {reps} (machine {busy}% busy before, "
            f"load {load:.2f})")
        lines.append(line)
    if baseline and lines[0]["figures"] != lines[1]["figures"]:
        raise RuntimeError(f"the baseline's figures differ: {lines[1]['figures']} vs {lines[0]['figures']}")
    return lines[0]


async def baseline_server(args: argparse.Namespace, admin_dsn: str, tmp: Path) -> "Server":
    """REF's stats service on a copy of the seeded database at REF's stats head."""
    tree = tmp / "baseline"
    subprocess.run(["rm", "-rf", str(tree)], check=True)
    tree.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", args.baseline], cwd=ROOT, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    (tree / ".venv").symlink_to(ROOT / ".venv")
    heads = subprocess.run([str(ROOT / ".venv/bin/alembic"), "-n", "stats", "heads"], cwd=tree, check=True,
                           capture_output=True, text=True).stdout.split()[0]
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {BASELINE_DB}")
        await conn.execute(f"CREATE DATABASE {BASELINE_DB} TEMPLATE {STATS_DB}")
    finally:
        await conn.close()
    url = admin_dsn.rsplit("/", 1)[0] + f"/{BASELINE_DB}"
    subprocess.run([str(ROOT / ".venv/bin/alembic"), "-n", "stats", "downgrade", heads], cwd=ROOT, check=True,
                   env={**os.environ, "STATS_DATABASE_URL": async_url(url)}, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()
    log(f"  baseline {args.baseline} at stats head {heads} on a copy of the seeded database")
    return Server("stats-baseline", "stats_service.app:app", args.port + 4, {
        "STATS_DATABASE_URL": async_url(url), "STATS_CONSUME": "false", "STATS_LOG_LEVEL": "WARNING",
        "STATS_ACCESS_LOG": "false"}, tmp, cwd=tree)


async def time_in_process(dsn: str, organs: Organs, reps: int) -> None:
    """In-process: the city's card with the time of each SQL statement (where the time goes), and the same card
    counted from every metric's records (the pre-aggregate way) for the ratio."""
    from sqlalchemy import event

    from stats_service.domain import scorecard

    database = Database(make_engine(async_url(dsn)))
    times: dict[str, list[float]] = {}
    sync = database.bind.sync_engine

    def before(conn, cursor, statement, parameters, context, executemany):
        conn.info["t0"] = time.perf_counter()

    def after(conn, cursor, statement, parameters, context, executemany):
        key = " ".join(statement.split())[:160]
        times.setdefault(key, []).append((time.perf_counter() - conn.info["t0"]) * 1000)

    try:
        if sync is not None:
            event.listen(sync, "before_cursor_execute", before)
            event.listen(sync, "after_cursor_execute", after)
        for _ in range(reps + 1):
            async with database.transaction(write=False) as session:
                await scorecard.scorecard(session, organs.city, True, None, TODAY, None, None)
        if sync is not None:
            event.remove(sync, "before_cursor_execute", before)
            event.remove(sync, "after_cursor_execute", after)
        statements = sorted(({"sql": k, "p50_ms": pct(v, 50), "calls": len(v)} for k, v in times.items()),
                            key=lambda x: -x["p50_ms"])
        record("scorecard_statements", case="city + subordinates, in-process", slowest=statements[:6])
        for st in statements[:6]:
            log(f"    {st['p50_ms']:>8} ms ×{st['calls']}: {st['sql']}")
        sheet = scorecard.BUILTIN_SHEETS[scorecard.DEFAULT_SHEET]
        samples = []
        for _ in range(reps):
            async with database.transaction(write=False) as session:
                t0 = time.perf_counter()
                scope = await scorecard._scope(session, organs.city, True, None, TODAY)
                for metric in {i["metric"] for i in sheet["indicators"]}:
                    await scorecard.METRICS[metric].compute(session, scope)
                samples.append((time.perf_counter() - t0) * 1000)
        line = record("scorecard_records_way", case="city + subordinates, every metric's records read (in-process)",
                      n=reps, p50_ms=pct(samples, 50), max_ms=pct(samples, 100))
        log(f"  records way (in-process): p50 {line['p50_ms']} ms over {reps}")
    finally:
        await database.dispose()


async def lag_phase(args: argparse.Namespace, admin_dsn: str, stats_dsn: str, organs: Organs, tmp: Path) -> None:
    catalog_dsn = await create_database(admin_dsn, CATALOG_DB, "catalog")
    catalog = Server("catalog", "catalog_service.app:app", args.port + 2, {
        "CATALOG_DATABASE_URL": async_url(catalog_dsn), "CATALOG_ATTACHMENT_DIR": str(tmp / "attachments"),
        "CATALOG_LOG_LEVEL": "WARNING", "CATALOG_ACCESS_LOG": "false"}, tmp)
    stats = Server("stats-consuming", "stats_service.app:app", args.port + 3, {
        "STATS_DATABASE_URL": async_url(stats_dsn), "STATS_CONSUME": "true",
        "STATS_CATALOG_URL": catalog.base, "STATS_REQUEST_URL": "http://127.0.0.1:9",  # no request feed here
        "STATS_LOG_LEVEL": "ERROR", "STATS_ACCESS_LOG": "false"}, tmp)
    try:
        catalog.wait()
        stats.wait()
        leaf_code, _, _, leaf_parent, _, _ = organs.leaf
        async with httpx.AsyncClient(timeout=60) as client:
            admin = bearer("admin")
            # The catalogue announces the chain city → department → sub-unit with the seeded codes (same parents).
            for code, name, kind, parent, _, _ in organs.rows[:3]:
                body = {"code": code, "name": name, "kind": kind, **({"parent_code": parent} if parent else {})}
                r = await client.post(f"{catalog.base}/api/v1/catalog/organs", headers=admin, json=body)
                assert r.status_code == 201, r.text
            officer = bearer("stats_officer", organ=leaf_code)
            card_url = f"{stats.base}/api/v1/stats/scorecards/{leaf_code}"

            async def denominator() -> int:
                r = await client.get(card_url, headers=officer, params={"as_of": TODAY.isoformat()})
                r.raise_for_status()
                return next(i["denominator"] for i in r.json()["indicators"] if i["key"] == "publication_timeliness")

            staff = {role: bearer(role, organ=leaf_code) for role in ("drafter", "division_head", "unit_head")}
            cat = f"{catalog.base}/api/v1/catalog"
            await asyncio.sleep(3)  # the organ events reach the stats (idle poll 1 s)
            samples = []
            for n in range(args.lag_samples):
                before = await denominator()
                r = await client.post(f"{cat}/documents", headers=staff["drafter"], json={
                    "title": f"关于第{n + 1}批政务公开事项的通知", "body": "各单位：现将有关事项通知如下。",
                    "genre": "notice", "proposed_attribute": "proactive", "formed_on": TODAY.isoformat()})
                assert r.status_code == 201, r.text
                doc_id, etag = r.json()["id"], r.headers["etag"]
                for role, action, body in (("drafter", "submit", None), ("division_head", "approve", None),
                                           ("unit_head", "decide", {"attribute": "proactive"})):
                    r = await client.post(f"{cat}/documents/{doc_id}/{action}",
                                          headers={**staff[role], "If-Match": etag}, json=body or {})
                    assert r.status_code == 200, r.text
                    etag = r.headers["etag"]
                t0 = time.perf_counter()  # the publication is committed: its response is here
                while await denominator() != before + 1:
                    if time.perf_counter() - t0 > 120:
                        raise RuntimeError("the indicator did not move within 120 s")
                    await asyncio.sleep(0.05)
                samples.append((time.perf_counter() - t0) * 1000)
                log(f"  lag sample {n + 1}: {samples[-1]:.0f} ms")
        line = record("publication_to_indicator_lag", n=len(samples), p50_ms=pct(samples, 50),
                      p99_ms=pct(samples, 99), max_ms=pct(samples, 100), samples_ms=[round(s) for s in samples],
                      consumer_idle_seconds=1.0)
        log(f"  lag: p50 {line['p50_ms']} ms, p99 {line['p99_ms']} ms over {len(samples)} samples")
    finally:
        stats.stop()
        catalog.stop()


def markdown(args: argparse.Namespace) -> None:
    lines = [f"# Scorecard benchmark ({RUN})", "",
             f"{args.documents:,} document facts, {args.applications:,} application facts, 100 organs in 3 levels "
             "(seeded straight into the stats fact tables with COPY: the feeds are bypassed for seeding). "
             "PostgreSQL 15 (fsync off), uvicorn 1 worker, on a shared 2-core machine.", "",
             "| measure | n | p50 ms | p95 / p99 ms | machine busy before, 1-min load |", "|---|---|---|---|---|"]
    for r in results:
        if r["kind"] == "scorecard_http":
            lines.append(f"| {r['case']} | {r['n']} | {r['p50_ms']} | p95 {r['p95_ms']} | {r['busy_before_pct']} %, "
                         f"load {r['load_1min']} |")
        elif r["kind"] == "scorecard_records_way":
            lines.append(f"| {r['case']} | {r['n']} | {r['p50_ms']} | max {r['max_ms']} | |")
        elif r["kind"] == "publication_to_indicator_lag":
            lines.append(f"| publication → moved indicator | {r['n']} | {r['p50_ms']} | p99 {r['p99_ms']} | |")
        elif r["kind"] == "seed":
            lines.append(f"| seeding (COPY, VACUUM ANALYZE) | | {r['copy_s']} s + {r['vacuum_analyze_s']} s | | |")
    OUT_MD.write_text("\n".join(lines) + "\n", encoding="utf-8")


async def main(args: argparse.Namespace) -> None:
    tmp = Path(args.dir) / "run"
    admin_dsn = subprocess.run([str(ROOT / "scripts/pg_cluster.sh"), "start", args.dir, str(args.port)], check=True,
                               capture_output=True, text=True).stdout.strip()
    tmp.mkdir(parents=True, exist_ok=True)
    organs = Organs()
    stats_dsn = await create_database(admin_dsn, STATS_DB, "stats")
    log(f"seeding {args.documents:,} documents, {args.applications:,} applications, {len(organs.codes)} organs")
    seeded = await seed(stats_dsn, organs, args.documents, args.applications)
    record("seed", documents=args.documents, applications=args.applications, organs=len(organs.codes), **seeded)
    log(f"  seeded in {seeded['copy_s']} s (+ VACUUM ANALYZE {seeded['vacuum_analyze_s']} s): {seeded['rows']}")
    server = Server("stats", "stats_service.app:app", args.port + 1, {
        "STATS_DATABASE_URL": async_url(stats_dsn), "STATS_CONSUME": "false", "STATS_LOG_LEVEL": "WARNING",
        "STATS_ACCESS_LOG": "false"}, tmp)
    base = await baseline_server(args, admin_dsn, tmp) if args.baseline else None
    try:
        server.wait()
        if base:
            base.wait()
        async with httpx.AsyncClient(timeout=120) as client:
            params = {"as_of": TODAY.isoformat()}
            for label, organ in (("city with all subordinates (100 organs)", organs.city),
                                 ("one department with its 10 sub-units", organs.rows[1][0])):
                path = f"/api/v1/stats/scorecards/{organ}"
                await time_card(client, label, server.base + path, bearer("stats_officer", organ=organ), args.reps,
                                {**params, "include_subordinates": "true"},
                                (f"{label}, baseline {args.baseline}", base.base + path) if base else None)
    finally:
        server.stop()
        if base:
            base.stop()
    await time_in_process(stats_dsn, organs, args.records_reps)
    if args.lag_samples:
        await lag_phase(args, admin_dsn, stats_dsn, organs, tmp)
    markdown(args)
    log(f"results: {OUT_JSONL} and {OUT_MD}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=1_000_000)
    parser.add_argument("--applications", type=int, default=100_000)
    parser.add_argument("--reps", type=int, default=30)
    parser.add_argument("--records-reps", type=int, default=3)
    parser.add_argument("--lag-samples", type=int, default=5)
    parser.add_argument("--dir", default="/tmp/gk-bench-scorecard")
    parser.add_argument("--port", type=int, default=54398)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--baseline", help="a git ref whose code is timed beside this tree's (e.g. main)")
    arguments = parser.parse_args()
    try:
        asyncio.run(main(arguments))
    finally:
        if not arguments.keep:
            subprocess.run([str(ROOT / "scripts/pg_cluster.sh"), "stop", arguments.dir], check=False)
