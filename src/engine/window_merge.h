// WindowMerge: the sequence-number reorder window alternative to the ordered
// queue (see flow_merge.h), kept to measure the default against.
//
// Workers post completed micro-flows to an MPMC ring; the merger (MergeGate,
// as in merge.h) moves them into a ReorderWindow slot by micro-flow number
// and releases from the window start up to the first gap. The split point
// bounds the micro-flows in flight to the window size, so Insert never sees
// an "early" number and the ring never fills (rule 5 of the contract is kept
// by Enqueue refusing, not by dropping).
// Thread-safety: Enqueue serial (split point); Complete from any worker.
#pragma once

#include <atomic>
#include <cstdint>

#include "engine/merge.h"
#include "engine/microflow.h"
#include "engine/reorder_window.h"
#include "ring/mpmc_ring.h"

namespace mflow {

class WindowMerge {
 public:
  explicit WindowMerge(uint32_t depth) : posted_(depth), window_(posted_.capacity()) {}

  bool Enqueue(MicroFlow*) noexcept {
    if (issued_ - released_.load(std::memory_order_acquire) >= posted_.capacity()) return false;
    ++issued_;
    return true;
  }

  template <typename Deliver>
  void Complete(MicroFlow* mf, Deliver&& deliver) noexcept {
    // The ring's release/acquire publishes the batch to the merger.
    posted_.TryPush(mf);  // cannot fail: in flight <= capacity
    gate_.Run([&] {
      MicroFlow* m = nullptr;
      while (posted_.TryPop(&m)) window_.Insert(m->seq, m);
      MicroFlow* out[32];
      uint32_t n;
      while ((n = window_.Drain(out, 32)) != 0) {
        for (uint32_t i = 0; i < n; ++i) deliver(out[i]);
        released_.fetch_add(n, std::memory_order_release);
      }
    });
  }

 private:
  MpmcRing<MicroFlow*> posted_;
  ReorderWindow<MicroFlow*> window_;
  MergeGate gate_;
  uint64_t issued_ = 0;                 // split side
  std::atomic<uint64_t> released_{0};   // merger side
};

}  // namespace mflow
