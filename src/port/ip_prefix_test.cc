// IpPrefix and IpRoute checks: what a port's addresses and routes accept.
#include "port/ip_prefix.h"

#include <gtest/gtest.h>

namespace mflow {
namespace {

TEST(IpPrefixTest, ParsesBothFamiliesWithAndWithoutLength) {
  auto p = IpPrefix::Parse("198.19.0.5/24");
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->addr.is_v4());
  EXPECT_EQ(p->len, 24);
  EXPECT_EQ(p->ToString(), "198.19.0.5/24");
  EXPECT_EQ(p->Network().ToString(), "198.19.0.0/24");
  p = IpPrefix::Parse("fd00:198:19::5/64");
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->addr.is_v6());
  EXPECT_EQ(p->Network().ToString(), "fd00:198:19::/64");
  EXPECT_EQ(IpPrefix::Parse("198.19.0.5")->len, 32);  // a host
  EXPECT_EQ(IpPrefix::Parse("fd00::5")->len, 128);
  EXPECT_EQ(IpPrefix::Parse("0.0.0.0/0")->ToString(), "0.0.0.0/0");
  EXPECT_EQ(IpPrefix::Parse("::/0")->ToString(), "::/0");
  EXPECT_EQ(IpPrefix::Parse("198.19.255.255/17")->Network().ToString(), "198.19.128.0/17");
  EXPECT_EQ(IpPrefix::Parse("fd00::ffff/121")->Network().ToString(), "fd00::ff80/121");
  for (const char* bad : {"", "/24", "198.19.0.5/", "198.19.0.5/33", "fd00::5/129", "198.19.0.5/2a",
                          "198.19.0.5/-1", "198.19.0.5/24/1", "198.19.0.256/24", "fd00::5/0128",
                          "host/24", "198.19.0.5 /24"})
    EXPECT_FALSE(IpPrefix::Parse(bad)) << bad;
}

TEST(IpPrefixTest, RouteErrorsNameThePart) {
  EXPECT_FALSE(RouteError({"fd00:1::/64", ""}));
  EXPECT_FALSE(RouteError({"0.0.0.0/0", "198.19.0.1"}));
  EXPECT_EQ(*RouteError({"fd00:1::", "x"}), "gw 'x': not an IPv4 or IPv6 address");
  EXPECT_EQ(*RouteError({"198.51.100.0/24", "fd00::1"}),
            "gw 'fd00::1': not of the address family of dst '198.51.100.0/24'");
  EXPECT_EQ(RouteError({"", ""})->rfind("dst '': expected", 0), 0u);
}

}  // namespace
}  // namespace mflow
