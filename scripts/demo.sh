#!/usr/bin/env bash
# The main job: installs what is needed, builds everything, and runs two short
# testbed comparisons in network namespaces on this machine (about 5 minutes):
#   1. plain overlays: one TCP flow and the round trip (sockperf; the two
#      applications on one core, then on two) between two
#      containers on two hosts over the kernel's VXLAN and mflowd in flow and
#      microflow mode, offloads on and off, with each daemon's CPU per GB;
#   2. encrypted overlays: one TCP flow through mflowd with ESP (AES-GCM) in
#      flow and microflow mode, against the userspace tunnels people run where
#      the kernel has no WireGuard or ESP: wireguard-go and nebula.
# Prints the tables and writes out/demo.{json,svg} and out/demo-encrypted.{json,svg}.
# Extra arguments replace both runs with one testbed run of your own
# (see: scripts/testbed.sh --help), e.g.
#   scripts/demo.sh --topologies native,kernel,mflow-flow,mflow-microflow --duration 20
# The engine benchmark alone (no kernel, no namespaces): build/src/mflow-bench.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p out
if (($#)); then
  exec scripts/testbed.sh --json out/demo.json --chart out/demo.svg "$@"
fi
echo "== 1/2: plain overlays, one TCP flow and the round trip, offloads on and off"
scripts/testbed.sh --topologies kernel,mflow-flow,mflow-microflow --tests tcp,latency,latency-apart \
  --offloads on,off --duration 4 --repeats 2 --json out/demo.json --chart out/demo.svg
echo
echo "== 2/2: encrypted overlays, one TCP flow: mflowd with ESP against wireguard-go and nebula"
scripts/testbed.sh --topologies mflow-esp-flow,mflow-esp-microflow,wireguard-go,nebula \
  --tests tcp --offloads on --duration 5 --repeats 2 \
  --json out/demo-encrypted.json --chart out/demo-encrypted.svg
