#include "wire/ip_addr.h"

#include <arpa/inet.h>

namespace mflow::wire {

std::optional<IpAddr> IpAddr::Parse(std::string_view text) {
  // inet_pton needs a NUL-terminated string; addresses are short.
  char buf[INET6_ADDRSTRLEN + 1];
  if (text.empty() || text.size() >= sizeof(buf)) return std::nullopt;
  // inet_pton stops at a NUL: "::\0junk" would parse as "::" (found by fuzzing).
  if (text.find('\0') != std::string_view::npos) return std::nullopt;
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  IpAddr a;
  if (inet_pton(AF_INET, buf, a.bytes) == 1) {
    a.family = 4;
    return a;
  }
  if (inet_pton(AF_INET6, buf, a.bytes) == 1) {
    a.family = 6;
    return a;
  }
  return std::nullopt;
}

std::string IpAddr::ToString() const {
  char buf[INET6_ADDRSTRLEN];
  const int af = is_v4() ? AF_INET : is_v6() ? AF_INET6 : 0;
  if (af == 0 || inet_ntop(af, bytes, buf, sizeof(buf)) == nullptr) return "unset";
  return buf;
}

}  // namespace mflow::wire
