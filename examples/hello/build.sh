#!/usr/bin/env bash
# Builds hello as a static binary and copies it into this directory, the Docker build context.
# A separate target dir: the static RUSTFLAGS would otherwise invalidate the workspace's main build cache.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
target=x86_64-unknown-linux-gnu
CARGO_TARGET_DIR="$repo/target/hello-static" RUSTFLAGS="-C target-feature=+crt-static" \
  cargo build --manifest-path "$repo/Cargo.toml" -p hello --release --target "$target"
# Rename into place so a concurrent docker build never sees a half-copied binary; a temporary name of this
# process's own, so concurrent runs (tests in parallel) do not move each other's copy.
cp "$repo/target/hello-static/$target/release/hello" "$here/hello.tmp.$$"
mv -f "$here/hello.tmp.$$" "$here/hello"
echo "$here/hello"
