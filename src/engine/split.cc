// The split point: numbers each packet within its flow, tells elephants,
// cuts flows into micro-flows and dispatches them; and the glue that feeds
// the placement rules (placement.h) and publishes their decision.
#include <algorithm>

#include "engine/engine_internal.h"
#include "wire/ipv4.h"

namespace mflow {

// The split point: numbers each packet within its flow (contract rule 1),
// cuts flows into micro-flows and dispatches them.
void Engine::Split(Worker& w, Path& path, Packet** pkts, uint32_t n) {
  const uint64_t now_ns = MonotonicNs();
  const uint64_t now_ms = now_ns / 1000000;
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
    if (path.wire_seq != nullptr) {  // ESP sequence numbers, in packet order
      p->wire_seq = path.wire_seq->load();
      *path.wire_seq += wire_pkts;
    }
    const bool was_elephant = f->elephant;
    UpdateElephant(path, f, wire_pkts, now_ms);
    if (f->elephant)  // for the placement: what TCP elephants move, new ones, others
      placement_.OnElephantPacket(f->key.proto == wire::kIpProtoTcp, wire_pkts, !was_elephant,
                                  now_ms);
    if (f->open == nullptr) {
      f->open = AllocMicroFlow(w, path);
      f->open->flow = f;
      f->open->born_ns = now_ns;
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

// Under the RX role, once per round: the placement rules (placement.h) on
// the real clock, their decision published. The atomics are written only
// when their value changes: Stats() reads them, the rounds need not share a
// cache line with it.
void Engine::UpdatePlacement() {
  const Placement::Decision d = placement_.Update(MonotonicNs() / 1000000);
  if (d.spread != spread_) {
    spread_ = d.spread;
    spread_now_.store(d.spread, std::memory_order_relaxed);
  }
  if (d.solo != solo_.load(std::memory_order_relaxed)) solo_.store(d.solo, std::memory_order_relaxed);
  const PlacementTrial& trial = placement_.trial();
  if (trial.trials() != placement_trials_.load(std::memory_order_relaxed)) {
    placement_wins_.store(trial.spread_wins(), std::memory_order_relaxed);
    placement_home_pps_.store(trial.last_home_pps(), std::memory_order_relaxed);
    placement_spread_pps_.store(trial.last_spread_pps(), std::memory_order_relaxed);
    placement_trials_.store(trial.trials(), std::memory_order_relaxed);
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

}  // namespace mflow
