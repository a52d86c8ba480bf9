#include "port/ip_prefix.h"

namespace mflow {

std::optional<IpPrefix> IpPrefix::Parse(std::string_view text) {
  const size_t slash = text.find('/');
  const auto addr = wire::IpAddr::Parse(text.substr(0, slash));
  if (!addr) return std::nullopt;
  IpPrefix p;
  p.addr = *addr;
  const unsigned max = addr->is_v4() ? 32 : 128;
  p.len = static_cast<uint8_t>(max);
  if (slash == std::string_view::npos) return p;
  const std::string_view l = text.substr(slash + 1);
  if (l.empty() || l.size() > 3) return std::nullopt;
  unsigned len = 0;
  for (char c : l) {
    if (c < '0' || c > '9') return std::nullopt;
    len = len * 10 + static_cast<unsigned>(c - '0');
  }
  if (len > max) return std::nullopt;
  p.len = static_cast<uint8_t>(len);
  return p;
}

std::string IpPrefix::ToString() const { return addr.ToString() + "/" + std::to_string(len); }

IpPrefix IpPrefix::Network() const {
  IpPrefix n = *this;
  const unsigned bytes = addr.is_v4() ? 4 : 16;
  for (unsigned i = 0; i < bytes; ++i) {
    const unsigned first_bit = i * 8;
    if (first_bit >= len) {
      n.addr.bytes[i] = 0;
    } else if (first_bit + 8 > len) {
      n.addr.bytes[i] = static_cast<uint8_t>(n.addr.bytes[i] & (0xff << (8 - (len - first_bit))));
    }
  }
  return n;
}

std::optional<std::string> RouteError(const IpRoute& r) {
  const auto dst = IpPrefix::Parse(r.dst);
  if (!dst) return "dst '" + r.dst + "': expected an IPv4 or IPv6 prefix (a.b.c.d/len, x::y/len)";
  if (r.gw.empty()) return std::nullopt;
  const auto gw = wire::IpAddr::Parse(r.gw);
  if (!gw) return "gw '" + r.gw + "': not an IPv4 or IPv6 address";
  if (gw->family != dst->addr.family)
    return "gw '" + r.gw + "': not of the address family of dst '" + r.dst + "'";
  return std::nullopt;
}

}  // namespace mflow
