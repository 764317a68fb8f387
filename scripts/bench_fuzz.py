"""Schemathesis at bench size (issue 6, Robustness): the merged OpenAPI of the running system on PostgreSQL, every
principal, every phase and check, ≥ 10,000 generated requests; 0 server errors and 0 failures is the pass.

It is tests/test_fuzz.py itself at FUZZ_SIZE=bench (every principal with the public operations too, anonymous on
every operation, more examples per operation, longer stateful flows), run by pytest on a throwaway PostgreSQL
cluster, so the suite's CI run and this one cannot drift apart.

    .venv/bin/python scripts/bench_fuzz.py                 # ONLY=fuzz make bench does this
    FUZZ_MAX_EXAMPLES=20 FUZZ_SEED=7 .venv/bin/python scripts/bench_fuzz.py
    QUICK=1 ...                                             # smaller: 3 examples per operation

Results: one JSON line appended to bench-results/fuzz.jsonl (requests, test cases, failures by check, errors,
server errors, duration, per-run details) and a summary in bench-results/fuzz.md. Everything binds 127.0.0.1.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = Path(os.environ.get("BENCH_OUT", ROOT / "bench-results"))
PORT = int(os.environ.get("BENCH_PG_PORT", 55471))
TARGET_REQUESTS = 10_000
RUN = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def load() -> float:
    return os.getloadavg()[0]


def main() -> int:
    env = {**os.environ, "FUZZ_SIZE": "bench", "TEST_DATABASE": "postgres"}
    if os.environ.get("QUICK") == "1":
        env.setdefault("FUZZ_MAX_EXAMPLES", "3")
        env.setdefault("FUZZ_FLOW_EXAMPLES", "25")
    cluster = None
    if not env.get("TEST_POSTGRES_URL"):
        cluster = Path(tempfile.mkdtemp(prefix="gongkai-bench-fuzz."))
        cluster.rmdir()  # pg_cluster.sh creates it (owned by postgres when run as root)
        url = subprocess.run([str(ROOT / "scripts" / "pg_cluster.sh"), "start", str(cluster), str(PORT)],
                             check=True, capture_output=True, text=True).stdout.strip()
        env["TEST_POSTGRES_URL"] = url
    results = Path(tempfile.mkstemp(prefix="gongkai-fuzz-", suffix=".json")[1])
    env["FUZZ_RESULTS"] = str(results)
    load_before = load()
    started = time.monotonic()
    try:
        proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_fuzz.py",
                               "-k", "finds_nothing"], cwd=ROOT, env=env, timeout=3 * 3600)
    finally:
        if cluster is not None:
            subprocess.run([str(ROOT / "scripts" / "pg_cluster.sh"), "stop", str(cluster)], check=False)
    wall = time.monotonic() - started
    text = results.read_text(encoding="utf-8") if results.exists() else ""
    results.unlink(missing_ok=True)
    if not text:
        print("bench fuzz: the test wrote no summary (it failed before fuzzing); see the pytest output above")
        return 1
    summary = json.loads(text)
    line = {
        "run": RUN, "case": "schemathesis", "backend": "postgres", "pytest_exit": proc.returncode,
        "requests": summary["requests"], "test_cases": summary["test_cases"],
        "server_errors": summary["server_errors"], "failures_by_check": summary["failures_by_check"],
        "errors": summary["errors"], "fuzz_seconds": summary["duration_s"], "wall_seconds": round(wall, 1),
        "max_examples": summary["max_examples"], "flow_examples": summary["flow_examples"], "seed": summary["seed"],
        "load_before": round(load_before, 2), "load_after": round(load(), 2),
        "target_requests": TARGET_REQUESTS, "pass": proc.returncode == 0 and summary["requests"] >= TARGET_REQUESTS,
        "runs": [{k: r[k] for k in ("run", "requests", "test_cases", "status_classes", "failures", "errors",
                                     "links_covered", "duration_s")} for r in summary["runs"]],
    }
    OUT.mkdir(parents=True, exist_ok=True)
    with (OUT / "fuzz.jsonl").open("a", encoding="utf-8") as out:
        out.write(json.dumps(line, ensure_ascii=False) + "\n")
    failures = ", ".join(f"{k} {v}" for k, v in summary["failures_by_check"].items()) or "none"
    md = [f"fuzz benchmark (schemathesis {schemathesis_version()} on the running system, PostgreSQL), run {RUN}",
          f"  {summary['requests']} requests ({summary['test_cases']} generated test cases) in "
          f"{summary['duration_s']:.0f} s of fuzzing ({wall:.0f} s wall with start-up), "
          f"{summary['max_examples']} examples per operation and phase, flows {summary['flow_examples']}, "
          f"seed {summary['seed']}",
          f"  server errors (5xx) {summary['server_errors']}; failures by check: {failures}; "
          f"errors {summary['errors']}",
          f"  load average before/after: {line['load_before']} / {line['load_after']} (2 cores, shared)",
          "  run                  requests  cases  2xx   4xx  5xx  links  seconds"]
    for r in summary["runs"]:
        classes = r["status_classes"]
        md.append(f"  {r['run']:<20} {r['requests']:>8} {r['test_cases']:>6} {classes.get('2xx', 0):>4} "
                  f"{classes.get('4xx', 0):>5} {classes.get('5xx', 0):>4} {r['links_covered']:>6} "
                  f"{r['duration_s']:>8.0f}")
    verdict = "PASS" if line["pass"] else "FAIL"
    md.append(f"  F1 (≥ {TARGET_REQUESTS} requests, 0 server errors, 0 failures, every error problem+json): {verdict}")
    (OUT / "fuzz.md").write_text("\n".join(md) + "\n", encoding="utf-8")
    print("\n".join(md))
    return 0 if line["pass"] else 1


def schemathesis_version() -> str:
    from importlib.metadata import version

    return version("schemathesis")


if __name__ == "__main__":
    sys.exit(main())
