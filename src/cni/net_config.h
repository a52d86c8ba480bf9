// NetConfig: the mflow plugin's network configuration (stdin), decoded and checked.
//
// The runtime hands each plugin of a conflist one JSON object: the list's
// "cniVersion" and "name" injected, the plugin's own fields, and
// "prevResult" / "runtimeConfig" where the spec says so. mflow's fields:
//   "type": "mflow"       the executable's name (any string is accepted: the
//                         runtime found us by it)
//   "vni": 42             required, 1..16777215, an integer (not a string)
//   "socket": PATH        mflowd's control socket, default /run/mflow/mflowd.sock
//   "mtu": N              0 (mflowd's inner MTU) or 68..65535
//   "ipam": {"type": ...} delegated to that IPAM plugin; without it the port has no address
//   "dns": {...}          copied into the result (else the IPAM plugin's dns, if any)
//   "logFile": PATH       append the plugin's log there instead of stderr
// Codes: 6 when stdin is not a JSON object; 1 when cniVersion is not one
// this plugin speaks; 7 when a field is missing or has the wrong type or
// range (the message names the field); 2 for a field mflow does not support
// (named with its value), so that a typo ("vin") or a bridge-plugin option
// ("ipMasq") fails loudly instead of being silently ignored.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cni/cni_error.h"

namespace mflow::cni {

// Oldest first; the last one is what VERSION calls the plugin's own.
inline const std::vector<std::string>& SupportedVersions() {
  static const std::vector<std::string> v = {"0.3.0", "0.3.1", "0.4.0", "1.0.0"};
  return v;
}
bool VersionSupported(std::string_view version);
// a < b on dotted numeric versions ("0.3.1" < "0.4.0" < "1.0.0").
bool VersionLess(std::string_view a, std::string_view b);

struct NetConfig {
  std::string cni_version;
  std::string name;
  std::string type;
  uint32_t vni = 0;
  std::string socket = "/run/mflow/mflowd.sock";
  uint32_t mtu = 0;
  std::string ipam_type;  // empty: no IPAM
  std::optional<nlohmann::json> dns;
  std::string log_file;
  std::optional<nlohmann::json> prev_result;
  std::string raw;  // stdin as received, handed to the IPAM plugin unchanged
};

// Only decodes enough to learn the cniVersion (for VERSION and for the
// version of error objects): "" when stdin is empty, not JSON or has none.
std::string PeekCniVersion(std::string_view stdin_text);

CniOr<NetConfig> ParseNetConfig(std::string_view stdin_text);

}  // namespace mflow::cni
