#!/usr/bin/env bash
# The test command: installs what is needed, builds, and runs every test.
#   - all unit tests in the release build (ctest);
#   - ring, merge and engine tests under ThreadSanitizer;
#   - parser and stage tests under AddressSanitizer + UBSan;
#   - ESP: AES-GCM known answers, codec, replay window (ASan+UBSan), and
#     interop with scapy's ESP in both directions (ctest mflow-esp-interop);
#   - the CNI plugin: unit tests under ASan, then real podman through it (scripts/podman-test.sh);
#   - the store: etcd reply/record parsers under ASan; the client, watch and
#     subnet registry against a real etcd each test starts (ctest, and TSan);
#   - ports (TAP devices in namespaces), control socket and daemon tests;
#   - the libFuzzer targets for a few seconds each (scripts/fuzz.sh);
#   - a short mflow-bench smoke run that fails on any reordering or loss;
#   - the end-to-end test: mflowd in each mode and against the kernel's own
#     VXLAN, real ping/TCP/UDP in namespaces, data intact and in order; then
#     daemon faults under a TCP flow (peer down, no route, address change and
#     reload, bad reload, restart and crash, spoofed-MAC flood);
#   - the testbed's peers: wireguard-go and nebula topologies (ping, full MTU,
#     daemons stopped), the redis/nginx/memcached tests run for a second each;
#   - the encrypted overlay end to end: mflowd with ESP peers in each mode,
#     a rekey by reload under TCP, a replay flood (scripts/esp-test.sh);
#   - the multi-host test: 4-5 hosts with mflowd on etcd (one member, then a
#     3-member cluster), containers pinging and TCP across, a host added, one
#     SIGKILLed and back, etcd down under traffic, compaction, malformed records;
#   - the metrics test: mflowd --metrics answers /metrics (404 elsewhere, an idle
#     client blocks nothing), promtool accepts it, and a real Prometheus's query
#     API reports the same counters as mflowctl after traffic.
# No timing thresholds anywhere: tests check behaviour, benchmarks report figures.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh build build-tsan:thread build-asan:address

echo "== unit tests (release build)"
ctest --test-dir build --output-on-failure

echo "== ring / merge / engine, port set and control socket tests under ThreadSanitizer"
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1"
build-tsan/src/mflow-test-engine
build-tsan/src/port/mflow-test-port
build-tsan/src/control/mflow-test-control
echo "== store: etcd client, watch and subnet registry threads (a real etcd per test) under ThreadSanitizer"
build-tsan/src/store/mflow-test-store-etcd
echo "== store agent (mflowd's etcd thread, a real etcd) and the remote-subnet table under ThreadSanitizer"
build-tsan/src/daemon/mflow-test-store-agent
unset TSAN_OPTIONS

echo "== wire / stage tests under AddressSanitizer + UBSan"
ASAN_OPTIONS="detect_leaks=1" UBSAN_OPTIONS="print_stacktrace=1" build-asan/src/mflow-test-wire
ASAN_OPTIONS="detect_leaks=1" UBSAN_OPTIONS="print_stacktrace=1" build-asan/src/mflow-test-stage
echo "== ESP codec, AES-GCM known answers and replay window under AddressSanitizer + UBSan"
ASAN_OPTIONS="detect_leaks=1" UBSAN_OPTIONS="print_stacktrace=1" build-asan/src/esp/mflow-test-esp
ASAN_OPTIONS="detect_leaks=1" UBSAN_OPTIONS="print_stacktrace=1" build-asan/src/esp/mflow-test-esp-alloc
echo "== config parser, port API (control socket, namespaces), netlink and virtio-net header tests under AddressSanitizer + UBSan"
ASAN_OPTIONS="detect_leaks=1" UBSAN_OPTIONS="print_stacktrace=1" build-asan/src/daemon/mflow-test-daemon
ASAN_OPTIONS="detect_leaks=1" UBSAN_OPTIONS="print_stacktrace=1" build-asan/src/port/mflow-test-port
echo "== CNI plugin (parses runtime input) under AddressSanitizer + UBSan, then with real podman"
ASAN_OPTIONS="detect_leaks=1" UBSAN_OPTIONS="print_stacktrace=1" build-asan/src/cni/mflow-test-cni
scripts/podman-test.sh --build-dir build
echo "== store: etcd reply and record parsers under AddressSanitizer + UBSan (the etcd tests ran in ctest)"
ASAN_OPTIONS="detect_leaks=1" UBSAN_OPTIONS="print_stacktrace=1" build-asan/src/store/mflow-test-store

echo "== fuzz targets, ~3 s each (longer: scripts/fuzz.sh --long 600)"
scripts/fuzz.sh

echo "== benchmark smoke run (order and loss checked, figures not judged)"
build/src/mflow-bench --duration 100 --warmup 20 --repeats 1 --flows 8 --mouse-every 4 \
  --direction rx,tx --microflow-size 16 >/dev/null
build/src/mflow-bench --duration 100 --warmup 20 --repeats 1 --direction tx --gso-segs 44 \
  --merge queue,window >/dev/null
build/src/mflow-bench --duration 100 --warmup 20 --repeats 1 --direction rx,tx --esp aes-256-gcm \
  --modes flow,stage,microflow --workers 2 >/dev/null
build/src/mflow-bench --aead-only --esp aes-256-gcm --frame-size 64,1408 --repeats 1 --duration 50 >/dev/null
echo "== end-to-end: mflowd in each mode and against Linux VXLAN (namespaces)"
scripts/e2e-test.sh --build-dir build
echo "== testbed peers: wireguard-go and nebula topologies up, ping and full-MTU ping through each; redis, nginx, memcached tests for 1 s each"
/usr/bin/python3 scripts/testbed/peers_test.py
echo "== encrypted overlay end to end: mflowd with ESP peers (namespaces)"
scripts/esp-test.sh --build-dir build
echo "== many hosts on etcd: peers, subnets, outages, compaction, hostile records (namespaces)"
scripts/multihost-test.sh --build-dir build
echo "== Prometheus metrics: mflowd --metrics, promtool, a real Prometheus scraping (namespaces)"
scripts/metrics-test.sh --build-dir build
echo "all tests passed"
