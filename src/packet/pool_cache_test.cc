// PacketPool's per-thread caches (pool.h): alloc and free through a cache,
// LIFO within it, spills and refills, packets freed on another thread, a
// thread that ends or blocks with a full cache, available() with packets in
// caches, the exhaustion contract, and a multi-thread stress run (built into
// the ThreadSanitizer test binary as well as the AddressSanitizer one).
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <optional>
#include <thread>
#include <vector>

#include "packet/pool.h"
#include "ring/spsc_ring.h"

namespace mflow {
namespace {

std::unique_ptr<PacketPool> MakePool(uint32_t count, std::optional<uint32_t> cache) {
  PacketPoolConfig cfg;
  cfg.name = "cache-test";
  cfg.count = count;
  cfg.buf_size = kHeadroom + 64;
  cfg.cache_size = cache;
  auto pool = PacketPool::Create(cfg);
  EXPECT_TRUE(pool.ok()) << pool.status().message();
  return std::move(pool).value();
}

// Runs fn on a thread of its own holding a cache slot, and waits for it.
template <typename Fn>
void OnCachedThread(Fn&& fn) {
  std::thread t([&] {
    PoolCacheSlot slot;
    ASSERT_TRUE(slot.ok());
    fn();
  });
  t.join();
}

TEST(PoolCache, SizeDefaultsAndLimits) {
  EXPECT_EQ(MakePool(8, std::nullopt)->cache_size(), 0u);  // too small to share out
  EXPECT_EQ(MakePool(1024, std::nullopt)->cache_size(), 8u);
  EXPECT_EQ(MakePool(4096, std::nullopt)->cache_size(), 32u);
  EXPECT_EQ(MakePool(65536, std::nullopt)->cache_size(), 128u);
  EXPECT_EQ(MakePool(65536, 0)->cache_size(), 0u);
  EXPECT_EQ(MakePool(16, 16)->cache_size(), 16u);
  PacketPoolConfig cfg;
  cfg.count = 64;
  cfg.cache_size = 1;
  EXPECT_FALSE(PacketPool::Create(cfg).ok());
  cfg.cache_size = kMaxCacheSize + 1;
  EXPECT_FALSE(PacketPool::Create(cfg).ok());
}

TEST(PoolCache, OneSlotPerThread) {
  OnCachedThread([] {
    PoolCacheSlot again;  // the thread has one: this one holds none
    EXPECT_FALSE(again.ok());
  });
  // The slot went back when the thread ended: others can take it.
  for (uint32_t i = 0; i < kMaxCacheSlots + 2; ++i) OnCachedThread([] {});
}

// After the first allocation fills the cache, allocations and frees of the
// same thread stay in it: the shared stack does not move.
TEST(PoolCache, AllocAndFreeStayInTheCache) {
  auto pool = MakePool(256, 16);
  OnCachedThread([&] {
    Packet* p = pool->Alloc();
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(pool->shared_available(), 256u - 1 - 8);  // one, and half a cache
    EXPECT_EQ(pool->available(), 255u);
    p->len = 99;
    PacketFree(p);
    EXPECT_EQ(pool->available(), 256u);
    Packet* q = pool->Alloc();
    EXPECT_EQ(q, p);  // the last freed comes back first, and clean
    EXPECT_EQ(q->len, 0u);
    Packet* burst[8];
    for (int round = 0; round < 100; ++round) {
      ASSERT_EQ(pool->AllocBurst(burst, 8), 8u);
      PacketFreeBurst(burst, 8);
    }
    PacketFree(q);
    EXPECT_EQ(pool->shared_available(), 256u - 1 - 8);
    EXPECT_EQ(pool->available(), 256u);
  });
  // The thread's end flushed its cache.
  EXPECT_EQ(pool->shared_available(), 256u);
}

TEST(PoolCache, LastFreedIsAllocatedFirst) {
  auto pool = MakePool(256, 16);
  OnCachedThread([&] {
    Packet* out[8];
    ASSERT_EQ(pool->AllocBurst(out, 8), 8u);
    PacketFree(out[2]);
    PacketFree(out[5]);
    EXPECT_EQ(pool->Alloc(), out[5]);
    EXPECT_EQ(pool->Alloc(), out[2]);
    PacketFreeBurst(out, 3);  // out[2] on top
    Packet* again[2];
    ASSERT_EQ(pool->AllocBurst(again, 2), 2u);
    EXPECT_EQ(again[0], out[2]);
    EXPECT_EQ(again[1], out[1]);
    PacketFreeBurst(again, 2);
    PacketFreeBurst(out + 3, 5);  // out[0] is still in the cache
  });
  EXPECT_EQ(pool->available(), 256u);
}

// A full cache gives its older half to the shared stack and keeps the newer
// half, the last freed still on top.
TEST(PoolCache, SpillKeepsTheNewestHalf) {
  auto pool = MakePool(256, 16);
  OnCachedThread([&] {
    Packet* out[40];
    ASSERT_EQ(pool->AllocBurst(out, 40), 40u);  // more than a cache: the rest from the stack
    PoolCacheSlot::FlushThisThread();           // the half cache that came along
    const uint32_t shared = pool->shared_available();
    PacketFreeBurst(out, 16);  // fills the cache exactly
    EXPECT_EQ(pool->shared_available(), shared);
    PacketFree(out[16]);  // one more: 17 -> 8 kept, 9 spilled
    EXPECT_EQ(pool->shared_available(), shared + 9);
    EXPECT_EQ(pool->available(), 256u - 40 + 17);
    Packet* again[8];
    ASSERT_EQ(pool->AllocBurst(again, 8), 8u);
    for (uint32_t i = 0; i < 8; ++i) EXPECT_EQ(again[i], out[16 - i]);
    EXPECT_EQ(pool->shared_available(), shared + 9);  // all from the cache
    PacketFreeBurst(again, 8);
    PacketFreeBurst(out + 17, 23);  // a burst larger than the cache
    EXPECT_EQ(pool->Alloc(), out[39]);
    PacketFree(out[39]);
  });
  EXPECT_EQ(pool->available(), 256u);
  EXPECT_EQ(pool->shared_available(), 256u);
}

// The reader allocates, another thread frees (the delivering worker): the
// freeing thread's cache spills, nothing is lost, and its end returns the rest.
TEST(PoolCache, FreedOnAnotherThread) {
  auto pool = MakePool(512, 32);
  SpscRing<Packet*> ring(1024);
  std::atomic<bool> done{false};
  std::thread reader([&] {
    PoolCacheSlot slot;
    Packet* b[20];
    for (int i = 0; i < 200; ++i) {
      uint32_t n = pool->AllocBurst(b, 20);
      // The freeing thread may hold a cache: wait for it to spill.
      while (n < 20) n += pool->AllocBurst(b + n, 20 - n);
      uint32_t pushed = 0;
      while (pushed < n) pushed += ring.PushBurst(b + pushed, n - pushed);
    }
    done.store(true, std::memory_order_release);
  });
  std::thread freer([&] {
    PoolCacheSlot slot;
    Packet* b[20];
    for (;;) {
      const bool last = done.load(std::memory_order_acquire);
      const uint32_t n = ring.PopBurst(b, 20);
      PacketFreeBurst(b, n);
      if (n == 0 && last) break;
    }
  });
  reader.join();
  freer.join();
  EXPECT_EQ(pool->available(), 512u);
  EXPECT_EQ(pool->shared_available(), 512u);
}

// A thread that holds packets in its cache counts them in available() while
// it lives, and gives them back when it flushes (before blocking) or ends.
TEST(PoolCache, BlockedOrEndedThreadReturnsItsCache) {
  auto pool = MakePool(64, 16);
  std::promise<void> filled, flush, flushed, refill, refilled, end;
  std::thread t([&] {
    PoolCacheSlot slot;
    Packet* b[8];
    // 8 from the stack and 8 more into the cache; 8 freed: a full cache.
    ASSERT_EQ(pool->AllocBurst(b, 8), 8u);
    PacketFreeBurst(b, 8);
    filled.set_value();
    flush.get_future().wait();
    PoolCacheSlot::FlushThisThread();
    flushed.set_value();
    refill.get_future().wait();
    // Filled again, then the thread ends with it full.
    ASSERT_EQ(pool->AllocBurst(b, 8), 8u);
    PacketFreeBurst(b, 8);
    refilled.set_value();
    end.get_future().wait();
  });
  filled.get_future().wait();
  EXPECT_EQ(pool->shared_available(), 48u);
  EXPECT_EQ(pool->available(), 64u);
  flush.set_value();
  flushed.get_future().wait();
  EXPECT_EQ(pool->shared_available(), 64u);
  refill.set_value();
  refilled.get_future().wait();
  EXPECT_EQ(pool->shared_available(), 48u);
  end.set_value();
  t.join();
  EXPECT_EQ(pool->shared_available(), 64u);
  EXPECT_EQ(pool->available(), 64u);
}

// The contract: an allocation comes up short only when the caller's cache
// and the shared stack together hold too few; packets in another running
// thread's cache are not taken, and available() still counts them.
TEST(PoolCache, ExhaustionWithPacketsInAnotherCache) {
  auto pool = MakePool(64, 16);
  std::promise<void> holding, release;
  std::thread holder([&] {
    PoolCacheSlot slot;
    Packet* b[8];
    ASSERT_EQ(pool->AllocBurst(b, 8), 8u);
    PacketFreeBurst(b, 8);  // 16 in this cache, 48 in the stack
    holding.set_value();
    release.get_future().wait();
  });
  holding.get_future().wait();
  // A thread without a cache: the shared stack alone.
  std::vector<Packet*> got(64);
  EXPECT_EQ(pool->AllocBurst(got.data(), 64), 48u);
  EXPECT_EQ(pool->Alloc(), nullptr);
  EXPECT_EQ(pool->available(), 16u);  // the holder's cache
  // A thread with a cache: its own and the shared stack, nothing else.
  OnCachedThread([&] {
    Packet* p = nullptr;
    EXPECT_EQ(pool->AllocBurst(&p, 1), 0u);
    PacketFreeBurst(got.data(), 4);  // into this thread's cache
    Packet* q[8];
    EXPECT_EQ(pool->AllocBurst(q, 8), 4u);  // a short burst: its 4, none from the stack
    PacketFreeBurst(q, 4);
  });
  EXPECT_EQ(pool->shared_available(), 4u);  // its end flushed them
  EXPECT_EQ(pool->available(), 20u);
  release.set_value();
  holder.join();
  EXPECT_EQ(pool->shared_available(), 20u);
  PacketFreeBurst(got.data() + 4, 44);
  EXPECT_EQ(pool->available(), 64u);
  EXPECT_EQ(pool->shared_available(), 64u);
}

// Threads with caches and one without allocate bursts of varied sizes, keep
// some, and pass some on to the next thread, which frees them. Each packet
// has an owner mark: two owners at once would be a double allocation. Run
// under ThreadSanitizer, this is also the race check of the cache paths.
TEST(PoolCache, StressAcrossThreads) {
  constexpr uint32_t kThreads = 4;
  constexpr uint32_t kRounds = 3000;
  constexpr uint32_t kCount = 2048;
  auto pool = MakePool(kCount, 32);
  std::vector<std::atomic<uint32_t>> owner(kCount);
  std::vector<std::unique_ptr<SpscRing<Packet*>>> rings;
  for (uint32_t i = 0; i < kThreads; ++i) rings.push_back(std::make_unique<SpscRing<Packet*>>(256));
  std::atomic<uint32_t> finished{0};
  std::atomic<uint64_t> double_owned{0};
  auto body = [&](uint32_t id) {
    std::optional<PoolCacheSlot> slot;
    if (id != 0) slot.emplace();  // thread 0: the shared path
    SpscRing<Packet*>& in = *rings[id];
    SpscRing<Packet*>& out = *rings[(id + 1) % kThreads];
    Packet* b[64];
    Packet* held[64];
    uint32_t nheld = 0;
    auto drain = [&] {
      Packet* r[64];
      while (const uint32_t n = in.PopBurst(r, 64)) {
        for (uint32_t i = 0; i < n; ++i) owner[r[i]->index].store(0, std::memory_order_relaxed);
        PacketFreeBurst(r, n);
      }
    };
    for (uint32_t round = 0; round < kRounds; ++round) {
      const uint32_t want = 1 + (round * 7 + id * 13) % 40;
      const uint32_t n = pool->AllocBurst(b, want);
      for (uint32_t i = 0; i < n; ++i) {
        if (owner[b[i]->index].exchange(id + 1, std::memory_order_relaxed) != 0)
          double_owned.fetch_add(1, std::memory_order_relaxed);
        b[i]->data[0] = static_cast<uint8_t>(id);  // a write TSan sees
      }
      // A third goes to the next thread, a few are held a while, the rest freed here.
      uint32_t i = 0;
      for (; i < n / 3; ++i)
        if (!out.TryPush(b[i])) break;
      while (i < n && nheld < 64 && (round + i) % 5 == 0) held[nheld++] = b[i++];
      for (uint32_t k = i; k < n; ++k) owner[b[k]->index].store(0, std::memory_order_relaxed);
      PacketFreeBurst(b + i, n - i);
      if (round % 16 == 0) {
        for (uint32_t k = 0; k < nheld; ++k) owner[held[k]->index].store(0, std::memory_order_relaxed);
        PacketFreeBurst(held, nheld);
        nheld = 0;
      }
      drain();
      if (round % 500 == 0) PoolCacheSlot::FlushThisThread();
    }
    for (uint32_t k = 0; k < nheld; ++k) owner[held[k]->index].store(0, std::memory_order_relaxed);
    PacketFreeBurst(held, nheld);
    // Keep draining until every thread has stopped sending.
    finished.fetch_add(1, std::memory_order_acq_rel);
    while (finished.load(std::memory_order_acquire) < kThreads) {
      drain();
      std::this_thread::yield();
    }
    drain();
  };
  std::vector<std::thread> threads;
  for (uint32_t i = 0; i < kThreads; ++i) threads.emplace_back(body, i);
  for (auto& t : threads) t.join();
  EXPECT_EQ(double_owned.load(), 0u);
  EXPECT_EQ(pool->available(), kCount);
  EXPECT_EQ(pool->shared_available(), kCount);
}

}  // namespace
}  // namespace mflow
