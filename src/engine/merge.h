// The merge: releases the micro-flows of one flow in their original order,
// whichever workers processed them and in whatever order they finished.
//
// The ordering contract (docs/ORDERING.md: each rule, where it lives and
// which tests check it), as this file keeps it:
//   1. packets are numbered per flow at the split point (Engine split, before
//      any parallel stage): Packet::seq, MicroFlow::seq;
//   2. a micro-flow joins its flow's ordered queue (Enqueue) BEFORE it is
//      handed to a worker, so the queue order is the flow order;
//   3. every micro-flow completes exactly once (Complete), also when its
//      stages dropped every packet: it then completes with an empty batch and
//      passes through the merge like any other, so a drop never leaves a hole;
//   4. the merger peeks the head and stops at the first micro-flow still in
//      flight (OrderedQueueMerge::Drain);
//   5. the queue is bounded: Enqueue fails when `depth` micro-flows are in
//      flight and the split point pushes back (it helps process and retries)
//      instead of dropping;
//   6. completion is published with a release store and read with an acquire
//      load (see Complete/Drain), which makes the batch visible to the merger.
//
// There is no merge thread. The worker that completes a micro-flow tries to
// become its flow's merger (MergeGate) and releases everything that is ready;
// if another worker is merging, that one will see the completion. This is the
// shape of the Linux WireGuard TX path (per-peer ordered queue, head peeking)
// without its dedicated per-peer worker: no extra hand-off, no extra wake-up.
#pragma once

#include <atomic>
#include <cstdint>

#include "engine/microflow.h"
#include "ring/spsc_ring.h"

namespace mflow {

// MergeGate: at most one thread releases a flow's micro-flows at a time, and a
// completion is never stranded.
//
// Run() counts the caller's completion, then tries to take busy_. Why no
// completion is stranded: a completer C that fails to take busy_ read it as
// held by H, so (seq_cst total order) C's increment of completions_ comes
// before H's `busy_.store(0)`, which comes before H's final completions_ load.
// H therefore either saw the increment before draining (and, synchronizing
// with C's RMW, sees C's published state while draining) or sees a changed
// count afterwards and drains again. These operations are seq_cst on purpose:
// this is a store-then-load on two variables (Dekker), which release/acquire
// alone does not order.
class MergeGate {
 public:
  template <typename Drain>
  void Run(Drain&& drain) {
    completions_.fetch_add(1, std::memory_order_seq_cst);
    for (;;) {
      // Acquire side of the previous holder's release: we inherit its view of
      // the consumer state it left behind.
      if (busy_.exchange(1, std::memory_order_seq_cst) != 0) return;
      const uint64_t seen = completions_.load(std::memory_order_seq_cst);
      drain();
      busy_.store(0, std::memory_order_seq_cst);
      if (completions_.load(std::memory_order_seq_cst) == seen) return;
    }
  }

 private:
  std::atomic<uint64_t> completions_{0};
  std::atomic<uint32_t> busy_{0};
};

// The default merge: a bounded ordered queue per flow, consumed by peeking.
// Thread-safety: Enqueue from the split point (serial: one thread at a time,
// ordered by the engine's RX role lock); Complete from any worker.
class OrderedQueueMerge {
 public:
  explicit OrderedQueueMerge(uint32_t depth) : queue_(depth), depth_(queue_.capacity()) {}

  uint32_t depth() const { return depth_; }

  // Rule 2 and 5: false when the flow already has `depth` micro-flows in
  // flight; the caller must make progress elsewhere and retry.
  bool Enqueue(MicroFlow* mf) noexcept { return queue_.TryPush(mf); }

  // Rule 3 and 6: publishes mf's batch and releases every completed
  // micro-flow at the head of the queue, in order, through deliver(MicroFlow*).
  template <typename Deliver>
  void Complete(MicroFlow* mf, Deliver&& deliver) noexcept {
    // Release: the batch written by this worker happens-before the merger's
    // acquire load of `state` below.
    mf->state.store(kMfDone, std::memory_order_release);
    gate_.Run([&] { Drain(deliver); });
  }

  // Micro-flows queued and not yet released (approximate off the gate).
  uint32_t in_flight() const { return queue_.size(); }

 private:
  // Rule 4: stop at the first micro-flow still in flight.
  template <typename Deliver>
  void Drain(Deliver& deliver) noexcept {
    for (;;) {
      MicroFlow* const* head = queue_.Peek();
      if (head == nullptr) return;
      MicroFlow* m = *head;
      if (m->state.load(std::memory_order_acquire) != kMfDone) return;
      queue_.TryPop(&m);
      deliver(m);
    }
  }

  SpscRing<MicroFlow*> queue_;
  uint32_t depth_;
  MergeGate gate_;
};

}  // namespace mflow
