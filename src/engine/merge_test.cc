// Property tests of the merge (merge.h, window_merge.h): whatever order the
// workers finish in, whatever they drop, however long one stalls, every
// micro-flow is released exactly once, in order, and as soon as its
// predecessors are out (no stall).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <numeric>
#include <random>
#include <thread>
#include <vector>

#include "engine/flow_merge.h"
#include "ring/spsc_ring.h"

namespace mflow {
namespace {

class MergeTest : public ::testing::TestWithParam<MergeKind> {};

std::vector<MicroFlow> MakeMicroFlows(uint32_t n) {
  std::vector<MicroFlow> v(n);
  for (uint32_t i = 0; i < n; ++i) v[i].seq = i;
  return v;
}

// Single thread, random completion order: after each completion the merge
// has released exactly the longest completed prefix.
TEST_P(MergeTest, ReleasesExactlyTheCompletedPrefix) {
  std::mt19937 rng(7);
  for (int round = 0; round < 200; ++round) {
    const uint32_t depth = 16;
    FlowMerge merge(GetParam(), depth);
    auto mfs = MakeMicroFlows(depth);
    for (auto& m : mfs) ASSERT_TRUE(merge.Enqueue(&m));
    std::vector<uint32_t> order(depth);
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), rng);
    std::vector<bool> done(depth, false);
    std::vector<uint64_t> released;
    for (uint32_t i : order) {
      done[i] = true;
      merge.Complete(&mfs[i], [&](MicroFlow* m) { released.push_back(m->seq); });
      uint32_t prefix = 0;
      while (prefix < depth && done[prefix]) ++prefix;
      ASSERT_EQ(released.size(), prefix) << "round " << round;
      for (uint32_t k = 0; k < prefix; ++k) ASSERT_EQ(released[k], k);
    }
  }
}

// Rule 5: the merge bounds the micro-flows in flight and refuses more
// (back-pressure) rather than dropping; room comes back once the head goes.
TEST_P(MergeTest, BoundedAndPushesBack) {
  FlowMerge merge(GetParam(), 8);
  auto mfs = MakeMicroFlows(9);
  for (uint32_t i = 0; i < 8; ++i) ASSERT_TRUE(merge.Enqueue(&mfs[i]));
  EXPECT_FALSE(merge.Enqueue(&mfs[8]));
  uint32_t released = 0;
  auto count = [&](MicroFlow*) { ++released; };
  merge.Complete(&mfs[3], count);  // not the head: nothing released, still full
  EXPECT_EQ(released, 0u);
  EXPECT_FALSE(merge.Enqueue(&mfs[8]));
  merge.Complete(&mfs[0], count);
  EXPECT_EQ(released, 1u);
  EXPECT_TRUE(merge.Enqueue(&mfs[8]));
}

// Rule 3: a micro-flow whose packets were all dropped completes empty and
// passes through in its place, so it never leaves a hole.
TEST_P(MergeTest, EmptyMicroFlowsLeaveNoHole) {
  FlowMerge merge(GetParam(), 64);
  auto mfs = MakeMicroFlows(64);
  Packet dummy;
  std::mt19937 rng(3);
  for (auto& m : mfs) {
    if (rng() % 3 != 0) m.batch.Push(&dummy);  // a third of them are empty
    ASSERT_TRUE(merge.Enqueue(&m));
  }
  std::vector<uint64_t> released;
  for (int i = 63; i >= 0; --i)
    merge.Complete(&mfs[i], [&](MicroFlow* m) { released.push_back(m->seq); });
  ASSERT_EQ(released.size(), 64u);
  for (uint64_t k = 0; k < 64; ++k) EXPECT_EQ(released[k], k);
}

// Concurrency: a producer numbers and enqueues micro-flows and deals them
// round robin to workers; workers stall at random (sometimes for a long
// time) and complete; the release callback must never run on two threads at
// once and must see every micro-flow once, in order.
TEST_P(MergeTest, ConcurrentWorkersWithStallsReleaseInOrder) {
  constexpr uint32_t kWorkers = 3;
  constexpr uint32_t kTotal = 20000;
  constexpr uint32_t kDepth = 32;
  FlowMerge merge(GetParam(), kDepth);
  std::vector<MicroFlow> mfs(kTotal);
  std::vector<std::unique_ptr<SpscRing<MicroFlow*>>> rings;
  for (uint32_t w = 0; w < kWorkers; ++w) rings.push_back(std::make_unique<SpscRing<MicroFlow*>>(64));
  std::atomic<bool> producing{true};
  std::atomic<int> inside{0};
  std::atomic<uint32_t> concurrent_release{0};
  std::vector<uint64_t> released;  // written only inside the release callback
  released.reserve(kTotal);
  std::atomic<uint32_t> released_count{0};

  auto release = [&](MicroFlow* m) {
    if (inside.fetch_add(1, std::memory_order_acq_rel) != 0) concurrent_release.fetch_add(1);
    released.push_back(m->seq);
    inside.fetch_sub(1, std::memory_order_acq_rel);
    released_count.fetch_add(1, std::memory_order_release);
  };

  std::vector<std::thread> workers;
  for (uint32_t w = 0; w < kWorkers; ++w)
    workers.emplace_back([&, w] {
      std::mt19937 rng(100 + w);
      MicroFlow* m = nullptr;
      for (;;) {
        if (rings[w]->TryPop(&m)) {
          const auto r = rng() % 1000;
          if (r == 0)
            std::this_thread::sleep_for(std::chrono::milliseconds(2));  // long stall
          else if (r < 50)
            std::this_thread::yield();
          merge.Complete(m, release);
        } else if (!producing.load(std::memory_order_acquire) && rings[w]->empty()) {
          return;
        } else {
          std::this_thread::yield();
        }
      }
    });

  for (uint32_t i = 0; i < kTotal; ++i) {
    mfs[i].seq = i;
    while (!merge.Enqueue(&mfs[i])) std::this_thread::yield();  // back-pressure
    while (!rings[i % kWorkers]->TryPush(&mfs[i])) std::this_thread::yield();
  }
  producing.store(false, std::memory_order_release);
  for (auto& t : workers) t.join();

  // Nothing stranded: every completion was released by someone.
  ASSERT_EQ(released_count.load(), kTotal);
  EXPECT_EQ(concurrent_release.load(), 0u);
  for (uint32_t i = 0; i < kTotal; ++i) ASSERT_EQ(released[i], i);
}

INSTANTIATE_TEST_SUITE_P(Kinds, MergeTest,
                         ::testing::Values(MergeKind::kOrderedQueue, MergeKind::kReorderWindow),
                         [](const ::testing::TestParamInfo<MergeKind>& p) { return std::string(MergeKindName(p.param)); });

}  // namespace
}  // namespace mflow

namespace mflow {
namespace {

// The window merge checks the invariants it relies on; a breach is counted
// and handled without loss. A micro-flow completed twice (a broken rule 3)
// is not delivered twice (that would free it twice); a number beyond the
// window (a broken in-flight bound) is delivered at once rather than lost.
// The queue design has no such checks and reports 0. (Release builds: NDEBUG
// turns the debug assertions off, so the counted path is what runs.)
#ifdef NDEBUG
TEST(WindowMergeTest, BrokenInvariantsAreCountedAndLoseNothing) {
  FlowMerge merge(MergeKind::kReorderWindow, 8);
  auto mfs = MakeMicroFlows(4);
  mfs[3].seq = 100;  // numbered beyond the window, as a broken bound would
  for (auto& m : mfs) ASSERT_TRUE(merge.Enqueue(&m));
  std::vector<uint64_t> released;
  auto rec = [&](MicroFlow* m) { released.push_back(m->seq); };
  merge.Complete(&mfs[1], rec);  // waits for 0
  EXPECT_TRUE(released.empty());
  merge.Complete(&mfs[1], rec);  // again: a duplicate
  EXPECT_EQ(merge.errors(), 1u);
  EXPECT_TRUE(released.empty());
  merge.Complete(&mfs[0], rec);
  merge.Complete(&mfs[2], rec);
  EXPECT_EQ(released, (std::vector<uint64_t>{0, 1, 2}));  // each once, in order
  merge.Complete(&mfs[3], rec);  // early: out at once
  EXPECT_EQ(merge.errors(), 2u);
  EXPECT_EQ(released, (std::vector<uint64_t>{0, 1, 2, 100}));
  EXPECT_EQ(FlowMerge(MergeKind::kOrderedQueue, 8).errors(), 0u);
}
#endif

}  // namespace
}  // namespace mflow
