#!/usr/bin/env bash
# End-to-end checks of the encrypted overlay (docs/ESP.md), about half a minute: two mflowd with
# ESP peers (keys from --encrypt key files) in flow, stage and microflow mode: ARP + ping and
# 20 MB over TCP both ways, the ESP stages used and no ESP drop; on microflow also a rekey by
# reload under a TCP flow (no data lost, no unknown SPI) and a replay flood of captured
# datagrams under traffic (none delivered, all counted); out_of_order 0, clean exit; then scapy's
# ESP as host a against mflowd on host b, AES-GCM-128/-256, ESN on/off, both directions; and a
# plain peer beside the encrypted one (its plain VXLAN delivered, the encrypted peer's refused).
# Uses an existing build (./build unless --build-dir DIR). Needs root. Creates only network
# namespaces named mfe-* (198.18.0.0/15), removed on every exit.
#   bash scripts/esp-test.sh [--build-dir DIR] [--topologies mflow-esp-microflow]
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh  # the packages (ping, ethtool...), installed when missing
exec /usr/bin/python3 scripts/testbed/esp_e2e.py "$@"
