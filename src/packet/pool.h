// PacketPool: a fixed set of packets with buffers, allocated once.
//
// Every buffer is carved from one slab at construction; the per-packet path
// only moves pointers, a burst at a time, so alloc and free allocate
// nothing. Packets go back to the pool they came from (Packet::pool),
// whichever thread frees them.
//
// The free packets are a stack (LIFO), not a queue: the next allocation gets
// the packet freed last, whose metadata and buffer are still in the cache of
// the core that freed it (in run-to-completion, the core about to use it).
// The pool was first a FIFO ring, which hands out the packet freed longest
// ago, cold: with 32768 TSO header buffers cycling through it, the first
// write to each header and to its metadata missed the cache (perf: ~9 % of
// mflowd's CPU).
//
// Two levels, as DPDK's mempool has (its per-lcore cache):
//   - a shared stack, guarded by a mutex, taken once per burst: the backing
//     store, and the only level threads without a cache slot use;
//   - per-thread caches: a thread holding a PoolCacheSlot (the engine's
//     workers) has, in every pool, a small stack of its own (cache_size()
//     packets, 2 bursts) that it alone touches. Its allocations and frees
//     take no lock and write no line another thread writes. Only when its
//     cache holds fewer than it asks for does it take the shared stack's
//     lock, to get the rest plus half a cache, and only when a free would
//     overflow the cache does it give all but the newest half back (LIFO
//     within the cache too: the packet this thread freed last is the one it
//     gets next).
// Packets freed on another thread than the one that allocated them (the
// delivering worker frees what the reader allocated) fill the freeing
// thread's cache, which spills to the shared stack, where the reader's cache
// refills: one lock per half cache in each direction.
//
// Packets in a cache are free but only its thread can hand them out. So that
// none is stranded with a thread that no longer runs, a thread flushes its
// caches (PoolCacheSlot::FlushThisThread) before it blocks, and when its slot
// ends (thread exit). The exhaustion contract is therefore: AllocBurst
// returns fewer than n only when the caller's own cache and the shared stack
// together hold fewer than n; the packets it does not reach are in other
// running threads' caches, at most cache_size() per thread; the default
// cache_size() is at most count / (2 * kMaxCacheSlots), so caches can never
// hold more than half the pool. available() counts the caches too.
//
// Thread-safety: Alloc/AllocBurst/Put/PutBurst (and so PacketFree) from any
// thread; available() from any thread (exact when nobody allocates or frees
// at the time, an estimate otherwise). A pool must outlive every use; a
// thread's cache in a pool goes away with the pool.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "common/compiler.h"
#include "common/status.h"
#include "packet/packet.h"

namespace mflow {

// Threads that can hold a cache slot at once; more get the shared path.
inline constexpr uint32_t kMaxCacheSlots = 64;
// The largest per-thread cache: two bursts of the engine's default RX burst
// (max(32, microflow_size 128)).
inline constexpr uint32_t kMaxCacheSize = 256;

struct PacketPoolConfig {
  std::string name = "pool";
  uint32_t count = 4096;      // packets
  uint32_t buf_size = 2048;   // bytes per buffer, headroom included
  // Packets per thread cache. Unset: min(128, count / (2 * kMaxCacheSlots)),
  // none below 8 (a pool too small to share out); 0: no caches, every thread
  // uses the shared stack (the pool as it was before caches). Set: 0 or
  // 2..kMaxCacheSize.
  std::optional<uint32_t> cache_size = std::nullopt;
};

class PacketPool {
 public:
  static StatusOr<std::unique_ptr<PacketPool>> Create(const PacketPoolConfig& cfg);
  ~PacketPool();
  PacketPool(const PacketPool&) = delete;
  PacketPool& operator=(const PacketPool&) = delete;

  // A fresh packet (data at kHeadroom, len 0, metadata cleared) or nullptr
  // when the pool is empty (see the exhaustion contract above).
  Packet* Alloc() noexcept;
  // Up to n packets; returns how many. The most recently freed first.
  uint32_t AllocBurst(Packet** out, uint32_t n) noexcept;
  // Returns packets that PacketFree has already released (no refs, no chain).
  void Put(Packet* p) noexcept { PutBurst(&p, 1); }
  void PutBurst(Packet* const* pkts, uint32_t n) noexcept;

  const std::string& name() const { return cfg_.name; }
  uint32_t count() const { return cfg_.count; }
  uint32_t buf_size() const { return cfg_.buf_size; }
  uint32_t cache_size() const { return cache_size_; }
  // Packets currently free: in the shared stack and in every thread's cache
  // (others are in use).
  uint32_t available() const;
  // Packets free in the shared stack alone (tests).
  uint32_t shared_available() const {
    std::lock_guard<std::mutex> lock(mu_);
    return top_;
  }

 private:
  friend class PoolCacheSlot;
  // One thread's cache: items[0, len) free, the last freed on top. Only the
  // thread holding the slot writes it; available() reads len. Each cache's
  // head and items sit on lines of their own (no false sharing).
  struct alignas(kCacheLine) Cache {
    std::atomic<uint32_t> len{0};
    Packet** items = nullptr;  // cache_size_ slots in cache_items_
  };

  explicit PacketPool(const PacketPoolConfig& cfg);
  static void Reset(Packet* p) noexcept;
  uint32_t AllocShared(Packet** out, uint32_t n) noexcept;
  void PutShared(Packet* const* pkts, uint32_t n) noexcept;
  uint32_t AllocRefill(Cache& c, uint32_t len, Packet** out, uint32_t n) noexcept;
  void PutSpill(Cache& c, uint32_t len, Packet* const* pkts, uint32_t n) noexcept;
  // Empties the cache of `slot` into the shared stack; on that slot's thread.
  void FlushCache(uint32_t slot) noexcept;

  PacketPoolConfig cfg_;
  std::unique_ptr<Packet[]> packets_;
  uint8_t* slab_ = nullptr;
  uint32_t cache_size_ = 0;
  std::unique_ptr<Cache[]> caches_;  // kMaxCacheSlots of them; null when cache_size_ is 0
  Packet** cache_items_ = nullptr;   // their items, one aligned block
  mutable std::mutex mu_;
  std::unique_ptr<Packet*[]> free_;  // [0, top_) are free, the last freed on top
  uint32_t top_ = 0;
};

// Gives the calling thread a cache in every PacketPool, present and future,
// for the object's life: construct it first thing on a data-path thread
// (the engine's workers do), on its stack. When all kMaxCacheSlots are taken
// (or the thread already holds a slot) the object holds none and the thread
// keeps using the shared stacks: slower, still correct.
//
// Thread-safety: construct and destroy on the same thread; the destructor
// flushes that thread's caches in every pool back to their shared stacks.
class PoolCacheSlot {
 public:
  PoolCacheSlot() noexcept;
  ~PoolCacheSlot();
  PoolCacheSlot(const PoolCacheSlot&) = delete;
  PoolCacheSlot& operator=(const PoolCacheSlot&) = delete;
  bool ok() const { return owned_; }

  // Empties the calling thread's caches in every pool into the shared
  // stacks: call before blocking, so that no packet waits in the cache of a
  // thread that sleeps. Cheap when nothing was cached since the last flush.
  static void FlushThisThread() noexcept;

 private:
  bool owned_ = false;
};

}  // namespace mflow
