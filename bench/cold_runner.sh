#!/usr/bin/env bash
# Target: on a fresh runner (no local images, no build cache), releasing an app-only change with the registry
# layer cache takes at most 0.3x the same release built without cache.
#
# The service: a base image (a static busybox in a FROM-scratch image, built here and pushed to the sandbox's
# ECR, as a runner would pull its base), an expensive dependency layer (a real RUN step: DEPS_SECONDS of work
# standing in for `npm ci`/`cargo build` of the dependencies, writing DEPS_MB of files) and an app layer.
# Each side releases v1, then the runner is wiped (`docker builder prune -af`, its images removed), the app
# changes, and v2 is released: that second release is what is timed.
#   pipeline (cache)     pipeline push, default image.cache (inline metadata, sources from ECR)
#   pipeline (no cache)  pipeline push with image.cache: false
#   docker CLI           docker pull + docker build --cache-from + docker push (the docker CLI here has no
#                        buildx, so `docker build` is the classic builder, which takes cache only from pulled
#                        images)
# Usage: bench/cold_runner.sh [runs]   (BENCH_PROFILE=dev to skip the release build)
source "$(dirname "$0")/common.sh"
runs="${1:-3}"
export DEPS_SECONDS="${DEPS_SECONDS:-8}" DEPS_MB="${DEPS_MB:-16}"
start_sandbox 4613
registry="$PIPELINE_SANDBOX_REGISTRY"
if ! command -v busybox >/dev/null; then
  apt-get update -qq && apt-get install -y -qq busybox-static >/dev/null
fi

ecr() { # ecr <Operation> <json>: one call to the sandbox's ECR
  curl -fsS "$AWS_ENDPOINT_URL/" -H "X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.$1" \
    -H 'Content-Type: application/x-amz-json-1.1' -d "$2"
}
export DOCKER_CONFIG="$BENCH_TMP/docker"
password=$(ecr GetAuthorizationToken '{}' | python3 -c 'import json,sys,base64
print(base64.b64decode(json.load(sys.stdin)["authorizationData"][0]["authorizationToken"]).decode().split(":",1)[1])')
echo "$password" | docker login -u AWS --password-stdin "$registry" >/dev/null

# The base image, in the registry.
base="$BENCH_TMP/base"
mkdir -p "$base"
cp "$(command -v busybox)" "$base/busybox"
printf 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\n' >"$base/Dockerfile"
ecr CreateRepository '{"repositoryName":"bench-base"}' >/dev/null
DOCKER_BUILDKIT=0 docker build -q -t "$registry/bench-base:1" "$base" >/dev/null
docker push -q "$registry/bench-base:1" >/dev/null

# One service repository per side, so no side takes cache from another's images.
make_service() { # make_service <dir> <repository> [config lines]
  mkdir -p "$1"
  cat >"$1/Dockerfile" <<EOF
FROM $registry/bench-base:1
COPY deps.txt /deps.txt
# The expensive dependency layer.
RUN sleep $DEPS_SECONDS && mkdir -p /opt/deps && head -c \$(($DEPS_MB * 1048576)) /dev/urandom >/opt/deps/blob
COPY app.txt /app.txt
EOF
  echo "left-pad 1.3.0" >"$1/deps.txt"
  date +%s%N >"$1/app.txt"
  printf 'version: 1\nimage:\n  repository: %s\n%s' "$2" "${3:-}" >"$1/.pipeline.yml"
  git -C "$1" init -q -b main
  git -C "$1" add -A
  git -C "$1" -c user.name=bench -c user.email=bench@example.com commit -qm "feat: service"
}

# Removes what a fresh runner would not have: the build cache and this bench's images (not other images on
# this shared engine).
wipe() {
  docker builder prune -af >/dev/null
  docker images --format '{{.Repository}}:{{.Tag}}' | grep "^$registry/" | xargs -r docker rmi -f >/dev/null
}
app_change() { # app_change <dir>
  date +%s%N >"$1/app.txt"
  git -C "$1" add -A
  git -C "$1" -c user.name=bench -c user.email=bench@example.com commit -qm "fix: app"
}

make_service "$BENCH_TMP/cached" bench-cached
make_service "$BENCH_TMP/uncached" bench-uncached "  cache: false
"
make_service "$BENCH_TMP/cli" bench-cli
(cd "$BENCH_TMP/cached" && "$PIPELINE" push --version 1.0.0 >/dev/null 2>&1)
(cd "$BENCH_TMP/uncached" && "$PIPELINE" push --version 1.0.0 >/dev/null 2>&1)
ecr CreateRepository '{"repositoryName":"bench-cli"}' >/dev/null
cli="$registry/bench-cli"
(cd "$BENCH_TMP/cli" && DOCKER_BUILDKIT=0 docker build -q -t "$cli:latest" . >/dev/null && docker push -q "$cli:latest" >/dev/null)

export PIPELINE BENCH_TMP registry cli
export -f wipe app_change
hyperfine --shell bash --runs "$runs" --export-json "$BENCH_TMP/cold.json" \
  -n "pipeline (registry cache)" --prepare "wipe; app_change $BENCH_TMP/cached" \
  "cd $BENCH_TMP/cached && $PIPELINE push --version 1.0.\$(date +%s%N) >/dev/null 2>&1" \
  -n "pipeline (no cache)" --prepare "wipe; app_change $BENCH_TMP/uncached" \
  "cd $BENCH_TMP/uncached && $PIPELINE push --version 1.0.\$(date +%s%N) >/dev/null 2>&1" \
  -n "docker CLI (--cache-from)" --prepare "wipe; app_change $BENCH_TMP/cli" \
  "cd $BENCH_TMP/cli && (docker pull -q $cli:latest >/dev/null || true) && DOCKER_BUILDKIT=0 docker build -q --cache-from $cli:latest -t $cli:latest . >/dev/null && docker push -q $cli:latest >/dev/null"

python3 - "$BENCH_TMP/cold.json" <<'PY'
import json, sys
results = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
cached, uncached = results["pipeline (registry cache)"]["median"], results["pipeline (no cache)"]["median"]
cli = results["docker CLI (--cache-from)"]["median"]
print(f"cold rebuild, median: cached {cached:.2f} s, uncached {uncached:.2f} s, docker CLI --cache-from {cli:.2f} s")
print(f"cached / uncached = {cached / uncached:.2f}x (target <= 0.30x); cached / docker CLI = {cached / cli:.2f}x")
PY
