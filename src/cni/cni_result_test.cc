#include "cni/cni_result.h"

#include <gtest/gtest.h>

#include "cni/port_name.h"

namespace mflow::cni {
namespace {

using nlohmann::json;

TEST(CniResult, ReadsA040ResultAndA100Result) {
  const json v040 = json::parse(R"({"cniVersion":"0.4.0",
    "ips":[{"version":"4","address":"198.19.64.5/24","gateway":"198.19.64.1","interface":0},
           {"version":"6","address":"fd00:19::5/64"}],
    "routes":[{"dst":"198.19.128.0/24"},{"dst":"fd00:20::/64","gw":"fd00:19::9"}],
    "dns":{"nameservers":["198.19.64.1"]}})");
  auto r = ParseResult(v040, "test");
  ASSERT_TRUE(r.ok()) << r.error().msg;
  ASSERT_EQ(r->ips.size(), 2u);
  EXPECT_FALSE(r->ips[0].ipv6);
  EXPECT_TRUE(r->ips[1].ipv6);
  EXPECT_EQ(r->ips[0].gateway, "198.19.64.1");
  ASSERT_EQ(r->routes.size(), 2u);
  EXPECT_TRUE(r->dns.has_value());

  // Routes without a gateway take their family's: the IPv4 one; IPv6 has none but the route's own.
  const auto routes = PortRoutes(*r);
  EXPECT_EQ(routes[0].gw, "198.19.64.1");
  EXPECT_EQ(routes[1].gw, "fd00:19::9");

  EXPECT_TRUE(ParseResult(json::parse(R"({"cniVersion":"1.0.0"})"), "t").ok());
}

TEST(CniResult, RejectsMalformedResults) {
  for (const char* text : {R"([])", R"({"ips":"x"})", R"({"ips":[{"gateway":"1.2.3.4"}]})",
                           R"({"ips":[{"address":"not an address"}]})", R"({"ips":[{"address":"1.2.3.4"}]})",
                           R"({"routes":[{"gw":"1.2.3.4"}]})"}) {
    auto r = ParseResult(json::parse(text), "the IPAM plugin's result");
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.error().code, kIpamFailed);
    EXPECT_NE(r.error().msg.find("IPAM"), std::string::npos);
  }
}

AddResult Sample() {
  AddResult r;
  r.ifname = "eth0";
  r.mac = "0a:58:c6:13:40:05";
  r.sandbox = "/run/netns/x";
  r.ips = {{"198.19.64.5/24", "198.19.64.1", false}, {"fd00:19::5/64", "", true}};
  r.routes = {{"198.19.128.0/24", "198.19.64.1"}};
  return r;
}

TEST(CniResult, Writes100WithoutPerIpVersion) {
  const json j = BuildResult(Sample(), "1.0.0");
  EXPECT_EQ(j["cniVersion"], "1.0.0");
  EXPECT_EQ(j["interfaces"][0]["name"], "eth0");
  EXPECT_EQ(j["interfaces"][0]["mac"], "0a:58:c6:13:40:05");
  EXPECT_EQ(j["interfaces"][0]["sandbox"], "/run/netns/x");
  EXPECT_EQ(j["ips"][0]["interface"], 0);
  EXPECT_EQ(j["ips"][0]["gateway"], "198.19.64.1");
  EXPECT_FALSE(j["ips"][0].contains("version"));
  EXPECT_FALSE(j["ips"][1].contains("gateway"));
  EXPECT_EQ(j["routes"][0]["gw"], "198.19.64.1");
  EXPECT_FALSE(j.contains("dns"));
}

TEST(CniResult, Writes040And031WithPerIpVersion) {
  for (const char* v : {"0.4.0", "0.3.1", "0.3.0"}) {
    const json j = BuildResult(Sample(), v);
    EXPECT_EQ(j["cniVersion"], v);
    EXPECT_EQ(j["ips"][0]["version"], "4");
    EXPECT_EQ(j["ips"][1]["version"], "6");
  }
}

TEST(CniResult, ErrorObject) {
  const json j = BuildError({kInvalidConfig, "field \"vni\" is required", "more"}, "0.4.0");
  EXPECT_EQ(j["cniVersion"], "0.4.0");
  EXPECT_EQ(j["code"], 7);
  EXPECT_EQ(j["msg"], "field \"vni\" is required");
  EXPECT_EQ(j["details"], "more");
}

TEST(PortName, StableReadableAndWithinThePortApi) {
  const std::string id(64, 'a');
  EXPECT_EQ(PortName(id, "eth0"), "cni:" + id + ":eth0");
  EXPECT_EQ(PortName(id, "eth0"), PortName(id, "eth0"));
  EXPECT_NE(PortName(id, "eth0"), PortName(id, "eth1"));

  // Too long for the port API: shortened with a hash, still stable and distinct.
  const std::string long_id(200, 'b');
  const std::string n = PortName(long_id, "eth0");
  EXPECT_LE(n.size(), 128u);
  EXPECT_EQ(n, PortName(long_id, "eth0"));
  EXPECT_NE(n, PortName(long_id, "eth1"));
  EXPECT_NE(n, PortName(long_id + "c", "eth0"));
  // Characters outside the port API's set are hashed too.
  const std::string odd = PortName("abc", "e@th0");
  EXPECT_EQ(odd.find('@'), std::string::npos);
  EXPECT_NE(odd, PortName("abc", "e_th0"));
}

}  // namespace
}  // namespace mflow::cni
