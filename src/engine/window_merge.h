// WindowMerge: the sequence-number reorder window alternative to the ordered
// queue (see flow_merge.h), kept to measure the default against.
//
// Workers post completed micro-flows to an MPMC ring; the merger (MergeGate,
// as in merge.h) moves them into a ReorderWindow slot by micro-flow number
// and releases from the window start up to the first gap. The split point
// bounds the micro-flows in flight to the window size, so Insert never sees
// an "early" number and the ring never fills (rule 5 of the contract is kept
// by Enqueue refusing, not by dropping); both are checked, and a breach is
// counted (errors(), EngineStats::merge_errors) and handled without loss.
// Thread-safety: Enqueue serial (split point); Complete from any worker.
#pragma once

#include <atomic>
#include <cassert>
#include <cstdint>

#include "common/compiler.h"
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
    // The ring's release/acquire publishes the batch to the merger. It has
    // room for every micro-flow in flight (Enqueue bounds them to its
    // capacity), so a full ring is a broken invariant: count it, and make
    // room by merging (whoever holds the gate drains the ring) rather than
    // lose the micro-flow.
    if (MFLOW_UNLIKELY(!posted_.TryPush(mf))) {
      assert(false && "WindowMerge: posted ring full");
      errors_.fetch_add(1, std::memory_order_relaxed);
      while (!posted_.TryPush(mf)) gate_.Run([&] { Merge(deliver); });
    }
    gate_.Run([&] { Merge(deliver); });
  }

  // Broken invariants seen (a full ring, a number refused by the window):
  // must stay 0. Any thread.
  uint64_t errors() const { return errors_.load(std::memory_order_relaxed); }

 private:
  // Under the gate: slot what was posted, release the window's ready front.
  template <typename Deliver>
  void Merge(Deliver& deliver) noexcept {
    MicroFlow* m = nullptr;
    while (posted_.TryPop(&m)) {
      // Every number is inside the window (the in-flight bound) and comes
      // exactly once (rule 3), so Insert cannot refuse it; a refusal is a
      // broken invariant, counted, and handled without loss:
      switch (window_.Insert(m->seq, m)) {
        case ReorderResult::kOk:
          break;
        case ReorderResult::kEarly:
          // Beyond the window: the bound was broken. Deliver it now rather
          // than lose it; the engine's order check (out_of_order) shows any
          // reordering this causes.
          assert(false && "WindowMerge: micro-flow beyond the window");
          errors_.fetch_add(1, std::memory_order_relaxed);
          deliver(m);
          released_.fetch_add(1, std::memory_order_release);
          break;
        case ReorderResult::kLate:
        case ReorderResult::kDuplicate:
          // Completed twice: its first completion delivers (or delivered)
          // it; delivering it again would free it twice.
          assert(false && "WindowMerge: micro-flow completed twice");
          errors_.fetch_add(1, std::memory_order_relaxed);
          break;
      }
    }
    MicroFlow* out[32];
    uint32_t n;
    while ((n = window_.Drain(out, 32)) != 0) {
      for (uint32_t i = 0; i < n; ++i) deliver(out[i]);
      released_.fetch_add(n, std::memory_order_release);
    }
  }

  MpmcRing<MicroFlow*> posted_;
  ReorderWindow<MicroFlow*> window_;
  MergeGate gate_;
  uint64_t issued_ = 0;                 // split side
  std::atomic<uint64_t> released_{0};   // merger side
  std::atomic<uint64_t> errors_{0};
};

}  // namespace mflow
