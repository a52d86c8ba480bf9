// FlowMerge: the merge of one flow, in one of two designs chosen per engine.
//
//   kOrderedQueue  (default) the WireGuard-style ordered queue: micro-flows
//                  are queued at the split point and the merger peeks the
//                  head (merge.h).
//   kReorderWindow the classic alternative, a sequence-number window in the
//                  design of DPDK's rte_reorder (window_merge.h): workers post
//                  completed micro-flows, the merger slots them by number and
//                  drains up to the first gap.
// mflow-bench --merge compares them on the same workload.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "engine/merge.h"
#include "engine/window_merge.h"

namespace mflow {

enum class MergeKind { kOrderedQueue, kReorderWindow };
inline std::string_view MergeKindName(MergeKind k) {
  return k == MergeKind::kOrderedQueue ? "queue" : "window";
}

class FlowMerge {
 public:
  FlowMerge(MergeKind kind, uint32_t depth) {
    if (kind == MergeKind::kOrderedQueue)
      queue_ = std::make_unique<OrderedQueueMerge>(depth);
    else
      window_ = std::make_unique<WindowMerge>(depth);
  }
  // Split side (serial). False: the flow is at its in-flight bound.
  bool Enqueue(MicroFlow* mf) noexcept {
    return queue_ ? queue_->Enqueue(mf) : window_->Enqueue(mf);
  }
  // Any worker, once per micro-flow.
  template <typename Deliver>
  void Complete(MicroFlow* mf, Deliver&& deliver) noexcept {
    if (queue_)
      queue_->Complete(mf, deliver);
    else
      window_->Complete(mf, deliver);
  }
  // Broken merge invariants seen (the window design checks two): must be 0.
  uint64_t errors() const { return window_ ? window_->errors() : 0; }

 private:
  std::unique_ptr<OrderedQueueMerge> queue_;
  std::unique_ptr<WindowMerge> window_;
};

}  // namespace mflow
