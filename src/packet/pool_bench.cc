// Micro-benchmark: a burst allocated and freed (AllocBurst + PacketFreeBurst,
// 32 packets), on 1 and 2 threads sharing one pool, with the shared stack
// alone (cache 0: the pool before per-thread caches, one mutex acquisition
// per burst each way) against per-thread caches (PoolCacheSlot per thread).
// Items are bursts. Each thread frees what it allocated, so with caches the
// shared stack is never touched after the first refill: the figure is the
// cache's own cost.
// BM_PoolHandOff is mflowd's pattern instead: one thread allocates bursts
// (the reader) and hands them through a ring to another that frees them
// (the delivering worker); with caches, the freeing thread's cache spills
// and the reader's refills, once per half cache each. Items are packets
// handed over.
#include <benchmark/benchmark.h>

#include <optional>
#include <thread>

#include "packet/pool.h"
#include "ring/spsc_ring.h"

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

void BM_PoolHandOff(benchmark::State& state) {
  const bool cache = state.range(0) != 0;
  PacketPool& pool = BenchPool(cache);
  // Thread 0 produces, thread 1 consumes, in every run (runs do not
  // overlap): one producer and one consumer, as SpscRing requires. Both run
  // the same number of iterations, one whole burst each, so neither waits
  // for a partner that has finished. A thread that must wait yields: on a
  // machine with as many busy threads as cores, spinning would only keep
  // its partner off the core.
  static SpscRing<Packet*> ring(1024);
  std::optional<PoolCacheSlot> slot;
  if (cache) slot.emplace();
  Packet* b[kBurst];
  const bool producer = state.thread_index() == 0;
  for (auto _ : state) {
    uint32_t n = 0;
    if (producer) {
      while (n < kBurst) n += pool.AllocBurst(b + n, kBurst - n);
      for (uint32_t pushed = 0; pushed < kBurst;) {
        pushed += ring.PushBurst(b + pushed, kBurst - pushed);
        if (pushed < kBurst) std::this_thread::yield();
      }
    } else {
      while (n < kBurst) {
        n += ring.PopBurst(b + n, kBurst - n);
        if (n < kBurst) std::this_thread::yield();
      }
      PacketFreeBurst(b, kBurst);
    }
  }
  if (!producer) state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kBurst);
  state.SetLabel(cache ? "cache" : "mutex");
}
BENCHMARK(BM_PoolHandOff)->Arg(0)->Arg(1)->Threads(2)->UseRealTime();

}  // namespace
}  // namespace mflow
