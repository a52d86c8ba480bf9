// Engine: runs a stage chain over the packets of an RxPort on several worker
// threads and hands them to a TxPort, each flow in its original order.
//
// An engine may run several such paths on one set of workers (mflowd: the
// underlay to the containers, and back). Whichever worker delivers a packet
// into one side then reads the reply from the other side itself: a TCP ACK
// costs no hand-off and no wake-up of another thread. Each path has its own
// chain, ports, flow table and counters; workers, queues and micro-flows are
// shared.
//
// The three steering modes run the same stages on the same micro-flows (runs
// of up to `microflow_size` consecutive packets of one flow, cut at the split
// point); they differ only in which thread runs which work:
//
//   flow       every micro-flow of a flow goes to the flow's home worker:
//              the vanilla kernel's placement, steered in software by
//              whichever worker read it (like RPS, not RSS: there is one RX
//              port to read). One flow is capped by one core. (flow_mode.cc)
//   stage      the chain is cut into contiguous groups, group g on worker g,
//              micro-flows passed along SPSC rings: FALCON's pipelining of
//              the stages of one flow.             (stage_mode.cc)
//   microflow  an elephant's micro-flows go to the least-loaded worker (the
//              splitting worker itself among equals, its packets being hot in
//              its cache) and are processed in parallel; the flow's merge
//              releases them in order; mice stay on their home worker.
//              (microflow_mode.cc)
//
// The split point is not a thread: whichever worker is idle takes the RX role
// (a try-lock), reads a burst from each path's port, numbers and cuts it,
// and dispatches. In stage mode worker 0 is the only reader (the pipeline's
// first stage).
//
// Where each concern lives: engine.cc (create, start, stop, process,
// deliver), worker_loop.cc (the idle loop and who reads), split.cc (the
// split point: numbering, elephants, dispatch, placement glue),
// flow_mode.cc / stage_mode.cc / microflow_mode.cc (placement per mode),
// engine_stats.cc (Stats, Flows), classify.cc (the split point's
// classifiers). The ordering contract: docs/ORDERING.md.
//
// Thread-safety: Create/Start/Stop from one control thread; Stats, Flows and
// solo from any thread at any time (every counter they read is a relaxed
// atomic with one writer, see common/relaxed.h: estimates while running,
// exact after Stop).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/relaxed.h"
#include "common/status.h"
#include "engine/flow_merge.h"
#include "engine/flow_table.h"
#include "engine/classify.h"
#include "engine/placement.h"
#include "engine/microflow.h"
#include "engine/microflow_latency.h"
#include "engine/parker.h"
#include "engine/port.h"
#include "packet/pool.h"
#include "ring/spsc_ring.h"
#include "stage/chain.h"

namespace mflow {

enum class SteeringMode { kFlow, kStage, kMicroflow };
std::string_view SteeringModeName(SteeringMode m);
std::optional<SteeringMode> ParseSteeringMode(std::string_view s);

// One path through an engine: its chain, ports and packet pool, and the
// settings of EngineConfig it may set for itself (unset: the engine's).
struct EnginePath {
  StageChain* chain = nullptr;
  RxPort* rx = nullptr;
  TxPort* tx = nullptr;
  PacketPool* pool = nullptr;  // for stages that create packets (TSO headers)
  Classifier classify = nullptr;
  std::optional<uint32_t> microflow_size;
  std::optional<uint32_t> rx_burst;
  std::optional<uint32_t> elephant_pps;
  std::optional<std::vector<uint32_t>> stage_cuts;
  // When set, the split point gives each packet the next numbers of this
  // counter in Packet::wire_seq, in packet order, as many as it will be on
  // the wire (a super-frame: its segments): ESP's outbound sequence numbers
  // (EspSaTable::tx_seq). The split point is its only writer.
  Relaxed<uint64_t>* wire_seq = nullptr;
};

struct EngineConfig {
  SteeringMode mode = SteeringMode::kMicroflow;
  uint32_t workers = 2;
  std::vector<int> cpus;             // pin worker i to cpus[i % size]; empty = no pinning
  uint32_t microflow_size = 128;     // packets per micro-flow (1..kMaxBatch); BENCHMARKS.md
  uint32_t rx_burst = 0;             // packets per RX call; 0 = max(32, microflow_size)
  uint32_t elephant_pps = 20000;     // microflow mode: split flows faster than this (packets on
                                     // the wire: a super-frame counts its segments); 0 = split all
  MergeKind merge = MergeKind::kOrderedQueue;
  uint32_t merge_depth = 16;         // micro-flows in flight per flow
  uint32_t worker_queue_depth = 8;   // micro-flows queued per worker
  uint32_t max_flows = 16384;        // power of two
  uint64_t flow_idle_ms = 10000;     // a drained flow idle this long may give its slot away
  std::vector<uint32_t> stage_cuts;  // stage mode: first stage of groups 1.. (empty = even split)
  Classifier classify = ClassifyRx;
  uint32_t idle_spins = 2000;        // polls before an idle worker sleeps
  // ... and for at least this long (0: rounds only). Time, not rounds, is
  // what catches a reply: a round is one system call, whose cost differs
  // 14x between two VMs this project runs on (0.08 vs 1.1 us). Each round
  // of the window yields the core (worker_loop.cc).
  uint32_t idle_poll_us = 0;
  uint32_t max_sleep_us = 1000;      // longest sleep of an idle worker
  // microflow mode. The engine's default spreads, as the mFlow design does;
  // mflowd's default config measures (auto).
  PlacementMode placement = PlacementMode::kSpread;
};

struct StageStats {
  std::string name;
  uint64_t in = 0;
  uint64_t out = 0;
  std::vector<std::pair<std::string, uint64_t>> drops;  // "<stage>_<reason>", non-zero only
  std::vector<std::string> reasons;  // every reason the stage counts ("<reason>"), zeros included
};

// Per worker, for one path; sleeps and cpu_ns belong to the thread, which
// serves every path of the engine, so each path reports the same figures.
struct WorkerStats {
  uint64_t microflows = 0;  // micro-flows (or stage groups) processed
  uint64_t packets = 0;     // packets entering the chain on this worker
  uint64_t rx_bursts = 0;
  uint64_t rx_packets = 0;
  uint64_t sleeps = 0;
  uint64_t pushback_waits = 0;  // split point waited for a bounded queue
  uint64_t mice_handoffs = 0;   // mice micro-flows handed to a peer (placement: spread)
  uint64_t cpu_ns = 0;          // thread CPU time: read live from the thread's CPU clock
                                // while it runs, its last value once it has ended
};

struct EngineStats {
  std::vector<StageStats> stages;
  std::vector<WorkerStats> workers;
  uint64_t flows = 0;
  uint64_t elephants = 0;
  uint64_t released_packets = 0;  // frames handed to TX (after coalescing/segmentation)
  uint64_t released_microflows = 0;
  uint64_t empty_microflows = 0;
  uint64_t out_of_order = 0;  // packets released below an earlier one of their flow: must be 0
  uint64_t overflowed = 0;    // packets that found no flow slot (shared the overflow flow)
  uint64_t merge_errors = 0;  // merge invariants broken (reorder-window merge): must be 0
  // Placement beside elephants (microflow mode, engine-wide): trials run,
  // trials spreading won, whether the engine spreads now, and whether it
  // runs solo (home beside a TCP elephant: worker 0 alone reads).
  uint64_t placement_trials = 0;
  uint64_t placement_spread_wins = 0;
  uint64_t placement_home_pps = 0;    // the last trial's elephant packets/s at home
  uint64_t placement_spread_pps = 0;  // ... and spread
  bool spread = false;
  bool solo = false;
  // Each released micro-flow with packets: time from the split point
  // reading its first packet to its release (microflow_latency.h).
  MicroflowLatency latency;
  uint64_t drops() const;
};

class Engine {
 public:
  // chain, rx, tx and pool must outlive the engine. pool is where stages
  // that create packets (TSO headers) take them from.
  static StatusOr<std::unique_ptr<Engine>> Create(const EngineConfig& cfg, StageChain* chain,
                                                  RxPort* rx, TxPort* tx, PacketPool* pool);
  // Several paths (at most kMaxPaths) on one set of workers. The engine can
  // block while idle only if every path's port can (RxPort::WaitFds).
  static StatusOr<std::unique_ptr<Engine>> Create(const EngineConfig& cfg,
                                                  const std::vector<EnginePath>& paths);
  static constexpr uint32_t kMaxPaths = 4;
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  void Start();
  // Stops reading, finishes and releases everything in flight, joins.
  void Stop();
  // Exact after Stop; estimates while running. path: index in Create's list.
  // Any thread, any time.
  EngineStats Stats(uint32_t path = 0) const;
  // Whether worker 0 alone reads now (EngineStats::solo); safe while running.
  bool solo() const { return solo_.load(std::memory_order_relaxed); }
  // Up to max flows of a path's flow table (the overflow flow included).
  std::vector<FlowStats> Flows(size_t max, uint32_t path = 0) const;
  const EngineConfig& config() const { return cfg_; }
  uint32_t paths() const { return static_cast<uint32_t>(paths_.size()); }
  uint32_t microflow_size(uint32_t path = 0) const;

 private:
  struct Worker;
  struct Path;
  explicit Engine(const EngineConfig& cfg);

  void WorkerLoop(Worker& w);
  // Reads every path's ready input: whether any came; whether
  // this worker held the RX role and looked at the ports (*looked).
  bool TryRx(Worker& w, bool* looked);
  // Whether w may take the RX role now: every worker, but only worker 0 in
  // stage mode (the pipeline's first group) and while solo (UpdatePlacement).
  bool MayRead(const Worker& w) const;
  void WaitForInput();
  // Every path's descriptors of one kind (RxPort::WaitFds or InputFds) into
  // fds; path i's are fds[first[i]..first[i+1]).
  uint32_t GatherFds(uint32_t (RxPort::*which)(pollfd*) noexcept, pollfd* fds,
                     uint32_t* first) const;
  void Split(Worker& w, Path& path, Packet** pkts, uint32_t n);
  void Dispatch(Worker& w, Path& path, FlowState* f);
  MicroFlow* AllocMicroFlow(Worker& w, const Path& path);
  template <typename Ready>
  void HelpUntil(Worker& w, const Path& path, Ready&& ready);
  void Process(Worker& w, MicroFlow* mf);
  void RunStages(Worker& w, Path& path, MicroFlow* mf, uint32_t first, uint32_t last);
  // On w's thread (it records the micro-flow's latency).
  void Deliver(Worker& w, MicroFlow* mf);
  Path& PathOf(const MicroFlow* mf) const;

  // Mode-specific parts (flow_mode.cc, stage_mode.cc, microflow_mode.cc).
  // idle: nothing of f is in flight (issued == released micro-flows).
  uint32_t PickWorker(Worker& w, const Path& path, FlowState* f, bool idle);
  void ProcessFlow(Worker& w, MicroFlow* mf);
  void ProcessStage(Worker& w, MicroFlow* mf);
  void ProcessMicroflow(Worker& w, MicroFlow* mf);
  // The split point's per-flow elephant window and the placement glue
  // (split.cc).
  void UpdateElephant(const Path& path, FlowState* f, uint32_t wire_pkts, uint64_t now_ms);
  void UpdatePlacement();

  EngineConfig cfg_;
  std::vector<std::unique_ptr<Path>> paths_;
  std::unique_ptr<MicroFlowPool> mf_pool_;
  std::vector<std::unique_ptr<Worker>> workers_;
  // Held by the worker reading the ports and splitting, for every path at
  // once (the worker rings have one producer each), or blocked in them.
  std::atomic<bool> rx_role_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> stop_requested_{false};  // Stop() wants the RX role: do not take it
  std::atomic<int64_t> in_flight_{0};  // micro-flows dispatched and not yet released
  // Placement (microflow mode): the rules (placement.h) run under the RX
  // role; spread_ is their decision for PickWorker (RX role too). The
  // atomics publish the decision and the trial's results for Stats() and
  // the workers (UpdatePlacement).
  Placement placement_;
  bool spread_ = false;
  std::atomic<bool> spread_now_{false};
  std::atomic<bool> solo_{false};  // home beside a TCP elephant: worker 0 alone reads
  std::atomic<uint64_t> placement_trials_{0};
  std::atomic<uint64_t> placement_wins_{0};
  std::atomic<uint64_t> placement_home_pps_{0};
  std::atomic<uint64_t> placement_spread_pps_{0};
  bool started_ = false;
  bool ports_wait_ = false;  // every path's port can block (RxPort::WaitFds)
  // Longest block in the ports or park of an idle worker when the ports can
  // wait: wake-ups come from the ports or from dispatch, so this only bounds
  // how long a lost wake-up could last.
  static constexpr int kPortWaitMs = 1000;
};

}  // namespace mflow
