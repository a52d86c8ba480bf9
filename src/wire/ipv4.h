// IPv4 header (RFC 791).
#pragma once

#include <cstdint>

#include "wire/endian.h"

namespace mflow::wire {

inline constexpr uint8_t kIpProtoTcp = 6;
inline constexpr uint8_t kIpProtoUdp = 17;

struct Ipv4Header {
  uint8_t version_ihl;  // version(4) IHL(4), IHL in 32-bit words
  uint8_t tos;
  Be16 total_length;
  Be16 id;
  Be16 frag_off;  // flags(3) fragment offset(13)
  uint8_t ttl;
  uint8_t protocol;
  Be16 checksum;
  Be32 src;
  Be32 dst;

  uint8_t version() const { return version_ihl >> 4; }
  uint32_t header_len() const { return uint32_t{version_ihl & 0x0fu} * 4; }
  // More-fragments set or a non-zero offset: this datagram is a fragment.
  bool IsFragment() const { return (frag_off.host() & 0x3fff) != 0; }
};
static_assert(sizeof(Ipv4Header) == 20 && alignof(Ipv4Header) == 1);

inline constexpr uint16_t kIpv4DontFragment = 0x4000;

}  // namespace mflow::wire
