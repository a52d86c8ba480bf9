#!/usr/bin/env bash
# Prints the line every benchmark table carries: date, commit, machine (CPU
# model, cores, single-core memcpy), so that a figure can be traced to the
# code and the machine kind that produced it (the same code gives different
# ratios on machines whose memcpy differs threefold).
#   scripts/provenance.sh [BUILD_DIR]     # default: build
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
commit=$(scripts/commit-id.sh)
# A build directory of other code (a benchmark run against an older build):
# the binaries' commit is the one that counts, so the line names both.
if [[ -r $build/COMMIT ]] && [[ "$(cat "$build/COMMIT")" != "$commit" ]]; then
  commit="$commit (binaries in $build built from $(cat "$build/COMMIT"))"
fi
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
memcpy="memcpy not measured (no $build/src/mflow-bench)"
if [[ -x $build/src/mflow-bench ]]; then
  memcpy="memcpy $("$build/src/mflow-bench" --memcpy-only) Gbit/s per core"
fi
echo "$(date -u +%Y-%m-%d), commit $commit, ${cpu:-unknown CPU}, $(nproc) CPUs, kernel $(uname -r), $memcpy"
