#include "daemon/store_config.h"

#include <fstream>

#include "daemon/store_config_toml.h"

#include "store/subnet_record.h"

namespace mflow::daemon {

Status ParseStoreTable(const toml::table& t, std::string_view origin, StoreConfig* out) {
  auto err = [&](const std::string& field, const std::string& what) {
    return Status::Error(std::string(origin) + ": store." + field + ": " + what);
  };
  for (const auto& [k, v] : t) {
    (void)v;
    const std::string key(k.str());
    if (key != "endpoints" && key != "cafile" && key != "certfile" && key != "keyfile" &&
        key != "prefix" && key != "host_id" && key != "lease_ttl_s")
      return err(key, "unknown setting");
  }
  if (const toml::node* n = t.get("endpoints")) {
    const toml::array* a = n->as_array();
    if (a == nullptr) return err("endpoints", "must be a list of URLs");
    out->endpoints.clear();
    for (size_t i = 0; i < a->size(); ++i) {
      if (!a->get(i)->is_string()) return err("endpoints[" + std::to_string(i) + "]", "must be a string");
      out->endpoints.push_back(*a->get(i)->value<std::string>());
    }
  }
  for (auto [key, field] : {std::pair{"cafile", &out->cafile}, std::pair{"certfile", &out->certfile},
                            std::pair{"keyfile", &out->keyfile}, std::pair{"prefix", &out->prefix},
                            std::pair{"host_id", &out->host_id}}) {
    const toml::node* n = t.get(key);
    if (n == nullptr) continue;
    if (!n->is_string()) return err(key, "must be a string");
    *field = *n->value<std::string>();
  }
  if (const toml::node* n = t.get("lease_ttl_s")) {
    const auto v = n->value<int64_t>();
    if (!n->is_integer() || !v || *v < 2 || *v > 3600) return err("lease_ttl_s", "must be an integer 2..3600");
    out->lease_ttl_s = static_cast<uint32_t>(*v);
  }
  return Status::Ok();
}

Status ValidateStore(const StoreConfig& s) {
  if (!s.enabled()) return Status::Ok();
  for (size_t i = 0; i < s.endpoints.size(); ++i) {
    const std::string& e = s.endpoints[i];
    if (e.rfind("http://", 0) != 0 && e.rfind("https://", 0) != 0)
      return Status::Error("store.endpoints[" + std::to_string(i) + "]: '" + e +
                           "' must start with http:// or https://");
  }
  if (s.prefix.empty() || s.prefix.front() != '/' || s.prefix.back() != '/')
    return Status::Error("store.prefix: '" + s.prefix + "' must start and end with '/'");
  if (!s.host_id.empty() && !store::ValidHostId(s.host_id))
    return Status::Error("store.host_id: '" + s.host_id + "' must be 1..128 of A-Z a-z 0-9 . _ : -");
  if (s.certfile.empty() != s.keyfile.empty())
    return Status::Error("store.certfile and store.keyfile: give both or neither");
  if (s.lease_ttl_s < 2 || s.lease_ttl_s > 3600)
    return Status::Error("store.lease_ttl_s: " + std::to_string(s.lease_ttl_s) + " is not in 2..3600");
  return Status::Ok();
}

StatusOr<std::string> ResolveHostId(const StoreConfig& s) {
  if (!s.host_id.empty()) return s.host_id;
  std::ifstream in("/etc/machine-id");
  std::string id;
  if (!in || !std::getline(in, id) || !store::ValidHostId(id))
    return Status::Error("store.host_id: not set and /etc/machine-id is missing or not a valid id; "
                         "give --host-id");
  return id;
}

wire::MacAddr VtepMacFor(std::string_view host_id) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a, 64 bits
  for (char c : host_id) {
    h ^= static_cast<uint8_t>(c);
    h *= 1099511628211ull;
  }
  // FNV-1a alone barely mixes its last bytes into the high bits (host ids
  // often differ only at the end): finish with splitmix64's mixer.
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 31;
  wire::MacAddr m;
  m.b[0] = 0x02;  // locally administered, unicast
  for (int i = 1; i < 6; ++i) m.b[i] = static_cast<uint8_t>(h >> (8 * (i - 1)));
  if (m.b[1] == 0 && m.b[2] == 0 && m.b[3] == 0 && m.b[4] == 0 && m.b[5] == 0) m.b[5] = 1;
  return m;
}

}  // namespace mflow::daemon
