#!/usr/bin/env bash
# Targets:
# - the deploy step (register + start the deployment, no waiting) in at most 3 AWS calls and under 30 ms against
#   the sandbox; a guard alarm entering ALARM -> the rollback call in under 2 s with the default poll interval.
#   Both against an in-process sandbox (examples/bench.rs).
# - the whole `pipeline deploy` process, start to exit, within 0.2 s of the rollout's own duration in the sandbox
#   (its deployment's createdAt -> updatedAt, COMPLETED): what the tool adds around the rollout (start-up, plan,
#   register, the first poll after the rollout ends).
# Usage: bench/deploy.sh [deploy-steps] [guard-runs] [whole-process-runs]   (BENCH_PROFILE=dev: debug build)
source "$(dirname "$0")/common.sh"
# shellcheck disable=SC2154 # root is set by common.sh
cd "$root" || exit 1
profile=(--release)
[ "${BENCH_PROFILE:-release}" = dev ] && profile=()
# 0 skips a part.
[ "${1:-30}" = 0 ] || cargo run --quiet "${profile[@]}" --example bench -- deploy-step "${1:-30}"
[ "${2:-5}" = 0 ] || cargo run --quiet "${profile[@]}" --example bench -- guard "${2:-5}"

start_sandbox 4614 --scenario hello-rolling
repo="$BENCH_TMP/hello"
make_hello_repo "$repo"
cp "$root/examples/hello/task-definition.json" "$repo/"
cat >>"$repo/.pipeline.yml" <<'YML'
environments:
  demo:
    cluster: demo
    service: hello
    task-definition: task-definition.json
    container: hello
    strategy: rolling
YML
cd "$repo" || exit 1
git add -A && git -c user.name=b -c user.email=b@e commit -qm "feat: deploy"
"$PIPELINE" push --version 1.0.0 >/dev/null 2>&1
echo stamp >stamp.txt && printf 'COPY stamp.txt /stamp.txt\n' >>Dockerfile
git add -A && git -c user.name=b -c user.email=b@e commit -qm "fix: stamp"
"$PIPELINE" push --version 1.0.1 >/dev/null 2>&1
python3 - "$PIPELINE" "${3:-6}" <<'PY'
import json, os, statistics, subprocess, sys, time, urllib.request
pipeline, runs = sys.argv[1], int(sys.argv[2])
def ecs(op, body):
    req = urllib.request.Request(os.environ["AWS_ENDPOINT_URL"] + "/", data=json.dumps(body).encode(), headers={
        "X-Amz-Target": f"AmazonEC2ContainerServiceV20141113.{op}", "Content-Type": "application/x-amz-json-1.1"})
    return json.load(urllib.request.urlopen(req))
overheads = []
for i in range(runs):
    image = f"hello:v1.0.{i % 2}"
    start = time.monotonic()
    out = subprocess.run([pipeline, "--output", "json", "deploy", "--image", image], capture_output=True, text=True)
    wall = time.monotonic() - start
    if out.returncode != 0:
        sys.exit(f"pipeline deploy {image} failed ({out.returncode}):\n{out.stderr}")
    deployment = json.loads(out.stdout).get("deployment_id")
    svc = ecs("DescribeServices", {"cluster": "demo", "services": ["hello"]})["services"][0]
    d = next(d for d in svc["deployments"] if d["id"] == deployment)
    rollout = d["updatedAt"] - d["createdAt"]
    overheads.append(wall - rollout)
    print(f"  deploy {image}: wall {wall*1000:.0f} ms, rollout {rollout*1000:.0f} ms, overhead {(wall-rollout)*1000:.0f} ms")
print(f"whole-process deploy: wall minus rollout, median {statistics.median(overheads)*1000:.0f} ms, "
      f"max {max(overheads)*1000:.0f} ms (target <= 200 ms)")
PY
