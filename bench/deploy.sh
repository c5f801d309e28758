#!/usr/bin/env bash
# Targets: the deploy step (register + start the deployment, no waiting) in at most 3 AWS calls and
# under 30 ms against the sandbox; a guard alarm entering ALARM -> the rollback call in under 2 s
# with the default poll interval. Both against an in-process sandbox (examples/bench.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
profile=(--release)
[ "${BENCH_PROFILE:-release}" = dev ] && profile=()
cargo run --quiet "${profile[@]}" --example bench -- deploy-step "${1:-30}"
cargo run --quiet "${profile[@]}" --example bench -- guard "${2:-5}"
