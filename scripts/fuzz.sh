#!/usr/bin/env bash
# Builds the libFuzzer targets (clang++, ASan + UBSan, build dir build-fuzz)
# and runs each for a bounded time from the committed seeds in fuzz/corpus/.
#   scripts/fuzz.sh                  # 3 s per target (about a minute in all; part of scripts/test.sh)
#   scripts/fuzz.sh --long 600       # 600 s per target
#   scripts/fuzz.sh --only rx_batch --long 60
# Prints executions and coverage per target (libFuzzer's final stats) and
# exits non-zero on any crash, leak or failed check. Nothing is written into
# the source tree: new corpus entries go to a scratch directory and crash
# inputs to build-fuzz/fuzz-work/run-*/<target>/crashes/; a crash reproduces with
#   build-fuzz/fuzz/fuzz_<target> <crash file>
set -euo pipefail
cd "$(dirname "$0")/.."

secs=3
only=""
while (($#)); do
  case $1 in
    --long) secs=${2:?--long needs seconds}; shift 2 ;;
    --only) only=${2:?--only needs a target}; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "fuzz.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

# target:max_len. Frames are at most 9000 bytes (jumbo) from the underlay; a
# container's super-frame up to 64 KiB; batches hold several frames; a CNI
# network configuration or IPAM result is a small JSON document; an ESP
# datagram is at most a jumbo frame.
TARGETS=(parse_frame:9000 classify_vxlan:9000 classify_inner:9000 ip_addr:64
         rx_chain:9000 rx_batch:40000 tx_chain:65600 tx_batch:65600 cni_input:8192
         esp_decap:9100 etcd_reply:8192 store_record:4096)

if [[ -n $only ]] && ! printf '%s\n' "${TARGETS[@]%%:*}" | grep -qx "$only"; then
  echo "fuzz.sh: no target '$only' (targets: ${TARGETS[*]%%:*})" >&2
  exit 2
fi

scripts/setup.sh  # packages only (clang, libclang-rt-14-dev for libFuzzer)
echo "fuzz: building (build-fuzz)"
mkdir -p build-fuzz/fuzz-work
# Another fuzz.sh (say, from a concurrent scripts/test.sh) may be building.
flock build-fuzz/.build-lock sh -c '
  cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DMFLOW_FUZZ=ON >/dev/null &&
  ninja -C build-fuzz -j"$(nproc)" mflow-fuzz >/dev/null'

# A directory per run, so that concurrent runs do not share scratch corpora.
# Its logs and crash inputs are kept for an hour, the scratch corpora are
# deleted after each target.
work=$(mktemp -d build-fuzz/fuzz-work/run-XXXXXX)
find build-fuzz/fuzz-work -mindepth 1 -maxdepth 1 -name 'run-*' ! -path "$work" -mmin +60 \
  -exec rm -rf {} +
failed=()
summary=()
for spec in "${TARGETS[@]}"; do
  t=${spec%%:*}
  max_len=${spec#*:}
  [[ -n $only && $t != "$only" ]] && continue
  dir=$work/$t
  mkdir -p "$dir/corpus" "$dir/crashes"
  # The first corpus directory receives new entries: the scratch copy, not
  # the committed seeds (read only, second).
  set +e
  ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=0" \
  UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
    "build-fuzz/fuzz/fuzz_$t" -max_total_time="$secs" -max_len="$max_len" -timeout=20 \
      -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$dir/crashes/" \
      "$dir/corpus" "fuzz/corpus/$t" >"$dir/log" 2>&1
  rc=$?
  set -e
  rm -rf "$dir/corpus"
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/log" | tail -1)
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$dir/log" | tail -1)
  corp=$(grep -oE 'corp: [0-9]+/[0-9]+[bKM]?b?' "$dir/log" | tail -1)
  line=$(printf '%-15s %10s execs %8s/s  %-22s %s' "$t" "${execs:-?}" "${rate:-?}" "${cov:-cov: ?}" "${corp:-}")
  if ((rc != 0)); then
    line+="  CRASH (rc $rc): $dir/log, inputs in $dir/crashes/"
    failed+=("$t")
    grep -E 'FUZZ_CHECK|ERROR: |SUMMARY: |runtime error' "$dir/log" | head -5 >&2 || true
  fi
  summary+=("$line")
  echo "fuzz: $line"
done

echo "== fuzz summary (${secs} s per target)"
printf '%s\n' "${summary[@]}"
if ((${#failed[@]})); then
  echo "fuzz: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: no crash"
