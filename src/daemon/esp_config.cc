#include "daemon/esp_config.h"

#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>

#include <toml++/toml.h>

namespace mflow::daemon {

bool EspPeerConfig::operator==(const EspPeerConfig& o) const {
  auto same = [](const esp::EspSa& a, const esp::EspSa& b) {
    return a.spi == b.spi && a.alg == b.alg && a.key == b.key && a.salt == b.salt && a.esn == b.esn;
  };
  return peer == o.peer && same(in, o.in) && same(out, o.out);
}

Status ParseEspPeers(const toml::table& underlay, std::string_view origin,
                     std::vector<EspPeerConfig>* out) {
  const toml::node* n = underlay.get("esp");
  if (n == nullptr) return Status::Ok();
  const std::string o(origin);
  const toml::array* a = n->as_array();
  if (a == nullptr) return Status::Error(o + ": underlay.esp: must be [[underlay.esp]] tables");
  for (size_t i = 0; i < a->size(); ++i) {
    const std::string where = o + ": underlay.esp[" + std::to_string(i) + "]";
    const toml::table* t = a->get(i)->as_table();
    if (t == nullptr) return Status::Error(where + ": must be a table");
    for (const auto& [k, v] : *t) {
      (void)v;
      const std::string key(k.str());
      if (key != "peer" && key != "in" && key != "out")
        return Status::Error(where + "." + key + ": unknown setting (peer, in, out)");
    }
    EspPeerConfig e;
    const toml::node* peer = t->get("peer");
    if (peer == nullptr || !peer->is_string()) return Status::Error(where + ".peer: an address string is required");
    const auto addr = wire::IpAddr::Parse(*peer->value<std::string>());
    if (!addr) return Status::Error(where + ".peer: '" + *peer->value<std::string>() + "' is not an IP address");
    e.peer = *addr;
    for (const char* dir : {"in", "out"}) {
      const toml::node* s = t->get(dir);
      if (s == nullptr || !s->is_string())
        return Status::Error(where + "." + dir + ": an SA string is required (\"spi=... alg=... key=... salt=... esn=on\")");
      // EspSa::Parse never echoes key material in its errors.
      auto sa = esp::EspSa::Parse(*s->value<std::string>());
      if (!sa.ok()) return Status::Error(where + "." + dir + ": " + sa.status().message());
      (std::string_view(dir) == "in" ? e.in : e.out) = sa.value();
    }
    out->push_back(e);
  }
  return Status::Ok();
}

StatusOr<std::vector<EspPeerConfig>> LoadEspKeyFile(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return Status::Error("--encrypt " + path + ": cannot read it");
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return Status::Error("--encrypt " + path + ": mode " + mode +
                         " lets group or others read the keys; chmod 600 it");
  }
  std::ifstream f(path);
  if (!f) return Status::Error("--encrypt " + path + ": cannot read it");
  std::stringstream text;
  text << f.rdbuf();
  toml::table root;
  try {
    root = toml::parse(text.str(), path);
  } catch (const toml::parse_error& e) {
    // The parser's message quotes no value, only where it stopped.
    return Status::Error("--encrypt " + path + ": line " +
                         std::to_string(e.source().begin.line) + ": not valid TOML");
  }
  for (const auto& [k, v] : root) {
    if (k.str() != "underlay" || !v.is_table())
      return Status::Error("--encrypt " + path + ": " + std::string(k.str()) +
                           ": a key file holds only [[underlay.esp]] tables");
    for (const auto& [k2, v2] : *v.as_table()) {
      (void)v2;
      if (k2.str() != "esp")
        return Status::Error("--encrypt " + path + ": underlay." + std::string(k2.str()) +
                             ": a key file holds only [[underlay.esp]] tables");
    }
  }
  std::vector<EspPeerConfig> out;
  if (const toml::table* u = root["underlay"].as_table())
    if (Status s = ParseEspPeers(*u, "--encrypt " + path, &out); !s.ok()) return s;
  if (out.empty()) return Status::Error("--encrypt " + path + ": no [[underlay.esp]] table");
  return out;
}

Status ValidateEspPeers(const std::vector<EspPeerConfig>& esp,
                        const std::vector<wire::IpAddr>& peers) {
  std::set<uint32_t> spis;
  for (size_t i = 0; i < esp.size(); ++i) {
    const EspPeerConfig& e = esp[i];
    const std::string where = "underlay.esp[" + std::to_string(i) + "] (" + e.peer.ToString() + ")";
    bool listed = false;
    for (const wire::IpAddr& p : peers) listed |= p == e.peer;
    if (!listed) return Status::Error(where + ".peer: is not in underlay.peers");
    for (size_t j = 0; j < i; ++j)
      if (esp[j].peer == e.peer) return Status::Error(where + ".peer: has two [[underlay.esp]] tables");
    if (!spis.insert(e.in.spi).second)
      return Status::Error(where + ".in: spi " + std::to_string(e.in.spi) +
                           " is another peer's inbound SPI");
  }
  return Status::Ok();
}

}  // namespace mflow::daemon
