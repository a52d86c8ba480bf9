// ReorderWindow: in order, reversed, random permutations with skips, and the
// early/late/duplicate edges, each drawn as the window state it tests.
//
// Drawings: one cell per sequence number of the window, m = min_seq;
//   .  empty      X  holds an item      s  skipped
#include "engine/reorder_window.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

namespace mflow {
namespace {

using R = ReorderResult;

std::vector<uint64_t> DrainAll(ReorderWindow<uint64_t>& w) {
  std::vector<uint64_t> got;
  uint64_t buf[64];
  for (uint32_t n; (n = w.Drain(buf, 64)) > 0;) got.insert(got.end(), buf, buf + n);
  return got;
}

TEST(ReorderWindowTest, SizeRoundsUpToPowerOfTwo) {
  EXPECT_EQ(ReorderWindow<int>(0).size(), 2u);
  EXPECT_EQ(ReorderWindow<int>(3).size(), 4u);
  EXPECT_EQ(ReorderWindow<int>(64).size(), 64u);
  EXPECT_EQ(ReorderWindow<int>(65).size(), 128u);
}

TEST(ReorderWindowTest, InOrderPassesStraightThrough) {
  ReorderWindow<uint64_t> w(8);
  uint64_t out = 0;
  for (uint64_t s = 0; s < 1000; ++s) {
    ASSERT_EQ(w.Insert(s, s * 10), R::kOk);
    ASSERT_TRUE(w.HeadReady());
    ASSERT_EQ(w.Drain(&out, 1), 1u);
    EXPECT_EQ(out, s * 10);
    EXPECT_EQ(w.min_seq(), s + 1);
  }
  EXPECT_EQ(w.held(), 0u);
}

TEST(ReorderWindowTest, ReversedWithinWindowReleasesAllAtOnce) {
  ReorderWindow<uint64_t> w(16);
  for (uint64_t s = 15; s >= 1; --s) {
    ASSERT_EQ(w.Insert(s, s), R::kOk);
    uint64_t out;
    ASSERT_EQ(w.Drain(&out, 1), 0u) << "released before seq 0 arrived";
  }
  // m
  // . X X X X X X X X X X X X X X X
  ASSERT_EQ(w.Insert(0, 0), R::kOk);
  std::vector<uint64_t> want(16);
  std::iota(want.begin(), want.end(), 0);
  EXPECT_EQ(DrainAll(w), want);
  EXPECT_EQ(w.min_seq(), 16u);
}

TEST(ReorderWindowTest, EarlyIsRefusedUntilTheWindowMoves) {
  ReorderWindow<uint64_t> w(4);
  // m=0
  // X X . X |  6  -> beyond the window [0, 4): early, not stored
  ASSERT_EQ(w.Insert(0, 0), R::kOk);
  ASSERT_EQ(w.Insert(1, 1), R::kOk);
  ASSERT_EQ(w.Insert(3, 3), R::kOk);
  EXPECT_EQ(w.Insert(4, 4), R::kEarly);
  EXPECT_EQ(w.Insert(6, 6), R::kEarly);
  EXPECT_EQ(w.Skip(4), R::kEarly);
  // Draining 0 and 1 moves the window to [2, 6): 4 fits now, 6 still not.
  //      m=2
  // 0 1 | . X . . | 6
  EXPECT_EQ(DrainAll(w), (std::vector<uint64_t>{0, 1}));
  EXPECT_EQ(w.min_seq(), 2u);
  EXPECT_EQ(w.Insert(4, 4), R::kOk);
  EXPECT_EQ(w.Insert(6, 6), R::kEarly);
  // The hole at 2 blocks 3 and 4: an early item waits, it never pushes the
  // window over the hole.
  EXPECT_EQ(DrainAll(w), std::vector<uint64_t>{});
  EXPECT_EQ(w.Insert(2, 2), R::kOk);
  EXPECT_EQ(DrainAll(w), (std::vector<uint64_t>{2, 3, 4}));
  EXPECT_EQ(w.Insert(6, 6), R::kOk);  // window [5, 9)
}

TEST(ReorderWindowTest, LateIsRefused) {
  ReorderWindow<uint64_t> w(4);
  // Release 0..2, skip 3.
  //          m=4
  // 0 1 2 s | . . . . |
  for (uint64_t s = 0; s < 3; ++s) ASSERT_EQ(w.Insert(s, s), R::kOk);
  ASSERT_EQ(w.Skip(3), R::kOk);
  EXPECT_EQ(DrainAll(w), (std::vector<uint64_t>{0, 1, 2}));
  EXPECT_EQ(w.min_seq(), 4u);
  EXPECT_EQ(w.Insert(2, 2), R::kLate);  // released already
  EXPECT_EQ(w.Insert(3, 3), R::kLate);  // skipped: its item must not appear
  EXPECT_EQ(w.Skip(0), R::kLate);
  EXPECT_EQ(w.held(), 0u);
}

TEST(ReorderWindowTest, DuplicateIsRefusedAndKeepsTheFirst) {
  ReorderWindow<uint64_t> w(4);
  // m
  // . X s .
  ASSERT_EQ(w.Insert(1, 100), R::kOk);
  ASSERT_EQ(w.Skip(2), R::kOk);
  EXPECT_EQ(w.Insert(1, 999), R::kDuplicate);
  EXPECT_EQ(w.Insert(2, 999), R::kDuplicate);
  EXPECT_EQ(w.Skip(1), R::kDuplicate);
  ASSERT_EQ(w.Insert(0, 0), R::kOk);
  EXPECT_EQ(DrainAll(w), (std::vector<uint64_t>{0, 100}));
  EXPECT_EQ(w.min_seq(), 3u);
}

TEST(ReorderWindowTest, HoleBlocksUntilFilled) {
  ReorderWindow<uint64_t> w(8);
  // m
  // X . X X . . . .
  ASSERT_EQ(w.Insert(0, 0), R::kOk);
  ASSERT_EQ(w.Insert(2, 2), R::kOk);
  ASSERT_EQ(w.Insert(3, 3), R::kOk);
  EXPECT_EQ(DrainAll(w), std::vector<uint64_t>{0});
  EXPECT_FALSE(w.HeadReady());
  EXPECT_EQ(DrainAll(w), std::vector<uint64_t>{});
  EXPECT_EQ(w.held(), 2u);
  ASSERT_EQ(w.Insert(1, 1), R::kOk);
  EXPECT_EQ(DrainAll(w), (std::vector<uint64_t>{1, 2, 3}));
}

TEST(ReorderWindowTest, HoleBlocksUntilSkipped) {
  ReorderWindow<uint64_t> w(8);
  // m
  // . X X . . . . .   then skip 0: the skip releases nothing itself
  ASSERT_EQ(w.Insert(1, 1), R::kOk);
  ASSERT_EQ(w.Insert(2, 2), R::kOk);
  EXPECT_EQ(DrainAll(w), std::vector<uint64_t>{});
  ASSERT_EQ(w.Skip(0), R::kOk);
  EXPECT_TRUE(w.HeadReady());
  EXPECT_EQ(DrainAll(w), (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(w.min_seq(), 3u);
  // Skips alone still move the window.
  ASSERT_EQ(w.Skip(3), R::kOk);
  ASSERT_EQ(w.Skip(4), R::kOk);
  uint64_t out;
  EXPECT_EQ(w.Drain(&out, 1), 0u);
  EXPECT_EQ(w.min_seq(), 5u);
}

TEST(ReorderWindowTest, DrainStopsAtMaxAndResumes) {
  ReorderWindow<uint64_t> w(8);
  for (uint64_t s = 0; s < 6; ++s) ASSERT_EQ(w.Insert(s, s), R::kOk);
  uint64_t out[4];
  ASSERT_EQ(w.Drain(out, 4), 4u);
  EXPECT_EQ(w.min_seq(), 4u);
  ASSERT_EQ(w.Drain(out, 0), 0u);
  EXPECT_EQ(w.min_seq(), 4u);
  ASSERT_EQ(w.Drain(out, 4), 2u);
  EXPECT_EQ(out[0], 4u);
  EXPECT_EQ(out[1], 5u);
}

TEST(ReorderWindowTest, StartsAtAGivenSequenceNearTheTop) {
  // No overflow in the window test when min_seq + size would pass 2^64.
  const uint64_t top = std::numeric_limits<uint64_t>::max();
  ReorderWindow<uint64_t> w(4, top - 2);
  EXPECT_EQ(w.Insert(top - 3, 0), R::kLate);
  EXPECT_EQ(w.Insert(top, 3), R::kOk);
  EXPECT_EQ(w.Insert(top - 1, 2), R::kOk);
  EXPECT_EQ(w.Insert(top - 2, 1), R::kOk);
  EXPECT_EQ(DrainAll(w), (std::vector<uint64_t>{1, 2, 3}));
}

// Random permutations of 0..N-1 with a window that holds them all; a random
// tenth are skipped instead of inserted; drains of random size are
// interleaved. The output must be exactly the non-skipped numbers, in order.
TEST(ReorderWindowTest, RandomPermutationsWithSkips) {
  std::mt19937_64 rng(42);
  for (int round = 0; round < 50; ++round) {
    const uint32_t n = 1 + static_cast<uint32_t>(rng() % 1000);
    ReorderWindow<uint64_t> w(n);
    std::vector<uint64_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), rng);
    std::vector<bool> skipped(n);
    std::vector<uint64_t> want;
    for (uint32_t s = 0; s < n; ++s) {
      skipped[s] = rng() % 10 == 0;
      if (!skipped[s]) want.push_back(s);
    }
    std::vector<uint64_t> got;
    uint64_t buf[16];
    for (uint64_t s : order) {
      ASSERT_EQ(skipped[s] ? w.Skip(s) : w.Insert(s, s), R::kOk);
      if (rng() % 4 == 0) {
        const uint32_t k = w.Drain(buf, static_cast<uint32_t>(rng() % 17));
        got.insert(got.end(), buf, buf + k);
      }
    }
    const std::vector<uint64_t> rest = DrainAll(w);
    got.insert(got.end(), rest.begin(), rest.end());
    ASSERT_EQ(got, want) << "round " << round;
    EXPECT_EQ(w.min_seq(), n);
    EXPECT_EQ(w.held(), 0u);
  }
}

// A long stream through a small window: each number arrives up to D places
// late, skips mixed in, drains only now and then. The caller handles kEarly
// the way the merge must: drain, then retry. With D < size a drain always
// makes room (the oldest missing number is less than D places behind any
// arrival), so a retry that is still early means a bug, not a slow worker.
TEST(ReorderWindowTest, LongStreamWithBoundedDisplacement) {
  constexpr uint64_t kCount = 200'000;
  constexpr uint64_t kDisplace = 48;
  ReorderWindow<uint64_t> w(64);
  std::mt19937_64 rng(7);
  // Arrival time = seq + random delay; sorting by it gives a permutation
  // where no number is more than kDisplace places away from home.
  std::vector<std::pair<uint64_t, uint64_t>> arrival(kCount);
  for (uint64_t s = 0; s < kCount; ++s) arrival[s] = {s + rng() % kDisplace, s};
  std::sort(arrival.begin(), arrival.end());
  std::vector<bool> skipped(kCount);
  for (uint64_t s = 0; s < kCount; ++s) skipped[s] = rng() % 20 == 0;

  uint64_t expect = 0;
  uint64_t buf[32];
  uint64_t early = 0;
  auto drain = [&] {
    for (uint32_t k; (k = w.Drain(buf, 32)) > 0;) {
      for (uint32_t i = 0; i < k; ++i) {
        while (skipped[expect]) ++expect;
        ASSERT_EQ(buf[i], expect);
        ++expect;
      }
    }
  };
  for (const auto& [t, s] : arrival) {
    for (;;) {
      const R r = skipped[s] ? w.Skip(s) : w.Insert(s, s);
      if (r == R::kOk) break;
      ASSERT_EQ(r, R::kEarly);
      ++early;
      const uint64_t before = w.min_seq();
      drain();
      ASSERT_GT(w.min_seq(), before) << "early " << s << " and draining made no room";
    }
    if (rng() % 8 == 0) drain();
  }
  drain();
  while (expect < kCount && skipped[expect]) ++expect;
  EXPECT_EQ(expect, kCount);
  EXPECT_EQ(w.min_seq(), kCount);
  EXPECT_GT(early, 0u);  // the back-pressure path was exercised
}

}  // namespace
}  // namespace mflow
