// SpscRing: a bounded single-producer single-consumer ring of trivially
// copyable items (pointers, in practice).
//
// Thread-safety: exactly one thread may call the producer functions (TryPush,
// PushBurst) and exactly one thread the consumer functions (TryPop, PopBurst,
// Peek) at any time; size() is an estimate from anywhere. A role may move
// between threads only through a happens-before edge (a lock, a join).
//
// Memory order: the producer writes the slots, then publishes them with a
// release store of tail_; the consumer's acquire load of tail_ makes those
// slot writes visible. Symmetrically the consumer frees slots with a release
// store of head_, which the producer acquires before reusing them. Each side
// caches the other side's index so the common case touches no shared line.
// "Burst" calls move up to n items; the return value says how many.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <type_traits>

#include "common/compiler.h"

namespace mflow {

template <typename T>
class SpscRing {
  static_assert(std::is_trivially_copyable_v<T>);

 public:
  // capacity is rounded up to a power of two (at least 2).
  explicit SpscRing(uint32_t capacity) {
    uint32_t c = 2;
    while (c < capacity) c <<= 1;
    mask_ = c - 1;
    slots_ = std::make_unique<T[]>(c);
  }
  SpscRing(const SpscRing&) = delete;
  SpscRing& operator=(const SpscRing&) = delete;

  uint32_t capacity() const { return mask_ + 1; }

  // Producer side.
  bool TryPush(T v) { return PushBurst(&v, 1) == 1; }
  uint32_t PushBurst(const T* items, uint32_t n) {
    const uint32_t tail = tail_.load(std::memory_order_relaxed);
    uint32_t free_slots = capacity() - (tail - head_cache_);
    if (free_slots < n) {
      head_cache_ = head_.load(std::memory_order_acquire);
      free_slots = capacity() - (tail - head_cache_);
      if (n > free_slots) n = free_slots;
    }
    for (uint32_t i = 0; i < n; ++i) slots_[(tail + i) & mask_] = items[i];
    tail_.store(tail + n, std::memory_order_release);  // publish slot writes
    return n;
  }

  // Consumer side.
  bool TryPop(T* out) { return PopBurst(out, 1) == 1; }
  uint32_t PopBurst(T* out, uint32_t n) {
    const uint32_t head = head_.load(std::memory_order_relaxed);
    uint32_t avail = tail_cache_ - head;
    if (avail < n) {
      tail_cache_ = tail_.load(std::memory_order_acquire);  // see slot writes
      avail = tail_cache_ - head;
      if (n > avail) n = avail;
    }
    for (uint32_t i = 0; i < n; ++i) out[i] = slots_[(head + i) & mask_];
    head_.store(head + n, std::memory_order_release);  // hand slots back
    return n;
  }
  // The oldest item without removing it, or nullptr when empty.
  const T* Peek() {
    const uint32_t head = head_.load(std::memory_order_relaxed);
    if (tail_cache_ == head) {
      tail_cache_ = tail_.load(std::memory_order_acquire);
      if (tail_cache_ == head) return nullptr;
    }
    return &slots_[head & mask_];
  }

  // Approximate when called off the producer/consumer threads, but always in
  // [0, capacity()]. head_ is read first: a tail_ read after it is at least
  // that head (the acquire on head_ orders the consumer's earlier read of
  // tail_ before ours), so the difference cannot wrap below zero; reading
  // tail_ first could pair an old tail with a newer head and yield ~2^32.
  // Both reads can be stale by the time we subtract, hence the clamp.
  uint32_t size() const {
    const uint32_t head = head_.load(std::memory_order_acquire);
    const uint32_t n = tail_.load(std::memory_order_acquire) - head;
    return n < capacity() ? n : capacity();
  }
  bool empty() const { return size() == 0; }

 private:
  uint32_t mask_ = 0;
  std::unique_ptr<T[]> slots_;
  alignas(kCacheLine) std::atomic<uint32_t> head_{0};  // consumer-owned
  uint32_t tail_cache_ = 0;                            // consumer's view of tail_
  alignas(kCacheLine) std::atomic<uint32_t> tail_{0};  // producer-owned
  uint32_t head_cache_ = 0;                            // producer's view of head_
  char pad_[kCacheLine - sizeof(uint32_t)];
};

}  // namespace mflow
