// MpmcRing: a bounded multi-producer multi-consumer ring of trivially copyable
// items, in the style of DPDK's rte_ring (MP/MC mode).
//
// Thread-safety: any number of threads may push and pop concurrently.
//
// How: each side has a head (slots reserved) and a tail (slots published).
// A producer reserves [h, h+n) with a CAS on prod_head_, writes the slots,
// waits until earlier producers have published (prod_tail_ == h), then
// publishes with a release store of prod_tail_ = h+n. Consumers mirror this
// on cons_head_/cons_tail_. The acquire loads of the other side's tail make
// the slot contents visible. A producer preempted between reserve and publish
// delays later producers' publication (not their reservation); that is the
// known cost of this design and acceptable for pools and work queues whose
// critical sections are a few stores long.
//
// "Burst" calls move up to n items; "Bulk" calls move n or nothing.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <type_traits>

#include "common/compiler.h"

namespace mflow {

template <typename T>
class MpmcRing {
  static_assert(std::is_trivially_copyable_v<T>);

 public:
  explicit MpmcRing(uint32_t capacity) {
    uint32_t c = 2;
    while (c < capacity) c <<= 1;
    mask_ = c - 1;
    slots_ = std::make_unique<T[]>(c);
  }
  MpmcRing(const MpmcRing&) = delete;
  MpmcRing& operator=(const MpmcRing&) = delete;

  uint32_t capacity() const { return mask_ + 1; }

  uint32_t PushBurst(const T* items, uint32_t n) { return Push(items, n, /*all=*/false); }
  bool PushBulk(const T* items, uint32_t n) { return Push(items, n, /*all=*/true) == n; }
  bool TryPush(T v) { return Push(&v, 1, true) == 1; }
  uint32_t PopBurst(T* out, uint32_t n) { return Pop(out, n, /*all=*/false); }
  bool PopBulk(T* out, uint32_t n) { return Pop(out, n, /*all=*/true) == n; }
  bool TryPop(T* out) { return Pop(out, 1, true) == 1; }

  // Approximate when the ring is in use, but always in [0, capacity()].
  // cons_tail_ is read first: whoever published it had seen prod_tail_ at
  // least that far, and our acquire makes a later read of prod_tail_ no
  // older, so the difference cannot wrap below zero (reading prod_tail_
  // first could yield ~2^32). Both reads can be stale, hence the clamp.
  uint32_t size() const {
    const uint32_t cons = cons_tail_.load(std::memory_order_acquire);
    const uint32_t n = prod_tail_.load(std::memory_order_acquire) - cons;
    return n < capacity() ? n : capacity();
  }
  bool empty() const { return size() == 0; }

 private:
  uint32_t Push(const T* items, uint32_t n, bool all) {
    uint32_t head = prod_head_.load(std::memory_order_relaxed);
    uint32_t take;
    for (;;) {
      // Acquire pairs with the consumers' release of cons_tail_: the slots we
      // are about to overwrite have been read.
      const uint32_t free_slots = capacity() - (head - cons_tail_.load(std::memory_order_acquire));
      take = n <= free_slots ? n : (all ? 0 : free_slots);
      if (take == 0) return 0;
      if (prod_head_.compare_exchange_weak(head, head + take, std::memory_order_relaxed,
                                           std::memory_order_relaxed))
        break;
    }
    for (uint32_t i = 0; i < take; ++i) slots_[(head + i) & mask_] = items[i];
    // Publish in reservation order. The wait must be an acquire: our release
    // below is what a consumer acquires, and it has to carry the slot writes
    // of the earlier producers too (a plain store does not extend their
    // release sequence). With a relaxed wait, a consumer that sees only our
    // tail could read an earlier producer's slot without happens-before.
    while (prod_tail_.load(std::memory_order_acquire) != head) CpuRelax();
    prod_tail_.store(head + take, std::memory_order_release);
    return take;
  }

  uint32_t Pop(T* out, uint32_t n, bool all) {
    uint32_t head = cons_head_.load(std::memory_order_relaxed);
    uint32_t take;
    for (;;) {
      // Acquire pairs with the producers' release of prod_tail_: the slot
      // contents we read below are visible.
      const uint32_t avail = prod_tail_.load(std::memory_order_acquire) - head;
      take = n <= avail ? n : (all ? 0 : avail);
      if (take == 0) return 0;
      if (cons_head_.compare_exchange_weak(head, head + take, std::memory_order_relaxed,
                                           std::memory_order_relaxed))
        break;
    }
    for (uint32_t i = 0; i < take; ++i) out[i] = slots_[(head + i) & mask_];
    // Acquire for the same reason as in Push: a producer that acquires our
    // cons_tail_ must know the earlier consumers' slot reads are done too.
    while (cons_tail_.load(std::memory_order_acquire) != head) CpuRelax();
    cons_tail_.store(head + take, std::memory_order_release);
    return take;
  }

  uint32_t mask_ = 0;
  std::unique_ptr<T[]> slots_;
  alignas(kCacheLine) std::atomic<uint32_t> prod_head_{0};
  alignas(kCacheLine) std::atomic<uint32_t> prod_tail_{0};
  alignas(kCacheLine) std::atomic<uint32_t> cons_head_{0};
  alignas(kCacheLine) std::atomic<uint32_t> cons_tail_{0};
  char pad_[kCacheLine - sizeof(uint32_t)];
};

}  // namespace mflow
