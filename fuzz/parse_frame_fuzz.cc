// Fuzz target: wire::ParseFrame on arbitrary bytes. Besides memory safety
// (ASan/UBSan), checks that a layout it returns lies inside the frame and
// agrees with itself.
#include <cstddef>
#include <cstdint>

#include "fuzz_check.h"
#include "wire/parse.h"

using mflow::wire::ParseResult;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > UINT32_MAX) return 0;
  const auto len = static_cast<uint32_t>(size);
  mflow::wire::FrameLayout l;
  const ParseResult r = mflow::wire::ParseFrame(data, len, &l);
  FUZZ_CHECK(mflow::wire::ParseResultName(r) != "unknown");
  switch (r) {
    case ParseResult::kOk:
      FUZZ_CHECK(l.l3_off == 14 || l.l3_off == 18);
      FUZZ_CHECK(l.l4_off >= l.l3_off + (l.ipv6 ? 40u : 20u));
      FUZZ_CHECK(l.payload_off() <= l.l3_end && l.l3_end <= len);
      FUZZ_CHECK(l.l4_proto == 6 || l.l4_proto == 17);
      FUZZ_CHECK(l.l4_proto == 6 ? l.l4_hdr_len >= 20 && l.l4_hdr_len <= 60 && l.l4_hdr_len % 4 == 0
                                 : l.l4_hdr_len == 8);
      FUZZ_CHECK(l.ether_type == (l.ipv6 ? 0x86DD : 0x0800));
      break;
    case ParseResult::kNotTcpUdp:
    case ParseResult::kFragment:
    case ParseResult::kIpv6ExtensionHeader:
    case ParseResult::kTruncatedL4:
    case ParseResult::kBadUdpLength:
      // The IP header parsed: its layout is inside the frame.
      FUZZ_CHECK(l.l3_off < l.l4_off && l.l4_off <= l.l3_end && l.l3_end <= len);
      break;
    default:
      break;
  }
  return 0;
}
