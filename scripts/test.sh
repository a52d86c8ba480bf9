#!/usr/bin/env bash
# The test command: installs what is needed, builds, and runs every test.
#   - all unit tests in the release build (ctest);
#   - ring, merge and engine tests under ThreadSanitizer;
#   - parser and stage tests under AddressSanitizer + UBSan;
#   - the libFuzzer targets for a few seconds each (scripts/fuzz.sh);
#   - a short mflow-bench smoke run that fails on any reordering or loss.
# No timing thresholds anywhere: tests check behaviour, benchmarks report figures.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh build build-tsan:thread build-asan:address

echo "== unit tests (release build)"
ctest --test-dir build --output-on-failure

echo "== ring / merge / engine tests under ThreadSanitizer"
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" build-tsan/src/mflow-test-engine

echo "== wire / stage tests under AddressSanitizer + UBSan"
ASAN_OPTIONS="detect_leaks=1" UBSAN_OPTIONS="print_stacktrace=1" build-asan/src/mflow-test-wire
ASAN_OPTIONS="detect_leaks=1" UBSAN_OPTIONS="print_stacktrace=1" build-asan/src/mflow-test-stage

echo "== fuzz targets, ~3 s each (longer: scripts/fuzz.sh --long 600)"
scripts/fuzz.sh

echo "== benchmark smoke run (order and loss checked, figures not judged)"
build/src/mflow-bench --duration 100 --warmup 20 --repeats 1 --flows 8 --mouse-every 4 \
  --direction rx,tx --microflow-size 16 >/dev/null
build/src/mflow-bench --duration 100 --warmup 20 --repeats 1 --direction tx --gso-segs 44 \
  --merge queue,window >/dev/null
echo "all tests passed"
