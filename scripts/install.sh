#!/usr/bin/env bash
# Installs the `pipeline` binary for the GitHub Action (action.yml), or for anyone who wants it:
#
#   1. picks the release asset for this runner: linux x64/arm64 (static musl builds), macOS x64/arm64;
#   2. downloads `pipeline-<tag>-<target>.tar.gz` and `pipeline-<tag>-checksums.txt` and verifies the
#      archive's sha256 against the checksums file: a mismatch stops here, nothing is installed;
#   3. keeps it in the tool cache, $RUNNER_TOOL_CACHE/pipeline/<tag>/<target>/bin, reused without any
#      download when present;
#   4. adds that directory to $GITHUB_PATH and writes the step outputs `bin`, `version`, `source`.
#
# When the action is used at a ref that has no release (`@main`, a commit SHA, a branch, or a tag whose
# release is missing: 404 on the checksums file), it builds from the action's own checkout instead:
# `cargo install --locked --path "$GITHUB_ACTION_PATH" --root <cache dir>`.
#
# Environment (all optional):
#   INPUT_PIPELINE_VERSION   the version to install: v1.2.3, 1.2.3, v1 / v1.2 (resolved to the exact
#                            version of the action's checkout), main, a SHA. Default: the action's ref.
#   PIPELINE_ACTION_REF      the action's ref (github.action_ref), used when no version is given
#   PIPELINE_ACTION_REPOSITORY  owner/name of the action (github.action_repository)
#   PIPELINE_DOWNLOAD_BASE   base URL holding the release assets (tests point it at a local server);
#                            default https://github.com/<owner>/pipeline/releases/download/<tag>
#   PIPELINE_BIN_DIR         use the `pipeline` already in this directory: no download, no build
#   PIPELINE_CARGO           the cargo command for source builds (default: cargo)
#   RUNNER_OS, RUNNER_ARCH   the platform (default: uname)
#   RUNNER_TOOL_CACHE        the cache root (default: ${XDG_CACHE_HOME:-$HOME/.cache}/pipeline-action)
set -euo pipefail

say() { printf 'pipeline install: %s\n' "$*" >&2; }
die() {
  # An error annotation on GitHub, a plain message elsewhere.
  if [[ "${GITHUB_ACTIONS:-}" == "true" ]]; then
    printf '::error title=pipeline install::%s\n' "$*" >&2
  fi
  say "error: $*"
  exit 1
}

action_path="${GITHUB_ACTION_PATH:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"

# Step outputs and PATH for the steps after this one.
publish() {
  local bin="$1" version="$2" source="$3"
  [[ -x "$bin/pipeline" ]] || die "no executable pipeline in $bin"
  if [[ -n "${GITHUB_PATH:-}" ]]; then
    printf '%s\n' "$bin" >>"$GITHUB_PATH"
  fi
  if [[ -n "${GITHUB_OUTPUT:-}" ]]; then
    {
      printf 'bin=%s\n' "$bin"
      printf 'version=%s\n' "$version"
      printf 'source=%s\n' "$source"
    } >>"$GITHUB_OUTPUT"
  fi
  say "using $bin/pipeline ($version, $source)"
}

if [[ -n "${PIPELINE_BIN_DIR:-}" ]]; then
  publish "$PIPELINE_BIN_DIR" "local" "local"
  exit 0
fi

# --- the platform -> the release target -------------------------------------------------------------
os="${RUNNER_OS:-$(uname -s)}"
arch="${RUNNER_ARCH:-$(uname -m)}"
case "$os" in
  Linux | linux) os=linux ;;
  macOS | Darwin | darwin) os=macos ;;
  *) die "unsupported operating system '$os': pipeline ships for Linux and macOS runners" ;;
esac
case "$arch" in
  X64 | x86_64 | amd64) arch=x64 ;;
  ARM64 | arm64 | aarch64) arch=arm64 ;;
  *) die "unsupported architecture '$arch': pipeline ships for x64 and arm64" ;;
esac
case "$os-$arch" in
  linux-x64) target=x86_64-unknown-linux-musl ;;
  linux-arm64) target=aarch64-unknown-linux-musl ;;
  macos-x64) target=x86_64-apple-darwin ;;
  macos-arm64) target=aarch64-apple-darwin ;;
esac

# --- the version ---------------------------------------------------------------------------------------
requested="${INPUT_PIPELINE_VERSION:-${PIPELINE_ACTION_REF:-${GITHUB_ACTION_REF:-}}}"
requested="${requested#refs/tags/}"

# The package version of the action's checkout, e.g. 1.4.2 (the first `version =` of Cargo.toml is
# the root package's).
checkout_version() {
  sed -n 's/^version *= *"\([^"]*\)".*/\1/p' "$action_path/Cargo.toml" 2>/dev/null | head -n 1
}

tag=""
if [[ "$requested" =~ ^v?[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]+)?$ ]]; then
  tag="v${requested#v}"
elif [[ "$requested" =~ ^v?[0-9]+(\.[0-9]+)?$ ]]; then
  # A moving major (or minor) tag such as `@v1`: the release is the exact version it points at.
  exact="$(checkout_version)"
  if [[ -n "$exact" && "v$exact" == "v${requested#v}."* ]]; then
    tag="v$exact"
  else
    say "cannot resolve '$requested' to a release (checkout version: '${exact:-unknown}')"
  fi
fi

cache_root="${RUNNER_TOOL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pipeline-action}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  else
    shasum -a 256 "$1" | cut -d' ' -f1
  fi
}

# Moves a fully prepared directory into the cache at once, so a half-written install is never used.
commit_to_cache() {
  local prepared="$1" dest="$2"
  mkdir -p "$(dirname "$dest")"
  rm -rf "$dest"
  mv "$prepared" "$dest"
}

# --- source build (no release for this ref) ----------------------------------------------------------
build_from_source() {
  local why="$1" commit key dest cargo
  [[ -f "$action_path/Cargo.toml" ]] || die "$why, and $action_path holds no Cargo.toml to build from"
  commit="$(git -C "$action_path" rev-parse HEAD 2>/dev/null || true)"
  key="source-${commit:-${requested:-unknown}}"
  key="${key//\//-}"
  dest="$cache_root/pipeline/$key/$target"
  if [[ -x "$dest/bin/pipeline" ]]; then
    publish "$dest/bin" "$key" "cache"
    return
  fi
  if [[ "${GITHUB_ACTIONS:-}" == "true" ]]; then
    printf '::notice title=pipeline install::%s; building from source (a few minutes)\n' "$why" >&2
  fi
  say "$why; building from source in $action_path"
  cargo="${PIPELINE_CARGO:-cargo}"
  command -v "$cargo" >/dev/null 2>&1 || die "$why, and there is no cargo to build it (install a Rust toolchain first)"
  mkdir -p "$work/root"
  "$cargo" install --locked --path "$action_path" --root "$work/root" >&2 ||
    die "cargo install --locked --path $action_path failed"
  commit_to_cache "$work/root" "$dest"
  publish "$dest/bin" "$key" "build"
}

if [[ -z "$tag" ]]; then
  build_from_source "'${requested:-<no ref>}' is not a released version"
  exit 0
fi

# --- released binary ---------------------------------------------------------------------------------
dest="$cache_root/pipeline/$tag/$target"
if [[ -x "$dest/bin/pipeline" ]]; then
  publish "$dest/bin" "$tag" "cache"
  exit 0
fi

repository="${PIPELINE_ACTION_REPOSITORY:-${GITHUB_ACTION_REPOSITORY:-${GITHUB_REPOSITORY:-}}}"
if [[ -n "${PIPELINE_DOWNLOAD_BASE:-}" ]]; then
  base="${PIPELINE_DOWNLOAD_BASE%/}"
  proto=(--proto '=http,https')
else
  [[ -n "$repository" ]] || die "no repository to download from: set PIPELINE_ACTION_REPOSITORY (owner/name)"
  base="${GITHUB_SERVER_URL:-https://github.com}/$repository/releases/download/$tag"
  proto=(--proto '=https')
fi
archive="pipeline-$tag-$target.tar.gz"
checksums="pipeline-$tag-checksums.txt"

# Prints the HTTP status; the body goes to $2. curl's own failure (no connection) is fatal.
fetch() {
  local url="$1" out="$2" code rc=0
  code="$(curl "${proto[@]}" --fail --silent --show-error --location --retry 3 --retry-delay 1 \
    --connect-timeout 20 --output "$out" --write-out '%{http_code}' "$url")" || rc=$?
  if [[ $rc -ne 0 && $rc -ne 22 ]]; then
    die "cannot download $url (curl exit $rc)"
  fi
  printf '%s' "${code:-000}"
}

code="$(fetch "$base/$checksums" "$work/$checksums")"
if [[ "$code" == "404" ]]; then
  build_from_source "no release $tag ($base/$checksums: 404)"
  exit 0
fi
[[ "$code" == "200" ]] || die "cannot download $base/$checksums: HTTP $code"

# sha256sum format: "<hex>  <name>" (or "<hex> *<name>").
expected="$(awk -v f="$archive" '$2 == f || $2 == "*" f { print $1; exit }' "$work/$checksums")"
[[ "$expected" =~ ^[0-9a-fA-F]{64}$ ]] || die "$checksums has no sha256 for $archive"

say "downloading $base/$archive"
code="$(fetch "$base/$archive" "$work/$archive")"
[[ "$code" == "200" ]] || die "cannot download $base/$archive: HTTP $code"

actual="$(sha256_of "$work/$archive")"
if [[ "$(printf '%s' "$expected" | tr 'A-F' 'a-f')" != "$actual" ]]; then
  die "checksum mismatch for $archive: expected sha256 $expected from $checksums, got $actual; nothing installed"
fi
say "sha256 verified: $actual"

mkdir -p "$work/prepared/bin"
tar -xzf "$work/$archive" -C "$work/prepared/bin" pipeline || die "$archive holds no 'pipeline' binary"
chmod +x "$work/prepared/bin/pipeline"
commit_to_cache "$work/prepared" "$dest"
publish "$dest/bin" "$tag" "release"
