// Relaxed<T>: a value with ONE writer that any thread may read at any time.
//
// The data path's counters (per stage, per worker, per flow) are written by
// the one thread that owns them and read, while traffic flows, by the
// control path (mflowctl stats, flows, the periodic log line). A plain
// integer read concurrently with its write is a data race (undefined
// behaviour, and ThreadSanitizer says so), so these live in std::atomic and
// every access is a relaxed load or store. On x86-64 and AArch64 a relaxed
// load or store is the same instruction as a plain one; an increment is a
// load plus a store, NOT a read-modify-write (no lock prefix), which is
// exactly why there must be a single writer: two writers would lose counts.
//
// A reader sees each value whole but not a consistent set of values (the
// counters of one stage may be read mid-batch): figures read while the
// engine runs are estimates; after Engine::Stop they are exact.
#pragma once

#include <atomic>

namespace mflow {

template <typename T>
class Relaxed {
 public:
  constexpr Relaxed() noexcept = default;
  constexpr Relaxed(T v) noexcept : v_(v) {}  // NOLINT: implicit, like T
  Relaxed(const Relaxed& o) noexcept : v_(o.load()) {}
  Relaxed& operator=(const Relaxed& o) noexcept {
    store(o.load());
    return *this;
  }

  T load() const noexcept { return v_.load(std::memory_order_relaxed); }
  void store(T v) noexcept { v_.store(v, std::memory_order_relaxed); }
  operator T() const noexcept { return load(); }  // NOLINT: reads like T
  Relaxed& operator=(T v) noexcept {
    store(v);
    return *this;
  }
  // Writer only (see the banner): load + store, no atomic RMW.
  Relaxed& operator+=(T d) noexcept {
    store(static_cast<T>(load() + d));
    return *this;
  }
  Relaxed& operator++() noexcept { return *this += T{1}; }
  void operator++(int) noexcept { *this += T{1}; }

 private:
  std::atomic<T> v_{};
};

}  // namespace mflow
