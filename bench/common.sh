# Shared by the benchmarks: build the binaries once (release, as users run them), start a sandbox.
# Source it; it sets PIPELINE, SANDBOX_PID and exports the sandbox's client environment.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
profile="${BENCH_PROFILE:-release}"
# BENCH_NO_BUILD=1 takes the binaries as they are (another cargo may hold the build lock).
if [ -n "${BENCH_NO_BUILD:-}" ]; then
  :
elif [ "$profile" = release ]; then
  cargo build --quiet --release --manifest-path "$root/Cargo.toml" -p pipeline -p pipeline-sandbox
else
  cargo build --quiet --manifest-path "$root/Cargo.toml" -p pipeline -p pipeline-sandbox
fi
dir="$profile"
[ "$profile" = dev ] && dir=debug
export PIPELINE="$root/target/$dir/pipeline"
SANDBOX="$root/target/$dir/pipeline-sandbox"
command -v hyperfine >/dev/null || { apt-get update -qq && apt-get install -y -qq hyperfine >/dev/null; }

start_sandbox() { # start_sandbox [port] [sandbox options...]
  local port="${1:-4610}"
  "$SANDBOX" --port "$port" --time-scale "${TIME_SCALE:-60}" "${@:2}" >"$BENCH_TMP/sandbox.env" 2>"$BENCH_TMP/sandbox.log" &
  SANDBOX_PID=$!
  for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$port/_sandbox/health" >/dev/null 2>&1 && break
    sleep 0.05
  done
  # shellcheck disable=SC1091
  source "$BENCH_TMP/sandbox.env"
  export AWS_EC2_METADATA_DISABLED=true
}

BENCH_TMP="$(mktemp -d)"
cleanup() {
  if [ -n "${SANDBOX_PID:-}" ]; then kill "$SANDBOX_PID" 2>/dev/null || true; fi
  rm -rf "$BENCH_TMP"
}
trap cleanup EXIT

# A git repo holding examples/hello (binary + Dockerfile), so releases have a commit to tag.
make_hello_repo() {
  local dir="$1"
  "$root/examples/hello/build.sh" >/dev/null
  mkdir -p "$dir"
  cp "$root/examples/hello/Dockerfile" "$root/examples/hello/hello" "$dir/"
  printf 'version: 1\nimage:\n  repository: hello\n' >"$dir/.pipeline.yml"
  git -C "$dir" init -q -b main
  git -C "$dir" add -A
  git -C "$dir" -c user.name=bench -c user.email=bench@example.com commit -qm "feat: hello"
}
