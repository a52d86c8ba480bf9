// Parker: lets an idle worker sleep until a producer has work for it.
//
// Workers share the machine with the containers they serve, so an idle
// worker must not spin. The protocol avoids the lost wake-up:
//   worker:   v = Prepare();  if (no work) Park(v, timeout);  Done();
//   producer: <publish work>; Unpark();
// Both sides touch sleeping_ with a read-modify-write (acq_rel). Either the
// producer's RMW comes first in sleeping_'s modification order, then the
// worker's RMW reads from it, synchronizes with it, and the worker's check
// for work sees what the producer published before; or the worker's RMW
// comes first and the producer reads 1 and bumps the futex word, so the
// worker's FUTEX_WAIT (comparing against the word read in Prepare) returns
// at once. (RMWs rather than a store plus fences: ThreadSanitizer does not
// model fences, and this is the engine's most delicate hand-shake.)
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <ctime>

namespace mflow {

class Parker {
 public:
  uint32_t Prepare() {
    const uint32_t v = word_.load(std::memory_order_acquire);
    sleeping_.exchange(1, std::memory_order_acq_rel);
    return v;
  }
  // Sleeps until Unpark() or timeout_us. Spurious returns are fine.
  void Park(uint32_t v, uint32_t timeout_us) {
    timespec ts{static_cast<time_t>(timeout_us / 1000000),
                static_cast<long>(timeout_us % 1000000) * 1000};
    syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word_), FUTEX_WAIT_PRIVATE, v, &ts, nullptr, 0);
  }
  void Done() { sleeping_.store(0, std::memory_order_relaxed); }
  // A hint for placement (may be stale at once): is the worker parked?
  bool Sleeping() const { return sleeping_.load(std::memory_order_relaxed) != 0; }

  // Called by a producer after publishing work (one uncontended RMW when
  // nobody sleeps).
  void Unpark() {
    if (sleeping_.fetch_or(0, std::memory_order_acq_rel) == 0) return;
    word_.fetch_add(1, std::memory_order_acq_rel);
    syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word_), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
  }

 private:
  static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t));
  std::atomic<uint32_t> word_{0};
  std::atomic<uint32_t> sleeping_{0};
};

}  // namespace mflow
