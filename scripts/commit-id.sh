#!/usr/bin/env bash
# Prints the short commit of this checkout, with "+local changes" when src or
# scripts differ from it: the code a figure or a build comes from.
#   scripts/commit-id.sh            # to stdout
#   scripts/commit-id.sh FILE       # into FILE, rewritten only if it changed
# The build writes BUILD_DIR/COMMIT with it at every build (CMakeLists.txt),
# and scripts/provenance.sh says when a build directory's binaries come from
# other code than the checkout's.
set -euo pipefail
cd "$(dirname "$0")/.."
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ $commit != unknown ]] && ! git diff --quiet HEAD -- src scripts 2>/dev/null; then
  commit="$commit+local changes"
fi
if [[ $# -eq 0 ]]; then
  echo "$commit"
elif [[ "$(cat "$1" 2>/dev/null || true)" != "$commit" ]]; then
  echo "$commit" > "$1"
fi
