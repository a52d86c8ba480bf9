// The host-local range filled from the store's subnet (store_ipam.h).
#include "cni/store_ipam.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace mflow::cni {
namespace {

using nlohmann::json;

TEST(StoreIpamTest, OnlyHostLocalWithoutARange) {
  EXPECT_TRUE(WantsStoreRange(R"({"ipam":{"type":"host-local"}})"));
  EXPECT_TRUE(WantsStoreRange(R"({"ipam":{"type":"host-local","routes":[{"dst":"0.0.0.0/0"}]}})"));
  EXPECT_FALSE(WantsStoreRange(R"({"ipam":{"type":"host-local","ranges":[[{"subnet":"10.0.0.0/24"}]]}})"));
  EXPECT_FALSE(WantsStoreRange(R"({"ipam":{"type":"host-local","subnet":"10.0.0.0/24"}})"));
  EXPECT_FALSE(WantsStoreRange(R"({"ipam":{"type":"dhcp"}})"));
  EXPECT_FALSE(WantsStoreRange(R"({"name":"x"})"));
  EXPECT_FALSE(WantsStoreRange("not json"));
}

TEST(StoreIpamTest, FillsTheRangeAndKeepsTheRest) {
  auto out = WithStoreRange(R"({"name":"n","vni":42,"ipam":{"type":"host-local","dataDir":"/d"}})",
                            "198.19.7.0/24", "198.19.0.0/16");
  ASSERT_TRUE(out.ok()) << out.error().msg;
  const json j = json::parse(*out);
  EXPECT_EQ(j["vni"], 42);
  EXPECT_EQ(j["ipam"]["dataDir"], "/d");
  EXPECT_EQ(j["ipam"]["ranges"], json::parse(R"([[{"subnet":"198.19.0.0/16","rangeStart":"198.19.7.2",
      "rangeEnd":"198.19.7.254","gateway":"198.19.7.1"}]])"));
  auto small = WithStoreRange(R"({"ipam":{"type":"host-local"}})", "198.19.7.4/30", "198.19.0.0/16");
  ASSERT_TRUE(small.ok());
  EXPECT_EQ(json::parse(*small)["ipam"]["ranges"][0][0]["rangeStart"], "198.19.7.6");
  EXPECT_EQ(json::parse(*small)["ipam"]["ranges"][0][0]["rangeEnd"], "198.19.7.6");
}

TEST(StoreIpamTest, RefusesWhatDoesNotFit) {
  const char* cfg = R"({"ipam":{"type":"host-local"}})";
  for (auto [s, n] : {std::pair{"198.20.7.0/24", "198.19.0.0/16"}, std::pair{"198.19.7.0/31", "198.19.0.0/16"},
                      std::pair{"198.19.7.1/24", "198.19.0.0/16"}, std::pair{"fd00::/64", "198.19.0.0/16"},
                      std::pair{"198.19.7.0/24", "bogus"}, std::pair{"198.19.0.0/8", "198.19.0.0/16"}}) {
    auto out = WithStoreRange(cfg, s, n);
    ASSERT_FALSE(out.ok()) << s << " in " << n;
    EXPECT_EQ(out.error().code, kInvalidConfig);
  }
  EXPECT_FALSE(WithStoreRange(R"({"name":"x"})", "198.19.7.0/24", "198.19.0.0/16").ok());
}

}  // namespace
}  // namespace mflow::cni
