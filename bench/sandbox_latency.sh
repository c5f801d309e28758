#!/usr/bin/env bash
# Targets: sandbox start (spawn -> /_sandbox/health answered) under 1 s, median control-plane call under 2 ms.
# Usage: bench/sandbox_latency.sh [calls]   (BENCH_PROFILE=dev to skip the release build)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
profile="${BENCH_PROFILE:-release}"
flag=()
[ "$profile" = release ] && flag=(--release)
dir="$profile"
[ "$profile" = dev ] && dir=debug
cargo build --quiet "${flag[@]}" --manifest-path "$root/Cargo.toml" -p pipeline-sandbox --bin pipeline-sandbox --example sandbox_latency
"$root/target/$dir/examples/sandbox_latency" "$root/target/$dir/pipeline-sandbox" "${1:-1000}"
