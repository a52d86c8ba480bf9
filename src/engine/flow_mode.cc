// flow mode: one flow, one core (the vanilla overlay baseline; steered in
// software by the worker that read the packets, as RPS does).
//
// Every micro-flow of a busy flow goes to the flow's home worker, which runs
// the whole chain and delivers directly: a single worker per flow keeps order
// by itself, so there is no merge to pay for. (A flow with nothing in flight
// moves its home to the worker that read it, in every mode but stage: see
// PickWorker.)
#include "engine/engine_internal.h"

namespace mflow {

uint32_t Engine::PickWorker(Worker& sw, const Path& path, FlowState* f, bool idle) {
  const uint32_t self = sw.id;
  if (cfg_.mode == SteeringMode::kStage) return 0;  // the pipeline's first group
  // A flow with nothing in flight may move without reordering: no earlier
  // packet of it is queued or being processed (the rule RFS uses to migrate
  // a flow). Its home becomes the splitting worker (run to completion, as
  // the kernel runs a packet on the core that received it), so a
  // request/response or a TCP ACK costs no hand-off and no wake-up of a
  // sleeping peer; while it has work in flight it stays where that work is.
  // (idle: Dispatch's acquire load, which pairs with the release in Deliver,
  // so the next releaser sees the flow's release state.)
  if (idle) f->home = self;
  switch (cfg_.mode) {
    case SteeringMode::kFlow:
      return f->home;
    case SteeringMode::kStage:
      return 0;  // the pipeline's first group
    case SteeringMode::kMicroflow:
      break;
  }
  // microflow: while an elephant runs, either spread (below) or keep every
  // flow home as flow mode does, whichever PlacementTrial measured to move
  // the elephants faster (engine.placement). Home, the merge still keeps
  // order: the flow's home changes only when nothing of it is in flight.
  if (!spread_) return f->home;
  // Spread: an elephant's micro-flow goes to the worker with the fewest
  // queued micro-flows, and among equals to the splitting worker itself: the
  // packets it has just read are hot in its cache, so keeping them saves a
  // cross-core transfer of every header.
  // (Strict round robin is not enough: the worker holding the RX role drains
  // its own queue whenever it waits, so its peers' queues fill and it ends up
  // spinning while they are the bottleneck.)
  if (path.elephant_pps == 0 || f->elephant) {
    uint32_t best = self;
    uint32_t best_len = workers_[self]->ring.size();
    // A parked peer costs a wake-up and a context switch, and on a machine
    // whose cores are busy with other work (the containers we serve) it may
    // not run soon anyway: wake one only when we are falling behind.
    const uint32_t behind = cfg_.worker_queue_depth / 2;
    for (uint32_t i = 1; i < cfg_.workers && best_len != 0; ++i) {
      const uint32_t w = (f->rr + i) % cfg_.workers;
      if (best_len < behind && workers_[w]->parker.Sleeping()) continue;
      const uint32_t len = workers_[w]->ring.size();
      if (len < best_len) {
        best = w;
        best_len = len;
      }
    }
    f->rr = (f->rr + 1) % cfg_.workers;
    return best;
  }
  // A mouse beside the elephant goes to the least loaded peer: the worker
  // reading the elephant's bursts is not held up delivering it.
  uint32_t best = self;
  uint32_t best_len = ~0u;
  for (uint32_t i = 1; i < cfg_.workers; ++i) {
    const uint32_t w = (self + i) % cfg_.workers;
    const uint32_t len = workers_[w]->mice.size() + workers_[w]->ring.size();
    if (len < best_len) {
      best = w;
      best_len = len;
    }
  }
  ++sw.stats[path.id].mice_handoffs;
  return best;
}

void Engine::ProcessFlow(Worker& w, MicroFlow* mf) {
  Path& path = PathOf(mf);
  RunStages(w, path, mf, 0, path.chain->size());
  Deliver(w, mf);
}

}  // namespace mflow
