// ChecksumPartial against memcpy of the same bytes: the checksum touches
// every byte of every frame on the data path, so it should run at a
// memcpy-like speed for cache-resident data.
#include <benchmark/benchmark.h>

#include <cstring>
#include <vector>

#include "wire/checksum.h"

namespace mflow::wire {
namespace {

std::vector<uint8_t> Filled(size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i * 131 + 7);
  return v;
}

void RunSum(benchmark::State& state, uint32_t (*sum)(const void*, size_t, uint32_t)) {
  const size_t n = static_cast<size_t>(state.range(0));
  const auto buf = Filled(n);
  for (auto _ : state) {
    uint32_t s = sum(buf.data(), n, 0);
    benchmark::DoNotOptimize(s);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}

void BM_ChecksumPartial(benchmark::State& state) { RunSum(state, ChecksumPartial); }
// The portable path, for the side-by-side with the AVX2 one above.
void BM_ChecksumPartialScalar(benchmark::State& state) { RunSum(state, ChecksumPartialScalar); }

void BM_Memcpy(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  const auto src = Filled(n);
  std::vector<uint8_t> dst(n);
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), n);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}

BENCHMARK(BM_ChecksumPartial)->Arg(64)->Arg(128)->Arg(256)->Arg(512)->Arg(1448)->Arg(1500)->Arg(9000)->Arg(65536);
BENCHMARK(BM_ChecksumPartialScalar)->Arg(64)->Arg(128)->Arg(256)->Arg(512)->Arg(1448)->Arg(1500)->Arg(9000)->Arg(65536);
BENCHMARK(BM_Memcpy)->Arg(64)->Arg(256)->Arg(1500)->Arg(9000)->Arg(65536);

}  // namespace
}  // namespace mflow::wire
