#!/usr/bin/env bash
# The whole suite on SQLite, then on PostgreSQL: TEST_POSTGRES_URL if given, else a throwaway cluster started
# from the PostgreSQL 15 binaries on this machine (removed afterwards). REQUIRE_POSTGRES=1 (CI) makes a missing
# PostgreSQL a failure instead of a skip. Extra arguments go to pytest.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
status=0

echo "== pytest on SQLite"
TEST_DATABASE=sqlite "$PY" -m pytest "$@" || status=1

pg_dir=""
cleanup() { [ -n "$pg_dir" ] && scripts/pg_cluster.sh stop "$pg_dir"; }
trap cleanup EXIT
url=${TEST_POSTGRES_URL:-}
if [ -z "$url" ] && { command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; }; then
  # A few attempts on different ports: a randomly chosen port may be taken by another process meanwhile.
  for attempt in 1 2 3 4 5; do
    pg_dir=$(mktemp -d /tmp/gongkai-pg.XXXXXX); rmdir "$pg_dir"
    port=${TEST_POSTGRES_PORT:-$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
    url=$(scripts/pg_cluster.sh start "$pg_dir" "$port") && break
    echo "could not start PostgreSQL on port $port (attempt $attempt)"; url=""
    scripts/pg_cluster.sh stop "$pg_dir" >/dev/null 2>&1; rm -rf "$pg_dir"
  done
fi
if [ -n "$url" ]; then
  echo "== pytest on PostgreSQL ($url)"
  TEST_DATABASE=postgres TEST_POSTGRES_URL=$url "$PY" -m pytest "$@" || status=1
elif [ "${REQUIRE_POSTGRES:-0}" = 1 ]; then
  echo "FAIL: PostgreSQL is required (REQUIRE_POSTGRES=1) but neither TEST_POSTGRES_URL nor initdb is available"
  status=1
else
  echo "== PostgreSQL not available: set TEST_POSTGRES_URL or install PostgreSQL 15 to run the suite on it too"
fi
exit $status
