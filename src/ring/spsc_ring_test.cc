// SpscRing: single-threaded behaviour, then one producer and one consumer.
//
// Index wrap-around at 2^32 is not tested: the indices start at 0 and the
// header has no way to start them elsewhere, and pushing 2^32 items takes
// too long for a unit test. The index arithmetic is unsigned differences
// only (tail - head), which is correct across the wrap by construction.
#include "ring/spsc_ring.h"

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

TEST(SpscRingTest, CapacityRoundsUpToPowerOfTwo) {
  EXPECT_EQ(SpscRing<int>(0).capacity(), 2u);
  EXPECT_EQ(SpscRing<int>(1).capacity(), 2u);
  EXPECT_EQ(SpscRing<int>(2).capacity(), 2u);
  EXPECT_EQ(SpscRing<int>(3).capacity(), 4u);
  EXPECT_EQ(SpscRing<int>(5).capacity(), 8u);
  EXPECT_EQ(SpscRing<int>(1024).capacity(), 1024u);
  EXPECT_EQ(SpscRing<int>(1025).capacity(), 2048u);
}

TEST(SpscRingTest, EmptyThenFullThenEmpty) {
  SpscRing<int> r(4);
  int v = -1;
  EXPECT_TRUE(r.empty());
  EXPECT_FALSE(r.TryPop(&v));
  EXPECT_EQ(r.Peek(), nullptr);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(r.TryPush(i));
  EXPECT_FALSE(r.TryPush(99));  // full: the item is not stored
  EXPECT_EQ(r.size(), 4u);
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(r.TryPop(&v));
    EXPECT_EQ(v, i);
  }
  EXPECT_FALSE(r.TryPop(&v));
  EXPECT_TRUE(r.empty());
}

TEST(SpscRingTest, PeekDoesNotRemove) {
  SpscRing<int> r(4);
  ASSERT_TRUE(r.TryPush(7));
  ASSERT_TRUE(r.TryPush(8));
  ASSERT_NE(r.Peek(), nullptr);
  EXPECT_EQ(*r.Peek(), 7);
  EXPECT_EQ(*r.Peek(), 7);
  int v = 0;
  ASSERT_TRUE(r.TryPop(&v));
  EXPECT_EQ(v, 7);
  EXPECT_EQ(*r.Peek(), 8);
}

TEST(SpscRingTest, BurstMovesWhatFits) {
  SpscRing<int> r(8);
  int in[10];
  int out[16];
  for (int i = 0; i < 10; ++i) in[i] = i;
  EXPECT_EQ(r.PushBurst(in, 10), 8u);  // only 8 slots
  EXPECT_EQ(r.PopBurst(out, 5), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(out[i], i);
  // 5 free slots now, and the next push wraps past the end of the array.
  EXPECT_EQ(r.PushBurst(in, 10), 5u);
  EXPECT_EQ(r.PopBurst(out, 16), 8u);  // asks for more than there is
  const int want[8] = {5, 6, 7, 0, 1, 2, 3, 4};
  for (int i = 0; i < 8; ++i) EXPECT_EQ(out[i], want[i]);
  EXPECT_EQ(r.PopBurst(out, 16), 0u);
  EXPECT_EQ(r.PushBurst(in, 0), 0u);
}

// A model-based run: a std::vector kept in step with the ring through many
// laps of the slot array with random burst sizes.
TEST(SpscRingTest, MatchesQueueModelOverManyLaps) {
  SpscRing<uint32_t> r(16);
  std::vector<uint32_t> model;  // front = oldest
  std::mt19937 rng(1);
  uint32_t next = 0;
  uint32_t buf[40];
  for (int step = 0; step < 20000; ++step) {
    const uint32_t n = Rnd(rng, 40);
    if (Rnd(rng, 2) == 0) {
      for (uint32_t i = 0; i < n; ++i) buf[i] = next + i;
      const uint32_t pushed = r.PushBurst(buf, n);
      const uint32_t room = 16 - static_cast<uint32_t>(model.size());
      ASSERT_EQ(pushed, n < room ? n : room);
      for (uint32_t i = 0; i < pushed; ++i) model.push_back(next + i);
      next += pushed;
    } else {
      const uint32_t popped = r.PopBurst(buf, n);
      ASSERT_EQ(popped, n < model.size() ? n : model.size());
      for (uint32_t i = 0; i < popped; ++i) ASSERT_EQ(buf[i], model[i]);
      model.erase(model.begin(), model.begin() + popped);
    }
    ASSERT_EQ(r.size(), model.size());
  }
}

// One producer, one consumer, 10^6 numbered items in random bursts: the
// consumer must see 0, 1, 2, ... with nothing lost or repeated.
TEST(SpscRingTest, OneProducerOneConsumerKeepsOrder) {
  constexpr uint64_t kItems = 1'000'000;
  SpscRing<uint64_t> r(1024);
  std::thread producer([&] {
    std::mt19937 rng(2);
    uint64_t buf[32];
    uint64_t next = 0;
    while (next < kItems) {
      uint32_t n = 1 + Rnd(rng, 32);
      if (n > kItems - next) n = static_cast<uint32_t>(kItems - next);
      for (uint32_t i = 0; i < n; ++i) buf[i] = next + i;
      const uint32_t pushed = r.PushBurst(buf, n);
      next += pushed;
      if (pushed == 0) std::this_thread::yield();
    }
  });
  std::mt19937 rng(3);
  uint64_t buf[32];
  uint64_t expect = 0;
  bool ordered = true;
  while (expect < kItems) {
    const uint32_t got = r.PopBurst(buf, 1 + Rnd(rng, 32));
    for (uint32_t i = 0; i < got; ++i) ordered &= (buf[i] == expect++);
    if (got == 0) std::this_thread::yield();
  }
  producer.join();
  EXPECT_TRUE(ordered);
  EXPECT_EQ(expect, kItems);
  EXPECT_TRUE(r.empty());
}

// size() from a third thread never exceeds capacity() (ring_test_util.h).
TEST(SpscRingTest, SizeSeenFromAnotherThreadStaysInRange) {
  SpscRing<uint64_t> r(64);
  testing::ExpectSizeSeenFromAnotherThreadStaysInRange(r);
}

}  // namespace
}  // namespace mflow
