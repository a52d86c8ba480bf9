#!/usr/bin/env bash
# A bounded soak run of mflowd under AddressSanitizer + LeakSanitizer, about M minutes plus a
# minute of set-up: mflowd (build-asan, brought up to date or built) on both testbed hosts, one
# TCP flow A->B (iperf3), paced UDP B->A and ping for --minutes M (default 3), while a second
# container port is added, pinged across and deleted every few seconds (once its TAP is deleted
# under mflowd instead); mflowd's RSS at start/end/max, its out_of_order count, then SIGTERM and
# the LeakSanitizer report. Exit status 1 on a leak or other sanitizer report, a daemon that
# died, out_of_order > 0 or a failed port cycle.
#   bash scripts/soak.sh [--minutes 3] [--topology mflow-microflow] [--build-dir build-asan]
#   bash scripts/soak.sh --cleanup        # remove leftovers of an interrupted run
#   bash scripts/soak.sh --help
# Needs root. Creates only network namespaces named mfk-* (198.18.0.0/15), removed on every
# exit, so it can run beside the e2e test and the benchmark (mfb-*). Logs: out/soak.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh  # the packages (ping, iperf3, ethtool...), installed when missing
exec /usr/bin/python3 scripts/testbed/soak.py "$@"
