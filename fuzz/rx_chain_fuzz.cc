// Fuzz target: the whole rx stage chain (BuildRxChain) on one frame from the
// underlay. Checks: chain_harness.h.
#include <cstddef>
#include <cstdint>

#include "chain_harness.h"
#include "frame_fixup.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto* harness = new mflow::fuzz::RxHarness(1);  // lives for the process
  const mflow::fuzz::Record r{{data, size}, {}};
  harness->Run({&r, 1});
  return 0;
}

// libFuzzer's mutation, then (for most inputs) lengths and checksums
// repaired, so that mutations reach the layers behind the outer checks
// (frame_fixup.h).
extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size,
                                          unsigned int seed) {
  return mflow::fuzz::MutateAndFixup(data, size, max_size, seed, mflow::fuzz::FixupInput::kRxFrame);
}
