#!/usr/bin/env bash
# Prints the short commit of this checkout, with "+local changes" when src or
# scripts differ from it: the code a figure or a build comes from.
#   scripts/commit-id.sh            # to stdout
#   scripts/commit-id.sh FILE       # into FILE, rewritten only if it changed
#   scripts/commit-id.sh FILE CC    # and CC, a C++ source defining
#                                   # mflow::BuildCommit(), likewise
# The build writes BUILD_DIR/COMMIT and the source (src/common/build_info.h)
# with it at every build (CMakeLists.txt); a file left as it was is not
# recompiled, so only a new commit relinks the binaries that print it
# (mflowd/mflowctl --version, mflowctl status). scripts/provenance.sh says
# when a build directory's binaries come from other code than the checkout's.
set -euo pipefail
cd "$(dirname "$0")/.."
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ $commit != unknown ]] && ! git diff --quiet HEAD -- src scripts 2>/dev/null; then
  commit="$commit+local changes"
fi
# Writes $2 into file $1 unless it holds that already (keeps its mtime).
write_if_changed() {
  if [[ "$(cat "$1" 2>/dev/null || true)" != "$2" ]]; then
    mkdir -p "$(dirname "$1")"
    printf '%s\n' "$2" > "$1"
  fi
}
if [[ $# -eq 0 ]]; then
  echo "$commit"
  exit 0
fi
write_if_changed "$1" "$commit"
if [[ $# -ge 2 ]]; then
  # The id has no quote or backslash (a short hash, "+local changes").
  write_if_changed "$2" "// Written by scripts/commit-id.sh at build time.
#include \"common/build_info.h\"
const char* mflow::BuildCommit() { return \"$commit\"; }"
fi
