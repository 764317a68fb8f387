#!/usr/bin/env bash
# Request-service benchmark on a throwaway PostgreSQL (see scripts/bench_requests.py). N=… to size it.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd); cd "$ROOT"
DIR=$(mktemp -d /tmp/gongkai-bench-req.XXXXXX); rmdir "$DIR"
PORT=${BENCH_PG_PORT:-55432}
trap 'scripts/pg_cluster.sh stop "$DIR"' EXIT
export BENCH_PG_DSN=$(scripts/pg_cluster.sh start "$DIR" "$PORT")
.venv/bin/python scripts/bench_requests.py
