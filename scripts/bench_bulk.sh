#!/usr/bin/env bash
# Bulk-import throughput (批量导入), target ≥ 2,000 documents/s, with search freshness during the import (a published
# record searchable within 5 s of its commit, p99): scripts/bench_bulk.py in its standard cases.
#
#   scripts/bench_bulk.sh              # 100,000 documents per case
#   DOCS=20000 scripts/bench_bulk.sh   # quicker
#
# Cases (each on its own throwaway PostgreSQL cluster and catalog service, results appended to
# bench-results/bulk.jsonl):
#   one-organ       1 uvicorn worker, one organ's system sending batches one after another (the plain case)
#   two-organs      2 workers, two organs' systems sending at once (what 2 cores can do together); each worker
#                   keeps its own search index, so freshness is measured against whichever answers
# (The earlier diagnostic case without the in-database GIN indexes is gone with them: catalog_0008 moved search to
# a tantivy index per process, maintained off the write path.)
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd); cd "$ROOT"
PY=${PY:-.venv/bin/python}; DOCS=${DOCS:-100000}
status=0
"$PY" scripts/bench_bulk.py --docs "$DOCS" --label one-organ || status=1
"$PY" scripts/bench_bulk.py --docs "$DOCS" --workers 2 --organs 2 --concurrency 2 --label two-organs || status=1
exit $status
