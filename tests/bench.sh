#!/usr/bin/env bash
# Prints Onboard's figures (README, Performance): the per-route table on
# SQLite and, when redis-server is installed, again on a local Redis; the
# password-hashing split, +simd128, throughput, growth, instantiation, sizes;
# and, with spin and wrk installed, requests per second under a real Spin
# against a floor component (tests/wrk.sh).
# Extra arguments go to cargo bench. ONBOARD_WASM_PROFILE=wasm-test measures
# the components `cargo test` built instead of the shipping build.
#
# `bash tests/bench.sh --quick` (what CI runs after `cargo test --workspace`)
# reuses that run's builds (the test host with its default features, the
# `wasm-test` components) and prints the sizes, the compile time and the
# per-route table with 2 requests a row: it shows the command works, and
# fails only if it breaks, never on a timing.
set -euo pipefail
cd "$(dirname "$0")/.."
rustup target add wasm32-wasip2 >/dev/null 2>&1 || true
if [ "${1:-}" = "--quick" ]; then
  shift
  export ONBOARD_BENCH_QUICK=1
  export ONBOARD_WASM_PROFILE="${ONBOARD_WASM_PROFILE:-wasm-test}"
  # `--workspace` keeps the features `cargo test --workspace` built the core
  # with, so only the figures binary compiles (`-p onboard-test-host` alone
  # would rebuild the core and the host: 2 min 40 s on 2 cores).
  exec cargo bench --profile dev --workspace --bench figures "$@"
fi
if [ -z "${ONBOARD_BENCH_REDIS:-}" ] && command -v redis-server >/dev/null 2>&1; then
  port=6393
  dir=$(mktemp -d)
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
    --daemonize yes --dir "$dir" --logfile "$dir/log"
  trap 'redis-cli -p '"$port"' shutdown nosave >/dev/null 2>&1 || true' EXIT
  export ONBOARD_BENCH_REDIS="redis://127.0.0.1:$port"
fi
# The shipping build of the components (what `spin build` makes), measured by
# the test host on the dev profile (its dependencies optimised, so wasmtime is
# shared with `cargo test`), built without the OpenAPI conformance checks the
# tests add: after `cargo test`, the host itself is rebuilt once.
export ONBOARD_WASM_PROFILE="${ONBOARD_WASM_PROFILE:-release}"
cargo bench --profile dev -p onboard-test-host --no-default-features --bench figures "$@"
# Under a real Spin: the reads' requests per second against the floor
# component (tests/wrk.sh, which runs `spin build`: a no-op when the
# manifest's components are up to date), when spin and wrk are installed.
if command -v spin > /dev/null && command -v wrk > /dev/null; then
  bash tests/wrk.sh
else
  echo "(spin or wrk not installed: no requests-per-second table)"
fi
