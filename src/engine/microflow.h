// MicroFlow: a run of consecutive packets of one flow, the unit of work.
//
// In every steering mode the split point cuts each flow into micro-flows of
// up to EngineConfig::microflow_size packets (and at the end of each receive
// burst, as NAPI flushes at the end of a poll), so all modes process the same
// batches and produce the same frames; only the thread that runs a batch
// differs. In microflow mode the micro-flows of one flow run on different
// workers at once and the flow's merge puts them back in order.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "common/status.h"
#include "packet/batch.h"
#include "ring/mpmc_ring.h"

namespace mflow {

struct FlowState;

enum MicroFlowState : uint32_t {
  kMfInFlight = 0,  // queued or being processed
  kMfDone = 1,      // processed; batch holds what survived the stages (maybe nothing)
};

struct MicroFlow {
  Batch batch;
  FlowState* flow = nullptr;
  uint64_t seq = 0;          // micro-flow number within its flow (from 0)
  uint32_t next_group = 0;   // stage mode: next stage group to run
  uint64_t born_ns = 0;      // when the split point read its first packet (MonotonicNs)
  // Written by the worker that processed the batch, read by the merger. The
  // store is release (or stronger) so the batch contents are visible to
  // whoever acquires it; see FlowMerge.
  std::atomic<uint32_t> state{kMfInFlight};
};

// A fixed set of micro-flows. Thread-safety: any thread.
class MicroFlowPool {
 public:
  explicit MicroFlowPool(uint32_t count) : items_(std::make_unique<MicroFlow[]>(count)), free_(count) {
    for (uint32_t i = 0; i < count; ++i) free_.TryPush(&items_[i]);
  }
  MicroFlow* Alloc() noexcept {
    MicroFlow* m = nullptr;
    if (!free_.TryPop(&m)) return nullptr;
    m->batch.Clear();
    m->flow = nullptr;
    m->seq = 0;
    m->next_group = 0;
    m->state.store(kMfInFlight, std::memory_order_relaxed);
    return m;
  }
  void Free(MicroFlow* m) noexcept { free_.TryPush(m); }
  uint32_t available() const { return free_.size(); }

 private:
  std::unique_ptr<MicroFlow[]> items_;
  MpmcRing<MicroFlow*> free_;
};

}  // namespace mflow
