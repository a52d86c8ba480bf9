#!/usr/bin/env bash
# The main job: installs what is needed, builds everything, and runs a short
# testbed comparison in network namespaces on this machine: one TCP flow
# between two containers on two hosts over native networking, the kernel's
# VXLAN overlay, and mflowd in microflow mode, offloads on, 3 repeats; prints
# the table and writes out/demo.json and out/demo.svg.
# Extra arguments go to the testbed (see: scripts/testbed.sh --help), e.g.
#   scripts/demo.sh --topologies native,kernel,mflow-flow,mflow-microflow --duration 20
# The engine benchmark alone (no kernel, no namespaces): build/src/mflow-bench.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p out
exec scripts/testbed.sh --topologies native,kernel,mflow-microflow --tests tcp --offloads on \
  --duration 8 --repeats 3 --json out/demo.json --chart out/demo.svg "$@"
