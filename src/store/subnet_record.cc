#include "store/subnet_record.h"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace mflow::store {
namespace {

using nlohmann::json;

Status Bad(const std::string& field, const std::string& why) {
  return Status::Error(StatusCode::kInvalid, "record." + field + ": " + why);
}

StatusOr<std::string> StringField(const json& j, const char* name, size_t max_len) {
  auto it = j.find(name);
  if (it == j.end()) return Bad(name, "missing");
  if (!it->is_string()) return Bad(name, "not a string");
  std::string s = it->get<std::string>();
  if (s.empty() || s.size() > max_len) return Bad(name, "length not in 1.." + std::to_string(max_len));
  return s;
}

bool IsUnicast(const wire::IpAddr& a) {
  bool zero = true;
  for (int i = 0; i < (a.is_v4() ? 4 : 16); ++i) zero = zero && a.bytes[i] == 0;
  if (zero) return false;
  if (a.is_v4()) return a.bytes[0] < 224;  // not multicast, not 240/4 or broadcast
  return a.bytes[0] != 0xff;
}

}  // namespace

bool ValidHostId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string SubnetRecord::ToJson() const {
  json u = json::array();
  for (const auto& a : underlay) u.push_back(a.ToString());
  return json{{"host_id", host_id}, {"subnet", subnet.ToString()}, {"underlay", u},
              {"vtep_mac", vtep_mac.ToString()}, {"port", port}, {"version", version}, {"mode", mode}}
      .dump();
}

StatusOr<SubnetRecord> ParseSubnetRecord(std::string_view text) {
  // nlohmann stops at a NUL as if the text ended there; no JSON text has one.
  json j = text.find('\0') != std::string_view::npos ? json(json::value_t::discarded)
                                                      : json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded()) return Status::Error(StatusCode::kInvalid, "record: not JSON");
  if (!j.is_object()) return Status::Error(StatusCode::kInvalid, "record: not a JSON object");
  SubnetRecord r;

  auto host = StringField(j, "host_id", 128);
  if (!host.ok()) return host.status();
  if (!ValidHostId(*host)) return Bad("host_id", "characters outside [A-Za-z0-9._:-]");
  r.host_id = std::move(*host);

  auto subnet = StringField(j, "subnet", 64);
  if (!subnet.ok()) return subnet.status();
  auto net = IpNet::Parse(*subnet);
  if (!net) return Bad("subnet", "\"" + *subnet + "\" is not a CIDR with its host bits zero");
  r.subnet = *net;

  auto u = j.find("underlay");
  if (u == j.end()) return Bad("underlay", "missing");
  if (!u->is_array()) return Bad("underlay", "not an array");
  if (u->empty() || u->size() > 4) return Bad("underlay", "want 1..4 addresses");
  for (size_t i = 0; i < u->size(); ++i) {
    const json& e = (*u)[i];
    std::string field = "underlay[" + std::to_string(i) + "]";
    if (!e.is_string()) return Bad(field, "not a string");
    auto a = wire::IpAddr::Parse(e.get<std::string>());
    if (!a) return Bad(field, "\"" + e.get<std::string>() + "\" is not an IP address");
    if (!IsUnicast(*a)) return Bad(field, a->ToString() + " is not a unicast address");
    r.underlay.push_back(*a);
  }

  auto mac_text = StringField(j, "vtep_mac", 17);
  if (!mac_text.ok()) return mac_text.status();
  auto mac = wire::MacAddr::Parse(*mac_text);
  if (!mac) return Bad("vtep_mac", "\"" + *mac_text + "\" is not a MAC address");
  if (mac->IsZero() || mac->IsMulticast()) return Bad("vtep_mac", "must be a non-zero unicast MAC");
  r.vtep_mac = *mac;

  auto port = j.find("port");
  if (port == j.end()) return Bad("port", "missing");
  if (!port->is_number_integer()) return Bad("port", "not an integer");
  // nlohmann keeps non-negative integers unsigned and negative ones signed.
  int64_t pv = port->is_number_unsigned()
                   ? static_cast<int64_t>(std::min<uint64_t>(port->get<uint64_t>(), 1u << 20))
                   : port->get<int64_t>();
  if (pv < 1 || pv > 65535) return Bad("port", std::to_string(pv) + " is not in 1..65535");
  r.port = static_cast<uint16_t>(pv);

  auto version = StringField(j, "version", 64);
  if (!version.ok()) return version.status();
  r.version = std::move(*version);

  auto mode = StringField(j, "mode", 16);
  if (!mode.ok()) return mode.status();
  if (*mode != "flow" && *mode != "stage" && *mode != "microflow")
    return Bad("mode", "\"" + *mode + "\" is not flow, stage or microflow");
  r.mode = std::move(*mode);
  return r;
}

Status CheckRecordFits(const SubnetRecord& r, const IpNet& key_subnet, const NetworkConfig& config) {
  if (!key_subnet.addr.is_v4()) return Status::Error(StatusCode::kInvalid, "key: subnet is not IPv4 (wrong family)");
  if (!config.network.Contains(key_subnet))
    return Status::Error(StatusCode::kInvalid,
                         "key: " + key_subnet.ToString() + " is not inside the overlay " + config.network.ToString());
  if (key_subnet.len > 30) return Status::Error(StatusCode::kInvalid, "key: " + key_subnet.ToString() + " is longer than /30");
  if (!(r.subnet == key_subnet))
    return Status::Error(StatusCode::kInvalid,
                         "record.subnet: " + r.subnet.ToString() + " does not match its key " + key_subnet.ToString());
  if (!config.underlay.empty()) {
    for (size_t i = 0; i < r.underlay.size(); ++i) {
      bool inside = false;
      for (const auto& n : config.underlay) inside = inside || n.Contains(r.underlay[i]);
      if (!inside)
        return Status::Error(StatusCode::kInvalid, "record.underlay[" + std::to_string(i) + "]: " +
                                                       r.underlay[i].ToString() + " is outside the underlay ranges");
    }
  }
  return Status::Ok();
}

}  // namespace mflow::store
