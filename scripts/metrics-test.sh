#!/usr/bin/env bash
# mflowd's Prometheus metrics end to end (about 30 s): two hosts in network namespaces (prefix
# mfp-) with mflowd --metrics; /metrics answers 200 in the text format and 404 elsewhere; an idle
# client blocks neither a scrape nor the data plane; `promtool check metrics` passes; a real
# Prometheus scrapes under traffic and its query API then reports the same drop and packet
# counters as mflowctl. Uses an existing build (./build unless --build-dir DIR); does not build.
#   bash scripts/metrics-test.sh [--build-dir DIR]
# Needs root. Creates only namespaces named mfp-* (198.18.0.0/15) and uses TCP ports 19090-19099
# inside them; the trap removes what is left on any exit (the Python driver stops the processes
# it started by PID and removes its namespaces itself; the trap is the backstop).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh  # the packages (prometheus, iperf3, ...), installed when missing

cleanup() {
  local ns pid
  for ns in $(ip netns list 2>/dev/null | awk '$1 ~ /^mfp-/ {print $1}'); do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill "$pid" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
}
trap cleanup EXIT

/usr/bin/python3 scripts/testbed/metrics_test.py "$@"
