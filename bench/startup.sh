#!/usr/bin/env bash
# Target: `pipeline --version` under 5 ms.
source "$(dirname "$0")/common.sh"
hyperfine --warmup 20 --runs 200 -N "$PIPELINE --version"
