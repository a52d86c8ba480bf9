// Fuzz target: wire::IpAddr::Parse on arbitrary text (addresses come from
// configuration and the control socket). Checks memory safety and that an
// accepted text is an address and nothing else: it round-trips through
// ToString, and an IPv4 address is accepted only in its canonical spelling.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.h"
#include "wire/ip_addr.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto a = mflow::wire::IpAddr::Parse(text);
  if (!a) return 0;
  FUZZ_CHECK(a->is_v4() || a->is_v6());
  // Only the characters of an address (no NUL, no trailing garbage).
  FUZZ_CHECK(text.find_first_not_of("0123456789abcdefABCDEF.:") == std::string_view::npos);
  const std::string s = a->ToString();
  const auto again = mflow::wire::IpAddr::Parse(s);
  FUZZ_CHECK(again && *again == *a);
  if (a->is_v4()) FUZZ_CHECK(s == text);
  return 0;
}
