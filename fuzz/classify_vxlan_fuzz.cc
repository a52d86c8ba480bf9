// Fuzz target: the split point's classifiers for frames from the underlay,
// wire::ClassifyVxlan (inner flow) and wire::ClassifyVxlanOuter (outer flow),
// on arbitrary bytes. Checks memory safety and that the two agree on what is
// a VXLAN frame.
#include <cstddef>
#include <cstdint>

#include "fuzz_check.h"
#include "wire/parse.h"
#include "wire/vxlan.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > UINT32_MAX) return 0;
  const auto len = static_cast<uint32_t>(size);
  mflow::wire::FlowKey inner;
  mflow::wire::FlowKey outer;
  const bool inner_ok = mflow::wire::ClassifyVxlan(data, len, &inner);
  const bool outer_ok = mflow::wire::ClassifyVxlanOuter(data, len, &outer);
  if (inner_ok) {
    // The inner classifier reads everything the outer one does, and more.
    FUZZ_CHECK(outer_ok);
    FUZZ_CHECK(inner.vni == outer.vni && inner.vni <= mflow::wire::kMaxVni);
    FUZZ_CHECK(inner.family == 0 || inner.family == 4 || inner.family == 6);
    FUZZ_CHECK(mflow::wire::FlowHash(inner) != 0);
  }
  if (outer_ok) {
    FUZZ_CHECK(outer.family == 4 || outer.family == 6);
    FUZZ_CHECK(outer.dport == mflow::wire::kVxlanPort && outer.proto == 17);
    FUZZ_CHECK(mflow::wire::FlowHash(outer) != 0);
  }
  return 0;
}
