// MpmcRing: single-threaded behaviour (burst vs bulk), then two producers and
// two consumers.
//
// Index wrap-around at 2^32 is not tested (no way to start the indices
// elsewhere without a test-only hook; see spsc_ring_test.cc).
#include "ring/mpmc_ring.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <random>
#include <thread>
#include <vector>

#include "ring/ring_test_util.h"

namespace mflow {
namespace {

using testing::Rnd;

TEST(MpmcRingTest, CapacityRoundsUpToPowerOfTwo) {
  EXPECT_EQ(MpmcRing<int>(0).capacity(), 2u);
  EXPECT_EQ(MpmcRing<int>(2).capacity(), 2u);
  EXPECT_EQ(MpmcRing<int>(3).capacity(), 4u);
  EXPECT_EQ(MpmcRing<int>(4096).capacity(), 4096u);
  EXPECT_EQ(MpmcRing<int>(4097).capacity(), 8192u);
}

TEST(MpmcRingTest, EmptyThenFullThenEmpty) {
  MpmcRing<int> r(4);
  int v = -1;
  EXPECT_TRUE(r.empty());
  EXPECT_FALSE(r.TryPop(&v));
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(r.TryPush(i));
  EXPECT_FALSE(r.TryPush(99));
  EXPECT_EQ(r.size(), 4u);
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(r.TryPop(&v));
    EXPECT_EQ(v, i);
  }
  EXPECT_FALSE(r.TryPop(&v));
  EXPECT_TRUE(r.empty());
}

TEST(MpmcRingTest, BulkIsAllOrNothingBurstIsUpToN) {
  MpmcRing<int> r(8);
  int in[10];
  int out[10];
  for (int i = 0; i < 10; ++i) in[i] = i;
  EXPECT_FALSE(r.PushBulk(in, 10));  // more than capacity: nothing moves
  EXPECT_EQ(r.size(), 0u);
  EXPECT_TRUE(r.PushBulk(in, 6));
  EXPECT_FALSE(r.PushBulk(in, 3));  // 2 free: nothing moves
  EXPECT_EQ(r.size(), 6u);
  EXPECT_EQ(r.PushBurst(in + 6, 3), 2u);  // 2 free: 2 move
  EXPECT_EQ(r.size(), 8u);
  EXPECT_FALSE(r.PopBulk(out, 9));
  EXPECT_EQ(r.size(), 8u);
  EXPECT_TRUE(r.PopBulk(out, 3));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(out[i], i);
  EXPECT_EQ(r.PopBurst(out, 10), 5u);
  const int want[5] = {3, 4, 5, 6, 7};
  for (int i = 0; i < 5; ++i) EXPECT_EQ(out[i], want[i]);
  EXPECT_EQ(r.PopBurst(out, 10), 0u);
  EXPECT_EQ(r.PushBurst(in, 0), 0u);
  EXPECT_EQ(r.PopBurst(out, 0), 0u);
}

TEST(MpmcRingTest, MatchesQueueModelOverManyLaps) {
  MpmcRing<uint32_t> r(16);
  std::vector<uint32_t> model;
  std::mt19937 rng(4);
  uint32_t next = 0;
  uint32_t buf[40];
  for (int step = 0; step < 20000; ++step) {
    const uint32_t n = Rnd(rng, 40);
    const bool bulk = Rnd(rng, 2) == 0;
    if (Rnd(rng, 2) == 0) {
      for (uint32_t i = 0; i < n; ++i) buf[i] = next + i;
      const uint32_t room = 16 - static_cast<uint32_t>(model.size());
      uint32_t pushed;
      if (bulk) {
        pushed = r.PushBulk(buf, n) ? n : 0;
        ASSERT_EQ(pushed, n <= room ? n : 0u);
      } else {
        pushed = r.PushBurst(buf, n);
        ASSERT_EQ(pushed, n < room ? n : room);
      }
      for (uint32_t i = 0; i < pushed; ++i) model.push_back(next + i);
      next += pushed;
    } else {
      const uint32_t have = static_cast<uint32_t>(model.size());
      uint32_t popped;
      if (bulk) {
        popped = r.PopBulk(buf, n) ? n : 0;
        ASSERT_EQ(popped, n <= have ? n : 0u);
      } else {
        popped = r.PopBurst(buf, n);
        ASSERT_EQ(popped, n < have ? n : have);
      }
      for (uint32_t i = 0; i < popped; ++i) ASSERT_EQ(buf[i], model[i]);
      model.erase(model.begin(), model.begin() + popped);
    }
    ASSERT_EQ(r.size(), model.size());
  }
}

// Two producers and two consumers pass 10^6 items, each tagged with its
// producer and a per-producer sequence number.
//
// What the ring guarantees, and so what is checked:
//   - every item comes out exactly once;
//   - the ring is FIFO by slot position: a producer's items take increasing
//     positions (its reservations follow each other), and a consumer's pops
//     take increasing positions too, so within ONE consumer the items of one
//     producer appear in increasing sequence.
// What it does not guarantee, and is not checked: any order between the two
// consumers (consumer A may pop item 5 after consumer B popped item 6 and
// finish it later still), so "per-flow order" needs a merge after an MC ring.
TEST(MpmcRingTest, TwoProducersTwoConsumersEveryItemOnce) {
  constexpr uint32_t kPerProducer = 500'000;
  constexpr uint32_t kProducers = 2;
  constexpr uint32_t kConsumers = 2;
  // Bursts of up to 64 keep the ring operations (each one slow under TSAN)
  // few enough for the test to stay well under 2 s there.
  constexpr uint32_t kMaxBurst = 64;
  MpmcRing<uint64_t> r(1024);
  std::atomic<uint32_t> consumed{0};

  std::vector<std::thread> threads;
  for (uint32_t p = 0; p < kProducers; ++p) {
    threads.emplace_back([&r, p] {
      std::mt19937 rng(10 + p);
      uint64_t buf[kMaxBurst];
      uint32_t next = 0;
      while (next < kPerProducer) {
        uint32_t n = 1 + Rnd(rng, kMaxBurst);
        if (n > kPerProducer - next) n = kPerProducer - next;
        for (uint32_t i = 0; i < n; ++i) buf[i] = (uint64_t{p} << 32) | (next + i);
        // Alternate burst and bulk so both paths race.
        uint32_t pushed;
        if (Rnd(rng, 2) == 0) {
          pushed = r.PushBurst(buf, n);
        } else {
          pushed = r.PushBulk(buf, n) ? n : 0;
        }
        next += pushed;
        if (pushed == 0) std::this_thread::yield();
      }
    });
  }
  std::vector<std::vector<uint64_t>> seen(kConsumers);
  for (uint32_t c = 0; c < kConsumers; ++c) {
    seen[c].reserve(kPerProducer * kProducers);
    threads.emplace_back([&r, &consumed, &seen, c] {
      std::mt19937 rng(20 + c);
      uint64_t buf[kMaxBurst];
      while (consumed.load(std::memory_order_relaxed) < kPerProducer * kProducers) {
        const uint32_t want = 1 + Rnd(rng, kMaxBurst);
        const uint32_t got = Rnd(rng, 2) == 0 ? r.PopBurst(buf, want)
                                            : (r.PopBulk(buf, want) ? want : 0);
        for (uint32_t i = 0; i < got; ++i) seen[c].push_back(buf[i]);
        if (got == 0) {
          std::this_thread::yield();
        } else {
          consumed.fetch_add(got, std::memory_order_relaxed);
        }
      }
    });
  }
  for (auto& t : threads) t.join();

  std::vector<uint8_t> count(size_t{kProducers} * kPerProducer, 0);
  for (uint32_t c = 0; c < kConsumers; ++c) {
    int64_t last[kProducers] = {-1, -1};
    bool in_order = true;
    for (uint64_t item : seen[c]) {
      const uint32_t p = static_cast<uint32_t>(item >> 32);
      const uint32_t s = static_cast<uint32_t>(item);
      ASSERT_LT(p, kProducers);
      ASSERT_LT(s, kPerProducer);
      in_order &= int64_t{s} > last[p];
      last[p] = s;
      ++count[size_t{p} * kPerProducer + s];
    }
    EXPECT_TRUE(in_order) << "consumer " << c << " saw a producer's items out of order";
  }
  size_t missing = 0;
  size_t repeated = 0;
  for (uint8_t n : count) {
    missing += n == 0;
    repeated += n > 1;
  }
  EXPECT_EQ(missing, 0u);
  EXPECT_EQ(repeated, 0u);
  EXPECT_TRUE(r.empty());
}

// size() from a third thread never exceeds capacity() (ring_test_util.h).
TEST(MpmcRingTest, SizeSeenFromAnotherThreadStaysInRange) {
  MpmcRing<uint32_t> r(64);
  testing::ExpectSizeSeenFromAnotherThreadStaysInRange(r);
}

}  // namespace
}  // namespace mflow
