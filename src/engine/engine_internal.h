// Engine internals shared by the engine's files (engine.cc, worker_loop.cc,
// split.cc, engine_stats.cc and the three mode files).
#pragma once

#include <pthread.h>

#include <thread>

#include "common/clock.h"
#include "common/relaxed.h"
#include "engine/engine.h"

namespace mflow {

// One direction through the engine (EnginePath, resolved against the
// engine's config).
struct Engine::Path {
  uint32_t id = 0;
  StageChain* chain = nullptr;
  RxPort* rx = nullptr;
  TxPort* tx = nullptr;
  PacketPool* pool = nullptr;
  Classifier classify = nullptr;
  uint32_t microflow_size = 0;
  uint32_t rx_burst = 0;
  uint32_t elephant_pps = 0;
  std::vector<uint32_t> group_begin;  // stage mode: group g runs [group_begin[g], group_begin[g+1])
  std::unique_ptr<FlowTable> flows;
  Relaxed<uint64_t>* wire_seq = nullptr;
  std::vector<uint32_t> release_stages;  // stages with an in-order part (Stage::has_release)
};

// A worker's figures for one path (WorkerStats, as the worker keeps them):
// written by that worker only, read by Stats() at any time.
struct WorkerCounters {
  Relaxed<uint64_t> microflows;
  Relaxed<uint64_t> packets;
  Relaxed<uint64_t> rx_bursts;
  Relaxed<uint64_t> rx_packets;
  Relaxed<uint64_t> sleeps;
  Relaxed<uint64_t> pushback_waits;
  Relaxed<uint64_t> mice_handoffs;
  Relaxed<uint64_t> cpu_ns;
  WorkerStats Snapshot() const {
    WorkerStats s;
    s.microflows = microflows;
    s.packets = packets;
    s.rx_bursts = rx_bursts;
    s.rx_packets = rx_packets;
    s.sleeps = sleeps;
    s.pushback_waits = pushback_waits;
    s.mice_handoffs = mice_handoffs;
    s.cpu_ns = cpu_ns;
    return s;
  }
};

struct Engine::Worker {
  Worker(uint32_t depth, uint32_t mice_depth) : ring(depth), mice(mice_depth) {}
  uint32_t id = 0;
  std::thread thread;
  // Producer: the RX role (microflow, flow) or worker id-1 (stage). One RX
  // role covers every path, so that each ring keeps a single producer.
  SpscRing<MicroFlow*> ring;
  // The mice lane (flow and microflow modes): micro-flows of flows that are
  // not elephants, served before `ring`, so that a mouse's packet does not
  // wait behind queued elephant micro-flows. Producer: the RX role.
  SpscRing<MicroFlow*> mice;
  bool idle() const { return ring.empty() && mice.empty(); }
  // The next queued micro-flow, mice first.
  bool Pop(MicroFlow** mf) { return mice.TryPop(mf) || ring.TryPop(mf); }
  Parker parker;
  StageContext ctx;
  StageCounters counters[kMaxPaths][kMaxStages];
  // The RX role holder counts its bursts in its own Worker's counters, so
  // each counter still has one writer. sleeps, cpu_ns: in stats[0] only
  // (the thread's).
  WorkerCounters stats[kMaxPaths];
  MicroflowLatencyCounters latency[kMaxPaths];
  // The thread's CPU clock (pthread_getcpuclockid), for Stats() to read its
  // CPU time live: valid while cpu_clock_live, which the thread sets on
  // entry and clears (release) after its final cpu_ns on exit. Costs the
  // worker nothing while it runs.
  std::atomic<clockid_t> cpu_clock{0};
  std::atomic<bool> cpu_clock_live{false};
};

// Waiting for a peer: spin politely for a few dozen rounds, then yield the
// core, since the peer we wait for is probably not running (the machine is
// shared with the containers we serve).
class Backoff {
 public:
  void Pause() {
    if (++spins_ < 64)
      CpuRelax();
    else
      std::this_thread::yield();
  }
  void Reset() { spins_ = 0; }

 private:
  uint32_t spins_ = 0;
};

// The split point of a path waits for room (merge bound, a worker's queue,
// the micro-flow pool) by making progress on its own queue, never by
// dropping. The queue holds micro-flows of every path, so helping moves them
// all along; reading waits meanwhile, for every path (one RX role).
template <typename Ready>
void Engine::HelpUntil(Worker& w, const Path& path, Ready&& ready) {
  Backoff backoff;
  while (!ready()) {
    ++w.stats[path.id].pushback_waits;
    MicroFlow* mf = nullptr;
    if (w.Pop(&mf)) {
      Process(w, mf);
      backoff.Reset();
    } else {
      backoff.Pause();
    }
  }
}

}  // namespace mflow
