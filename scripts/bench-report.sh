#!/usr/bin/env bash
# Reruns every engine measurement quoted in BENCHMARKS.md, writing one JSON
# file per experiment to out/ (and the printed tables to out/*.txt).
#   scripts/bench-report.sh            # all experiments, 5 repeats each
#   REPEATS=3 scripts/bench-report.sh  # fewer repeats
# Takes about 10 minutes at the defaults. Run on a quiet machine: the figures
# are ratios measured side by side, but a neighbour that takes a core away
# for part of a run still widens the min..max spread.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build
mkdir -p out
R=${REPEATS:-5}
B=build/src/mflow-bench
# Date, commit, machine (CPU, cores, memcpy): printed first and kept beside
# the results, so every table taken from them can say where it came from.
scripts/provenance.sh build | tee out/provenance.txt

run() {  # name, args...
  local name=$1; shift
  echo "== $name: build/src/mflow-bench --repeats $R $*"
  "$B" --repeats "$R" --json "out/$name.json" "$@" 2>/dev/null | tee "out/$name.txt"
}

# 1. The headline: one elephant TCP flow, rx, 1500 B, full chain.
run headline
# 2. Stage mode at each cut of the 5-stage rx chain (FALCON's best placement).
for cut in 1 2 3 4; do run "stage-cut-$cut" --modes stage --workers 2 --stage-cuts "$cut"; done
# 3. Micro-flow size sweep.
run mf-sweep --modes microflow --workers 2 --microflow-size 8,16,32,64,128,256
# 4. The merge: ordered queue against the reorder window, same workload.
run merge --modes microflow --workers 2 --merge queue,window --microflow-size 16,64
# 5. Frame sizes, UDP, and the send direction with TSO super-frames.
run sizes --frame-size 64,512,1500
run udp --proto udp --frame-size 64,1500
run tx-tso --direction tx --gso-segs 44 --microflow-size 4
# 6. An elephant among mice.
run mice --flows 1001 --mouse-every 10
# 7. The merge's own cost (Google Benchmark).
echo "== merge micro-benchmark"
build/src/mflow-microbench --benchmark_filter=BM_Merge --benchmark_repetitions="$R" \
  --benchmark_report_aggregates_only=true | tee out/merge-micro.txt
echo "== checksum micro-benchmark"
build/src/mflow-microbench --benchmark_filter='BM_Checksum|BM_Memcpy' | tee out/checksum-micro.txt
