// The engine's life cycle and the work common to every mode: create, start,
// stop, process a micro-flow, deliver it. Who reads is in worker_loop.cc,
// the split point in split.cc, the figures in engine_stats.cc.
#include "engine/engine.h"

#include <algorithm>

#include "engine/engine_internal.h"

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
    p->wire_seq = in.wire_seq;
    for (uint32_t i = 0; i < in.chain->size(); ++i)
      if (in.chain->at(i).has_release()) p->release_stages.push_back(i);
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
    ft.idle_ms = cfg.flow_idle_ms;
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
    w->ctx.worker = i;
    e->workers_.push_back(std::move(w));
  }
  return e;
}

Engine::Engine(const EngineConfig& cfg) : cfg_(cfg), placement_(cfg.placement) {}

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

Engine::Path& Engine::PathOf(const MicroFlow* mf) const { return *paths_[mf->flow->path]; }

uint32_t Engine::microflow_size(uint32_t path) const { return paths_.at(path)->microflow_size; }

void Engine::Process(Worker& w, MicroFlow* mf) {
  // Every worker keeps its own clock for the stages (FDB aging), read once
  // per micro-flow: workers that never hold the RX role need it too.
  w.ctx.now_ms = CoarseMs();
  WorkerCounters& st = w.stats[mf->flow->path];
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
void Engine::Deliver(Worker& w, MicroFlow* mf) {
  FlowState* f = mf->flow;
  Batch& b = mf->batch;
  // The stages' in-order parts (ESP's replay window update), in flow order.
  Path& path = PathOf(mf);
  for (uint32_t s : path.release_stages) {
    if (b.n == 0) break;
    w.ctx.counters = &w.counters[path.id][s];
    path.chain->at(s).Release(b, w.ctx);
  }
  for (uint32_t i = 0; i < b.n; ++i) {
    if (MFLOW_UNLIKELY(b.pkts[i]->flags & kPktFlagCopy)) continue;  // its original was counted
    const uint64_t s = b.pkts[i]->seq;
    if (f->released_any && s <= f->last_released_seq) ++f->out_of_order;
    f->last_released_seq = s;
    f->released_any = true;
  }
  f->released_pkts += b.n;
  if (b.n == 0) ++f->empty_mfs;
  if (b.n != 0) {
    // One clock read per micro-flow (vDSO), into this worker's histogram.
    w.latency[f->path].Add(MonotonicNs() - mf->born_ns);
    path.tx->TxBurst(b.pkts, b.n);
  }
  // Single writer: a plain increment published with release, no RMW.
  f->released_mfs.store(f->released_mfs.load(std::memory_order_relaxed) + 1,
                        std::memory_order_release);
  mf_pool_->Free(mf);
  in_flight_.fetch_sub(1, std::memory_order_release);
}

}  // namespace mflow
