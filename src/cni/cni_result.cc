#include "cni/cni_result.h"

#include "cni/net_config.h"

namespace mflow::cni {
namespace {

using nlohmann::json;

CniError Bad(const std::string& what, const std::string& msg) {
  return CniError{kIpamFailed, what + ": " + msg, ""};
}

// "a.b.c.d/n" or "x::y/n": enough to tell the family and reject garbage;
// mflowd parses the address for real.
bool LooksLikeCidr(const std::string& s) {
  const size_t slash = s.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 >= s.size()) return false;
  for (size_t i = slash + 1; i < s.size(); ++i)
    if (s[i] < '0' || s[i] > '9') return false;
  return s.find_first_not_of("0123456789abcdefABCDEF.:/") == std::string::npos;
}

}  // namespace

CniOr<IpamResult> ParseResult(const json& j, const std::string& what) {
  if (!j.is_object()) return Bad(what, "not a JSON object");
  IpamResult r;
  if (auto it = j.find("ips"); it != j.end() && !it->is_null()) {
    if (!it->is_array()) return Bad(what, "\"ips\" is not an array");
    for (const json& ip : *it) {
      if (!ip.is_object() || !ip.contains("address") || !ip["address"].is_string())
        return Bad(what, "an entry of \"ips\" has no \"address\" string");
      IpConfig c;
      c.address = ip["address"].get<std::string>();
      if (!LooksLikeCidr(c.address)) return Bad(what, "\"ips\" address '" + c.address + "' is not a CIDR");
      c.ipv6 = c.address.find(':') != std::string::npos;
      if (auto gw = ip.find("gateway"); gw != ip.end() && gw->is_string()) c.gateway = gw->get<std::string>();
      r.ips.push_back(std::move(c));
    }
  }
  if (auto it = j.find("routes"); it != j.end() && !it->is_null()) {
    if (!it->is_array()) return Bad(what, "\"routes\" is not an array");
    for (const json& rt : *it) {
      if (!rt.is_object() || !rt.contains("dst") || !rt["dst"].is_string())
        return Bad(what, "an entry of \"routes\" has no \"dst\" string");
      RouteConfig c;
      c.dst = rt["dst"].get<std::string>();
      if (!LooksLikeCidr(c.dst)) return Bad(what, "route dst '" + c.dst + "' is not a CIDR");
      if (auto gw = rt.find("gw"); gw != rt.end() && gw->is_string()) c.gw = gw->get<std::string>();
      r.routes.push_back(std::move(c));
    }
  }
  if (auto it = j.find("dns"); it != j.end() && it->is_object() && !it->empty()) r.dns = *it;
  return r;
}

std::vector<RouteConfig> PortRoutes(const IpamResult& ipam) {
  std::string gw4, gw6;
  for (const IpConfig& ip : ipam.ips) {
    std::string& gw = ip.ipv6 ? gw6 : gw4;
    if (gw.empty()) gw = ip.gateway;
  }
  std::vector<RouteConfig> out = ipam.routes;
  for (RouteConfig& r : out)
    if (r.gw.empty()) r.gw = r.dst.find(':') != std::string::npos ? gw6 : gw4;
  return out;
}

json BuildResult(const AddResult& r, const std::string& cni_version) {
  const bool per_ip_version = VersionLess(cni_version, "1.0.0");
  json ips = json::array();
  for (const IpConfig& ip : r.ips) {
    json e = {{"address", ip.address}, {"interface", 0}};
    if (!ip.gateway.empty()) e["gateway"] = ip.gateway;
    if (per_ip_version) e["version"] = ip.ipv6 ? "6" : "4";
    ips.push_back(std::move(e));
  }
  json routes = json::array();
  for (const RouteConfig& rt : r.routes) {
    json e = {{"dst", rt.dst}};
    if (!rt.gw.empty()) e["gw"] = rt.gw;
    routes.push_back(std::move(e));
  }
  json out = {{"cniVersion", cni_version},
              {"interfaces", json::array({{{"name", r.ifname}, {"mac", r.mac}, {"sandbox", r.sandbox}}})},
              {"ips", std::move(ips)}};
  if (!routes.empty()) out["routes"] = std::move(routes);
  if (r.dns) out["dns"] = *r.dns;
  return out;
}

json BuildError(const CniError& e, const std::string& cni_version) {
  json out = {{"cniVersion", cni_version}, {"code", e.code}, {"msg", e.msg}};
  if (!e.details.empty()) out["details"] = e.details;
  return out;
}

}  // namespace mflow::cni
