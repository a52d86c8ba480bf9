// Fuzz target: wire::ClassifyInner, the split point's classifier for frames
// from a container, on arbitrary bytes. Checks memory safety, that every
// frame with an Ethernet header gets a key, and that the key is a function
// of the bytes (the same frame twice, the same key).
#include <cstddef>
#include <cstdint>

#include "fuzz_check.h"
#include "wire/parse.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > UINT32_MAX) return 0;
  const auto len = static_cast<uint32_t>(size);
  mflow::wire::FlowKey a;
  mflow::wire::FlowKey b;
  const bool ok = mflow::wire::ClassifyInner(data, len, 42, &a);
  FUZZ_CHECK(ok == (len >= 14));
  if (!ok) return 0;
  FUZZ_CHECK(mflow::wire::ClassifyInner(data, len, 42, &b) && a == b);
  FUZZ_CHECK(a.vni == 42);
  FUZZ_CHECK(a.family == 0 || a.family == 4 || a.family == 6);
  FUZZ_CHECK(mflow::wire::FlowHash(a) != 0);
  return 0;
}
