#!/usr/bin/env bash
# Load and soak run (issue 6): locust headless, 50 users of mixed traffic through the gateway on PostgreSQL.
#
#   scripts/bench_load.sh                 # 30-minute soak (SECONDS_LOAD=1800)
#   SECONDS_LOAD=120 scripts/bench_load.sh
#
# locust (and gevent) live in their own virtualenv, .venv-bench, made here on first use: the services never import it.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd); cd "$ROOT"
PY=${PY:-.venv/bin/python}
if [ ! -x .venv-bench/bin/locust ]; then
  python3 -m venv .venv-bench && .venv-bench/bin/pip install -q "locust==2.47.0" || { echo "cannot install locust" >&2; exit 1; }
fi
"$PY" scripts/bench_load.py --seconds "${SECONDS_LOAD:-1800}" --users "${USERS:-50}" --label "${LABEL:-soak}"
