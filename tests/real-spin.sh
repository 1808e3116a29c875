#!/usr/bin/env bash
# The README's first command for real: `spin build`, then `spin up` on a
# loopback port, once on Spin's default SQLite store and, when a Redis URL is
# given, once with `--runtime-config-file` mapping the store to that Redis.
# Against each served app it walks the README's quick start, runs Gcore's
# Python SDK, the console in Chromium (tests/clients/console_browser.py) and
# schemathesis (every family with its own credential).
#
#   bash tests/real-spin.sh [redis://127.0.0.1:6391/1]
#
# Needs `spin` on PATH (Spin 3.x or 4.x), the client libraries of
# tests/clients/requirements.txt, and Debian's chromium and chromium-driver.
# ONBOARD_SKIP_SPIN_BUILD=1 reuses the release components already built.
set -euo pipefail
cd "$(dirname "$0")/.."
redis_url=${1:-}
port=${ONBOARD_SPIN_PORT:-3917}
base="http://127.0.0.1:$port"
admin_key="real-spin-admin-key-0123456789"
work=$(mktemp -d)
spin_pid=""
stop_spin() {
  if [ -n "$spin_pid" ]; then
    kill "$spin_pid" 2>/dev/null || true
    wait "$spin_pid" 2>/dev/null || true
    spin_pid=""
  fi
}
trap 'stop_spin; rm -rf "$work"' EXIT

if [ "${ONBOARD_SKIP_SPIN_BUILD:-}" != 1 ]; then
  t0=$SECONDS
  spin build
  echo "spin build took $((SECONDS - t0))s"
fi

# Milliseconds since the epoch (bash 5's clock; whole seconds elsewhere).
now_ms() {
  if [ -n "${EPOCHREALTIME:-}" ]; then
    local t=${EPOCHREALTIME/[.,]/}
    echo $((t / 1000))
  else
    echo $(($(date +%s) * 1000))
  fi
}

# Starts `spin up` on a state directory of its own (a fresh SQLite store) with
# the given extra arguments, and waits for /health.
start_spin() {
  local state
  state=$(mktemp -d "$work/state.XXXX")
  SPIN_VARIABLE_ADMIN_KEY=$admin_key \
  SPIN_VARIABLE_TOKEN_KEYS="k1:real-spin-token-key-0123456789" \
    spin up --listen "127.0.0.1:$port" --state-dir "$state" "$@" \
    > "$state/spin.log" 2>&1 &
  spin_pid=$!
  local t0
  t0=$(now_ms)
  for _ in $(seq 1 1500); do
    if curl -sf "$base/health" > /dev/null; then
      echo "spin up answered /health after $(($(now_ms) - t0)) ms"
      return 0
    fi
    if ! kill -0 "$spin_pid" 2>/dev/null; then
      cat "$state/spin.log"
      echo "spin up exited before answering" >&2
      return 1
    fi
    sleep 0.2
  done
  cat "$state/spin.log"
  echo "spin up did not answer /health" >&2
  return 1
}

# One provider: the quick start, a generated client and the Gcore SDK on one
# fresh app, then scim2-tester and schemathesis on another (its tenant claims
# the same host). Both run on each store: the fuzzing's sequences of writes
# are what a store can get wrong.
run_suites() {
  local label=$1
  shift
  echo "== real spin ($label): quick start and Gcore SDK"
  fresh_redis
  start_spin "$@"
  # A figure, not a check: its failure is reported and the run goes on.
  python3 tests/clients/first_request.py "$base" || echo "first_request.py failed (figure only)"
  python3 tests/clients/quickstart.py "$base" "$admin_key"
  # A client generated from /openapi.json: seed 000, then seed 002.
  python3 tests/clients/generated_client.py "$base" "$admin_key"
  python3 tests/clients/gcore_sdk.py "$base" "ops@acme.example" "a-long-password"
  # The console in Chromium (its own tenant, on console.localhost). Set
  # ONBOARD_CONSOLE_SHOTS to a directory to keep its screenshots.
  python3 tests/clients/console_browser.py "$base" "$admin_key" ${ONBOARD_CONSOLE_SHOTS:+"$ONBOARD_CONSOLE_SHOTS"}
  stop_spin
  echo "== real spin ($label): scim2-tester, schemathesis"
  fresh_redis
  start_spin "$@"
  bash tests/clients/schemathesis.sh "$base" "$admin_key"
  stop_spin
}

use_redis=""
# Empties the Redis database before an app that should start from nothing.
fresh_redis() {
  if [ -n "$use_redis" ]; then redis-cli -u "$redis_url" flushdb > /dev/null; fi
}
run_suites sqlite
if [ -n "$redis_url" ]; then
  use_redis=1
  cat > "$work/redis.toml" <<EOF
[key_value_store.default]
type = "redis"
url = "$redis_url"
EOF
  run_suites redis --runtime-config-file "$work/redis.toml"
fi
echo "real spin: ok"
