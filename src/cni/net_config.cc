#include "cni/net_config.h"

#include <algorithm>
#include <charconv>

namespace mflow::cni {
namespace {

using nlohmann::json;

// Fields the runtime may add to any plugin's configuration (spec 1.0.0,
// "Section 1" and "Section 3"), and the ones mflow defines.
constexpr std::string_view kKnownFields[] = {
    "cniVersion", "name", "type", "args", "capabilities", "runtimeConfig", "prevResult",
    "disableCheck", "vni", "socket", "mtu", "ipam", "dns", "logFile"};

std::string TypeName(const json& j) { return j.type_name(); }

std::string Shorten(const std::string& s) { return s.size() <= 80 ? s : s.substr(0, 77) + "..."; }

CniError Invalid(const std::string& msg) { return CniError{kInvalidConfig, "invalid network config: " + msg, ""}; }

std::vector<unsigned> VersionParts(std::string_view v) {
  std::vector<unsigned> out;
  size_t start = 0;
  while (start <= v.size()) {
    size_t dot = v.find('.', start);
    if (dot == std::string_view::npos) dot = v.size();
    unsigned n = 0;
    std::from_chars(v.data() + start, v.data() + dot, n);
    out.push_back(n);
    start = dot + 1;
  }
  return out;
}

// A JSON string field that must be present (required) or may be absent.
CniOr<std::string> StringField(const json& j, const char* key, bool required) {
  auto it = j.find(key);
  if (it == j.end()) {
    if (required) return Invalid(std::string("field \"") + key + "\" is required");
    return std::string();
  }
  if (!it->is_string())
    return Invalid(std::string("field \"") + key + "\" must be a string, got " + TypeName(*it));
  return it->get<std::string>();
}

CniOr<uint64_t> UnsignedField(const json& j, const char* key, uint64_t lo, uint64_t hi) {
  const json& v = j.at(key);
  const std::string range = std::to_string(lo) + ".." + std::to_string(hi);
  if (!v.is_number_integer() || (!v.is_number_unsigned() && v.get<int64_t>() < 0)) {
    return Invalid(std::string("field \"") + key + "\" must be an integer " + range + ", got " + TypeName(v) + " " +
                   Shorten(v.dump()));
  }
  const uint64_t n = v.get<uint64_t>();
  if (n < lo || n > hi)
    return Invalid(std::string("field \"") + key + "\" must be " + range + ", got " + std::to_string(n));
  return n;
}

// "dns": {"nameservers": [..], "domain": "..", "search": [..], "options": [..]}
std::optional<CniError> CheckDns(const json& dns) {
  if (!dns.is_object()) return Invalid("field \"dns\" must be an object, got " + TypeName(dns));
  for (const auto& [k, v] : dns.items()) {
    if (k == "domain") {
      if (!v.is_string()) return Invalid("field \"dns.domain\" must be a string");
    } else if (k == "nameservers" || k == "search" || k == "options") {
      if (!v.is_array() || !std::all_of(v.begin(), v.end(), [](const json& e) { return e.is_string(); }))
        return Invalid("field \"dns." + k + "\" must be an array of strings");
    } else {
      return CniError{kUnsupportedField, "unsupported field \"dns." + k + "\": " + Shorten(v.dump()), ""};
    }
  }
  return std::nullopt;
}

}  // namespace

bool VersionSupported(std::string_view version) {
  const auto& v = SupportedVersions();
  return std::find(v.begin(), v.end(), version) != v.end();
}

bool VersionLess(std::string_view a, std::string_view b) { return VersionParts(a) < VersionParts(b); }

std::string PeekCniVersion(std::string_view stdin_text) {
  const json j = json::parse(stdin_text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return "";
  auto it = j.find("cniVersion");
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

CniOr<NetConfig> ParseNetConfig(std::string_view stdin_text) {
  const json j = json::parse(stdin_text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded())
    return CniError{kDecodeFailure, "cannot decode the network config on stdin: not valid JSON", ""};
  if (!j.is_object())
    return CniError{kDecodeFailure, "cannot decode the network config on stdin: a JSON object is needed, got " +
                                        TypeName(j), ""};
  NetConfig c;
  c.raw = std::string(stdin_text);

  // The version decides how everything else reads, so it is checked first.
  auto version = StringField(j, "cniVersion", true);
  if (!version.ok()) return version.error();
  c.cni_version = *version;
  if (!VersionSupported(c.cni_version)) {
    std::string list;
    for (const auto& v : SupportedVersions()) list += (list.empty() ? "" : ", ") + v;
    return CniError{kIncompatibleVersion,
                    "incompatible CNI version \"" + c.cni_version + "\" (mflow supports " + list + ")", ""};
  }

  for (const auto& [k, v] : j.items()) {
    if (std::find(std::begin(kKnownFields), std::end(kKnownFields), k) == std::end(kKnownFields))
      return CniError{kUnsupportedField, "unsupported field \"" + k + "\": " + Shorten(v.dump()),
                      "mflow's fields: vni, socket, mtu, ipam, dns, logFile"};
  }

  auto name = StringField(j, "name", true);
  if (!name.ok()) return name.error();
  c.name = *name;
  auto type = StringField(j, "type", true);
  if (!type.ok()) return type.error();
  c.type = *type;

  if (!j.contains("vni")) return Invalid("field \"vni\" is required (the VXLAN network identifier, 1..16777215)");
  auto vni = UnsignedField(j, "vni", 1, 0xFFFFFF);
  if (!vni.ok()) return vni.error();
  c.vni = static_cast<uint32_t>(*vni);

  if (j.contains("socket")) {
    auto socket = StringField(j, "socket", false);
    if (!socket.ok()) return socket.error();
    if (socket->empty() || (*socket)[0] != '/') return Invalid("field \"socket\" must be an absolute path");
    if (socket->size() > 107) return Invalid("field \"socket\" is longer than 107 bytes (a Unix socket path)");
    c.socket = *socket;
  }
  if (j.contains("mtu")) {
    auto mtu = UnsignedField(j, "mtu", 0, 65535);
    if (!mtu.ok()) return mtu.error();
    if (*mtu != 0 && *mtu < 68) return Invalid("field \"mtu\" must be 0 or 68..65535, got " + std::to_string(*mtu));
    c.mtu = static_cast<uint32_t>(*mtu);
  }
  if (auto it = j.find("ipam"); it != j.end()) {
    if (!it->is_object()) return Invalid("field \"ipam\" must be an object, got " + TypeName(*it));
    auto ipam_type = StringField(*it, "type", false);
    if (!ipam_type.ok()) return Invalid("field \"ipam.type\" must be a string");
    // An empty ipam object ({}) means no IPAM, as the reference plugins read it.
    if (ipam_type->empty() && !it->empty()) return Invalid("field \"ipam.type\" is required when \"ipam\" is set");
    if (ipam_type->find('/') != std::string::npos)
      return Invalid("field \"ipam.type\" must be a plugin name, not a path: " + *ipam_type);
    c.ipam_type = *ipam_type;
  }
  if (auto it = j.find("dns"); it != j.end()) {
    if (auto e = CheckDns(*it)) return *e;
    c.dns = *it;
  }
  if (j.contains("logFile")) {
    auto log = StringField(j, "logFile", false);
    if (!log.ok()) return log.error();
    if (!log->empty() && (*log)[0] != '/') return Invalid("field \"logFile\" must be an absolute path");
    c.log_file = *log;
  }
  if (auto it = j.find("prevResult"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) return Invalid("field \"prevResult\" must be an object, got " + TypeName(*it));
    c.prev_result = *it;
  }
  if (auto it = j.find("runtimeConfig"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) return Invalid("field \"runtimeConfig\" must be an object");
    // mflow declares no capabilities; a runtime asking for one must hear it is not done.
    for (const auto& [k, v] : it->items()) {
      const bool empty = v.is_null() || ((v.is_array() || v.is_object()) && v.empty()) ||
                         (v.is_string() && v.get_ref<const std::string&>().empty());
      if (!empty)
        return CniError{kUnsupportedField, "unsupported field \"runtimeConfig." + k + "\": " + Shorten(v.dump()),
                        "mflow declares no capabilities"};
    }
  }
  return c;
}

}  // namespace mflow::cni
