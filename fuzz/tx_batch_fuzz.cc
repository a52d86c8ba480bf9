// Fuzz target: the whole tx stage chain (BuildTxChain) on a batch of frames,
// each with its own TSO metadata (input_format.h). Checks: chain_harness.h.
#include <cstddef>
#include <cstdint>

#include "chain_harness.h"
#include "frame_fixup.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto* harness = new mflow::fuzz::TxHarness(mflow::kMaxBatch);  // lives for the process
  const auto records = mflow::fuzz::SplitRecords(data, size, true, mflow::kMaxBatch);
  harness->Run(records);
  return 0;
}

// libFuzzer's mutation, then (for most inputs) lengths and checksums
// repaired, so that mutations reach segmentation with lengths that agree
// (frame_fixup.h).
extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size,
                                          unsigned int seed) {
  return mflow::fuzz::MutateAndFixup(data, size, max_size, seed, mflow::fuzz::FixupInput::kTxBatch);
}
