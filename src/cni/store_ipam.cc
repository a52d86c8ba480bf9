#include "cni/store_ipam.h"

#include <arpa/inet.h>

#include <nlohmann/json.hpp>

namespace mflow::cni {
namespace {

using nlohmann::json;

struct Cidr {
  uint32_t addr = 0;  // host order
  int len = 0;
};

bool ParseCidr(const std::string& s, Cidr* out) {
  const size_t slash = s.find('/');
  if (slash == std::string::npos) return false;
  in_addr a{};
  if (inet_pton(AF_INET, s.substr(0, slash).c_str(), &a) != 1) return false;
  const std::string len = s.substr(slash + 1);
  if (len.empty() || len.size() > 2 || len.find_first_not_of("0123456789") != std::string::npos) return false;
  out->len = std::stoi(len);
  if (out->len > 32) return false;
  out->addr = ntohl(a.s_addr);
  return true;
}

std::string Ip(uint32_t host_order) {
  in_addr a{htonl(host_order)};
  char buf[INET_ADDRSTRLEN];
  return inet_ntop(AF_INET, &a, buf, sizeof buf);
}

uint32_t Mask(int len) { return len == 0 ? 0 : ~uint32_t{0} << (32 - len); }

}  // namespace

bool WantsStoreRange(std::string_view stdin_text) {
  const json j = json::parse(stdin_text, nullptr, false);
  if (!j.is_object()) return false;
  const auto ipam = j.find("ipam");
  if (ipam == j.end() || !ipam->is_object()) return false;
  return ipam->value("type", "") == "host-local" && !ipam->contains("ranges") && !ipam->contains("subnet");
}

CniOr<std::string> WithStoreRange(std::string_view stdin_text, const std::string& subnet,
                                  const std::string& network) {
  json j = json::parse(stdin_text, nullptr, false);
  if (!j.is_object() || !j.contains("ipam") || !j["ipam"].is_object())
    return CniError{kInvalidConfig, "the network config has no ipam object", ""};
  Cidr s, n;
  if (!ParseCidr(subnet, &s) || !ParseCidr(network, &n))
    return CniError{kInvalidConfig, "mflowd's subnet " + subnet + " or network " + network + " is not an IPv4 CIDR", ""};
  if (s.len > 30 || s.len < n.len || (s.addr & Mask(n.len)) != (n.addr & Mask(n.len)) ||
      (s.addr & ~Mask(s.len)) != 0)
    return CniError{kInvalidConfig, "mflowd's subnet " + subnet + " does not fit the network " + network, ""};
  const uint32_t last = s.addr | ~Mask(s.len);
  j["ipam"]["ranges"] = json::array({json::array({{{"subnet", network},
                                                   {"rangeStart", Ip(s.addr + 2)},
                                                   {"rangeEnd", Ip(last - 1)},
                                                   {"gateway", Ip(s.addr + 1)}}})});
  return j.dump();
}

}  // namespace mflow::cni
