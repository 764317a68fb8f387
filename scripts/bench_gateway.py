"""Summary of scripts/bench_gateway.sh results: medians over repetitions, checked against target T4.

Usage: python scripts/bench_gateway.py bench-results/gateway.jsonl [--run RUN]   (default: the latest run)
"""

import argparse
import json
import statistics
import sys
from pathlib import Path

# performance.md §6 T4: trivial endpoints ≥ 0.40× direct throughput, added p50 at 1 connection ≤ 0.5 ms.
T4_RATIO = 0.40
T4_ADDED_P50_MS = 0.5


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("results", type=Path)
    parser.add_argument("--run")
    args = parser.parse_args()
    lines = [json.loads(line) for line in args.results.read_text(encoding="utf-8").splitlines() if line.strip()]
    runs = [x["run"] for x in lines if x.get("meta") == "bench_gateway"]
    run = args.run or (runs[-1] if runs else None)
    mine = [x for x in lines if x.get("run") == run]
    if not mine:
        print(f"no results for run {run}", file=sys.stderr)
        return 1
    print(f"gateway benchmark, run {run}")
    for note in (x["note"] for x in mine if "note" in x):
        print(f"  NOTE: {note}")
    ok = True
    for case in ("trivial", "catalog"):
        summaries = [x for x in mine if x.get("case") == case and x.get("summary") == "gateway_overhead"]
        if not summaries:
            skipped = next((x["skipped"] for x in mine if x.get("case") == case and "skipped" in x), "no data")
            print(f"  {case:8s} skipped: {skipped}")
            continue
        rows = {label: [x for x in mine if x.get("case") == case and x.get("label") == label]
                for label in ("direct", "gateway", "direct_c1", "gateway_c1")}

        def med(label: str, key: str, rows: dict = rows) -> float:
            return statistics.median(r[key] for r in rows[label])

        ratio = statistics.median(s["rps_ratio"] for s in summaries)
        added = statistics.median(s["added_p50_ms_c1"] for s in summaries)
        errors = sum(r["non_2xx"] + r["errors_timeout"] + r["errors_connect"] + r["errors_read"]
                     for label_rows in rows.values() for r in label_rows)
        each = ", ".join(f"{s['rps_ratio']:.3f}" for s in summaries)
        print(f"  {case:8s} n={len(summaries)}  rps direct {med('direct', 'rps'):8.0f}  gateway "
              f"{med('gateway', 'rps'):8.0f}  ratio {ratio:.3f} (runs {each})"
              f"  p99 {med('direct', 'p99_ms'):.1f} -> {med('gateway', 'p99_ms'):.1f} ms"
              f"  | c1 p50 {med('direct_c1', 'p50_ms'):.3f} -> {med('gateway_c1', 'p50_ms'):.3f} ms (+{added:.3f})"
              f"  errors {errors}")
        cpu = [x["cpu_us_per_request"] for x in mine if x.get("case") == case and x.get("summary") == "gateway_cpu"]
        if cpu:
            print(f"           gateway CPU per forwarded request: median {statistics.median(cpu):.0f} µs "
                  f"(runs {', '.join(f'{c:.0f}' for c in cpu)})")
        busy = [s.get("busy_before_pct") for s in summaries]
        if any(b is not None for b in busy):
            print(f"           machine busy before each rep (other processes): {busy} %")
        if case == "trivial":
            ok &= ratio >= T4_RATIO and added <= T4_ADDED_P50_MS and errors == 0
    base = {x["label"]: x for x in mine if x.get("case") == "baselines" and "label" in x}
    direct = base.get("direct(uvicorn-w1) /json")
    if direct:
        print("  shared baselines (same run, upstream bare_app /json):")
        for label, row in base.items():
            if "proxy" in label and not label.endswith(" c1") and not label.endswith("/db"):
                c1 = base.get(f"{label} c1")
                d1 = base.get("direct(uvicorn-w1) /json c1")
                extra = f"  c1 +{c1['p50_ms'] - d1['p50_ms']:.3f} ms" if c1 and d1 else ""
                print(f"    {label:45s} {row['rps']:8.0f} req/s  ratio {row['rps'] / direct['rps']:.3f}"
                      f"  p99 {row['p99_ms']:.1f} ms{extra}")
        for label in ("uvicorn-w1 /json", "uvicorn-w1 /model"):
            if label in base:
                print(f"    {label:45s} {base[label]['rps']:8.0f} req/s  p99 {base[label]['p99_ms']:.1f} ms")
    print(f"  T4 (trivial: ratio >= {T4_RATIO}, added p50 @1 <= {T4_ADDED_P50_MS} ms, no errors): "
          f"{'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
