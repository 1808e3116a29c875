#!/usr/bin/env bash
# Requests per second of the authenticated reads under a real `spin up`, as a
# share of the floor: a component that opens the default store, reads one
# key and answers JSON (tests/components/floor), built with the same profile.
# One loopback run each, one server at a time, wrk with 32 connections for
# 8 s (ONBOARD_WRK_SECONDS), on Spin's default SQLite store. A figure, not a
# test: the target (every read at least 80% of the floor) is printed beside it.
#
#   bash tests/wrk.sh     # needs `spin` and `wrk` on PATH
#
# It runs `spin build` first (the shipped, fat-LTO build) unless
# ONBOARD_SKIP_SPIN_BUILD=1 reuses what is built.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${ONBOARD_WRK_SECONDS:-8}
port=${ONBOARD_WRK_PORT:-3931}
base="http://127.0.0.1:$port"
# The floor answers every path: the app is served on a port of its own, so
# a floor left running can never pass for it.
app_port=$((port + 1))
admin_key="wrk-admin-key-0123456789"
for tool in spin wrk; do
  command -v "$tool" > /dev/null || { echo "tests/wrk.sh needs $tool on PATH" >&2; exit 1; }
done
work=$(mktemp -d)
spin_pid=""
stop_spin() {
  if [ -n "$spin_pid" ]; then
    kill "$spin_pid" 2> /dev/null || true
    wait "$spin_pid" 2> /dev/null || true
    spin_pid=""
  fi
}
trap 'stop_spin; rm -rf "$work"' EXIT

if [ "${ONBOARD_SKIP_SPIN_BUILD:-}" != 1 ]; then
  spin build > "$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
fi
cargo build --quiet --target wasm32-wasip2 --release -p floor

# Serves a manifest on `port` from a fresh state directory and waits for
# `probe` to answer 2xx from it.
serve() {
  local manifest=$1 port=$2 probe=$3 state
  state=$(mktemp -d "$work/state.XXXX")
  if curl -s -o /dev/null "http://127.0.0.1:$port/"; then
    echo "port $port is taken: set ONBOARD_WRK_PORT" >&2
    return 1
  fi
  SPIN_VARIABLE_ADMIN_KEY=$admin_key \
  SPIN_VARIABLE_TOKEN_KEYS="k1:wrk-token-key-0123456789abcdef" \
    spin up -f "$manifest" --listen "127.0.0.1:$port" --state-dir "$state" \
    > "$state/spin.log" 2>&1 &
  spin_pid=$!
  base="http://127.0.0.1:$port"
  for _ in $(seq 1 1500); do
    kill -0 "$spin_pid" 2> /dev/null || { cat "$state/spin.log"; return 1; }
    curl -sf -o /dev/null "$base$probe" && return 0
    sleep 0.2
  done
  echo "spin up did not answer" >&2
  return 1
}

# Requests per second wrk measured for a path (extra arguments: headers);
# a run with any non-2xx answer is reported as such, not as a figure.
rate() {
  local path=$1
  shift
  local out
  # A short run first, unmeasured: the first requests of a component pay
  # for its instance pool and caches filling.
  wrk -t 2 -c 32 -d 2s "$@" "$base$path" > /dev/null 2>&1 || true
  out=$(wrk -t 2 -c 32 -d "${seconds}s" "$@" "$base$path") || { echo "wrk-failed"; return 0; }
  if grep -q "Non-2xx" <<< "$out"; then
    echo "non-2xx"
  elif grep -q "Socket errors" <<< "$out"; then
    echo "socket-errors"
  else
    awk '/Requests\/sec/ {print $2}' <<< "$out"
  fi
}

serve tests/floor.toml "$port" /
floor=$(rate /)
stop_spin

serve spin.toml "$app_port" /health
# A tenant on this host, its operator signed in (a Clone session), and a
# customer with ten users to read and list.
seed=$(python3 - "$base" "$admin_key" <<'PY'
import sys
import httpx

base, admin_key = sys.argv[1:3]
r = httpx.post(f"{base}/admin/tenants", headers={"Authorization": f"Bearer {admin_key}"},
               json={"id": "wrk", "name": "wrk", "domains": ["127.0.0.1"],
                     "operator": {"email": "ops@wrk.example", "password": "a-long-password"}})
assert r.status_code == 201, r.text
key = r.json()["application_key"]
r = httpx.post(f"{base}/auth/sign_in", headers={"x-api-key": key},
               json={"username": "ops@wrk.example", "password": "a-long-password"})
assert r.status_code == 200, r.text
auth = {"Authorization": f"Bearer {r.json()['token']}"}
user = None
for i in range(10):
    r = httpx.post(f"{base}/v2/users/create_customer", headers=auth, timeout=30,
                   json={"customer": {"organization": {"name": f"Customer {i}"},
                                      "user": {"email": f"u{i}@wrk.example"}}})
    assert r.status_code == 201, r.text
    user = r.headers["location"].rsplit("/", 1)[1]
print(auth["Authorization"].split()[1], user)
PY
)
read -r token user <<< "$seed"
[ -n "${user:-}" ] || { echo "seeding the app failed" >&2; exit 1; }
auth="Authorization: Bearer $token"
health=$(rate /health)
me=$(rate /v2/user/me -H "$auth")
one=$(rate "/v2/users/$user" -H "$auth")
list=$(rate "/v2/users?per_page=10" -H "$auth")
stop_spin

share() {
  awk -v r="$1" -v f="$floor" 'BEGIN {
    if (r !~ /^[0-9.]+$/ || f !~ /^[0-9.]+$/ || f == 0) { print "-"; exit }
    s = 100 * r / f
    printf "%.0f%%%s", s, (s >= 80 ? "" : " (under 80%)")
  }'
}
echo
echo "## Requests per second under spin up (wrk, 32 connections, ${seconds} s, SQLite)"
echo
echo "| Request | requests/s | share of the floor |"
echo "|---|---|---|"
echo "| floor component (open the store, read a key, answer JSON) | $floor | 100% |"
echo "| \`GET /health\` | $health | $(share "$health") |"
echo "| \`GET /v2/user/me\` (session) | $me | $(share "$me") |"
echo "| \`GET /v2/users/{id}\` | $one | $(share "$one") |"
echo "| \`GET /v2/users?per_page=10\` | $list | $(share "$list") |"
