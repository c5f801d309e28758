#!/usr/bin/env bash
# The demo: a real release of examples/hello to a local AWS sandbox, with CodeDeploy blue/green, a
# canary, a 5xx guard, and an automatic rollback of a bad release. No AWS account, no Docker Hub.
#
#   1. builds hello (a static binary, FROM scratch), `pipeline` and `pipeline-sandbox`;
#   2. starts `pipeline-sandbox --scenario hello-verify` (an ECS service behind an ALB with a test
#      listener, a CodeDeploy group that waits for the reroute) with tasks running as real containers
#      (--tasks docker);
#   3. `pipeline plan`, then `pipeline release` 1.0.0: build, push to the sandbox's ECR, register,
#      smoke test on the test listener, canary blue/green, guard, verified;
#   4. a release whose /smoke answers 500 (1.1.0, same image, HELLO_FAIL_PATH=/smoke): its smoke test
#      fails on the test listener and it is rolled back before any production traffic moves: the
#      production listener's probe traffic never saw an error nor the new revision (exit code 4);
#   5. a bad *configuration* release 1.2.0 (HELLO_FAIL=500 on /, which the smoke test does not see):
#      the 5xx alarm fires from real traffic, pipeline stops the deployment and CodeDeploy rolls back;
#   6. `pipeline status` and the Slack message the sandbox captured.
#
# DEMO_PORT picks the sandbox's port (default 4599; 0 = any free port).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
port="${DEMO_PORT:-4599}"
started=$SECONDS

# Each step with the time since the demo started, so a long step shows where the time goes.
say() { printf '\n\033[1m== %s\033[0m (%ss)\n' "$*" "$((SECONDS - started))"; }

docker info >/dev/null 2>&1 || { echo "error: the demo needs a running Docker engine" >&2; exit 1; }

say "building hello, pipeline and pipeline-sandbox"
echo "The first build compiles about 450 crates: roughly 15 minutes on a fresh 2-core machine, a few"
echo "minutes on 8 cores; seconds once built (after scripts/test.sh too: the demo builds what the tests"
echo "build). Cargo's progress follows."
examples/hello/build.sh >/dev/null
# The workspace's targets as the tests build them, so the same compiled crates serve both.
cargo build --workspace --all-targets
say "built"
pipeline="$root/target/debug/pipeline"
sandbox="$root/target/debug/pipeline-sandbox"
# The scenario's service starts on this local image, before any release.
docker build -q -t pipeline-demo/hello:initial examples/hello >/dev/null

tasks=(--tasks docker)
bad_env="HELLO_FAIL=500"

work="$(mktemp -d)"
cleanup() {
  [ -n "${sandbox_pid:-}" ] && kill "$sandbox_pid" 2>/dev/null && wait "$sandbox_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

say "starting pipeline-sandbox (scenario hello-verify, time scale 60, ${tasks[*]})"
"$sandbox" --port "$port" --time-scale 60 --scenario hello-verify "${tasks[@]}" >"$work/sandbox.env" 2>"$work/sandbox.log" &
sandbox_pid=$!
endpoint() { sed -n 's/^export AWS_ENDPOINT_URL=//p' "$work/sandbox.env" 2>/dev/null; }
for _ in $(seq 300); do
  url="$(endpoint)"
  [ -n "$url" ] && curl -fs "$url/_sandbox/health" >/dev/null 2>&1 && break
  kill -0 "$sandbox_pid" 2>/dev/null || { cat "$work/sandbox.log" >&2; echo "error: pipeline-sandbox did not start" >&2; exit 1; }
  sleep 0.1
done
[ -n "$(endpoint)" ] || { cat "$work/sandbox.log" >&2; echo "error: pipeline-sandbox did not start in 30 s" >&2; exit 1; }
# shellcheck disable=SC1091
source "$work/sandbox.env"
echo "AWS is $AWS_ENDPOINT_URL (and the network for its load balancers' names: HTTP_PROXY)"
export AWS_EC2_METADATA_DISABLED=true
# Slack goes to the sandbox's capture, so the demo shows the one message a release keeps updating.
export SLACK_BOT_TOKEN=xoxb-demo-token SLACK_API_URL="$AWS_ENDPOINT_URL/slack/api"

say "a git repository holding examples/hello"
cp examples/hello/{Dockerfile,.dockerignore,hello,.pipeline.yml,task-definition.json} "$work/"
mkdir "$work/repo" && mv "$work"/{Dockerfile,.dockerignore,hello,.pipeline.yml,task-definition.json} "$work/repo/"
cd "$work/repo"
git init -q -b main
git add -A
git -c user.name=demo -c user.email=demo@example.com commit -qm "feat: hello"

say "pipeline plan (exit 2: there is something to release)"
"$pipeline" plan || [ $? -eq 2 ]

say "pipeline release --version 1.0.0 (canary blue/green)"
"$pipeline" release --version 1.0.0

say "pipeline status"
"$pipeline" status

# What the production listener (port 80) carried: requests, 5xx and requests served by a revision.
production() {
  curl -fs "$AWS_ENDPOINT_URL/_sandbox/traffic" | python3 -c 'import json, sys
revision = sys.argv[1]
entries = [e for e in json.load(sys.stdin)["traffic"] if e["listener"] == sys.argv[2]]
print(sum(e["requests"] for e in entries), sum(e["status_5xx"] for e in entries),
      sum(e["requests"] for e in entries if e["task_definition"] == revision))' "$1" "$2"
}
# The group's production listener, as CodeDeploy reports it (GetDeploymentGroup).
prod_listener="$(curl -fs "$AWS_ENDPOINT_URL/" -H 'Content-Type: application/x-amz-json-1.1' \
  -H 'X-Amz-Target: CodeDeploy_20141006.GetDeploymentGroup' \
  -d '{"applicationName":"hello","deploymentGroupName":"hello-demo"}' | python3 -c 'import json, sys
info = json.load(sys.stdin)["deploymentGroupInfo"]["loadBalancerInfo"]["targetGroupPairInfoList"][0]
print(info["prodTrafficRoute"]["listenerArns"][0])')"

say "a release whose smoke test fails on the test listener: 1.1.0 with HELLO_FAIL=500 on /smoke only"
set +e
"$pipeline" --output json release --version 1.1.0 --set environments.demo.env.HELLO_FAIL=500 \
  --set environments.demo.env.HELLO_FAIL_PATH=/smoke >"$work/smoke.json"
code=$?
set -e
echo "exit code: $code (4 = failed and rolled back)"
[ "$code" -eq 4 ] || { echo "error: expected the release failing its smoke test to be rolled back (exit 4)" >&2; exit 1; }
smoke_td="$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["task_definition_arn"])' "$work/smoke.json")"
read -r requests errors reached < <(production "$smoke_td" "$prod_listener")
echo "production listener: $requests requests, $errors answered 5xx, $reached reached $smoke_td"
if [ "$errors" -ne 0 ] || [ "$reached" -ne 0 ] || [ "$requests" -eq 0 ]; then
  echo "error: production traffic saw the release that failed its smoke test" >&2
  exit 1
fi

say "a bad configuration release: 1.2.0 with $bad_env (same image, no rebuild; /smoke still passes)"
key="${bad_env%%=*}"
value="${bad_env#*=}"
set +e
"$pipeline" release --version 1.2.0 --set "environments.demo.env.$key=$value"
code=$?
set -e
echo "exit code: $code (4 = failed and rolled back)"
[ "$code" -eq 4 ] || { echo "error: expected the bad release to be rolled back (exit 4)" >&2; exit 1; }

say "pipeline status (back on 1.0.0)"
"$pipeline" status

say "what Slack would have shown (captured by the sandbox)"
curl -fs "$AWS_ENDPOINT_URL/_sandbox/captured" |
  python3 -c 'import json, sys
for m in json.load(sys.stdin)["slack_messages"]:
    print("  {} {}: {} ({} updates)".format(m["channel"], m["ts"], m["text"], m["updates"]))'
say "done"
