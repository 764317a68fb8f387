#!/usr/bin/env bash
# make bench: every benchmark of the project, in one run, next to the shared baselines measured the same day on the
# same machine (performance.md: targets are ratios to those baselines). Each part starts and stops its own servers
# and throwaway PostgreSQL cluster on 127.0.0.1 and appends JSON lines to bench-results/*.jsonl, plus a summary .md.
#
#   make bench                       # everything, full size (about an hour on 2 cores)
#   ONLY="gateway requests" make bench
#   QUICK=1 make bench               # smaller data sets for a smoke run (minutes)
#
# Parts: gateway (gateway hop vs direct, with ../shared/bench baselines), search (catalogue CJK search at 1 M
# documents: index build, p95/p99 and throughput beside a bare tantivy reference on the same index), relevance
# (judged queries over a 5,200-record corpus: the service on SQLite and PostgreSQL beside a reference BM25 over CJK
# bigrams, scripts/bench_relevance.py), bulk (bulk import, with search freshness during it), requests (intake,
# work-lists at 1 M applications, deadlines),
# stats (ingest of ~2 M events, report latency), load (50 locust users of mixed traffic through the gateway on
# PostgreSQL with per-process memory sampling: a 30-minute soak, 2 minutes with QUICK=1), fuzz (schemathesis
# against the running system on PostgreSQL, ≥ 10,000 requests; 3 examples per operation with QUICK=1), sync
# (integrating agencies, issue 15: webhook deliveries/s and commit→delivery lag at 10 and 100 subscriptions, and the
# NDJSON snapshot's time, server and client memory at SNAPSHOT_SIZES documents — default 100,000 and 1,000,000,
# seeded straight into PostgreSQL, not through the API, scripts/bench_sync.py), replicas
# (issue 17: a primary and a streaming standby pinned to one core each — intake p95 quiet vs under a search storm on
# the standby vs the same storm on the primary, one vs two catalogue workers, replica lag under a bulk import;
# scripts/bench_replicas.py, a few minutes), scorecard (issue 16: the city's 考评 card over 100 organs, 1 M document
# facts and 100 k application facts seeded straight into the stats fact tables — the feeds are bypassed for seeding
# — p50/p95 over 30 HTTP requests to uvicorn, and the lag from a publication in a real catalogue to the moved
# indicator through the stats feed consumer; SCORECARD_BASELINE=main times main's code beside it in the same run;
# scripts/bench_scorecard.py).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd); cd "$ROOT"
ONLY=${ONLY:-"gateway search relevance bulk requests stats load fuzz sync replicas scorecard"}
mkdir -p bench-results
if ! command -v wrk >/dev/null; then
  { apt-get update -qq && apt-get install -y -qq wrk; } >/dev/null 2>&1 || echo "warning: wrk is not installed" >&2
fi
if [ "${QUICK:-0}" = 1 ]; then
  export REPS=1 DUR=5s DOCS=100000 N=100000 APPLICATIONS=100000 INTAKE_SECONDS=10 SECONDS_LOAD=120
  export SNAPSHOT_SIZES=20000,60000
  export REPLICA_DOCS=2000 REPLICA_PHASE_SECONDS=10 REPLICA_REPS=1
  export SCORECARD_DOCS=100000 SCORECARD_APPLICATIONS=10000
fi
status=0
run() {  # run NAME CMD...
  echo "== bench: $1 ($(date -u +%T))"
  shift
  "$@" || { echo "bench part failed: $*" >&2; status=1; }
}
for part in $ONLY; do
  case $part in
    gateway)  run gateway scripts/bench_gateway.sh ;;
    search)   run search scripts/bench_search.sh ;;
    relevance) run relevance .venv/bin/python scripts/bench_relevance.py ;;
    bulk)     run bulk scripts/bench_bulk.sh ;;
    requests) run requests scripts/bench_requests.sh ;;
    stats)    run stats scripts/bench_stats.sh ;;
    fuzz)     run fuzz .venv/bin/python scripts/bench_fuzz.py ;;
    load)     run load scripts/bench_load.sh ;;
    sync)     run sync .venv/bin/python scripts/bench_sync.py --snapshot-sizes "${SNAPSHOT_SIZES:-100000,1000000}" ;;
    replicas) run replicas .venv/bin/python scripts/bench_replicas.py ;;
    scorecard) run scorecard .venv/bin/python scripts/bench_scorecard.py --documents "${SCORECARD_DOCS:-1000000}" \
                 --applications "${SCORECARD_APPLICATIONS:-100000}" ${SCORECARD_BASELINE:+--baseline "$SCORECARD_BASELINE"} ;;
    *) echo "unknown part $part" >&2; status=1 ;;
  esac
done
echo "== summaries"
for f in bench-results/*.md; do [ -f "$f" ] && { echo "--- $f"; cat "$f"; }; done
exit $status
