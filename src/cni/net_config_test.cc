#include "cni/net_config.h"

#include <gtest/gtest.h>

namespace mflow::cni {
namespace {

using nlohmann::json;

json Good() {
  return {{"cniVersion", "1.0.0"}, {"name", "net"}, {"type", "mflow"}, {"vni", 42},
          {"ipam", {{"type", "host-local"}}}};
}

CniError ErrorOf(const json& j) {
  auto c = ParseNetConfig(j.dump());
  EXPECT_FALSE(c.ok()) << j.dump();
  return c.ok() ? CniError{} : c.error();
}

TEST(NetConfig, ParsesTheExample) {
  json j = Good();
  j["socket"] = "/run/mflow-x/mflowd.sock";
  j["mtu"] = 1400;
  j["dns"] = {{"nameservers", {"198.19.64.1"}}, {"search", {"example"}}};
  j["logFile"] = "/var/log/mflow-cni.log";
  auto c = ParseNetConfig(j.dump());
  ASSERT_TRUE(c.ok()) << c.error().msg;
  EXPECT_EQ(c->vni, 42u);
  EXPECT_EQ(c->socket, "/run/mflow-x/mflowd.sock");
  EXPECT_EQ(c->mtu, 1400u);
  EXPECT_EQ(c->ipam_type, "host-local");
  EXPECT_TRUE(c->dns.has_value());
  EXPECT_EQ(c->raw, j.dump());
}

TEST(NetConfig, DefaultsTheSocket) {
  auto c = ParseNetConfig(Good().dump());
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->socket, "/run/mflow/mflowd.sock");
}

TEST(NetConfig, DecodeFailureIsCode6) {
  for (const char* text : {"", "{", "[1,2]", "\"str\"", "{\"cniVersion\":\"1.0.0\",}"}) {
    auto c = ParseNetConfig(text);
    ASSERT_FALSE(c.ok()) << text;
    EXPECT_EQ(c.error().code, kDecodeFailure) << text;
  }
}

TEST(NetConfig, UnknownVersionIsCode1) {
  for (const char* v : {"0.2.0", "1.1.0", "9.9.9"}) {
    json j = Good();
    j["cniVersion"] = v;
    const CniError e = ErrorOf(j);
    EXPECT_EQ(e.code, kIncompatibleVersion) << v;
    EXPECT_NE(e.msg.find(v), std::string::npos);
  }
  for (const char* v : {"0.3.0", "0.3.1", "0.4.0", "1.0.0"}) {
    json j = Good();
    j["cniVersion"] = v;
    EXPECT_TRUE(ParseNetConfig(j.dump()).ok()) << v;
  }
}

TEST(NetConfig, InvalidFieldsAreCode7AndNamed) {
  struct Case {
    const char* field;
    json value;  // null: remove the field
  };
  const Case cases[] = {{"vni", nullptr},          {"vni", "42"},      {"vni", 0},
                        {"vni", 16777216},         {"vni", -1},        {"vni", 4.5},
                        {"name", nullptr},         {"type", 3},        {"cniVersion", nullptr},
                        {"socket", "relative.sock"}, {"socket", 5},    {"mtu", 10},
                        {"mtu", 70000},            {"ipam", "host-local"}, {"ipam", {{"type", "../x"}}},
                        {"ipam", {{"subnet", "198.19.0.0/24"}}}, {"dns", {{"nameservers", "1.2.3.4"}}},
                        {"logFile", "rel.log"},    {"prevResult", 1}};
  for (const Case& c : cases) {
    json j = Good();
    if (c.value.is_null()) j.erase(c.field);
    else j[c.field] = c.value;
    const CniError e = ErrorOf(j);
    EXPECT_EQ(e.code, kInvalidConfig) << j.dump() << " -> " << e.msg;
    EXPECT_NE(e.msg.find(c.field), std::string::npos) << e.msg;
  }
}

TEST(NetConfig, UnsupportedFieldsAreCode2AndNamedWithTheirValue) {
  json j = Good();
  j["ipMasq"] = true;
  CniError e = ErrorOf(j);
  EXPECT_EQ(e.code, kUnsupportedField);
  EXPECT_NE(e.msg.find("ipMasq"), std::string::npos);
  EXPECT_NE(e.msg.find("true"), std::string::npos);

  j = Good();
  j["runtimeConfig"] = {{"portMappings", {{{"hostPort", 80}}}}};
  e = ErrorOf(j);
  EXPECT_EQ(e.code, kUnsupportedField);
  EXPECT_NE(e.msg.find("runtimeConfig.portMappings"), std::string::npos);

  j = Good();
  j["dns"] = {{"servers", {"1.1.1.1"}}};
  EXPECT_EQ(ErrorOf(j).code, kUnsupportedField);

  // What runtimes add is accepted.
  j = Good();
  j["runtimeConfig"] = {{"portMappings", json::array()}};
  j["args"] = {{"cni", {{"x", 1}}}};
  j["prevResult"] = {{"cniVersion", "1.0.0"}, {"ips", json::array()}};
  EXPECT_TRUE(ParseNetConfig(j.dump()).ok());
}

TEST(NetConfig, EmptyIpamMeansNone) {
  json j = Good();
  j["ipam"] = json::object();
  auto c = ParseNetConfig(j.dump());
  ASSERT_TRUE(c.ok()) << c.error().msg;
  EXPECT_TRUE(c->ipam_type.empty());
}

TEST(NetConfig, VersionOrder) {
  EXPECT_TRUE(VersionLess("0.3.1", "0.4.0"));
  EXPECT_TRUE(VersionLess("0.4.0", "1.0.0"));
  EXPECT_FALSE(VersionLess("1.0.0", "0.4.0"));
  EXPECT_FALSE(VersionLess("0.4.0", "0.4.0"));
  EXPECT_EQ(PeekCniVersion("{\"cniVersion\":\"0.4.0\"}"), "0.4.0");
  EXPECT_EQ(PeekCniVersion("garbage"), "");
}

}  // namespace
}  // namespace mflow::cni
