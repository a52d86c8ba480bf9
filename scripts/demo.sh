#!/usr/bin/env bash
# The main job: installs what is needed, builds, and runs the engine
# benchmark comparing the three steering modes on one elephant TCP flow
# (receive direction, 1500-byte packets, full stage chain), printing its table.
# Extra arguments go to mflow-bench (see: build/src/mflow-bench --help).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build
mkdir -p out
exec build/src/mflow-bench --repeats 5 --json out/bench.json "$@"
