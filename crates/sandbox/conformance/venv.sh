#!/usr/bin/env bash
# Prints the path of a Python that has the pinned botocore (requirements.txt), creating the venv
# target/conformance-venv on first use. Safe to run concurrently (flock), quiet unless it fails.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
venv="${SANDBOX_CONFORMANCE_VENV:-${CARGO_TARGET_DIR:-$root/target}/conformance-venv}"
requirements="$here/requirements.txt"
want="$(grep -E '^botocore==' "$requirements" | cut -d= -f3)"

if ! command -v python3 >/dev/null 2>&1; then
  echo "error: python3 is needed for the model-conformance test (botocore's service models)." >&2
  exit 1
fi
mkdir -p "$(dirname "$venv")"
exec 9>"$venv.lock"
flock 9
has() { "$venv/bin/python" -c "import botocore, sys; sys.exit(botocore.__version__ != '$want')" 2>/dev/null; }
if ! has; then
  python3 -m venv "$venv" >&2 || {
    echo "error: python3 -m venv failed; install the venv module (Debian: apt-get install python3-venv)." >&2
    exit 1
  }
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements" >&2
  has || { echo "error: botocore $want did not install into $venv" >&2; exit 1; }
fi
echo "$venv/bin/python"
