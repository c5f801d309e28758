#!/usr/bin/env bash
# The whole test suite: unit tests, the sandbox's conformance tests, and the integration tests that
# run the real `pipeline` binary against the sandbox and the local Docker engine.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! docker info >/dev/null 2>&1; then
  echo "error: the Docker engine is not reachable (DOCKER_HOST=${DOCKER_HOST:-unix:///var/run/docker.sock})." >&2
  echo "       The tests build and push real images; start Docker and re-run." >&2
  exit 1
fi
if ! command -v cargo-nextest >/dev/null 2>&1; then
  cargo install --locked cargo-nextest
fi

# examples/hello is packaged FROM scratch, so it needs its static binary in its build context.
examples/hello/build.sh

# tests/platform.rs builds an arm64 image on this (x86) engine: QEMU emulation, installed if missing.
scripts/emulation.sh

cargo nextest run --workspace --no-fail-fast "$@"
