// StageChain: the ordered list of stages of one direction of the data path.
//
// A chain runs a batch through stages [first, last): the steering modes run
// the whole chain on one worker (flow, microflow) or cut it into contiguous
// groups run by different workers (stage). Each stage has its own counters
// slot, so a worker passes an array of StageCounters indexed like the chain.
#pragma once

#include <memory>
#include <vector>

#include "common/status.h"
#include "stage/stage.h"

namespace mflow {

class StageChain {
 public:
  void Add(std::unique_ptr<Stage> s) { stages_.push_back(std::move(s)); }
  uint32_t size() const { return static_cast<uint32_t>(stages_.size()); }
  Stage& at(uint32_t i) { return *stages_[i]; }
  const Stage& at(uint32_t i) const { return *stages_[i]; }

  // Runs stages [first, last) over b; stops early when b is empty.
  void Run(Batch& b, StageContext& ctx, StageCounters* counters, uint32_t first,
           uint32_t last) noexcept {
    for (uint32_t i = first; i < last && !b.empty(); ++i) {
      ctx.counters = &counters[i];
      stages_[i]->Process(b, ctx);
    }
  }

 private:
  std::vector<std::unique_ptr<Stage>> stages_;
};

}  // namespace mflow
