// Fuzz target: the whole rx stage chain (BuildRxChain) on one frame from the
// underlay. Checks: chain_harness.h.
#include <cstddef>
#include <cstdint>

#include "chain_harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto* harness = new mflow::fuzz::RxHarness(1);  // lives for the process
  const mflow::fuzz::Record r{{data, size}, {}};
  harness->Run({&r, 1});
  return 0;
}
