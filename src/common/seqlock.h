// SeqlockCell<T>: a small trivially copyable value with ONE writer, read
// whole and consistent by any thread without a lock.
//
// Used where the control path must read several fields that belong
// together while the data path may rewrite them: a flow slot's key and the
// figures it started from, when a new flow takes over the slot
// (FlowTable). The writer makes the sequence odd, stores the words, makes it
// even again; a reader retries while it is odd or changed under it.
//
// Every word is itself an atomic, so a torn read is merely retried, never a
// data race in the C++ sense. The words are stored with release and loaded
// with acquire instead of relaxed accesses between fences (Boehm, "Can
// seqlocks get along with programming language memory models?", 2012,
// discusses both): ThreadSanitizer does not model fences (GCC refuses them
// under -fsanitize=thread), and on x86-64 both forms are plain moves.
// Writes are rare (a new flow in a slot), reads are control-path only.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "common/compiler.h"

namespace mflow {

template <typename T>
class SeqlockCell {
  static_assert(std::is_trivially_copyable_v<T>);
  static constexpr size_t kWords = (sizeof(T) + 7) / 8;

 public:
  // Writer only (one thread at a time, ordered by the caller).
  void Store(const T& v) noexcept {
    uint64_t w[kWords] = {};
    std::memcpy(w, &v, sizeof(T));
    const uint32_t s = seq_.load(std::memory_order_relaxed);
    seq_.store(s + 1, std::memory_order_relaxed);
    // Release: a reader that acquires any new word also sees the odd
    // sequence (or a later one) when it reads the sequence again, and
    // retries.
    for (size_t i = 0; i < kWords; ++i) words_[i].store(w[i], std::memory_order_release);
    // Release: a reader that acquires the even value sees every word.
    seq_.store(s + 2, std::memory_order_release);
  }

  // Any thread.
  T Load() const noexcept {
    return Load([] {});
  }
  // Also runs also() inside the read section and retries both until no
  // Store came in between: for values (atomics of their own) that are only
  // meaningful together with this cell's, e.g. counters that restart
  // (relative to a base kept here) when the cell is rewritten.
  template <typename Also>
  T Load(Also&& also) const noexcept {
    uint64_t w[kWords];
    for (;;) {
      const uint32_t s0 = seq_.load(std::memory_order_acquire);
      if ((s0 & 1) != 0) {
        CpuRelax();
        continue;
      }
      // Acquire: the second read of the sequence cannot move before these.
      for (size_t i = 0; i < kWords; ++i) w[i] = words_[i].load(std::memory_order_acquire);
      also();
      // The second read is a read-modify-write (adding 0) with release
      // order, which keeps every load above, also() included, before it:
      // what an acquire fence would do. Control path only, so the locked
      // instruction costs nothing that matters.
      if (seq_.fetch_add(0, std::memory_order_acq_rel) == s0) break;
    }
    T v;
    std::memcpy(&v, w, sizeof(T));
    return v;
  }

 private:
  mutable std::atomic<uint32_t> seq_{0};  // mutable: Load validates with an RMW
  std::array<std::atomic<uint64_t>, kWords> words_{};
};

}  // namespace mflow
