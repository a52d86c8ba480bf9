// VXLAN header (RFC 7348 section 5).
//
//   0                   1                   2                   3
//  |R|R|R|R|I|R|R|R|            Reserved                           |
//  |                VXLAN Network Identifier (VNI) |   Reserved    |
#pragma once

#include <cstdint>

#include "wire/endian.h"

namespace mflow::wire {

inline constexpr uint16_t kVxlanPort = 4789;  // IANA-assigned UDP port
inline constexpr uint8_t kVxlanFlagI = 0x08;  // "VNI is valid"
// Outer Ethernet + IPv4 + UDP + VXLAN: the overhead an IPv4 underlay adds.
inline constexpr uint32_t kVxlanOverheadV4 = 14 + 20 + 8 + 8;
inline constexpr uint32_t kVxlanOverheadV6 = 14 + 40 + 8 + 8;
inline constexpr uint32_t kMaxVni = (1u << 24) - 1;

struct VxlanHeader {
  uint8_t flags;
  uint8_t reserved1[3];
  Be32 vni_reserved;  // VNI(24) reserved(8)

  uint32_t vni() const { return vni_reserved.host() >> 8; }
  void set_vni(uint32_t vni) { vni_reserved.set(vni << 8); }
  // RFC 7348: I must be 1; the other flag bits and reserved fields must be
  // sent as 0. A receiver "MUST ignore" them, but Linux drops packets with
  // unknown flags set unless configured otherwise; we follow Linux and count.
  bool ReservedBitsClear() const {
    return (flags & ~kVxlanFlagI) == 0 && reserved1[0] == 0 && reserved1[1] == 0 &&
           reserved1[2] == 0 && (vni_reserved.host() & 0xff) == 0;
  }
};
static_assert(sizeof(VxlanHeader) == 8 && alignof(VxlanHeader) == 1);

}  // namespace mflow::wire
