#include "engine/flow_table.h"

namespace mflow {

StatusOr<std::unique_ptr<FlowTable>> FlowTable::Create(const FlowTableConfig& cfg) {
  if (cfg.capacity == 0 || (cfg.capacity & (cfg.capacity - 1)) != 0)
    return Status::Error("flow table capacity must be a power of two, got " +
                         std::to_string(cfg.capacity));
  if (cfg.workers == 0) return Status::Error("flow table needs at least one worker");
  if (cfg.merge_depth < 2) return Status::Error("merge depth must be at least 2");
  std::unique_ptr<FlowTable> t(new FlowTable(cfg));
  t->flows_.reserve(cfg.capacity);
  for (uint32_t i = 0; i < cfg.capacity; ++i) {
    auto f = std::make_unique<FlowState>();
    f->index = i;
    f->path = cfg.path;
    f->merge = std::make_unique<FlowMerge>(cfg.merge, cfg.merge_depth);
    t->flows_.push_back(std::move(f));
  }
  t->overflow_ = std::make_unique<FlowState>();
  t->overflow_->index = cfg.capacity;
  t->overflow_->path = cfg.path;
  t->overflow_->used = true;
  t->overflow_->merge = std::make_unique<FlowMerge>(cfg.merge, cfg.merge_depth);
  return t;
}

void FlowTable::Init(FlowState* f, const wire::FlowKey& key, uint32_t hash) noexcept {
  // The slot is drained (checked by the caller: every micro-flow issued was
  // released, and that release happened-before the caller's acquire load),
  // so no other thread touches its release side now.
  //
  // Kept: the merge object and the sequence numbers (packets, micro-flows),
  // which run on across the slot's flows as the merge's own count does, and
  // the slot's running totals, so that the engine's totals never fall. The
  // new flow's own figures start at zero: they are the totals minus the
  // base recorded here (FlowIdentity, read by ReadFlowStats).
  f->key = key;
  f->hash = hash;
  f->used = true;
  f->home = hash % cfg_.workers;
  f->rr = f->home;
  f->elephant = false;
  f->window_ms = 0;
  f->window_pkts = 0;
  f->released_any = false;
  FlowIdentity id;
  id.key = key;
  id.base_pkts = f->released_pkts;
  id.base_mfs = f->released_mfs.load(std::memory_order_relaxed);
  id.base_empty_mfs = f->empty_mfs;
  id.base_out_of_order = f->out_of_order;
  f->identity.Store(id);
}

FlowState* FlowTable::Find(const wire::FlowKey& key, uint32_t hash, uint64_t now_ms) noexcept {
  const uint32_t mask = capacity() - 1;
  FlowState* reuse = nullptr;
  for (uint32_t i = 0; i < kProbe; ++i) {
    FlowState* f = flows_[(hash + i) & mask].get();
    if (!f->used) {
      if (reuse == nullptr) reuse = f;
      break;
    }
    if (f->hash == hash && f->key == key) {
      f->last_seen_ms = now_ms;
      return f;
    }
    // A drained, idle flow can give its slot away: nothing of it is in flight
    // (every micro-flow issued was released), so no worker holds its state.
    if (reuse == nullptr && f->open == nullptr && now_ms - f->last_seen_ms > cfg_.idle_ms &&
        f->released_mfs.load(std::memory_order_acquire) == f->issued_mfs)
      reuse = f;
  }
  if (reuse == nullptr) {
    ++overflowed_;
    overflow_->last_seen_ms = now_ms;
    return overflow_.get();
  }
  if (!reuse->used) ++active_;
  Init(reuse, key, hash);
  reuse->last_seen_ms = now_ms;
  return reuse;
}

FlowStats ReadFlowStats(const FlowState& f) noexcept {
  // The counters are read inside the identity's read section: if a new flow
  // took the slot meanwhile, both are read again, so the figures always
  // belong to the key they come with.
  uint64_t released = 0, issued = 0, pkts = 0, empty = 0, ooo = 0;
  const FlowIdentity id = f.identity.Load([&] {
    released = f.released_mfs.load(std::memory_order_acquire);
    issued = f.issued_mfs;
    pkts = f.released_pkts;
    empty = f.empty_mfs;
    ooo = f.out_of_order;
  });
  auto since = [](uint64_t now, uint64_t base) { return now > base ? now - base : 0; };
  FlowStats out;
  out.key = id.key;
  out.elephant = f.elephant;
  out.packets = since(pkts, id.base_pkts);
  out.microflows = since(released, id.base_mfs);
  out.empty_microflows = since(empty, id.base_empty_mfs);
  out.out_of_order = since(ooo, id.base_out_of_order);
  out.in_flight = since(issued, released);
  return out;
}

}  // namespace mflow
