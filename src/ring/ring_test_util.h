// Helpers shared by the ring unit tests (spsc_ring_test.cc,
// mpmc_ring_test.cc) only; not part of any mflow library.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <random>
#include <thread>

namespace mflow::testing {

// A uniform-enough draw in [0, n) as uint32_t (mt19937 yields uint_fast32_t).
inline uint32_t Rnd(std::mt19937& rng, uint32_t n) { return static_cast<uint32_t>(rng() % n); }

// size() from a third thread is an estimate, but never more than the ring
// can hold: reading the two indices in the wrong order pairs an old producer
// index with a newer consumer index and wraps to ~4 billion. The window is
// the observer being preempted between its two loads while the others run
// on, so the three threads busy-spin on two cores for a fixed time. The check
// is probabilistic: before the fix it failed in some runs, not in all.
// r: an empty ring of 64 slots (SpscRing or MpmcRing).
template <template <typename> class Ring, typename T>
void ExpectSizeSeenFromAnotherThreadStaysInRange(Ring<T>& r) {
  std::atomic<bool> stop{false};
  std::thread producer([&] {
    T buf[8] = {};
    while (!stop.load(std::memory_order_relaxed)) r.PushBurst(buf, 8);
  });
  std::thread consumer([&] {
    T buf[8];
    while (!stop.load(std::memory_order_relaxed)) r.PopBurst(buf, 8);
  });
  uint32_t worst = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
  while (std::chrono::steady_clock::now() < deadline) {
    for (int i = 0; i < 64; ++i) {
      const uint32_t s = r.size();
      if (s > worst) worst = s;
    }
  }
  stop.store(true, std::memory_order_relaxed);
  producer.join();
  consumer.join();
  EXPECT_LE(worst, r.capacity());
}

}  // namespace mflow::testing
