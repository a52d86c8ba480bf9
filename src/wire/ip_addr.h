// IpAddr: an IPv4 or IPv6 address in network byte order.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace mflow::wire {

struct IpAddr {
  uint8_t family = 0;       // 0 = unset, 4 or 6
  uint8_t bytes[16] = {};   // IPv4 in the first 4 bytes

  bool operator==(const IpAddr&) const = default;
  bool is_v4() const { return family == 4; }
  bool is_v6() const { return family == 6; }
  static IpAddr V4(uint32_t host_order) {
    IpAddr a;
    a.family = 4;
    a.bytes[0] = static_cast<uint8_t>(host_order >> 24);
    a.bytes[1] = static_cast<uint8_t>(host_order >> 16);
    a.bytes[2] = static_cast<uint8_t>(host_order >> 8);
    a.bytes[3] = static_cast<uint8_t>(host_order);
    return a;
  }
  static IpAddr V6(const uint8_t (&b)[16]) {
    IpAddr a;
    a.family = 6;
    std::memcpy(a.bytes, b, 16);
    return a;
  }
  uint32_t v4_host() const {
    return (uint32_t{bytes[0]} << 24) | (uint32_t{bytes[1]} << 16) | (uint32_t{bytes[2]} << 8) |
           uint32_t{bytes[3]};
  }
  // "198.18.0.1" or "2001:db8::1"; nullopt if neither parses.
  static std::optional<IpAddr> Parse(std::string_view text);
  std::string ToString() const;
};

}  // namespace mflow::wire
