// ReorderWindow: puts numbered items back in sequence order.
//
// The design follows DPDK's rte_reorder (a power-of-two array of slots that
// covers the window [min_seq, min_seq + size), released from the front up to
// the first gap), with three deliberate differences:
//   - 64-bit sequence numbers: at 100 Mpps they wrap after ~5800 years, so
//     there is no wrap-around arithmetic to get wrong;
//   - an item beyond the window is refused (kEarly) instead of sliding the
//     window over the missing items: a hole is never skipped implicitly, so
//     no packet becomes "late" behind the caller's back. The caller applies
//     back-pressure (drain, then retry; stop pulling work meanwhile) — the
//     reorder stage itself never drops (docs/ORDERING.md, rule 5);
//   - a hole is closed only by its item or by Skip(seq), which the caller
//     issues for a micro-flow that completed with nothing (dropped), so a
//     drop never stalls the merge (ordering contract 3). There is no timeout.
// There is no separate "ready" ring either: Drain reads the window's front.
//
// States (S = size, m = min_seq):
//
//        late        |<------------- window ------------->|    early
//   ... m-2  m-1     | m   m+1   ...                m+S-1 | m+S  m+S+1 ...
//                      ^ Drain releases from here up to the first empty slot
//
// Thread-safety: none inside. One thread at a time may call any member; the
// caller serializes (the merge owns one window per flow).
#pragma once

#include <cstdint>
#include <memory>
#include <utility>

namespace mflow {

enum class ReorderResult : uint8_t {
  kOk = 0,     // stored (Insert) or marked (Skip)
  kEarly,      // seq >= min_seq + size: drain, then retry (back-pressure)
  kLate,       // seq < min_seq: already released or skipped
  kDuplicate,  // seq is in the window and already holds an item or a skip
};

template <typename T>
class ReorderWindow {
 public:
  // size is rounded up to a power of two (at least 2). Sequence numbers
  // start at start_seq (the first number the split point hands out).
  explicit ReorderWindow(uint32_t size, uint64_t start_seq = 0) : min_seq_(start_seq) {
    uint32_t c = 2;
    while (c < size) c <<= 1;
    mask_ = c - 1;
    slots_ = std::make_unique<Slot[]>(c);
  }
  ReorderWindow(const ReorderWindow&) = delete;
  ReorderWindow& operator=(const ReorderWindow&) = delete;

  uint32_t size() const { return mask_ + 1; }
  // The next sequence number to be released: everything below it is done.
  uint64_t min_seq() const { return min_seq_; }
  // Slots in the window holding an item or a skip (not yet released).
  uint32_t held() const { return held_; }
  // True when Drain would release or pass over at least one slot.
  bool HeadReady() const { return slots_[min_seq_ & mask_].state != kEmpty; }

  // Stores item under seq. On any result but kOk the item is NOT stored and
  // stays the caller's.
  ReorderResult Insert(uint64_t seq, T item) {
    const ReorderResult r = Check(seq);
    if (r != ReorderResult::kOk) return r;
    Slot& s = slots_[seq & mask_];
    s.item = std::move(item);
    s.state = kFull;
    ++held_;
    return ReorderResult::kOk;
  }

  // Marks seq as completed with nothing to release (its work was dropped),
  // so that it does not hold back the ones after it. Same results as Insert.
  ReorderResult Skip(uint64_t seq) {
    const ReorderResult r = Check(seq);
    if (r != ReorderResult::kOk) return r;
    slots_[seq & mask_].state = kSkipped;
    ++held_;
    return ReorderResult::kOk;
  }

  // Releases items in sequence order into out[0..max), passing over skipped
  // numbers, and stops at the first number not yet completed (or when out is
  // full). Returns the number of items written. min_seq() advances past
  // every released item and skip.
  uint32_t Drain(T* out, uint32_t max) {
    uint32_t n = 0;
    for (;;) {
      Slot& s = slots_[min_seq_ & mask_];
      if (s.state == kEmpty) break;
      if (s.state == kFull) {
        if (n == max) break;
        out[n++] = std::move(s.item);
        s.item = T{};
      }
      s.state = kEmpty;
      --held_;
      ++min_seq_;
    }
    return n;
  }

 private:
  enum State : uint8_t { kEmpty = 0, kFull, kSkipped };
  struct Slot {
    T item{};
    State state = kEmpty;
  };

  ReorderResult Check(uint64_t seq) const {
    if (seq < min_seq_) return ReorderResult::kLate;
    // seq - min_seq_ cannot overflow here (seq >= min_seq_), unlike
    // min_seq_ + size() near the top of the 64-bit range.
    if (seq - min_seq_ > mask_) return ReorderResult::kEarly;
    if (slots_[seq & mask_].state != kEmpty) return ReorderResult::kDuplicate;
    return ReorderResult::kOk;
  }

  uint64_t min_seq_;
  uint32_t mask_ = 0;
  uint32_t held_ = 0;
  std::unique_ptr<Slot[]> slots_;
};

}  // namespace mflow
