#!/usr/bin/env bash
# Catalogue search speed at 1,000,000 documents on PostgreSQL (issue 12): the service's tantivy index through HTTP
# beside a reference engine (a bare tantivy searcher over the same bigram-analysed corpus), in one run —
# p50/p95/p99 and throughput of natural 4–12-character queries and 1–2-character queries at 1 and 16 clients, and
# the time the service takes to build its index from the table.
#
#   scripts/bench_search.sh                     # 1 M documents, throwaway cluster on port 54395, then removed
#   DOCS=100000 scripts/bench_search.sh         # smaller (QUICK=1 make bench)
#   KEEP=1 scripts/bench_search.sh              # leave the cluster and index; REUSE=1 measures them again
#
# Results: bench-results/search.jsonl (appended) and bench-results/search.md. Everything binds 127.0.0.1;
# the cluster (scripts/pg_cluster.sh), the service and the reference are started and stopped by this run.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd); cd "$ROOT"
seconds=${SECONDS_PER_RUN:-${DUR:-8}}; seconds=${seconds%s}
args=(--docs "${DOCS:-1000000}" --dir "${DIR:-/tmp/gk-bench-search}" --port "${PORT:-54395}"
      --seconds "$seconds" --concurrency "${CONCURRENCY:-1,16}")
[ "${KEEP:-0}" = 1 ] && args+=(--keep)
[ "${REUSE:-0}" = 1 ] && args+=(--reuse --keep)
exec timeout "${BUDGET:-7200}" "$ROOT/.venv/bin/python" scripts/bench_search.py "${args[@]}"
