#!/usr/bin/env bash
# Target: build + push of a new image within 5% of `docker build` + `docker push` of the same
# context on the same engine. Each run changes one file so both sides build and push a new layer.
source "$(dirname "$0")/common.sh"
start_sandbox 4612
repo="$BENCH_TMP/hello"
make_hello_repo "$repo"
cd "$repo" || exit 1
registry="$PIPELINE_SANDBOX_REGISTRY"
printf 'COPY stamp.txt /stamp.txt\n' >>Dockerfile
date +%s%N >stamp.txt
git add -A && git -c user.name=b -c user.email=b@e commit -qm "feat: stamp layer"
"$PIPELINE" push --version 0.0.1 >/dev/null 2>&1  # creates the repository
# docker login with the sandbox's ECR token, in a throwaway config dir.
export DOCKER_CONFIG="$BENCH_TMP/docker"
token=$(python3 - <<PY
import json, base64, urllib.request
req = urllib.request.Request("$AWS_ENDPOINT_URL/", data=b"{}", headers={
  "X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken",
  "Content-Type": "application/x-amz-json-1.1"})
data = json.load(urllib.request.urlopen(req))
print(base64.b64decode(data["authorizationData"][0]["authorizationToken"]).decode().split(":", 1)[1])
PY
)
echo "$token" | docker login -u AWS --password-stdin "$registry" >/dev/null

# Each run commits a new stamp, so both sides build and push one new layer of the same context.
hyperfine --runs 10 \
  --prepare 'date +%s%N > stamp.txt && git add -A && git -c user.name=b -c user.email=b@e commit -qm "fix: stamp"' \
  -n "docker build + docker push" \
  "docker build -q -t $registry/hello:bench-\$(git rev-parse --short=12 HEAD) . >/dev/null && docker push -q $registry/hello:bench-\$(git rev-parse --short=12 HEAD) >/dev/null" \
  -n "pipeline push" \
  "$PIPELINE push --version 1.0.\$(date +%s%N) >/dev/null 2>&1"
