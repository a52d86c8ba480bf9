// IPv6 fixed header (RFC 8200).
#pragma once

#include <array>
#include <cstdint>

#include "wire/endian.h"

namespace mflow::wire {

struct Ipv6Header {
  Be32 ver_tc_flow;  // version(4) traffic class(8) flow label(20)
  Be16 payload_length;
  uint8_t next_header;
  uint8_t hop_limit;
  std::array<uint8_t, 16> src;
  std::array<uint8_t, 16> dst;

  uint8_t version() const { return static_cast<uint8_t>(ver_tc_flow.host() >> 28); }
};
static_assert(sizeof(Ipv6Header) == 40 && alignof(Ipv6Header) == 1);

}  // namespace mflow::wire
