// Micro-benchmark: the cost of the merge per micro-flow (and so per packet:
// divide by the micro-flow size), ordered queue against reorder window, on
// one thread with completions arriving out of order in pairs, the pattern two
// workers produce.
#include <benchmark/benchmark.h>

#include <vector>

#include "engine/flow_merge.h"

namespace mflow {
namespace {

void BM_Merge(benchmark::State& state) {
  const auto kind = static_cast<MergeKind>(state.range(0));
  constexpr uint32_t kDepth = 64;
  FlowMerge merge(kind, kDepth);
  std::vector<MicroFlow> mfs(kDepth);
  uint64_t seq = 0;
  uint64_t released = 0;
  auto count = [&](MicroFlow*) { ++released; };
  for (auto _ : state) {
    // Enqueue two, complete them swapped (the second finishes first).
    MicroFlow& a = mfs[seq % kDepth];
    MicroFlow& b = mfs[(seq + 1) % kDepth];
    a.seq = seq;
    b.seq = seq + 1;
    a.state.store(kMfInFlight, std::memory_order_relaxed);
    b.state.store(kMfInFlight, std::memory_order_relaxed);
    merge.Enqueue(&a);
    merge.Enqueue(&b);
    merge.Complete(&b, count);
    merge.Complete(&a, count);
    seq += 2;
  }
  benchmark::DoNotOptimize(released);
  state.SetItemsProcessed(static_cast<int64_t>(seq));  // micro-flows
  state.SetLabel(std::string(MergeKindName(kind)));
}
BENCHMARK(BM_Merge)->Arg(static_cast<int>(MergeKind::kOrderedQueue))->Arg(static_cast<int>(MergeKind::kReorderWindow));

}  // namespace
}  // namespace mflow
