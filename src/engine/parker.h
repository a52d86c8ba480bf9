// Parker: lets an idle worker sleep until a producer has work for it.
//
// Workers share the machine with the containers they serve, so an idle
// worker must not spin. The protocol avoids the lost wake-up:
//   worker:   v = Prepare();  if (no work) Park(v, timeout);  Done();
//   producer: <publish work>; Unpark();
// Prepare() sets sleeping_ and issues a seq_cst fence before the worker looks
// for work; Unpark() issues a seq_cst fence after the work was published and
// before it reads sleeping_. With a fence on both sides at least one of them
// sees the other's store: either the worker finds the work, or the producer
// sees sleeping_ and bumps the futex word, so the worker's FUTEX_WAIT (which
// compares against the word read before Prepare's fence) returns at once.
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
    const uint32_t v = word_.load(std::memory_order_relaxed);
    sleeping_.store(true, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    return v;
  }
  // Sleeps until Unpark() or timeout_us. Spurious returns are fine.
  void Park(uint32_t v, uint32_t timeout_us) {
    timespec ts{static_cast<time_t>(timeout_us / 1000000),
                static_cast<long>(timeout_us % 1000000) * 1000};
    syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word_), FUTEX_WAIT_PRIVATE, v, &ts, nullptr, 0);
  }
  void Done() { sleeping_.store(false, std::memory_order_relaxed); }

  // Called by a producer after publishing work (cheap when nobody sleeps).
  void Unpark() {
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (!sleeping_.load(std::memory_order_relaxed)) return;
    word_.fetch_add(1, std::memory_order_relaxed);
    syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word_), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
  }

 private:
  static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t));
  std::atomic<uint32_t> word_{0};
  std::atomic<bool> sleeping_{false};
};

}  // namespace mflow
