#include "store/ip_net.h"

#include <charconv>

namespace mflow::store {
namespace {

bool BitsZeroFrom(const wire::IpAddr& a, int from, int max) {
  for (int bit = from; bit < max; ++bit)
    if (a.bytes[bit / 8] & (0x80 >> (bit % 8))) return false;
  return true;
}

}  // namespace

std::optional<IpNet> IpNet::Parse(std::string_view text) {
  size_t slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto addr = wire::IpAddr::Parse(text.substr(0, slash));
  if (!addr) return std::nullopt;
  std::string_view lt = text.substr(slash + 1);
  unsigned len = 0;
  auto [p, ec] = std::from_chars(lt.data(), lt.data() + lt.size(), len);
  if (lt.empty() || lt.size() > 3 || ec != std::errc() || p != lt.data() + lt.size()) return std::nullopt;
  IpNet n{*addr, 0};
  if (len > n.max_len()) return std::nullopt;
  n.len = static_cast<uint8_t>(len);
  if (!BitsZeroFrom(n.addr, n.len, n.max_len())) return std::nullopt;
  return n;
}

std::string IpNet::ToString() const { return addr.ToString() + "/" + std::to_string(len); }

std::string IpNet::ToKey() const { return addr.ToString() + "-" + std::to_string(len); }

std::optional<IpNet> IpNet::ParseKey(std::string_view text) {
  size_t dash = text.rfind('-');
  if (dash == std::string_view::npos) return std::nullopt;
  std::string s(text);
  s[dash] = '/';
  return Parse(s);
}

bool IpNet::Contains(const wire::IpAddr& a) const {
  if (a.family != addr.family) return false;
  for (int bit = 0; bit < len; ++bit) {
    uint8_t mask = static_cast<uint8_t>(0x80 >> (bit % 8));
    if ((a.bytes[bit / 8] & mask) != (addr.bytes[bit / 8] & mask)) return false;
  }
  return true;
}

}  // namespace mflow::store
