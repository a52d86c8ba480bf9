// IpNet: an IPv4 or IPv6 network (address + prefix length) for the store's
// records: the overlay CIDR, a host's subnet, the allowed underlay ranges.
//
// Strict: "198.19.1.0/24" parses, "198.19.1.5/24" (host bits set) does not,
// so that a key and its network cannot disagree.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "wire/ip_addr.h"

namespace mflow::store {

struct IpNet {
  wire::IpAddr addr;  // host bits zero
  uint8_t len = 0;

  bool operator==(const IpNet&) const = default;
  auto operator<=>(const IpNet& o) const {
    if (auto c = addr.family <=> o.addr.family; c != 0) return c;
    for (int i = 0; i < 16; ++i)
      if (auto c = addr.bytes[i] <=> o.addr.bytes[i]; c != 0) return c;
    return len <=> o.len;
  }

  uint8_t max_len() const { return addr.is_v4() ? 32 : 128; }
  // "a.b.c.d/len" or "x::/len"; nullopt unless the length is in range and
  // the host bits are zero.
  static std::optional<IpNet> Parse(std::string_view text);
  std::string ToString() const;
  // As a key component: '/' becomes '-' ("198.19.1.0-24"), flannel's way.
  std::string ToKey() const;
  static std::optional<IpNet> ParseKey(std::string_view text);

  bool Contains(const wire::IpAddr& a) const;
  bool Contains(const IpNet& n) const { return n.len >= len && Contains(n.addr); }
  bool Overlaps(const IpNet& n) const { return Contains(n) || n.Contains(*this); }
};

}  // namespace mflow::store
