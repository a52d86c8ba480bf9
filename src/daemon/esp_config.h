// Encrypted peers in mflowd's configuration (docs/ESP.md, "Configuring"):
//
//   [underlay]
//   esp_port = 4500                 # ESP in UDP (RFC 3948); the default
//   [[underlay.esp]]
//   peer = "198.18.0.2"             # must also be in underlay.peers
//   in  = "spi=0x2001 alg=aes-128-gcm key=<hex> salt=<hex> esn=on"
//   out = "spi=0x1001 alg=aes-128-gcm key=<hex> salt=<hex> esn=on"
//
// in the config file or, to keep keys out of it, in a key file given with
// `mflowd --encrypt FILE` that holds only such [[underlay.esp]] tables and
// that no group or other user may read. Keys never appear in errors, logs,
// mflowctl output or metrics: only EspSa::ToString (redacted) and SPIs.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "esp/esp_sa.h"
#include "wire/ip_addr.h"

namespace toml {
inline namespace v3 {
class table;
}
}  // namespace toml

namespace mflow::daemon {

struct EspPeerConfig {
  wire::IpAddr peer;
  esp::EspSa in;   // what the peer sends us
  esp::EspSa out;  // what we send the peer
  bool operator==(const EspPeerConfig& o) const;
};

// Appends the [[underlay.esp]] tables of `underlay` to *out; errors name the
// field ("<origin>: underlay.esp[0].in: esp sa: key: ...").
Status ParseEspPeers(const toml::table& underlay, std::string_view origin,
                     std::vector<EspPeerConfig>* out);

// Reads a key file (--encrypt): refused when group or others may read it,
// when it holds anything but [[underlay.esp]] tables, or has none.
StatusOr<std::vector<EspPeerConfig>> LoadEspKeyFile(const std::string& path);

// Cross checks: each peer in `peers`, of its family, once; inbound SPIs
// unique.
Status ValidateEspPeers(const std::vector<EspPeerConfig>& esp,
                        const std::vector<wire::IpAddr>& peers);

}  // namespace mflow::daemon
