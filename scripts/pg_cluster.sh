#!/usr/bin/env bash
# Throwaway PostgreSQL 15 cluster for tests and benchmarks, on 127.0.0.1 only.
#   scripts/pg_cluster.sh start DIR PORT   → prints the admin URL (postgresql://postgres@127.0.0.1:PORT/postgres)
#   scripts/pg_cluster.sh stop DIR         → stops it and removes DIR
# initdb refuses to run as root, so as root the cluster runs as the `postgres` user.
set -euo pipefail
cmd=${1:?start|stop}; dir=${2:?data directory}; port=${3:-54329}
bin=$(dirname "$(command -v initdb 2>/dev/null || ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | tail -n1)")
[ -x "$bin/initdb" ] || { echo "no PostgreSQL server binaries (initdb) found" >&2; exit 3; }
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
case $cmd in
  start)
    mkdir -p "$dir"; [ "$(id -u)" = 0 ] && chown postgres "$dir"
    as_pg "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 -c shared_buffers=256MB" >/dev/null \
      || { cat "$dir/server.log" >&2; exit 1; }
    echo "postgresql://postgres@127.0.0.1:$port/postgres"
    ;;
  stop)
    [ -d "$dir/data" ] && as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
  *) echo "usage: $0 start|stop DIR [PORT]" >&2; exit 2 ;;
esac
