// The CNI result: reading one (an IPAM plugin's output, a prevResult) and
// writing one (what ADD prints).
//
// Reading accepts the shapes of 0.3.0 through 1.0.0 alike (they differ only
// in the per-IP "version" field, which 1.0.0 dropped): "ips" with "address"
// and optional "gateway"; "routes" with "dst" and optional "gw"; "dns".
// Writing produces exactly the shape of the requested version: 1.0.0 as the
// spec's "Success" section has it, and for 0.3.x/0.4.0 the same plus each
// IP's "version" ("4"/"6"), since a runtime that asked for 0.4.0 (podman
// 4.3 with a 0.4.0 conflist) decodes with the 0.4.0 types.
//
// Thread-safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cni/cni_error.h"

namespace mflow::cni {

struct IpConfig {
  std::string address;  // CIDR, e.g. "198.19.64.5/24"
  std::string gateway;  // "" when none
  bool ipv6 = false;
};

struct RouteConfig {
  std::string dst;  // CIDR
  std::string gw;   // "" = on-link
};

struct IpamResult {
  std::vector<IpConfig> ips;
  std::vector<RouteConfig> routes;
  std::optional<nlohmann::json> dns;
};

// `what` names the source in errors ("the IPAM plugin's result", "prevResult").
CniOr<IpamResult> ParseResult(const nlohmann::json& j, const std::string& what);

// The routes the port gets: the IPAM plugin's, each without a gateway taking
// the gateway of the first address of its family (as the reference bridge
// plugin does); a family without a gateway leaves the route on-link.
std::vector<RouteConfig> PortRoutes(const IpamResult& ipam);

struct AddResult {
  std::string ifname;
  std::string mac;
  std::string sandbox;  // CNI_NETNS
  std::vector<IpConfig> ips;
  std::vector<RouteConfig> routes;
  std::optional<nlohmann::json> dns;
};

nlohmann::json BuildResult(const AddResult& r, const std::string& cni_version);

// The spec's error object.
nlohmann::json BuildError(const CniError& e, const std::string& cni_version);

}  // namespace mflow::cni
