// The worker loop: finish queued work, take the RX role when allowed, and
// what an idle worker does (spin, then wait in the ports or park).
#include <poll.h>

#include "common/clock.h"
#include "engine/engine_internal.h"

namespace mflow {

void Engine::WorkerLoop(Worker& w) {
  // This thread's packet caches in every pool (packet/pool.h); flushed
  // before each block below and when the loop ends, so that no packet waits
  // in the cache of a worker that sleeps or has left.
  PoolCacheSlot cache_slot;
  uint32_t idle = 0;
  uint32_t sleep_us = 20;
  // When this idle stretch began (MonotonicNs), for idle_poll_us: 0 = not
  // idle; kPollSpent = the window is used up (after a block: poll once, then
  // block again, as the rounds do).
  constexpr uint64_t kPollSpent = 1;
  uint64_t idle_since = 0;
  const uint64_t poll_window_ns = uint64_t{cfg_.idle_poll_us} * 1000;
  auto polling = [&] {
    if (poll_window_ns == 0) return false;
    const uint64_t now = MonotonicNs();
    if (idle_since == 0) idle_since = now;
    return now - idle_since < poll_window_ns;
  };
  WorkerCounters& thread_stats = w.stats[0];  // sleeps, cpu_ns: the thread's
  clockid_t cpu_clock;
  if (pthread_getcpuclockid(pthread_self(), &cpu_clock) == 0) {
    w.cpu_clock.store(cpu_clock, std::memory_order_relaxed);
    w.cpu_clock_live.store(true, std::memory_order_release);
  }
  for (;;) {
    bool did = false;
    MicroFlow* mf = nullptr;
    // Finish queued work before taking more in: keeps queues short and the
    // merge window small. Mice first, all of them: each is a few packets.
    while (w.mice.TryPop(&mf)) {
      Process(w, mf);
      did = true;
    }
    for (int k = 0; k < 4 && w.Pop(&mf); ++k) {
      Process(w, mf);
      did = true;
    }
    bool polled = false;
    if (MayRead(w) && TryRx(w, &polled)) did = true;
    if (did) {
      idle = 0;
      idle_since = 0;
      sleep_us = 20;
      continue;
    }
    if (stopping_.load(std::memory_order_acquire) &&
        in_flight_.load(std::memory_order_acquire) == 0 && w.idle())
      break;
    // The window is for polling the ports; a worker that could not (another
    // one reads) spins only the rounds, then parks.
    if (polled && polling()) {
      // Polling the ports for the window: give the core to anything that
      // woke on it meanwhile (the container that our last write woke, to
      // answer), which would otherwise wait for our slice to end.
      std::this_thread::yield();
      ++idle;
      continue;
    }
    if (++idle < cfg_.idle_spins) {
      CpuRelax();
      continue;
    }
    // Idle: nothing queued for us and nothing to read (or another worker
    // reads). What follows is the same in every mode.
    // With work in flight elsewhere (a peer processing, a merge waiting for
    // its head), that work will soon free queue space or bring input, and our
    // RX role may be needed again: step aside for whoever needs the core
    // (yield), but do not park. Parking here instead was measured on
    // 2026-12-06, side by side: mflow-bench's flow x2 did not move (0.57x
    // flow x1 against 0.56-0.64x: its cause is software steering, see
    // docs/ARCHITECTURE.md), and unpaced UDP 64 B through mflowd in
    // microflow mode fell (testbed, two rounds each: 0.39x and 0.46x of the
    // kernel against 0.60x and 0.50x), because the peer the reader spreads
    // to was asleep. A standby worker (solo: UpdatePlacement) parks: it has
    // no RX role to keep.
    const bool standby = w.id != 0 && solo_.load(std::memory_order_relaxed);
    if (!standby && in_flight_.load(std::memory_order_acquire) != 0) {
      std::this_thread::yield();
      idle = cfg_.idle_spins / 2;
      continue;
    }
    // Idle, and the ports can block: one worker waits in all of them,
    // holding the RX role, so that it is the one to read when input comes
    // (and nobody polls ports that another worker is reading: the poll
    // would return at once, again and again); the others park below until
    // it dispatches work to them. An idle daemon then makes no wake-ups at
    // all (issue: idle cost).
    if (MayRead(w) && ports_wait_ && !stop_requested_.load(std::memory_order_acquire) &&
        !rx_role_.exchange(true, std::memory_order_acquire)) {
      if (!stopping_.load(std::memory_order_acquire)) {
        PoolCacheSlot::FlushThisThread();
        WaitForInput();
      }
      rx_role_.store(false, std::memory_order_release);
      ++thread_stats.sleeps;
      // Poll once more, then wait again: no spinning after a timeout (each
      // poll of such a port is a system call).
      idle = cfg_.idle_spins - 1;
      idle_since = kPollSpent;
      continue;
    }
    // Idle: sleep until a producer unparks us or the timeout lets us poll the
    // RX ports again (a port that cannot wait has no wake-up of its own).
    // Standing by, first wake worker 0: it may have parked because we held
    // the RX role (solo began while we waited in the ports), and then nobody
    // would read until a timeout.
    if (standby) workers_[0]->parker.Unpark();
    PoolCacheSlot::FlushThisThread();
    const uint32_t v = w.parker.Prepare();
    if (!w.idle() || stopping_.load(std::memory_order_acquire)) {
      w.parker.Done();
      idle = 0;
      continue;
    }
    w.parker.Park(v, ports_wait_ ? kPortWaitMs * 1000 : sleep_us);
    w.parker.Done();
    ++thread_stats.sleeps;
    sleep_us = std::min(sleep_us * 2, cfg_.max_sleep_us);
    idle = ports_wait_ ? cfg_.idle_spins - 1 : cfg_.idle_spins / 2;
    idle_since = kPollSpent;
  }
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  thread_stats.cpu_ns =
      static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
  // Release: a reader that sees the clock gone sees the final cpu_ns.
  w.cpu_clock_live.store(false, std::memory_order_release);
}

uint32_t Engine::GatherFds(uint32_t (RxPort::*which)(pollfd*) noexcept, pollfd* fds,
                           uint32_t* first) const {
  uint32_t n = 0;
  for (uint32_t i = 0; i < paths_.size(); ++i) {
    first[i] = n;
    n += (paths_[i]->rx->*which)(fds + n);
  }
  first[paths_.size()] = n;
  return n;
}

// One poll() over the descriptors of every path's port.
void Engine::WaitForInput() {
  pollfd fds[kMaxPaths * RxPort::kMaxWaitFds];
  uint32_t first[kMaxPaths + 1];
  const uint32_t n = GatherFds(&RxPort::WaitFds, fds, first);
  if (poll(fds, n, kPortWaitMs) <= 0) return;
  for (uint32_t i = 0; i < paths_.size(); ++i)
    if (first[i + 1] != first[i]) paths_[i]->rx->AfterWait(fds + first[i]);
}

bool Engine::MayRead(const Worker& w) const {
  return w.id == 0 ||
         (cfg_.mode != SteeringMode::kStage && !solo_.load(std::memory_order_relaxed));
}

bool Engine::TryRx(Worker& w, bool* looked) {
  // Where only worker 0 reads (MayRead) the role is uncontended; it is still
  // taken, because Stop() takes it to end all reading.
  if (stop_requested_.load(std::memory_order_acquire) ||
      rx_role_.exchange(true, std::memory_order_acquire))
    return false;
  *looked = true;
  if (cfg_.mode == SteeringMode::kMicroflow && cfg_.workers > 1) UpdatePlacement();
  // Every path, each time round: what we just delivered into one side may
  // have produced its reply on another (a container's ACK in its TAP).
  // Ports that can wait are read only when one poll() over all their
  // descriptors says so: a round that finds nothing then costs one system
  // call, not an empty read of each port (on a VM where a system call costs
  // 1.1 us, `perf bench syscall basic`, most of an idle worker's polling).
  pollfd fds[kMaxPaths * RxPort::kMaxInputFds];
  uint32_t first[kMaxPaths + 1];
  const uint32_t nfds = GatherFds(&RxPort::InputFds, fds, first);
  const bool polled = nfds != 0 && poll(fds, nfds, 0) >= 0;
  bool got = false;
  for (uint32_t i = 0; i < paths_.size(); ++i) {
    Path* path = paths_[i].get();
    if (polled && first[i + 1] != first[i]) {
      bool ready = false;
      for (uint32_t k = first[i]; k < first[i + 1]; ++k) ready |= fds[k].revents != 0;
      if (!ready && !path->rx->Pending()) continue;
      path->rx->InputReady(fds + first[i]);
    }
    Packet* pkts[kMaxBatch];
    const uint32_t n = path->rx->RxBurst(pkts, path->rx_burst);
    if (n == 0) continue;
    got = true;
    ++w.stats[path->id].rx_bursts;
    w.stats[path->id].rx_packets += n;
    Split(w, *path, pkts, n);
  }
  // Release: the next holder sees the flow tables and rings as we left them.
  rx_role_.store(false, std::memory_order_release);
  return got;
}

}  // namespace mflow
