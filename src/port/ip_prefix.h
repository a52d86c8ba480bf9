// IpPrefix and IpRoute: a container port's addresses and routes as the
// control path takes them ("198.19.0.5/24", "fd00:198:19::5/64"; a route
// "fd00:1::/64" on-link or via a gateway).
//
// Parsing is strict (a prefix length in range, nothing after it) so that a
// bad request is refused naming its field before anything is created.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "wire/ip_addr.h"

namespace mflow {

struct IpPrefix {
  wire::IpAddr addr;
  uint8_t len = 0;  // 0..32 (IPv4) or 0..128 (IPv6)

  bool operator==(const IpPrefix&) const = default;
  // "a.b.c.d[/len]" or "x:y::z[/len]"; without "/len" the host prefix
  // (/32, /128). nullopt if it does not parse.
  static std::optional<IpPrefix> Parse(std::string_view text);
  std::string ToString() const;  // "198.19.0.5/24"
  // The same length with the host bits cleared: 198.19.0.0/24.
  IpPrefix Network() const;
};

// A route in a container's namespace: dst on-link ("dev IFNAME") when gw is
// empty, else via gw (an address of dst's family).
struct IpRoute {
  std::string dst;  // a prefix, "0.0.0.0/0" or "::/0" for a default route
  std::string gw;   // "" = on-link

  bool operator==(const IpRoute&) const = default;
};

// Checks a route: dst parses as a prefix, gw (if any) as an address of the
// same family. The error says which part is wrong.
std::optional<std::string> RouteError(const IpRoute& r);

}  // namespace mflow
