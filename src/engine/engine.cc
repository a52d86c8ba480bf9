#include "engine/engine.h"

#include <algorithm>
#include <cstring>

#include "engine/engine_internal.h"
#include "wire/parse.h"
#include "wire/ipv4.h"
#include "wire/vxlan.h"

namespace mflow {

std::string_view SteeringModeName(SteeringMode m) {
  switch (m) {
    case SteeringMode::kFlow:
      return "flow";
    case SteeringMode::kStage:
      return "stage";
    case SteeringMode::kMicroflow:
      return "microflow";
  }
  return "?";
}

std::optional<SteeringMode> ParseSteeringMode(std::string_view s) {
  if (s == "flow") return SteeringMode::kFlow;
  if (s == "stage") return SteeringMode::kStage;
  if (s == "microflow") return SteeringMode::kMicroflow;
  return std::nullopt;
}

std::string_view PlacementName(PlacementMode m) {
  switch (m) {
    case PlacementMode::kAuto:
      return "auto";
    case PlacementMode::kHome:
      return "home";
    case PlacementMode::kSpread:
      return "spread";
  }
  return "?";
}

std::optional<PlacementMode> ParsePlacement(std::string_view s) {
  if (s == "auto") return PlacementMode::kAuto;
  if (s == "home") return PlacementMode::kHome;
  if (s == "spread") return PlacementMode::kSpread;
  return std::nullopt;
}

bool ClassifyRx(const Packet* p, wire::FlowKey* key) {
  return wire::ClassifyVxlanOuter(p->data, p->len, key);
}

bool ClassifyRxInner(const Packet* p, wire::FlowKey* key) {
  return wire::ClassifyVxlan(p->data, p->len, key);
}

namespace {
bool UdpOnAddresses(bool ok, wire::FlowKey* key);
}  // namespace

bool ClassifyRxSocket(const Packet* p, wire::FlowKey* key) {
  if (p->len < sizeof(wire::VxlanHeader)) return false;
  wire::VxlanHeader vx;
  std::memcpy(&vx, p->data, sizeof(vx));
  return UdpOnAddresses(wire::ClassifyInner(p->data + sizeof(vx),
                                            p->len - static_cast<uint32_t>(sizeof(vx)), vx.vni(), key),
                        key);
}

namespace {

// UDP is keyed on addresses only, as NICs hash UDP for RSS by default: the
// fragments of a datagram carry no ports, so with ports in the key a
// fragmented datagram and its unfragmented neighbours would be different
// flows and could pass each other.
bool UdpOnAddresses(bool ok, wire::FlowKey* key) {
  if (ok && key->proto == wire::kIpProtoUdp) key->sport = key->dport = 0;
  return ok;
}

}  // namespace

bool ClassifyTxPort(const Packet* p, wire::FlowKey* key) {
  return UdpOnAddresses(wire::ClassifyInner(p->data, p->len, p->vni, key), key);
}

bool ClassifyTx(const Packet* p, wire::FlowKey* key) {
  return wire::ClassifyInner(p->data, p->len, p->vni, key);
}

uint64_t EngineStats::drops() const {
  uint64_t n = 0;
  for (const auto& s : stages)
    for (const auto& d : s.drops) n += d.second;
  return n;
}

namespace {

// Stage mode: where each group of a chain of `stages` stages begins (group g
// runs on worker g), from the cuts given or split evenly; one entry more,
// the end.
StatusOr<std::vector<uint32_t>> StageGroups(uint32_t workers, uint32_t stages,
                                            const std::vector<uint32_t>& cuts) {
  const uint32_t groups = std::min(workers, stages);
  std::vector<uint32_t> begin{0};
  if (!cuts.empty()) {
    if (cuts.size() + 1 != groups)
      return Status::Error("stage cuts: need " + std::to_string(groups - 1) + " cut(s) for " +
                           std::to_string(groups) + " groups");
    for (uint32_t c : cuts) {
      if (c <= begin.back() || c >= stages)
        return Status::Error("stage cuts must be increasing stage indices in 1.." +
                             std::to_string(stages - 1));
      begin.push_back(c);
    }
  } else {
    for (uint32_t g = 1; g < groups; ++g) begin.push_back(g * stages / groups);
  }
  begin.push_back(stages);
  return begin;
}

}  // namespace

StatusOr<std::unique_ptr<Engine>> Engine::Create(const EngineConfig& cfg, StageChain* chain,
                                                 RxPort* rx, TxPort* tx, PacketPool* pool) {
  EnginePath p;
  p.chain = chain;
  p.rx = rx;
  p.tx = tx;
  p.pool = pool;
  return Create(cfg, {p});
}

StatusOr<std::unique_ptr<Engine>> Engine::Create(const EngineConfig& cfg,
                                                 const std::vector<EnginePath>& paths) {
  if (paths.empty() || paths.size() > kMaxPaths)
    return Status::Error("engine needs 1.." + std::to_string(kMaxPaths) + " paths");
  if (cfg.workers == 0 || cfg.workers > 64)
    return Status::Error("workers must be 1..64, got " + std::to_string(cfg.workers));
  if (cfg.worker_queue_depth < 2) return Status::Error("worker queue depth must be at least 2");

  std::unique_ptr<Engine> e(new Engine(cfg));
  uint32_t sum_burst = 0;
  for (const EnginePath& in : paths) {
    auto p = std::make_unique<Path>();
    p->id = static_cast<uint32_t>(e->paths_.size());
    const std::string where = paths.size() > 1 ? "path " + std::to_string(p->id) + ": " : "";
    if (in.chain == nullptr || in.rx == nullptr || in.tx == nullptr || in.pool == nullptr)
      return Status::Error(where + "engine needs a stage chain, an rx port, a tx port and a packet pool");
    if (in.chain->size() == 0 || in.chain->size() > kMaxStages)
      return Status::Error(where + "stage chain must have 1.." + std::to_string(kMaxStages) + " stages");
    p->chain = in.chain;
    p->rx = in.rx;
    p->tx = in.tx;
    p->pool = in.pool;
    p->classify = in.classify != nullptr ? in.classify : cfg.classify;
    p->microflow_size = in.microflow_size.value_or(cfg.microflow_size);
    p->rx_burst = in.rx_burst.value_or(cfg.rx_burst);
    p->elephant_pps = in.elephant_pps.value_or(cfg.elephant_pps);
    if (p->classify == nullptr) return Status::Error(where + "engine needs a classifier");
    if (p->microflow_size == 0 || p->microflow_size > kMaxBatch)
      return Status::Error(where + "microflow size must be 1.." + std::to_string(kMaxBatch) + ", got " +
                           std::to_string(p->microflow_size));
    if (p->rx_burst > kMaxBatch)
      return Status::Error(where + "rx burst must be at most " + std::to_string(kMaxBatch));
    if (p->rx_burst == 0) p->rx_burst = std::max<uint32_t>(32, p->microflow_size);
    sum_burst += p->rx_burst;

    FlowTableConfig ft;
    ft.capacity = cfg.max_flows;
    ft.workers = cfg.workers;
    ft.merge = cfg.merge;
    ft.merge_depth = cfg.merge_depth;
    ft.path = p->id;
    auto table = FlowTable::Create(ft);
    if (!table.ok()) return Status::Error(where + table.status().message());
    p->flows = std::move(table).value();

    if (cfg.mode == SteeringMode::kStage) {
      auto groups = StageGroups(cfg.workers, in.chain->size(), in.stage_cuts.value_or(cfg.stage_cuts));
      if (!groups.ok()) return Status::Error(where + groups.status().message());
      p->group_begin = std::move(groups).value();
    }
    e->paths_.push_back(std::move(p));
  }

  // Enough micro-flows for every worker queue, one burst of open ones per
  // path, and the done-but-not-yet-merged ones waiting behind a slow head;
  // running out is not an error (the split point helps and waits), only
  // slower. A burst may be all mice, each its own micro-flow: the mice lane
  // holds one burst of every path (one RX round reads them all).
  const uint32_t mice_depth = cfg.worker_queue_depth + sum_burst;
  e->mf_pool_ = std::make_unique<MicroFlowPool>(cfg.workers * cfg.worker_queue_depth * 2 +
                                                cfg.workers * mice_depth + sum_burst + 64);

  for (uint32_t i = 0; i < cfg.workers; ++i) {
    auto w = std::make_unique<Worker>(cfg.worker_queue_depth, mice_depth);
    w->id = i;
    e->workers_.push_back(std::move(w));
  }
  return e;
}

Engine::Engine(const EngineConfig& cfg) : cfg_(cfg) {}

Engine::~Engine() { Stop(); }

void Engine::Start() {
  if (started_) return;
  started_ = true;
  stopping_.store(false, std::memory_order_release);
  ports_wait_ = true;
  for (auto& p : paths_) {
    pollfd fds[RxPort::kMaxWaitFds];
    ports_wait_ &= p->rx->WaitFds(fds) != 0;
  }
  for (auto& w : workers_) {
    Worker* wp = w.get();
    w->thread = std::thread([this, wp] { WorkerLoop(*wp); });
    if (!cfg_.cpus.empty()) {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(cfg_.cpus[wp->id % cfg_.cpus.size()], &set);
      pthread_setaffinity_np(w->thread.native_handle(), sizeof(set), &set);
    }
  }
}

void Engine::Stop() {
  if (!started_) return;
  // First take the RX role for good: once we hold it no worker is splitting
  // or can start to, so the in-flight count can only fall. Only then tell
  // the workers to finish; a worker leaves once nothing is in flight. (Doing
  // it the other way round lets a split that was already under way hand a
  // micro-flow to a worker that has just left.)
  // A worker may hold the role while blocked in the ports: interrupt it.
  // stop_requested_ keeps idle workers from taking the role back to wait
  // again, which could otherwise win the race against us for seconds.
  stop_requested_.store(true, std::memory_order_release);
  while (rx_role_.exchange(true, std::memory_order_acquire)) {
    for (auto& p : paths_) p->rx->Interrupt();
    std::this_thread::yield();
  }
  stopping_.store(true, std::memory_order_release);
  for (auto& w : workers_) w->parker.Unpark();
  for (auto& w : workers_)
    if (w->thread.joinable()) w->thread.join();
  rx_role_.store(false, std::memory_order_release);
  stop_requested_.store(false, std::memory_order_relaxed);
  started_ = false;
}

void Engine::WorkerLoop(Worker& w) {
  uint32_t idle = 0;
  uint32_t sleep_us = 20;
  WorkerStats& thread_stats = w.stats[0];  // sleeps, cpu_ns: the thread's
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
    if (MayRead(w) && TryRx(w)) did = true;
    if (did) {
      idle = 0;
      sleep_us = 20;
      continue;
    }
    if (stopping_.load(std::memory_order_acquire) &&
        in_flight_.load(std::memory_order_acquire) == 0 && w.idle())
      break;
    if (++idle < cfg_.idle_spins) {
      CpuRelax();
      continue;
    }
    // Work in flight elsewhere (a peer processing, a merge waiting for its
    // head) will soon free buffers and queue space, and our RX role may be
    // needed again: step aside for whoever needs the core, but do not sleep.
    // Sleeping here, with exponentially growing timeouts, starves the
    // pipeline whenever the input is merely held up by our own back-pressure.
    // A standby worker (solo: UpdatePlacement) does neither: it parks.
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
      if (!stopping_.load(std::memory_order_acquire)) WaitForInput();
      rx_role_.store(false, std::memory_order_release);
      ++thread_stats.sleeps;
      // Poll once more, then wait again: no spinning after a timeout (each
      // poll of such a port is a system call).
      idle = cfg_.idle_spins - 1;
      continue;
    }
    // Idle: sleep until a producer unparks us or the timeout lets us poll the
    // RX ports again (a port that cannot wait has no wake-up of its own).
    // Standing by, first wake worker 0: it may have parked because we held
    // the RX role (solo began while we waited in the ports), and then nobody
    // would read until a timeout.
    if (standby) workers_[0]->parker.Unpark();
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
  }
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  thread_stats.cpu_ns =
      static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// One poll() over the descriptors of every path's port.
void Engine::WaitForInput() {
  pollfd fds[kMaxPaths * RxPort::kMaxWaitFds];
  uint32_t first[kMaxPaths + 1];
  uint32_t n = 0;
  for (uint32_t i = 0; i < paths_.size(); ++i) {
    first[i] = n;
    n += paths_[i]->rx->WaitFds(fds + n);
  }
  first[paths_.size()] = n;
  if (poll(fds, n, kPortWaitMs) <= 0) return;
  for (uint32_t i = 0; i < paths_.size(); ++i)
    if (first[i + 1] != first[i]) paths_[i]->rx->AfterWait(fds + first[i]);
}

bool Engine::MayRead(const Worker& w) const {
  return w.id == 0 ||
         (cfg_.mode != SteeringMode::kStage && !solo_.load(std::memory_order_relaxed));
}

bool Engine::TryRx(Worker& w) {
  // Where only worker 0 reads (MayRead) the role is uncontended; it is still
  // taken, because Stop() takes it to end all reading.
  if (stop_requested_.load(std::memory_order_acquire) ||
      rx_role_.exchange(true, std::memory_order_acquire))
    return false;
  if (cfg_.mode == SteeringMode::kMicroflow && cfg_.workers > 1) UpdatePlacement();
  // Every path, each time round: what we just delivered into one side may
  // have produced its reply on another (a container's ACK in its TAP).
  bool got = false;
  for (auto& path : paths_) {
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

// The split point: numbers each packet within its flow (contract rule 1),
// cuts flows into micro-flows and dispatches them.
void Engine::Split(Worker& w, Path& path, Packet** pkts, uint32_t n) {
  const uint64_t now_ms = MonotonicNs() / 1000000;
  w.ctx.now_ms = now_ms;
  FlowState* touched[kMaxBatch];
  uint32_t ntouched = 0;
  FlowState* last = nullptr;
  for (uint32_t i = 0; i < n; ++i) {
    Packet* p = pkts[i];
    wire::FlowKey key;
    FlowState* f;
    if (!path.classify(p, &key)) {
      f = &path.flows->overflow();
    } else if (last != nullptr && last->key == key) {
      // Runs of one flow are the common case: no hash, no table probe.
      f = last;
      p->flow_hash = f->hash;
    } else {
      const uint32_t hash = wire::FlowHash(key);
      p->flow_hash = hash;
      f = path.flows->Find(key, hash, now_ms);
    }
    last = f;
    p->seq = f->next_pkt_seq++;
    // Packets on the wire: a super-frame counts as its segments.
    const uint32_t wire_pkts = std::max<uint32_t>(1, p->gso_segs);
    const bool was_elephant = f->elephant;
    UpdateElephant(path, f, wire_pkts, now_ms);
    if (f->elephant) {  // for the PlacementTrial: what TCP elephants move, new ones
      if (f->key.proto == wire::kIpProtoTcp) {
        if (!was_elephant) ++new_elephants_;
        elephant_pkts_ += wire_pkts;
        last_elephant_ms_ = now_ms;
      } else {
        last_open_loop_ms_ = now_ms;
      }
    }
    if (f->open == nullptr) {
      f->open = AllocMicroFlow(w, path);
      f->open->flow = f;
      touched[ntouched++] = f;
    }
    f->open->batch.Push(p);
    if (f->open->batch.n >= path.microflow_size) Dispatch(w, path, f);
  }
  // Flush partial micro-flows at the end of the burst, as NAPI flushes GRO at
  // the end of a poll: a mouse's packets must not wait for more to come.
  for (uint32_t i = 0; i < ntouched; ++i)
    if (touched[i]->open != nullptr) Dispatch(w, path, touched[i]);
}

// Under the RX role, once per round. The atomics are written only when their
// value changes: Stats() reads them, the rounds need not share a cache line
// with it.
void Engine::UpdatePlacement() {
  const uint64_t now_ms = MonotonicNs() / 1000000;
  // The trial measures while a TCP elephant runs (kElephantActiveMs after its
  // last packet: no epoch is measured after it ended); the placement holds
  // kPlacementHoldMs, so that a reader busy for longer than that between two
  // reads does not flip it.
  const bool tcp = now_ms - last_elephant_ms_ < kElephantActiveMs;
  const bool tcp_recent = now_ms - last_elephant_ms_ < kPlacementHoldMs;
  const bool open_loop = now_ms - last_open_loop_ms_ < kPlacementHoldMs;
  // The trial's measure, the packets elephants move through the split point,
  // is what a TCP receiver gets: TCP holds its sender to the path's rate. An
  // elephant of any other protocol may be an open-loop sender (unpaced UDP)
  // that overruns the receiving container, and then more packets through
  // the split point is not more delivered (measured on the testbed: home
  // moved as many UDP datagrams through the receiving daemon's split point,
  // while spreading delivered 1.5x as many). Beside such an elephant, spread.
  bool spread = false;
  switch (cfg_.placement) {
    case PlacementMode::kHome:
      break;
    case PlacementMode::kSpread:
      spread = open_loop || tcp_recent;
      break;
    case PlacementMode::kAuto:
      spread = open_loop || (tcp ? placement_.Spread(now_ms, elephant_pkts_, new_elephants_)
                                 : tcp_recent && spread_);
      break;
  }
  if (spread != spread_) {
    spread_ = spread;
    spread_now_.store(spread, std::memory_order_relaxed);
  }
  // Home beside a TCP elephant is solo: worker 0 alone reads, and since a flow
  // with nothing in flight moves to the worker that read it (PickWorker),
  // every flow comes to run there, as on one core; the other workers finish
  // what was theirs and stand by, parked. Home used to keep every worker
  // reading: whichever was idle read the next burst and handed the elephant
  // back to its busy home, or polled the ports while it waited, on cores the
  // containers needed (measured: 1 worker moved 2-7 % more than 2 kept home).
  const bool solo = tcp_recent && !spread;
  if (solo != solo_.load(std::memory_order_relaxed)) solo_.store(solo, std::memory_order_relaxed);
  if (placement_.trials() != placement_trials_.load(std::memory_order_relaxed)) {
    placement_wins_.store(placement_.spread_wins(), std::memory_order_relaxed);
    placement_home_pps_.store(placement_.last_home_pps(), std::memory_order_relaxed);
    placement_spread_pps_.store(placement_.last_spread_pps(), std::memory_order_relaxed);
    placement_trials_.store(placement_.trials(), std::memory_order_relaxed);
  }
}

void Engine::UpdateElephant(const Path& path, FlowState* f, uint32_t wire_pkts, uint64_t now_ms) {
  // 10 ms windows: a flow is an elephant while its last complete window, or
  // the current one so far, carried more than elephant_pps packets on the
  // wire. A super-frame counts as its segments: a container's bulk TCP is an
  // elephant at the same rate whether it hands over 64 KiB frames or MTU
  // ones, and its stream of lone ACKs does not become one by frame count.
  static constexpr uint64_t kWindowMs = 10;
  const uint32_t limit = static_cast<uint32_t>(uint64_t{path.elephant_pps} * kWindowMs / 1000);
  if (now_ms - f->window_ms >= kWindowMs) {
    f->elephant = f->window_pkts > limit && now_ms - f->window_ms < 2 * kWindowMs;
    f->window_ms = now_ms;
    f->window_pkts = 0;
  }
  f->window_pkts += wire_pkts;
  if (f->window_pkts > limit) f->elephant = true;
}

void Engine::Dispatch(Worker& w, Path& path, FlowState* f) {
  MicroFlow* mf = f->open;
  f->open = nullptr;
  mf->seq = f->next_mf_seq++;
  // Nothing of the flow in flight: it may change worker (and lane).
  const bool idle = f->issued_mfs == f->released_mfs.load(std::memory_order_acquire);
  const uint32_t target = PickWorker(w, path, f, idle);
  if (cfg_.mode == SteeringMode::kMicroflow) {
    // Rule 2: join the flow's ordered queue before any worker sees it.
    // Rule 5: when the flow is at its bound, push back (help, retry).
    HelpUntil(w, path, [&] { return f->merge->Enqueue(mf); });
  }
  // Lanes: mice (not elephants) in the mice lane, in flow and microflow
  // mode. In flow mode a flow's order is its worker's FIFO order, so it
  // changes lanes only when nothing of it is in flight (idle, as it changes
  // worker in PickWorker); in microflow mode the merge restores the order
  // whatever the lane.
  if (idle || cfg_.mode == SteeringMode::kMicroflow)
    f->mice_lane = cfg_.mode != SteeringMode::kStage && !f->elephant;
  ++f->issued_mfs;
  in_flight_.fetch_add(1, std::memory_order_relaxed);
  Worker& t = *workers_[target];
  SpscRing<MicroFlow*>& lane = f->mice_lane ? t.mice : t.ring;
  HelpUntil(w, path, [&] { return lane.TryPush(mf); });
  if (&t != &w) t.parker.Unpark();
}

MicroFlow* Engine::AllocMicroFlow(Worker& w, const Path& path) {
  MicroFlow* m = nullptr;
  HelpUntil(w, path, [&] { return (m = mf_pool_->Alloc()) != nullptr; });
  return m;
}

Engine::Path& Engine::PathOf(const MicroFlow* mf) const { return *paths_[mf->flow->path]; }

uint32_t Engine::microflow_size(uint32_t path) const { return paths_.at(path)->microflow_size; }

void Engine::Process(Worker& w, MicroFlow* mf) {
  // Every worker keeps its own clock for the stages (FDB aging), read once
  // per micro-flow: workers that never hold the RX role need it too.
  w.ctx.now_ms = CoarseMs();
  WorkerStats& st = w.stats[mf->flow->path];
  ++st.microflows;
  st.packets += mf->batch.n;
  switch (cfg_.mode) {
    case SteeringMode::kFlow:
      ProcessFlow(w, mf);
      break;
    case SteeringMode::kStage:
      ProcessStage(w, mf);
      break;
    case SteeringMode::kMicroflow:
      ProcessMicroflow(w, mf);
      break;
  }
}

void Engine::RunStages(Worker& w, Path& path, MicroFlow* mf, uint32_t first, uint32_t last) {
  w.ctx.pool = path.pool;
  path.chain->Run(mf->batch, w.ctx, w.counters[path.id], first, last);
}

// Hands a micro-flow's surviving packets to the TX port, in order. Runs on
// one thread at a time per flow (the merger, or the flow's only worker).
void Engine::Deliver(MicroFlow* mf) {
  FlowState* f = mf->flow;
  Batch& b = mf->batch;
  for (uint32_t i = 0; i < b.n; ++i) {
    const uint64_t s = b.pkts[i]->seq;
    if (f->released_any && s <= f->last_released_seq) ++f->out_of_order;
    f->last_released_seq = s;
    f->released_any = true;
  }
  f->released_pkts += b.n;
  if (b.n == 0) ++f->empty_mfs;
  if (b.n != 0) PathOf(mf).tx->TxBurst(b.pkts, b.n);
  // Single writer: a plain increment published with release, no RMW.
  f->released_mfs.store(f->released_mfs.load(std::memory_order_relaxed) + 1,
                        std::memory_order_release);
  mf_pool_->Free(mf);
  in_flight_.fetch_sub(1, std::memory_order_release);
}

std::vector<FlowStats> Engine::Flows(size_t max, uint32_t path) const {
  FlowTable& flows = *paths_.at(path)->flows;
  std::vector<FlowStats> out;
  auto add = [&](const FlowState& f) {
    // The overflow flow is always "used"; list it once it carried traffic.
    if (!f.used || out.size() >= max || f.issued_mfs == 0) return;
    FlowStats fs;
    fs.key = f.key;
    fs.elephant = f.elephant;
    fs.packets = f.released_pkts;
    fs.microflows = f.released_mfs.load(std::memory_order_acquire);
    fs.empty_microflows = f.empty_mfs;
    fs.in_flight = f.issued_mfs > fs.microflows ? f.issued_mfs - fs.microflows : 0;
    fs.out_of_order = f.out_of_order;
    out.push_back(fs);
  };
  for (uint32_t i = 0; i < flows.capacity(); ++i) add(flows.at(i));
  add(flows.overflow());
  return out;
}

EngineStats Engine::Stats(uint32_t path) const {
  const Path& p = *paths_.at(path);
  EngineStats s;
  for (uint32_t i = 0; i < p.chain->size(); ++i) {
    const Stage& st = p.chain->at(i);
    StageStats ss;
    ss.name = std::string(st.name());
    const auto reasons = st.drop_reasons();
    std::vector<uint64_t> drops(kMaxDropReasons, 0);
    for (const auto& w : workers_) {
      const StageCounters& c = w->counters[path][i];
      ss.in += c.in;
      ss.out += c.out;
      for (uint32_t r = 0; r < kMaxDropReasons; ++r) drops[r] += c.drops[r];
    }
    for (uint32_t r = 0; r < kMaxDropReasons; ++r)
      if (drops[r] != 0)
        ss.drops.emplace_back(ss.name + "_" + (r < reasons.size() ? std::string(reasons[r]) : "other"),
                              drops[r]);
    s.stages.push_back(std::move(ss));
  }
  for (const auto& w : workers_) {
    WorkerStats ws = w->stats[path];
    ws.sleeps = w->stats[0].sleeps;
    ws.cpu_ns = w->stats[0].cpu_ns;
    s.workers.push_back(ws);
  }
  auto add_flow = [&](const FlowState& f) {
    if (!f.used) return;
    const uint64_t released = f.released_mfs.load(std::memory_order_acquire);
    if (released != 0) ++s.flows;
    if (f.elephant) ++s.elephants;
    s.released_packets += f.released_pkts;
    s.released_microflows += released;
    s.empty_microflows += f.empty_mfs;
    s.out_of_order += f.out_of_order;
  };
  for (uint32_t i = 0; i < p.flows->capacity(); ++i) add_flow(p.flows->at(i));
  add_flow(p.flows->overflow());
  s.overflowed = p.flows->overflowed_packets();
  s.placement_trials = placement_trials_.load(std::memory_order_relaxed);
  s.placement_spread_wins = placement_wins_.load(std::memory_order_relaxed);
  s.placement_home_pps = placement_home_pps_.load(std::memory_order_relaxed);
  s.placement_spread_pps = placement_spread_pps_.load(std::memory_order_relaxed);
  s.spread = spread_now_.load(std::memory_order_relaxed);
  s.solo = solo_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace mflow
