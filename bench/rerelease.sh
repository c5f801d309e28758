#!/usr/bin/env bash
# Targets: a re-release of a commit whose image is already in ECR (no build, no push: 2 AWS calls) within 10 ms
# of the start-up floor, `pipeline --version`, measured side by side in one hyperfine run. Both are the whole
# process; the re-release runs against the sandbox.
source "$(dirname "$0")/common.sh"
start_sandbox 4611
repo="$BENCH_TMP/hello"
make_hello_repo "$repo"
cd "$repo" || exit 1
"$PIPELINE" push --version 1.0.0 >/dev/null 2>&1
hyperfine --warmup 5 --runs "${1:-50}" -N --export-json "$BENCH_TMP/rerelease.json" \
  -n "pipeline --version" "$PIPELINE --version" \
  -n "pipeline push (re-release)" "$PIPELINE push --version 1.0.0"
python3 - "$BENCH_TMP/rerelease.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
floor, again = r["pipeline --version"]["median"], r["pipeline push (re-release)"]["median"]
print(f"re-release {again*1000:.1f} ms, start-up floor {floor*1000:.1f} ms: +{(again-floor)*1000:.1f} ms (target <= 10 ms)")
PY
