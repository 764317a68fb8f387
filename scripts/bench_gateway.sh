#!/usr/bin/env bash
# Cost of the gateway hop (performance.md §5.3, target T4), measured with the shared scripts.
#
#   scripts/bench_gateway.sh            # 3 repetitions, 10 s runs, 64 connections
#   REPS=1 DUR=5s scripts/bench_gateway.sh
#
# Cases, each behind a fresh gateway (uvicorn, 1 worker, no access log, logs at warning):
#   trivial   scripts/bench_upstream.py: bare_app's /model route served as /api/v1/catalog/model
#   catalog   the real catalog_service (SQLite under a temp dir): GET /api/v1/catalog/vocabularies (8 KB JSON)
# For each: ../shared/bench/gateway_overhead.sh DIRECT GATEWAY (rps ratio at CONN connections, added p50 at 1).
# Then the shared baselines of the same day: run_baselines.sh with ONLY="uv1 proxy" (bare uvicorn, and the
# reference FastAPI+httpx / FastAPI+aiohttp proxies) using this venv; skipped with BASELINES=0.
#
# The machine may be shared: before each repetition the script waits (QUIET_WAIT s, bounded) until other processes use
# under QUIET_MAX % CPU, records that figure as busy_before_pct, and runs its servers and wrk at NICE (default -10
# as root) so that work started meanwhile by others disturbs the comparison less.
# The gateway's rate limiter stays on (its code runs per request) with a limit wrk cannot reach.
# Results: JSON lines appended to bench-results/gateway.jsonl, each tagged with run/case/rep; the summary is printed
# and written to bench-results/gateway.md.
# Every server is started here, bound to 127.0.0.1, and stopped by its own PID.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd); cd "$ROOT"
SHARED=${SHARED_BENCH:-$ROOT/../shared/bench}
[ -d "$SHARED" ] || SHARED=/work/shared/bench
VENV=${VENV:-$ROOT/.venv}; PY="$VENV/bin/python"; UV="$VENV/bin/uvicorn"
DUR=${DUR:-10s}; CONN=${CONN:-64}; REPS=${REPS:-3}; WARM=${WARM:-3s}; BASELINES=${BASELINES:-1}
GW_PORT=${GW_PORT:-18100}; CATALOG_PORT=${CATALOG_PORT:-18101}; TRIVIAL_PORT=${TRIVIAL_PORT:-18111}
OUT=bench-results/gateway.jsonl; RUN=$(date -u +%FT%TZ)
TMP=$(mktemp -d /tmp/gongkai-bench-XXXXXX); mkdir -p bench-results
NICE=${NICE:-$([ "$(id -u)" = 0 ] && echo -10 || echo 0)}; NICE_CMD=(nice -n "$NICE")

if ! command -v wrk >/dev/null; then
  echo "installing wrk" >&2
  { apt-get update -qq && apt-get install -y -qq wrk; } >/dev/null 2>&1 || { echo "cannot install wrk" >&2; exit 2; }
fi

PIDS=()
stop_all() { for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -TERM "$p" 2>/dev/null; done
             for p in "${PIDS[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null; done; PIDS=(); }
trap 'stop_all; rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
start() {  # start NAME PORT CMD...
  local name=$1 port=$2; shift 2
  if port_busy "$port"; then echo "port $port already in use, refusing to start $name" >&2; exit 3; fi
  "${NICE_CMD[@]}" "$@" >"$TMP/$name.log" 2>&1 & PIDS+=($!); echo "started $name pid=$! port=$port" >&2
}
ready() { for _ in $(seq 1 150); do curl -fs -o /dev/null "$1" && return 0; sleep 0.2; done; return 1; }
tag() {  # tag CASE REP [BUSY]: add run/case/rep (and the machine's busy % before the rep) to each JSON line
  sed -E "s/^\{/{\"run\":\"$RUN\",\"case\":\"$1\",\"rep\":$2,\"busy_before_pct\":${3:-null},/"
}
busy_pct() {  # CPU busy % of the whole machine over 1 s (other sessions may share this box)
  local a b; a=($(head -1 /proc/stat)); sleep 1; b=($(head -1 /proc/stat))
  local idle=$(( (b[4]+b[5]) - (a[4]+a[5]) )) total=0 i
  for i in 1 2 3 4 5 6 7 8; do total=$(( total + b[i] - a[i] )); done
  echo $(( total > 0 ? 100 * (total - idle) / total : 0 ))
}
TICKS=$(getconf CLK_TCK)
cpu_ticks() { sed -E 's/.*\) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }  # utime+stime of a PID
QUIET_MAX=${QUIET_MAX:-15}; QUIET_WAIT=${QUIET_WAIT:-300}
wait_quiet() {  # before each measurement: wait (bounded) until nothing else loads the machine; sets BUSY (%)
  local waited=0
  BUSY=$(busy_pct)
  while [ "$BUSY" -gt "$QUIET_MAX" ] && [ "$waited" -lt "$QUIET_WAIT" ]; do
    [ "$waited" = 0 ] && echo "machine busy (${BUSY}% CPU outside this benchmark): waiting up to ${QUIET_WAIT}s" >&2
    sleep 4; waited=$((waited + 5)); BUSY=$(busy_pct)
  done
  [ "$BUSY" -gt "$QUIET_MAX" ] && echo "still ${BUSY}% busy: measuring anyway (see busy_before_pct)" >&2
  return 0
}

echo "{\"run\":\"$RUN\",\"meta\":\"bench_gateway\",\"nproc\":$(nproc),\"dur\":\"$DUR\",\"conns\":$CONN,\"reps\":$REPS,\"nice\":$NICE,\"git\":\"$(git rev-parse --short HEAD 2>/dev/null)\",\"python\":\"$($PY -c 'import sys;print(sys.version.split()[0])')\",\"aiohttp\":\"$($PY -c 'import aiohttp;print(aiohttp.__version__)')\",\"uvicorn\":\"$($PY -c 'import uvicorn;print(uvicorn.__version__)')\"}" | tee -a "$OUT"

gateway_env=(env GATEWAY_ACCESS_LOG=false GATEWAY_LOG_LEVEL=WARNING
             GATEWAY_RATE_LIMIT_PER_SECOND=1000000000 GATEWAY_RATE_LIMIT_BURST=1000000000)

run_case() {  # run_case CASE UPSTREAM_URL PATH
  local case=$1 upstream=$2 path=$3
  start "gateway-$case" "$GW_PORT" "${gateway_env[@]}" GATEWAY_CATALOG_URL="$upstream" \
    "$UV" gateway.app:app --host 127.0.0.1 --port "$GW_PORT" --workers 1 --no-access-log --log-level warning
  local gw_pid=${PIDS[-1]}
  if ! ready "http://127.0.0.1:$GW_PORT$path"; then
    echo "gateway for $case not ready, see its log:" >&2; cat "$TMP/gateway-$case.log" >&2; return 1
  fi
  "${NICE_CMD[@]}" wrk -t1 -c"$CONN" -d"$WARM" "$upstream$path" >/dev/null 2>&1
  "${NICE_CMD[@]}" wrk -t1 -c"$CONN" -d"$WARM" "http://127.0.0.1:$GW_PORT$path" >/dev/null 2>&1
  for rep in $(seq 1 "$REPS"); do
    wait_quiet
    local before after lines requests
    before=$(cpu_ticks "$gw_pid")
    lines=$("${NICE_CMD[@]}" "$SHARED/gateway_overhead.sh" "$upstream$path" "http://127.0.0.1:$GW_PORT$path" "$DUR" "$CONN")
    after=$(cpu_ticks "$gw_pid")
    printf '%s\n' "$lines" | tag "$case" "$rep" "$BUSY" | tee -a "$OUT"
    # CPU the gateway process spent per forwarded request: unlike req/s, barely moved by other load on the box.
    requests=$(printf '%s\n' "$lines" | grep -E '"label":"gateway(_c1)?"' | sed -E 's/.*"requests":([0-9]+).*/\1/' \
               | paste -sd+ | bc)
    echo "{\"summary\":\"gateway_cpu\",\"requests\":$requests,\"cpu_s\":$(echo "scale=2; ($after - $before) / $TICKS" | bc),\"cpu_us_per_request\":$(echo "scale=1; ($after - $before) * 1000000 / $TICKS / $requests" | bc)}" \
      | tag "$case" "$rep" "$BUSY" | tee -a "$OUT"
  done
  kill -TERM "$gw_pid" 2>/dev/null; wait "$gw_pid" 2>/dev/null
}

# 1. trivial endpoint (the T4 "trivial" ratio)
start trivial "$TRIVIAL_PORT" "$UV" bench_upstream:app --app-dir scripts --host 127.0.0.1 --port "$TRIVIAL_PORT" \
  --workers 1 --no-access-log --log-level warning
ready "http://127.0.0.1:$TRIVIAL_PORT/api/v1/catalog/model" || { echo "trivial upstream not ready" >&2; exit 4; }
run_case trivial "http://127.0.0.1:$TRIVIAL_PORT" /api/v1/catalog/model
stop_all

# 2. the real catalog service on its SQLite default (no database access on this route)
start catalog "$CATALOG_PORT" env CATALOG_DATABASE_URL="sqlite+aiosqlite:///$TMP/catalog.db" CATALOG_ACCESS_LOG=false \
  CATALOG_LOG_LEVEL=WARNING "$UV" catalog_service.app:app --host 127.0.0.1 --port "$CATALOG_PORT" --workers 1 \
  --no-access-log --log-level warning
if ready "http://127.0.0.1:$CATALOG_PORT/api/v1/catalog/vocabularies"; then
  run_case catalog "http://127.0.0.1:$CATALOG_PORT" /api/v1/catalog/vocabularies
else
  echo "catalog_service did not start; skipping that case. Its log:" >&2; tail -20 "$TMP/catalog.log" >&2
  echo "{\"run\":\"$RUN\",\"case\":\"catalog\",\"skipped\":\"catalog_service did not start\"}" | tee -a "$OUT"
fi
stop_all

# 3. shared baselines, same machine, same run
if [ "$BASELINES" = 1 ]; then
  missing=$("$PY" -c 'import importlib.util as u; print(" ".join(m for m in ("granian", "orjson") if not u.find_spec(m)))')
  [ -n "$missing" ] && echo "baselines: not in $VENV: $missing (granian rows skipped; /orjson answers 500)" >&2
  BOUT="$TMP/baselines"; wait_quiet
  VENV="$VENV" ONLY="uv1 proxy" DUR="$DUR" CONN="$CONN" "${NICE_CMD[@]}" "$SHARED/run_baselines.sh" "$BOUT" >"$TMP/baselines.log" 2>&1 \
    || echo "run_baselines.sh failed, see below" >&2
  if [ -f "$BOUT/results.jsonl" ]; then
    tag baselines 1 "$BUSY" <"$BOUT/results.jsonl" | tee -a "$OUT"
  else
    tail -20 "$TMP/baselines.log" >&2
  fi
fi

# Summary on stdout and in bench-results/gateway.md (make bench prints every part's .md at the end).
"$PY" scripts/bench_gateway.py "$OUT" --run "$RUN" | tee bench-results/gateway.md
exit "${PIPESTATUS[0]}"
