// FlowTable: the split point's per-flow state.
//
// The split point (whoever holds the engine's RX role) classifies each packet
// into a flow, numbers it, and appends it to the flow's open micro-flow. The
// table is changed only by that role, so slots need no lock; the per-flow
// merge state inside FlowState is shared with the workers and synchronizes
// itself (see merge.h).
//
// The control path reads the table while traffic flows (Engine::Flows and
// Stats): every field it reads is a Relaxed<> (one writer, relaxed atomic
// access), and what must be read together when a slot changes hands (the
// key and the figures the new flow starts from) is published through a
// seqlock (FlowIdentity).
//
// Capacity is fixed at construction (no allocation per new flow). A new flow
// takes a free slot, or the first slot within the probe limit whose flow is
// drained (every micro-flow it issued was released) and has been idle for
// idle_ms; when none is left it shares the overflow flow, which is ordered
// like any other flow (correct, just not parallel).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "common/relaxed.h"
#include "common/seqlock.h"
#include "common/status.h"
#include "engine/flow_merge.h"
#include "wire/parse.h"

namespace mflow {

// What the control path reads together about the flow in a slot: its key,
// and the slot's running totals when this flow took the slot over (a slot's
// totals run on across its flows, so that the engine's totals never fall;
// the flow's own figures are the totals minus these).
struct FlowIdentity {
  wire::FlowKey key;
  uint64_t base_pkts = 0;
  uint64_t base_mfs = 0;
  uint64_t base_empty_mfs = 0;
  uint64_t base_out_of_order = 0;
};

struct FlowState {
  wire::FlowKey key;  // the split side's copy (compared per packet)
  uint32_t hash = 0;
  Relaxed<bool> used = false;
  uint32_t index = 0;
  uint32_t path = 0;  // the engine path whose table holds it
  SeqlockCell<FlowIdentity> identity;  // written when a flow takes the slot

  // --- split side (RX role only) ---
  uint64_t next_pkt_seq = 0;
  uint64_t next_mf_seq = 0;
  MicroFlow* open = nullptr;  // micro-flow being filled
  uint32_t home = 0;          // worker of a mouse / of every batch in flow mode
  uint32_t rr = 0;            // elephant: next worker, round robin
  Relaxed<bool> elephant = false;
  bool mice_lane = false;     // its micro-flows go to the workers' mice lane
  uint64_t window_ms = 0;     // elephant detection window start
  uint32_t window_pkts = 0;
  uint64_t last_seen_ms = 0;
  Relaxed<uint64_t> issued_mfs;  // micro-flows handed to workers (slot total)

  // --- merge (shared; self-synchronizing) ---
  std::unique_ptr<FlowMerge> merge;

  // --- release side (one thread at a time: the merger or the flow's worker) ---
  // Slot totals (see FlowIdentity).
  Relaxed<uint64_t> released_pkts;
  Relaxed<uint64_t> empty_mfs;     // micro-flows whose packets were all dropped
  uint64_t last_released_seq = 0;
  bool released_any = false;
  Relaxed<uint64_t> out_of_order;  // packets released below an earlier one: must stay 0
  // Micro-flows released; written by the releasing thread only (release),
  // read by the split side (acquire) to tell whether a slot is drained.
  std::atomic<uint64_t> released_mfs{0};
};

struct FlowTableConfig {
  uint32_t capacity = 16384;  // power of two
  uint32_t workers = 1;
  MergeKind merge = MergeKind::kOrderedQueue;
  uint32_t merge_depth = 64;  // micro-flows in flight per flow
  uint64_t idle_ms = 10000;   // a drained flow idle this long may be replaced
  uint32_t path = 0;          // stamped on every flow (Engine paths)
};

class FlowTable {
 public:
  static StatusOr<std::unique_ptr<FlowTable>> Create(const FlowTableConfig& cfg);

  // The flow of key (created on first sight). Never null. RX role only.
  FlowState* Find(const wire::FlowKey& key, uint32_t hash, uint64_t now_ms) noexcept;

  // Any thread.
  uint32_t capacity() const { return static_cast<uint32_t>(flows_.size()); }
  uint32_t active() const { return active_; }
  FlowState& at(uint32_t i) { return *flows_[i]; }
  const FlowState& at(uint32_t i) const { return *flows_[i]; }
  FlowState& overflow() { return *overflow_; }
  const FlowState& overflow() const { return *overflow_; }
  uint64_t overflowed_packets() const { return overflowed_; }

 private:
  explicit FlowTable(const FlowTableConfig& cfg) : cfg_(cfg) {}
  void Init(FlowState* f, const wire::FlowKey& key, uint32_t hash) noexcept;

  static constexpr uint32_t kProbe = 16;
  FlowTableConfig cfg_;
  std::vector<std::unique_ptr<FlowState>> flows_;
  std::unique_ptr<FlowState> overflow_;
  Relaxed<uint32_t> active_;
  Relaxed<uint64_t> overflowed_;
};

// One flow's micro-flow and merge figures, since the flow took its slot
// (control path: Engine::Flows; estimates while the engine runs).
struct FlowStats {
  wire::FlowKey key;
  bool elephant = false;
  uint64_t packets = 0;     // released
  uint64_t microflows = 0;  // released
  uint64_t empty_microflows = 0;
  uint64_t in_flight = 0;   // micro-flows issued and not yet released
  uint64_t out_of_order = 0;
};
// Reads f's figures from any thread, consistent with the key they come with.
FlowStats ReadFlowStats(const FlowState& f) noexcept;

}  // namespace mflow
