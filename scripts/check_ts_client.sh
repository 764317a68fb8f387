#!/usr/bin/env bash
# The typed client check (issue 14 item 8): generate TypeScript types from the merged OpenAPI document of the code
# as it is now (not the committed openapi/, which the coordinator regenerates) into clients/typescript/src/schema.d.ts
# with openapi-typescript, then compile the example portal page against them with `tsc --strict --noEmit`.
# OPENAPI=<file> checks a given document instead (e.g. the committed openapi/gateway.json).
# node_modules is installed once under clients/typescript/ (gitignored) from package-lock.json, from npm's cache
# when it has the packages; reinstalled when the lock file changes.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
client="$root/clients/typescript"
python="${PY:-$root/.venv/bin/python}"
command -v node >/dev/null && command -v npm >/dev/null || { echo "node and npm are needed" >&2; exit 3; }
cd "$client"
if [ ! -x node_modules/.bin/tsc ] || [ ! -x node_modules/.bin/openapi-typescript ] \
   || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --prefer-offline --no-audit --no-fund --loglevel=error
fi
spec="${OPENAPI:-}"
if [ -z "$spec" ]; then
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$root" && "$python" -m gateway.openapi "$tmp" >/dev/null)
  spec="$tmp/gateway.json"
fi
node_modules/.bin/openapi-typescript "$spec" --output src/schema.d.ts --silent
node_modules/.bin/tsc --strict --noEmit -p .
echo "TypeScript client: types generated from $(basename "$spec") and src/example.ts compiled with tsc --strict"
