#!/usr/bin/env bash
# Statistics service benchmark (ingest rate and annual-report latency at 1,000,000 applications on PostgreSQL).
#
#   scripts/bench_stats.sh                          # the full run (~2 M events), bounded by TIMEOUT (default 28 min)
#   APPLICATIONS=100000 scripts/bench_stats.sh      # a quick run
#   scripts/bench_stats.sh --keep                   # extra arguments go to scripts/bench_stats.py
#
# Starts its own PostgreSQL cluster (scripts/pg_cluster.sh, under $DIR, port $PORT) and uvicorn servers on
# 127.0.0.1, stops them by PID. Results: bench-results/stats.jsonl (appended) and bench-results/stats.md.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd); cd "$ROOT"
PY=${VENV:-$ROOT/.venv}/bin/python
APPLICATIONS=${APPLICATIONS:-1000000}; DIR=${DIR:-/tmp/gk-bench-stats}; PORT=${PORT:-54397}
TIMEOUT=${TIMEOUT:-1680}
if ! command -v wrk >/dev/null; then
  echo "wrk not found: the wrk rows are skipped (apt-get install wrk)" >&2
fi
cleanup() { scripts/pg_cluster.sh stop "$DIR" >/dev/null 2>&1 || true; }
case " $* " in *" --keep "*) ;; *) trap cleanup EXIT ;; esac
timeout --signal=INT --kill-after=30 "$TIMEOUT" "$PY" scripts/bench_stats.py --applications "$APPLICATIONS" \
  --dir "$DIR" --port "$PORT" "$@"
