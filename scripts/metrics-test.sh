#!/usr/bin/env bash
# mflowd's Prometheus metrics end to end (about 30 s): two hosts in network namespaces with
# mflowd --metrics; /metrics answers 200 in the text format and 404 elsewhere; an idle
# client blocks neither a scrape nor the data plane; `promtool check metrics` passes; a real
# Prometheus scrapes under traffic and its query API then reports the same drop and packet
# counters as mflowctl. Uses an existing build (./build unless --build-dir DIR); does not build.
#   bash scripts/metrics-test.sh [--build-dir DIR]
#   MFLOW_METRICS_PREFIX=mfq- bash scripts/metrics-test.sh     # beside a run with the default
# Needs root. Creates only namespaces named PREFIX* (198.18.0.0/15), PREFIX is mfp- unless
# MFLOW_METRICS_PREFIX says otherwise (letters, digits and dashes, ending in a dash: two runs at once
# need two prefixes, neither the start of the other), and uses TCP ports 19090-19099 inside them.
# The trap removes what is left on any exit, only the namespaces this run made (the Python
# driver stops the processes it started by PID and removes its namespaces itself; the trap is
# the backstop).
set -euo pipefail
cd "$(dirname "$0")/.."

prefix=${MFLOW_METRICS_PREFIX:-mfp-}
if [[ ! $prefix =~ ^[a-z0-9][a-z0-9-]{0,10}-$ ]]; then
  echo "metrics test: MFLOW_METRICS_PREFIX '$prefix': letters, digits and dashes, ending in a dash" >&2
  exit 2
fi
export MFLOW_METRICS_PREFIX=$prefix

# One run per prefix: a second one stops here, before its trap could remove the first's namespaces.
exec {lock_fd}>"/run/lock/${prefix}metrics-test.lock"
if ! flock -n "$lock_fd"; then
  echo "metrics test: another run with prefix $prefix holds /run/lock/${prefix}metrics-test.lock" >&2
  exit 2
fi

scripts/setup.sh  # the packages (prometheus, iperf3, ...), installed when missing

# The testbed's names (topo.py): PREFIX + host, PREFIX + host-cN; nothing of a longer prefix.
our_netns() {
  ip netns list 2>/dev/null | awk -v p="$prefix" \
    'index($1, p) == 1 && substr($1, length(p) + 1) ~ /^[ab](-c[0-9]+)?$/ {print $1}'
}
before=$(our_netns)
cleanup() {
  local ns pid
  for ns in $(our_netns); do
    grep -qxF "$ns" <<<"$before" && continue  # there before this run: not ours
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill "$pid" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
}
trap cleanup EXIT

/usr/bin/python3 scripts/testbed/metrics_test.py "$@"
