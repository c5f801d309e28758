#!/usr/bin/env bash
# The release binary the action downloads: its size on disk (the release profile strips symbols) and, for
# comparison, what `strip` would still remove. Target: well under the 40 MB (27 MB stripped) of the profile
# without LTO (issue 16).
source "$(dirname "$0")/common.sh"
bytes=$(stat -c %s "$PIPELINE")
# shellcheck disable=SC2154 # profile is set by common.sh
printf 'pipeline (%s profile): %d bytes (%.1f MiB)\n' "$profile" "$bytes" "$(echo "$bytes / 1048576" | bc -l)"
stripped="$BENCH_TMP/pipeline.stripped"
strip -o "$stripped" "$PIPELINE"
printf '  after strip: %d bytes\n' "$(stat -c %s "$stripped")"
