// Fuzz target: the whole tx stage chain (BuildTxChain) on a batch of frames,
// each with its own TSO metadata (input_format.h). Checks: chain_harness.h.
#include <cstddef>
#include <cstdint>

#include "chain_harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto* harness = new mflow::fuzz::TxHarness(mflow::kMaxBatch);  // lives for the process
  const auto records = mflow::fuzz::SplitRecords(data, size, true, mflow::kMaxBatch);
  harness->Run(records);
  return 0;
}
