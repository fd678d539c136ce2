#!/usr/bin/env bash
# Browser end-to-end tests: installs what they need (Chromium from Debian when CI=true
# and it is missing; playwright-core by npm ci), starts `famlink serve --demo` on a
# loopback port, runs e2e.mjs in headless Chromium, stops the server.
# Usage: tests/e2e/run.sh [FAMLINK_BINARY]   (default target/debug/famlink)
set -uo pipefail
cd "$(dirname "$0")/../.."
bin=${1:-target/debug/famlink}
if ! command -v chromium >/dev/null 2>&1; then
  if [ "${CI:-}" = "true" ]; then
    (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium) >/dev/null 2>&1 \
      || { echo "e2e: could not install chromium"; echo "e2e: 0 passed, 1 failed"; exit 1; }
  else
    echo "e2e: chromium is not installed (apt-get install chromium); skipped"
    echo "e2e: 0 passed, 0 failed"
    exit 0
  fi
fi
(cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error) \
  || { echo "e2e: npm ci failed"; echo "e2e: 0 passed, 1 failed"; exit 1; }
[ -x "$bin" ] || cargo build --locked --bin famlink || exit 1
work=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
"$bin" serve --demo --data "$work/data" --listen "127.0.0.1:$port" >"$work/out" 2>"$work/err" &
server=$!
for _ in $(seq 1 600); do
  grep -q "listening on" "$work/err" 2>/dev/null && break
  kill -0 "$server" 2>/dev/null || break
  sleep 0.5
done
if ! grep -q "listening on" "$work/err"; then
  echo "e2e: the demo server did not start:"; tail -20 "$work/err"
  kill "$server" 2>/dev/null; echo "e2e: 0 passed, 1 failed"; exit 1
fi
timeout 300 node tests/e2e/e2e.mjs "http://127.0.0.1:$port" "$work/out"
status=$?
kill -TERM "$server" 2>/dev/null
wait "$server" 2>/dev/null
rm -rf "$work"
exit "$status"
