// flow mode: one flow, one core (the vanilla overlay / RSS baseline).
//
// Every micro-flow of a flow goes to the flow's home worker, which runs the
// whole chain and delivers directly: a single worker per flow keeps order by
// itself, so there is no merge to pay for.
#include "engine/engine_internal.h"

namespace mflow {

uint32_t Engine::PickWorker(FlowState* f) {
  switch (cfg_.mode) {
    case SteeringMode::kFlow:
      return f->home;
    case SteeringMode::kStage:
      return 0;  // the pipeline's first group
    case SteeringMode::kMicroflow:
      break;
  }
  // microflow: spread elephants round robin, keep mice home.
  if (cfg_.elephant_pps == 0 || f->elephant) {
    const uint32_t t = f->rr;
    f->rr = (f->rr + 1) % cfg_.workers;
    return t;
  }
  return f->home;
}

void Engine::ProcessFlow(Worker& w, MicroFlow* mf) {
  chain_->Run(mf->batch, w.ctx, w.counters, 0, chain_->size());
  Deliver(mf);
}

}  // namespace mflow
