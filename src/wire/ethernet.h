// Ethernet II and IEEE 802.1Q headers.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "wire/endian.h"

namespace mflow::wire {

struct MacAddr {
  std::array<uint8_t, 6> b{};

  bool IsMulticast() const { return (b[0] & 0x01) != 0; }  // includes broadcast
  bool IsBroadcast() const { return b == std::array<uint8_t, 6>{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}; }
  bool IsZero() const { return b == std::array<uint8_t, 6>{}; }
  uint64_t AsU64() const {
    uint64_t v = 0;
    std::memcpy(&v, b.data(), 6);
    return v;
  }
  bool operator==(const MacAddr&) const = default;
  // "02:aa:00:00:00:01" (hex digits in either case); nullopt otherwise.
  static std::optional<MacAddr> Parse(std::string_view text);
  std::string ToString() const;  // lower-case, colon-separated
};
static_assert(sizeof(MacAddr) == 6);

inline constexpr uint16_t kEtherTypeIpv4 = 0x0800;
inline constexpr uint16_t kEtherTypeArp = 0x0806;
inline constexpr uint16_t kEtherTypeVlan = 0x8100;
inline constexpr uint16_t kEtherTypeIpv6 = 0x86DD;

struct EthernetHeader {
  MacAddr dst;
  MacAddr src;
  Be16 ether_type;
};
static_assert(sizeof(EthernetHeader) == 14 && alignof(EthernetHeader) == 1);

// The 4 bytes that follow the source MAC when ether_type is 0x8100.
struct VlanTag {
  Be16 tci;         // PCP(3) DEI(1) VID(12)
  Be16 ether_type;  // the encapsulated protocol
  uint16_t vid() const { return tci.host() & 0x0fff; }
};
static_assert(sizeof(VlanTag) == 4 && alignof(VlanTag) == 1);

}  // namespace mflow::wire
