"""Load and soak run of the whole system (issue 6, "Load"): locust headless, 50 users, mixed traffic through the
gateway, on PostgreSQL, loopback only, bounded duration; memory of every process sampled throughout.

    python scripts/bench_load.py [--users 50] [--seconds 1800] [--documents 20000] [--label soak]

Steps: a throwaway PostgreSQL cluster (scripts/pg_cluster.sh) with the three databases, migrations, the four
processes as `make run` starts them (scripts/run_all.py), demo data through the API (an organ, --documents published
documents by bulk import, a few hundred online applications), then locust (scripts/locustfile.py, in its own
virtualenv .venv-bench) for --seconds. Every 10 s the resident memory of the gateway, each service and PostgreSQL
(all backends) is sampled. The gateway's per-client rate limit is raised for the run: all simulated users share one
loopback address, which the limiter would otherwise (rightly) throttle as one client.
Result: one JSON line in bench-results/load.jsonl and a summary in bench-results/load.md. Goals (2 cores):
< 0.1 % errors, read p95 < 300 ms, no memory growth.
"""

import argparse
import asyncio
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from catalog_service.codes import uscc_check_char
from services.auth import mint_token
from services.settings import AuthSettings

sys.path.insert(0, str(ROOT / "scripts"))
from bench_bulk import make_record  # realistic 政务公开 documents

READ_GOAL_P95_MS, ERROR_GOAL = 300, 0.001
WRITES = {"apply (intake)", "track"}
TERMS = ["通知", "预算", "乡村振兴", "营商环境", "安全生产", "政府采购", "防汛抗旱", "老旧小区改造", "养老服务", "关于印发",
         "示范市", "河长制", "专项资金", "义务教育", "就业创业"]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_cluster(tmp: Path, port: int) -> str:
    started = subprocess.run([str(ROOT / "scripts/pg_cluster.sh"), "start", str(tmp / "pg"), str(port)],
                             capture_output=True, text=True)
    if started.returncode != 0:
        raise RuntimeError(f"PostgreSQL did not start:\n{started.stderr[-3000:]}")
    admin = started.stdout.strip()

    async def create() -> None:
        conn = await asyncpg.connect(admin)
        for name in ("catalog", "request", "stats"):
            await conn.execute(f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' "
                               "LC_CTYPE 'C.UTF-8'")
        await conn.close()

    asyncio.run(create())
    return admin.rsplit("/", 1)[0]


def process_tree(pid: int) -> list[int]:
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


def pss_mib(pids: list[int]) -> float:
    """Proportional set size: shared pages (PostgreSQL's shared buffers) count once across the processes."""
    total = 0
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except (FileNotFoundError, ProcessLookupError):
            continue
    return round(total / 1024, 1)


def cpu_seconds(pids: list[int]) -> float:
    """CPU time (user + system, including reaped children: PostgreSQL's ended backends) of the processes."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    return round(total / ticks, 2)


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
    except (FileNotFoundError, ProcessLookupError):
        return ""


class MemorySampler(threading.Thread):
    """Memory (PSS) and CPU time of each named process (with its children) every `every` seconds."""

    def __init__(self, processes: dict[str, int], every: float = 10.0) -> None:
        super().__init__(daemon=True)
        self.processes, self.every, self.samples = processes, every, []
        self.stop = threading.Event()

    def run(self) -> None:
        started = time.monotonic()
        while not self.stop.is_set():
            trees = {name: process_tree(pid) for name, pid in self.processes.items()}
            self.samples.append({"t": round(time.monotonic() - started),
                                 **{name: pss_mib(tree) for name, tree in trees.items()},
                                 "cpu": {name: cpu_seconds(tree) for name, tree in trees.items()}})
            self.stop.wait(self.every)


def wait_ready(base: str, proc: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the system exited:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the system did not become ready:\n{log.read_text()[-3000:]}")


def seed(base: str, organ: str, documents: int, tokens: dict[str, str]) -> dict[str, Any]:
    import random

    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    with httpx.Client(base_url=base, timeout=120) as client:
        r = client.post("/api/v1/catalog/organs", headers=admin,
                        json={"code": organ, "name": "示范市财政局", "kind": "department"})
        r.raise_for_status()
        rng = random.Random(7)
        integration = {"Authorization": f"Bearer {tokens['integration']}"}
        ids: list[str] = []
        for start in range(0, documents, 1000):
            records = [make_record(rng, n, 1.0) for n in range(start, min(start + 1000, documents))]
            r = client.post("/api/v1/catalog/documents/bulk", headers=integration, json={"records": records})
            r.raise_for_status()
            ids += [item["document_id"] for item in r.json()["results"] if item.get("published")]
        # The request service learns organs from the catalogue's feed: wait until it accepts applications.
        tracked, deadline = [], time.monotonic() + 60
        body = {"organ_code": organ, "info_title": "2025年度部门预算执行情况", "preferred_form": "electronic",
                "delivery": "email", "applicant": {"type": "natural_person", "name": "李四", "id_type": "resident_id",
                                                   "id_number": "11010519491231002X", "phone": "13812345678"}}
        while len(tracked) < 200:
            r = client.post("/api/v1/requests/applications", json=body)
            if r.status_code == 201:
                tracked.append((r.json()["tracking_no"], r.json()["query_code"]))
            elif time.monotonic() > deadline:
                raise RuntimeError(f"intake refuses the organ: {r.text}")
            else:
                time.sleep(0.5)
        head = client.get("/api/v1/catalog/changes", params={"after": 0, "limit": 1}).json()
    return {"organ": organ, "documents": ids, "tracked": tracked, "terms": TERMS, "year": datetime.now(UTC).year,
            "feed_head": max(0, int(head.get("next_cursor", 0))), "tokens": tokens}


def analyze(base_url: str) -> None:
    """Planner statistics for the freshly loaded tables, as autovacuum would gather within its next minute: the run
    measures the system in its steady state, not its first minute after a bulk load."""

    async def run() -> None:
        for name in ("catalog", "request", "stats"):
            conn = await asyncpg.connect(f"{base_url}/{name}")
            await conn.execute("ANALYZE")
            await conn.close()

    asyncio.run(run())


def locust_stats(prefix: Path) -> list[dict[str, Any]]:
    with open(f"{prefix}_stats.csv", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def num(row: dict[str, Any], key: str) -> float:
        value = row.get(key) or "0"
        return float(value) if value != "N/A" else 0.0

    endpoints = {r["Name"]: {"requests": int(num(r, "Request Count")), "failures": int(num(r, "Failure Count")),
                             "rps": round(num(r, "Requests/s"), 1), "p50_ms": num(r, "50%"),
                             "p95_ms": num(r, "95%"), "p99_ms": num(r, "99%")}
                 for r in rows if r["Name"] != "Aggregated"}
    total = next(r for r in rows if r["Name"] == "Aggregated")
    reads = [e for name, e in endpoints.items() if name not in WRITES]
    worst_read_p95 = max((e["p95_ms"] for e in reads), default=0.0)
    requests, failures = int(num(total, "Request Count")), int(num(total, "Failure Count"))
    return {"requests": requests, "failures": failures, "error_rate": round(failures / requests, 5) if requests else 0,
            "rps": round(num(total, "Requests/s"), 1), "p50_ms": num(total, "50%"), "p95_ms": num(total, "95%"),
            "p99_ms": num(total, "99%"), "worst_read_p95_ms": worst_read_p95, "endpoints": endpoints}


def memory_growth(samples: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per process: RSS after warm-up (the sample at 20 % of the run), at the end, and the maximum."""
    if len(samples) < 3:
        return {}
    warm, last = samples[max(1, len(samples) // 5)], samples[-1]
    names = [k for k in samples[0] if k not in ("t", "cpu")]
    return {n: {"after_warmup_mib": warm[n], "end_mib": last[n], "max_mib": max(s[n] for s in samples),
                "growth_mib": round(last[n] - warm[n], 1)} for n in names}


def cpu_share(samples: list[dict[str, Any]]) -> dict[str, float]:
    """Per process: CPU used over the sampled run, in cores (1.0 = one core busy all the time)."""
    if len(samples) < 2 or samples[-1]["t"] <= samples[0]["t"]:
        return {}
    first, last = samples[0], samples[-1]
    return {name: round((last["cpu"][name] - first["cpu"][name]) / (last["t"] - first["t"]), 2)
            for name in first["cpu"]}


def run(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    load_at_start = os.getloadavg()[0]
    base_url = start_cluster(tmp, args.pg_port)
    ports = {name: free_port() for name in ("catalog", "request", "stats", "gateway")}
    env = {**os.environ,
           **{f"{s.upper()}_DATABASE_URL": f"{base_url.replace('postgresql://', 'postgresql+asyncpg://')}/{s}"
              for s in ("catalog", "request", "stats")},
           **{f"{s.upper()}_PORT": str(p) for s, p in ports.items()},
           **{f"{s.upper()}_ACCESS_LOG": "false" for s in ("catalog", "request", "stats", "gateway")},
           **{f"{s.upper()}_LOG_LEVEL": "WARNING" for s in ("catalog", "request", "stats", "gateway")},
           "CATALOG_ATTACHMENT_DIR": str(tmp / "attachments"),
           "GATEWAY_RATE_LIMIT_PER_SECOND": "1000000", "GATEWAY_RATE_LIMIT_BURST": "1000000"}
    for service in ("catalog", "request", "stats"):
        subprocess.run([str(ROOT / ".venv/bin/alembic"), "-n", service, "upgrade", "head"], cwd=ROOT, env=env,
                       check=True, capture_output=True)
    log = tmp / "system.log"
    with log.open("wb") as out:
        system = subprocess.Popen([str(ROOT / ".venv/bin/python"), "scripts/run_all.py"], cwd=ROOT, env=env,
                                  stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    sampler: MemorySampler | None = None
    try:
        gateway = f"http://127.0.0.1:{ports['gateway']}"
        wait_ready(gateway, system, log)
        organ = "11440100MB8000001" + uscc_check_char("11440100MB8000001")
        settings = AuthSettings()
        ttl = args.seconds + 3600
        tokens = {"admin": mint_token(settings, sub="load-admin", roles=["admin"], ttl_seconds=ttl)}
        for role in ("integration", "handler", "drafter", "stats_officer"):
            tokens[role] = mint_token(settings, sub=f"load-{role}", roles=[role], organ=organ, ttl_seconds=ttl)
        fixture = seed(gateway, organ, args.documents, tokens)
        analyze(base_url)
        fixture_path = tmp / "fixture.json"
        fixture_path.write_text(json.dumps(fixture, ensure_ascii=False), encoding="utf-8")

        children = {cmdline(p): p for p in process_tree(system.pid)[1:]}
        named = {name: next(pid for line, pid in children.items() if f"{module}:app" in line and "uvicorn" in line)
                 for name, module in (("gateway", "gateway.app"), ("catalog", "catalog_service.app"),
                                      ("request", "request_service.app"), ("stats", "stats_service.app"))}
        postmaster = int((tmp / "pg" / "data" / "postmaster.pid").read_text().split()[0])
        sampler = MemorySampler({**named, "postgres": postmaster})
        sampler.start()
        started = time.monotonic()
        locust = subprocess.run(
            [str(ROOT / ".venv-bench/bin/locust"), "-f", str(ROOT / "scripts/locustfile.py"), "--headless",
             "-u", str(args.users), "-r", str(max(1, args.users // 10)), "-t", f"{args.seconds}s",
             "--host", gateway, "--csv", str(tmp / "locust"), "--only-summary", "--stop-timeout", "10",
             "--loglevel", "WARNING"],
            cwd=ROOT, env={**os.environ, "LOAD_FIXTURE": str(fixture_path)}, capture_output=True, text=True)
        elapsed = time.monotonic() - started
        sampler.stop.set()
        sampler.join(timeout=15)
        if not (tmp / "locust_stats.csv").exists():
            raise RuntimeError(f"locust produced no statistics:\n{locust.stderr[-3000:]}")
        traffic = summarise(locust_stats(tmp / "locust"))
        with open(tmp / "locust_failures.csv", encoding="utf-8") as f:
            traffic["failure_kinds"] = [{"name": r["Name"], "error": r["Error"][:300], "count": int(r["Occurrences"])}
                                        for r in csv.DictReader(f)][:10]
        growth = memory_growth(sampler.samples)
        return {
            "bench": "load", "label": args.label, "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "git": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                  text=True).stdout.strip(),
            "nproc": os.cpu_count(), "load_avg_1m_at_start": load_at_start, "database": "postgresql",
            "users": args.users, "seconds": round(elapsed), "documents": len(fixture["documents"]), **traffic,
            "memory": growth, "cpu_cores": cpu_share(sampler.samples), "memory_samples": sampler.samples,
            "meets_goals": traffic["error_rate"] < ERROR_GOAL and traffic["worst_read_p95_ms"] < READ_GOAL_P95_MS,
        }
    finally:
        if sampler is not None:
            sampler.stop.set()
        shutil.copy(log, ROOT / "bench-results" / "load-system.log")  # the services' own log of the run (warnings up)
        system.send_signal(signal.SIGINT)
        try:
            system.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(system.pid, signal.SIGKILL)


def write_summary(result: dict[str, Any]) -> str:
    lines = [f"# Load run `{result['label']}` ({result['at']}, git {result['git']}, {result['nproc']} cores, "
             f"load {result['load_avg_1m_at_start']:.2f} at start)", "",
             f"{result['users']} locust users through the gateway on PostgreSQL for {result['seconds']} s; "
             f"{result['documents']:,} published documents.", "",
             f"**{result['requests']:,} requests, {result['rps']} req/s, errors {result['error_rate'] * 100:.3f} %**; "
             f"p50 {result['p50_ms']:.0f} ms, p95 {result['p95_ms']:.0f} ms, p99 {result['p99_ms']:.0f} ms; "
             f"worst read p95 {result['worst_read_p95_ms']:.0f} ms (goal < {READ_GOAL_P95_MS} ms).", "",
             "| Endpoint | requests | failures | req/s | p50 ms | p95 ms | p99 ms |", "|---|---|---|---|---|---|---|"]
    for name, e in sorted(result["endpoints"].items()):
        lines.append(f"| {name} | {e['requests']:,} | {e['failures']} | {e['rps']} | {e['p50_ms']:.0f} | "
                     f"{e['p95_ms']:.0f} | {e['p99_ms']:.0f} |")
    lines += ["", "| Process (PSS) | after warm-up MiB | end MiB | max MiB | growth MiB | CPU (cores) |",
              "|---|---|---|---|---|---|"]
    cpu = result.get("cpu_cores", {})
    for name, m in result["memory"].items():
        lines.append(f"| {name} | {m['after_warmup_mib']} | {m['end_mib']} | {m['max_mib']} | {m['growth_mib']} | "
                     f"{cpu.get(name, '')} |")
    if result.get("failure_kinds"):
        lines += ["", "Failures:"] + [f"- {k['count']} × {k['name']}: {k['error']}" for k in result["failure_kinds"]]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=1800)
    parser.add_argument("--documents", type=int, default=20000)
    parser.add_argument("--pg-port", type=int, default=55520)
    parser.add_argument("--label", default="soak")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="gongkai-load-"))
    tmp.chmod(0o755)  # as root the cluster runs as `postgres`, which must reach its directory inside
    try:
        result = run(args, tmp)
    finally:
        subprocess.run([str(ROOT / "scripts/pg_cluster.sh"), "stop", str(tmp / "pg")], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
    out = ROOT / "bench-results"
    out.mkdir(exist_ok=True)
    with (out / "load.jsonl").open("a", encoding="utf-8") as f:
        f.write(json.dumps(result, ensure_ascii=False) + "\n")
    summary = write_summary(result)
    (out / "load.md").write_text(summary, encoding="utf-8")
    print(summary)
    return 0 if result["meets_goals"] else 1


if __name__ == "__main__":
    sys.exit(main())
