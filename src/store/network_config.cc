#include "store/network_config.h"

#include <algorithm>
#include <optional>

#include <nlohmann/json.hpp>

namespace mflow::store {
namespace {

using nlohmann::json;

Status Bad(const std::string& field, const std::string& why) {
  return Status::Error(StatusCode::kInvalid, "config." + field + ": " + why);
}

// An integer field within [lo, hi]; missing -> fallback when given.
StatusOr<int64_t> IntIn(const json& j, const char* name, int64_t lo, int64_t hi, std::optional<int64_t> fallback) {
  auto it = j.find(name);
  if (it == j.end()) {
    if (fallback) return *fallback;
    return Bad(name, "missing");
  }
  if (!it->is_number_integer()) return Bad(name, "not an integer");
  if (it->is_number_unsigned() && it->get<uint64_t>() > uint64_t(hi)) return Bad(name, "out of range");
  int64_t v = it->get<int64_t>();
  if (v < lo || v > hi)
    return Bad(name, std::to_string(v) + " is not in " + std::to_string(lo) + ".." + std::to_string(hi));
  return v;
}

}  // namespace

uint64_t NetworkConfig::SubnetCount() const {
  int bits = std::min(subnet_len - network.len, 24);
  return bits <= 0 ? 1 : uint64_t{1} << bits;
}

IpNet NetworkConfig::SubnetAt(uint64_t i) const {
  uint32_t base = network.addr.v4_host();
  uint32_t step = uint32_t{1} << (32 - subnet_len);
  return IpNet{wire::IpAddr::V4(base + static_cast<uint32_t>(i) * step), subnet_len};
}

std::string NetworkConfig::ToJson() const {
  json j = {{"network", network.ToString()}, {"subnet_len", subnet_len}, {"vni", vni}, {"port", port}};
  if (!underlay.empty()) {
    json u = json::array();
    for (const auto& n : underlay) u.push_back(n.ToString());
    j["underlay"] = u;
  }
  return j.dump();
}

StatusOr<NetworkConfig> ParseNetworkConfig(std::string_view text) {
  // nlohmann stops at a NUL as if the text ended there; no JSON text has one.
  json j = text.find('\0') != std::string_view::npos ? json(json::value_t::discarded)
                                                      : json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded()) return Status::Error(StatusCode::kInvalid, "config: not JSON");
  if (!j.is_object()) return Status::Error(StatusCode::kInvalid, "config: not a JSON object");
  NetworkConfig c;
  auto net = j.find("network");
  if (net == j.end()) return Bad("network", "missing");
  if (!net->is_string()) return Bad("network", "not a string");
  auto n = IpNet::Parse(net->get<std::string>());
  if (!n) return Bad("network", "\"" + net->get<std::string>() + "\" is not a CIDR with its host bits zero");
  if (!n->addr.is_v4()) return Bad("network", "must be IPv4 (an IPv6 overlay is not supported yet)");
  if (n->len < 8 || n->len > 28) return Bad("network", "prefix length must be in 8..28");
  c.network = *n;
  auto sl = IntIn(j, "subnet_len", n->len + 1, 30, int64_t{24});
  if (!sl.ok()) return sl.status();
  c.subnet_len = static_cast<uint8_t>(*sl);
  auto vni = IntIn(j, "vni", 1, (1 << 24) - 1, std::nullopt);
  if (!vni.ok()) return vni.status();
  c.vni = static_cast<uint32_t>(*vni);
  auto port = IntIn(j, "port", 1, 65535, int64_t{4789});
  if (!port.ok()) return port.status();
  c.port = static_cast<uint16_t>(*port);
  if (auto u = j.find("underlay"); u != j.end()) {
    if (!u->is_array()) return Bad("underlay", "not an array");
    for (size_t i = 0; i < u->size(); ++i) {
      const json& e = (*u)[i];
      std::string field = "underlay[" + std::to_string(i) + "]";
      if (!e.is_string()) return Bad(field, "not a string");
      auto un = IpNet::Parse(e.get<std::string>());
      if (!un) return Bad(field, "\"" + e.get<std::string>() + "\" is not a CIDR with its host bits zero");
      c.underlay.push_back(*un);
    }
  }
  return c;
}

}  // namespace mflow::store
