// Micro-benchmark: a burst allocated and freed (AllocBurst + PacketFreeBurst,
// 32 packets), on 1 and 2 threads sharing one pool, with the shared stack
// alone (cache 0: the pool before per-thread caches, one mutex acquisition
// per burst each way) against per-thread caches (PoolCacheSlot per thread).
// Items are bursts. Each thread frees what it allocated, so with caches the
// shared stack is never touched after the first refill: the figure is the
// cache's own cost; packets freed on another thread spill and refill once
// per half cache, as pool.h explains.
#include <benchmark/benchmark.h>

#include <optional>

#include "packet/pool.h"

namespace mflow {
namespace {

constexpr uint32_t kBurst = 32;

PacketPool& BenchPool(bool cache) {
  // One pool per kind for the whole run, shared by the benchmark's threads.
  static auto make = [](uint32_t c) {
    PacketPoolConfig cfg;
    cfg.name = c == 0 ? "bench-shared" : "bench-cached";
    cfg.count = 16384;
    cfg.buf_size = 2048;
    cfg.cache_size = c;
    return std::move(PacketPool::Create(cfg)).value();
  };
  static std::unique_ptr<PacketPool> shared = make(0);
  static std::unique_ptr<PacketPool> cached = make(2 * kBurst);
  return cache ? *cached : *shared;
}

void BM_PoolAllocFree(benchmark::State& state) {
  const bool cache = state.range(0) != 0;
  PacketPool& pool = BenchPool(cache);
  std::optional<PoolCacheSlot> slot;
  if (cache) slot.emplace();
  Packet* b[kBurst];
  int64_t bursts = 0;
  for (auto _ : state) {
    const uint32_t n = pool.AllocBurst(b, kBurst);
    benchmark::DoNotOptimize(b[0]);
    PacketFreeBurst(b, n);
    ++bursts;
  }
  state.SetItemsProcessed(bursts);
  state.SetLabel(cache ? "cache" : "mutex");
}
BENCHMARK(BM_PoolAllocFree)->Arg(0)->Arg(1)->Threads(1)->Threads(2)->UseRealTime();

}  // namespace
}  // namespace mflow
