// Fuzz target: the whole tx stage chain (BuildTxChain) on one frame from a
// container, with TSO metadata and a scatter/gather layout taken from the
// input's first bytes (input_format.h). Checks: chain_harness.h.
#include <cstddef>
#include <cstdint>

#include "chain_harness.h"
#include "frame_fixup.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto* harness = new mflow::fuzz::TxHarness(1);  // lives for the process
  if (size < mflow::fuzz::kTxMetaLen) return 0;
  const mflow::fuzz::Record r{{data + mflow::fuzz::kTxMetaLen, size - mflow::fuzz::kTxMetaLen},
                              mflow::fuzz::DecodeMeta(data)};
  harness->Run({&r, 1});
  return 0;
}

// libFuzzer's mutation, then (for most inputs) lengths and checksums
// repaired, so that mutations reach segmentation with lengths that agree
// (frame_fixup.h).
extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size,
                                          unsigned int seed) {
  return mflow::fuzz::MutateAndFixup(data, size, max_size, seed, mflow::fuzz::FixupInput::kTxFrame);
}
