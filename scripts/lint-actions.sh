#!/usr/bin/env bash
# Lints the GitHub Action, the project's workflows, the workflow examples and the shell scripts:
#   - check-jsonschema with its built-in GitHub schemas (vendor.github-workflows, vendor.github-actions);
#   - zizmor, offline (no network: the audits that need GitHub's API are skipped);
#   - shellcheck on scripts/*.sh, examples/hello/build.sh and bench/*.sh.
# Installs what is missing (zizmor and check-jsonschema from PyPI into target/lint-tools, a venv;
# and shellcheck from Debian). Idempotent; prints nothing but findings, and exits non-zero on any.
# (actionlint runs in .github/workflows/ci.yml on GitHub's runners: its PyPI wrapper downloads its
# binary from GitHub at install time, which this machine cannot reach.)
set -euo pipefail
cd "$(dirname "$0")/.."

ZIZMOR_VERSION=1.32.0
CHECK_JSONSCHEMA_VERSION=0.39.0
venv="${PIPELINE_LINT_VENV:-$PWD/target/lint-tools}"

# --- tools ----------------------------------------------------------------------------------------
has_version() { # command, version
  command -v "$1" >/dev/null 2>&1 && "$1" --version 2>/dev/null | grep -qF "$2"
}
if has_version zizmor "$ZIZMOR_VERSION" && has_version check-jsonschema "$CHECK_JSONSCHEMA_VERSION"; then
  zizmor=zizmor
  check_jsonschema=check-jsonschema
else
  zizmor="$venv/bin/zizmor"
  check_jsonschema="$venv/bin/check-jsonschema"
  if ! has_version "$zizmor" "$ZIZMOR_VERSION" || ! has_version "$check_jsonschema" "$CHECK_JSONSCHEMA_VERSION"; then
    python3 -m venv "$venv" >/dev/null
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
      "zizmor==$ZIZMOR_VERSION" "check-jsonschema==$CHECK_JSONSCHEMA_VERSION" >/dev/null
  fi
fi
if ! command -v shellcheck >/dev/null 2>&1; then
  sudo=()
  if [[ $(id -u) -ne 0 ]]; then sudo=(sudo); fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get install -y -qq shellcheck >/dev/null 2>&1 ||
    { "${sudo[@]}" apt-get update -qq >/dev/null && "${sudo[@]}" apt-get install -y -qq shellcheck >/dev/null; }
fi

# --- checks ---------------------------------------------------------------------------------------
failed=0
run() { # a label, then the command; its output is shown only when it fails
  local label="$1" out
  shift
  if ! out="$("$@" 2>&1)"; then
    printf '== %s: FAILED\n%s\n' "$label" "$out" >&2
    failed=1
  fi
}

shopt -s nullglob
workflows=(.github/workflows/*.yml workflows-examples/*.yml)
shell_scripts=(scripts/*.sh examples/hello/build.sh bench/*.sh)
shopt -u nullglob

run "check-jsonschema (workflows)" "$check_jsonschema" --builtin-schema vendor.github-workflows "${workflows[@]}"
run "check-jsonschema (action.yml)" "$check_jsonschema" --builtin-schema vendor.github-actions action.yml
zizmor_flags=(--offline --no-progress --color never --persona regular)
run "zizmor (action.yml, .github/workflows)" "$zizmor" "${zizmor_flags[@]}" action.yml .github/workflows/*.yml
# The examples allow `your-org/pipeline@v1` (the tag users write); everything else is hash-pinned.
run "zizmor (workflows-examples)" "$zizmor" "${zizmor_flags[@]}" --config workflows-examples/.zizmor.yml \
  workflows-examples/*.yml
# SC1091: `source "$(dirname "$0")/x.sh"` cannot be followed statically; the sourced files are
# checked on their own.
run "shellcheck" shellcheck --shell=bash --exclude SC1091 "${shell_scripts[@]}"

exit "$failed"
