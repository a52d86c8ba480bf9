#!/usr/bin/env bash
# End-to-end correctness of mflowd on the namespace testbed, about a minute: for mflowd in flow,
# stage and microflow mode and for `mixed` (kernel VXLAN on host A, mflowd on host B), both
# directions: ARP + ping, 20 MB over TCP (sha256), 2000 numbered UDP datagrams (intact, in order,
# none lost), several TCP flows at once, a UDP burst (order and integrity); over an IPv6 underlay
# too; dual-stack containers in mflow-microflow and mixed (both underlays): neighbour discovery,
# ping -6 and TCP over the inner IPv6 addresses (a few seconds per case); then mflowd's
# out_of_order is 0, both daemons exit 0 on SIGTERM and remove their TAP. Offloads off as well for
# microflow and mixed. Then daemon faults under a TCP flow: the peer's link down, no route, the
# underlay address changed and reloaded, a bad reload refused, mflowd restarted and killed (about
# 40 s; --no-faults skips them). Uses an existing build (./build unless --build-dir DIR); does not build.
#   bash scripts/e2e-test.sh [--build-dir DIR] [--topologies mflow-microflow,mixed] [--help]
# Needs root. Creates only network namespaces named mfb-* (198.18.0.0/15), removed on every exit.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh  # the packages (ping, iperf3, ethtool...), installed when missing
exec /usr/bin/python3 scripts/testbed/e2e.py "$@"
