// stage mode: the stages of one flow pipelined over the workers (FALCON).
//
// Group g of the chain runs on worker g; a micro-flow moves from worker g to
// g+1 through g+1's SPSC ring, so each ring has one producer and FIFO rings
// keep every flow in order without a merge. The last group delivers.
#include "engine/engine_internal.h"

namespace mflow {

void Engine::ProcessStage(Worker& w, MicroFlow* mf) {
  Path& path = PathOf(mf);
  const std::vector<uint32_t>& begin = path.group_begin;
  const uint32_t g = mf->next_group;
  RunStages(w, path, mf, begin[g], begin[g + 1]);
  mf->next_group = g + 1;
  // An emptied micro-flow still walks the whole pipeline: delivering it early
  // from this worker would race the last worker's deliveries for the flow.
  if (mf->next_group + 1 >= begin.size()) {
    Deliver(w, mf);
    return;
  }
  Worker& next = *workers_[mf->next_group];
  // The pipeline only moves forward, so waiting here cannot deadlock: the
  // next worker never waits on us.
  Backoff backoff;
  while (!next.ring.TryPush(mf)) {
    ++w.stats[path.id].pushback_waits;
    backoff.Pause();
  }
  next.parker.Unpark();
}

}  // namespace mflow
