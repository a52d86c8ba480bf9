// The store's layout values: IpNet, the network config and host records.
#include "store/subnet_record.h"

#include <gtest/gtest.h>

#include "store/network_config.h"

namespace mflow::store {
namespace {

TEST(IpNet, ParsesStrictly) {
  auto n = IpNet::Parse("198.19.1.0/24");
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(n->ToString(), "198.19.1.0/24");
  EXPECT_EQ(n->ToKey(), "198.19.1.0-24");
  EXPECT_EQ(IpNet::ParseKey("198.19.1.0-24"), n);
  EXPECT_EQ(IpNet::ParseKey("fd00:1::-64")->ToString(), "fd00:1::/64");
  for (const char* bad : {"198.19.1.5/24", "198.19.1.0", "198.19.1.0/33", "198.19.1.0/", "198.19.1.0/2x",
                          "x/24", "198.19.1.0/0024", "fd00::1/64"})
    EXPECT_FALSE(IpNet::Parse(bad).has_value()) << bad;
}

TEST(IpNet, ContainsAndOverlaps) {
  IpNet net = *IpNet::Parse("198.19.0.0/16");
  EXPECT_TRUE(net.Contains(*IpNet::Parse("198.19.7.0/24")));
  EXPECT_FALSE(net.Contains(*IpNet::Parse("198.18.7.0/24")));
  EXPECT_FALSE(net.Contains(*IpNet::Parse("198.0.0.0/8")));
  EXPECT_TRUE(net.Overlaps(*IpNet::Parse("198.0.0.0/8")));
  EXPECT_FALSE(IpNet::Parse("198.19.1.0/24")->Overlaps(*IpNet::Parse("198.19.2.0/24")));
  EXPECT_FALSE(net.Contains(*wire::IpAddr::Parse("fd00::1")));
}

TEST(NetworkConfig, ParsesAndDefaults) {
  auto c = ParseNetworkConfig(R"({"network":"198.19.0.0/16","vni":42})");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->subnet_len, 24);
  EXPECT_EQ(c->port, 4789);
  EXPECT_EQ(c->SubnetCount(), 256u);
  EXPECT_EQ(c->SubnetAt(7).ToString(), "198.19.7.0/24");
  auto back = ParseNetworkConfig(c->ToJson());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, *c);
  auto u = ParseNetworkConfig(R"({"network":"198.19.0.0/16","vni":1,"subnet_len":26,"port":8472,"underlay":["198.18.0.0/15"]})");
  ASSERT_TRUE(u.ok()) << u.status().message();
  EXPECT_EQ(u->SubnetCount(), 1024u);
  EXPECT_EQ(u->underlay.size(), 1u);
}

TEST(NetworkConfig, RefusesBadFieldsByName) {
  struct Case {
    const char* json;
    const char* want;
  } cases[] = {
      {"", "not JSON"},
      {"[]", "not a JSON object"},
      {R"({"vni":1})", "config.network: missing"},
      {R"({"network":5,"vni":1})", "config.network: not a string"},
      {R"({"network":"198.19.0.1/16","vni":1})", "host bits"},
      {R"({"network":"fd00::/48","vni":1})", "IPv4"},
      {R"({"network":"198.19.0.0/29","vni":1})", "8..28"},
      {R"({"network":"0.0.0.0/4","vni":1})", "8..28"},
      {R"({"network":"198.19.0.0/16","vni":1,"subnet_len":16})", "config.subnet_len"},
      {R"({"network":"198.19.0.0/16","vni":1,"subnet_len":31})", "config.subnet_len"},
      {R"({"network":"198.19.0.0/16","vni":1,"subnet_len":"24"})", "not an integer"},
      {R"({"network":"198.19.0.0/16"})", "config.vni: missing"},
      {R"({"network":"198.19.0.0/16","vni":16777216})", "config.vni"},
      {R"({"network":"198.19.0.0/16","vni":0})", "config.vni"},
      {R"({"network":"198.19.0.0/16","vni":1,"port":65536})", "config.port"},
      {R"({"network":"198.19.0.0/16","vni":1,"port":-1})", "config.port"},
      {R"({"network":"198.19.0.0/16","vni":1,"port":18446744073709551615})", "config.port"},
      {R"({"network":"198.19.0.0/16","vni":1,"underlay":"198.18.0.0/15"})", "config.underlay: not an array"},
      {R"({"network":"198.19.0.0/16","vni":1,"underlay":["198.18.0.1/15"]})", "config.underlay[0]"},
  };
  for (const auto& c : cases) {
    auto r = ParseNetworkConfig(c.json);
    ASSERT_FALSE(r.ok()) << c.json;
    EXPECT_NE(r.status().message().find(c.want), std::string::npos) << c.json << " -> " << r.status().message();
  }
}

constexpr const char* kGood =
    R"({"host_id":"node-7","subnet":"198.19.7.0/24","underlay":["198.18.0.7","fd00:18::7"],
        "vtep_mac":"02:00:c6:13:07:00","port":4789,"version":"0.1.0","mode":"microflow","future":1})";

TEST(SubnetRecord, ParsesAndRoundTrips) {
  auto r = ParseSubnetRecord(kGood);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->host_id, "node-7");
  EXPECT_EQ(r->underlay.size(), 2u);
  EXPECT_EQ(r->vtep_mac.ToString(), "02:00:c6:13:07:00");
  auto back = ParseSubnetRecord(r->ToJson());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, *r);
}

TEST(SubnetRecord, RefusesBadFieldsByName) {
  struct Case {
    const char* json;
    const char* want;
  } cases[] = {
      {"{", "record: not JSON"},
      {"\"x\"", "not a JSON object"},
      {R"({"subnet":"198.19.7.0/24"})", "record.host_id: missing"},
      {R"({"host_id":"a b"})", "record.host_id"},
      {R"({"host_id":""})", "record.host_id"},
      {R"({"host_id":"h","subnet":"198.19.7.1/24"})", "record.subnet"},
      {R"({"host_id":"h","subnet":"198.19.7.0/24"})", "record.underlay: missing"},
      {R"({"host_id":"h","subnet":"198.19.7.0/24","underlay":[]})", "record.underlay"},
      {R"({"host_id":"h","subnet":"198.19.7.0/24","underlay":[7]})", "record.underlay[0]: not a string"},
      {R"({"host_id":"h","subnet":"198.19.7.0/24","underlay":["198.18.0.300"]})", "not an IP address"},
      {R"({"host_id":"h","subnet":"198.19.7.0/24","underlay":["224.0.0.1"]})", "not a unicast"},
      {R"({"host_id":"h","subnet":"198.19.7.0/24","underlay":["0.0.0.0"]})", "not a unicast"},
      {R"({"host_id":"h","subnet":"198.19.7.0/24","underlay":["ff02::1"]})", "not a unicast"},
      {R"({"host_id":"h","subnet":"198.19.7.0/24","underlay":["198.18.0.7"],"vtep_mac":"01:00:5e:00:00:01"})",
       "record.vtep_mac"},
      {R"({"host_id":"h","subnet":"198.19.7.0/24","underlay":["198.18.0.7"],"vtep_mac":"00:00:00:00:00:00"})",
       "record.vtep_mac"},
      {R"({"host_id":"h","subnet":"198.19.7.0/24","underlay":["198.18.0.7"],"vtep_mac":"zz"})", "record.vtep_mac"},
      {R"({"host_id":"h","subnet":"198.19.7.0/24","underlay":["198.18.0.7"],"vtep_mac":"02:00:00:00:00:01","port":0})",
       "record.port"},
      {R"({"host_id":"h","subnet":"198.19.7.0/24","underlay":["198.18.0.7"],"vtep_mac":"02:00:00:00:00:01","port":-5})",
       "record.port"},
      {R"({"host_id":"h","subnet":"198.19.7.0/24","underlay":["198.18.0.7"],"vtep_mac":"02:00:00:00:00:01","port":70000})",
       "record.port"},
      {R"({"host_id":"h","subnet":"198.19.7.0/24","underlay":["198.18.0.7"],"vtep_mac":"02:00:00:00:00:01","port":4789.5})",
       "record.port"},
      {R"({"host_id":"h","subnet":"198.19.7.0/24","underlay":["198.18.0.7"],"vtep_mac":"02:00:00:00:00:01","port":4789})",
       "record.version: missing"},
      {R"({"host_id":"h","subnet":"198.19.7.0/24","underlay":["198.18.0.7"],"vtep_mac":"02:00:00:00:00:01","port":4789,"version":"1","mode":"fast"})",
       "record.mode"},
  };
  for (const auto& c : cases) {
    auto r = ParseSubnetRecord(c.json);
    ASSERT_FALSE(r.ok()) << c.json;
    EXPECT_NE(r.status().message().find(c.want), std::string::npos) << c.json << " -> " << r.status().message();
  }
}

TEST(SubnetRecord, RefusesANulByte) {
  std::string good(kGood);
  EXPECT_FALSE(ParseSubnetRecord(good + std::string("\0junk", 5)).ok());
  EXPECT_FALSE(ParseNetworkConfig(std::string(R"({"network":"198.19.0.0/16","vni":1})") + '\0').ok());
}

TEST(SubnetRecord, MustFitItsKeyAndTheNetwork) {
  auto cfg = ParseNetworkConfig(R"({"network":"198.19.0.0/16","vni":1,"underlay":["198.18.0.0/15","fd00:18::/64"]})");
  ASSERT_TRUE(cfg.ok());
  auto r = ParseSubnetRecord(kGood);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(CheckRecordFits(*r, *IpNet::Parse("198.19.7.0/24"), *cfg).ok());
  auto other = CheckRecordFits(*r, *IpNet::Parse("198.19.8.0/24"), *cfg);
  EXPECT_NE(other.message().find("does not match its key"), std::string::npos) << other.message();
  auto outside = CheckRecordFits(*r, *IpNet::Parse("10.0.0.0/24"), *cfg);
  EXPECT_NE(outside.message().find("not inside the overlay"), std::string::npos) << outside.message();
  auto family = CheckRecordFits(*r, *IpNet::Parse("fd00::/64"), *cfg);
  EXPECT_NE(family.message().find("wrong family"), std::string::npos) << family.message();
  SubnetRecord far = *r;
  far.underlay[1] = *wire::IpAddr::Parse("fd00:99::7");
  auto underlay = CheckRecordFits(far, *IpNet::Parse("198.19.7.0/24"), *cfg);
  EXPECT_NE(underlay.message().find("record.underlay[1]"), std::string::npos) << underlay.message();
}

}  // namespace
}  // namespace mflow::store
