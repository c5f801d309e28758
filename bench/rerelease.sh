#!/usr/bin/env bash
# Target: a re-release of a commit whose image is already in ECR takes under 100 ms from start to
# "image ready" (no build, no push). Measures the whole `pipeline push` process against the sandbox.
source "$(dirname "$0")/common.sh"
start_sandbox 4611
repo="$BENCH_TMP/hello"
make_hello_repo "$repo"
cd "$repo" || exit 1
"$PIPELINE" push --version 1.0.0 >/dev/null 2>&1
hyperfine --warmup 3 --runs 30 -N "$PIPELINE push --version 1.0.0"
