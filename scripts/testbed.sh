#!/usr/bin/env bash
# The namespace testbed: native vs the kernel's VXLAN overlay vs mflowd (flow, stage, microflow)
# vs mixed (kernel VXLAN on one host, mflowd on the other) vs the userspace encrypted tunnels
# wireguard-go and nebula, with real TCP and UDP traffic (iperf3, sockperf), offloads on and off,
# and optionally applications (redis, nginx, memcached). Installs packages and builds first
# (scripts/setup.sh).
#   bash scripts/testbed.sh                                   # the plain overlays: 10 s x 3 repeats
#   bash scripts/testbed.sh --topologies native,kernel,mflow-microflow --tests tcp --duration 5
#   bash scripts/testbed.sh --topologies kernel,encrypted --tests tcp,latency,udp1400
#                               # encrypted = mflow-esp-flow,-stage,-microflow, wireguard-go, nebula
#   bash scripts/testbed.sh --topologies kernel,mflow-microflow --tests redis,http,memcached
#   bash scripts/testbed.sh --json out/testbed.json --chart out/testbed.svg
#   bash scripts/testbed.sh --cleanup                         # remove leftovers (mfb-*)
#   bash scripts/testbed.sh --prefix mfx- ...                 # a second run beside one with mfb-
#   bash scripts/testbed.sh --help                            # every option
# Needs root. Creates only network namespaces named mfb-* with addresses in 198.18.0.0/15 and
# removes them on exit (also on Ctrl-C / SIGTERM).
set -euo pipefail
cd "$(dirname "$0")/.."

build=build
skip_build=0
prev=""
for a in "$@"; do
  case $a in
    --build-dir=*) build=${a#*=} ;;
    --cleanup|--help|-h) skip_build=1 ;;
  esac
  [[ $prev == --build-dir ]] && build=$a
  prev=$a
done

if ((!skip_build)); then
  scripts/setup.sh "$build"
fi
exec /usr/bin/python3 scripts/testbed/testbed.py "$@"
