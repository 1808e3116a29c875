#!/usr/bin/env bash
# Prints Onboard's figures (README, Performance): the per-route table on
# SQLite and, when redis-server is installed, again on a local Redis; the
# password-hashing split, +simd128, throughput, growth, instantiation, sizes.
# Extra arguments go to cargo bench. ONBOARD_WASM_PROFILE=release measures
# the shipping build (slower to build).
set -euo pipefail
cd "$(dirname "$0")/.."
rustup target add wasm32-wasip2 >/dev/null 2>&1 || true
if [ -z "${ONBOARD_BENCH_REDIS:-}" ] && command -v redis-server >/dev/null 2>&1; then
  port=6393
  dir=$(mktemp -d)
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
    --daemonize yes --dir "$dir" --logfile "$dir/log"
  trap 'redis-cli -p '"$port"' shutdown nosave >/dev/null 2>&1 || true' EXIT
  export ONBOARD_BENCH_REDIS="redis://127.0.0.1:$port"
fi
# The test profile: `cargo test --workspace` has built all of it already.
cargo bench --profile dev -p onboard-test-host --bench figures "$@"
