// microflow mode: micro-flows of one flow processed in parallel, merged in
// order (mFlow).
//
// The worker runs the whole chain on its micro-flow, then completes it in the
// flow's merge, which releases every micro-flow that is now at the head and
// done, through Deliver, on this thread or on whichever worker is merging.
#include "engine/engine_internal.h"

namespace mflow {

void Engine::ProcessMicroflow(Worker& w, MicroFlow* mf) {
  Path& path = PathOf(mf);
  RunStages(w, path, mf, 0, path.chain->size());
  mf->flow->merge->Complete(mf, [this, &w](MicroFlow* m) { Deliver(w, m); });
}

}  // namespace mflow
