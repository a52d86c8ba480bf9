#include "cni/cni_env.h"

#include <gtest/gtest.h>

namespace mflow::cni {
namespace {

EnvMap Full(const std::string& command) {
  return {{"CNI_COMMAND", command},
          {"CNI_CONTAINERID", "c0ffee"},
          {"CNI_NETNS", "/run/netns/x"},
          {"CNI_IFNAME", "eth0"},
          {"CNI_PATH", "/a:/b::/c"}};
}

TEST(CniEnv, AddNeedsItsVariablesAndNamesEveryMissingOne) {
  auto e = ParseCniEnv({{"CNI_COMMAND", "ADD"}});
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().code, kInvalidEnvironment);
  for (const char* v : {"CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"})
    EXPECT_NE(e.error().msg.find(v), std::string::npos) << e.error().msg;
}

TEST(CniEnv, ParsesAFullAdd) {
  auto e = ParseCniEnv(Full("ADD"));
  ASSERT_TRUE(e.ok()) << e.error().msg;
  EXPECT_EQ(e->container_id, "c0ffee");
  EXPECT_EQ(e->ifname, "eth0");
  EXPECT_EQ(e->path, (std::vector<std::string>{"/a", "/b", "/c"}));
}

TEST(CniEnv, DelWorksWithoutNetns) {
  EnvMap m = Full("DEL");
  m.erase("CNI_NETNS");
  EXPECT_TRUE(ParseCniEnv(m).ok());
  m = Full("CHECK");
  m.erase("CNI_NETNS");
  auto e = ParseCniEnv(m);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().msg.find("CNI_NETNS"), std::string::npos);
}

TEST(CniEnv, VersionNeedsNothingElse) { EXPECT_TRUE(ParseCniEnv({{"CNI_COMMAND", "VERSION"}}).ok()); }

TEST(CniEnv, RejectsUnknownOrMissingCommand) {
  auto e = ParseCniEnv(Full("GC"));
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().code, kInvalidEnvironment);
  EXPECT_NE(e.error().msg.find("CNI_COMMAND"), std::string::npos);
  e = ParseCniEnv({});
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().msg.find("CNI_COMMAND"), std::string::npos);
}

TEST(CniEnv, RejectsBadContainerIdIfnameNetnsAndArgs) {
  struct Case {
    const char* key;
    const char* value;
  };
  for (const Case& c : {Case{"CNI_CONTAINERID", "-leading-dash"}, Case{"CNI_CONTAINERID", "has space"},
                        Case{"CNI_IFNAME", "much-too-long-ifname"}, Case{"CNI_IFNAME", "a/b"},
                        Case{"CNI_IFNAME", ".."}, Case{"CNI_NETNS", "relative/path"},
                        Case{"CNI_ARGS", "IgnoreUnknown=1;novalue"}}) {
    EnvMap m = Full("ADD");
    m[c.key] = c.value;
    auto e = ParseCniEnv(m);
    ASSERT_FALSE(e.ok()) << c.key << "=" << c.value;
    EXPECT_EQ(e.error().code, kInvalidEnvironment);
    EXPECT_NE(e.error().msg.find(c.key), std::string::npos) << e.error().msg;
  }
}

TEST(CniEnv, ParsesArgs) {
  EnvMap m = Full("ADD");
  m["CNI_ARGS"] = "IgnoreUnknown=1;K8S_POD_NAME=p;";
  auto e = ParseCniEnv(m);
  ASSERT_TRUE(e.ok()) << e.error().msg;
  ASSERT_EQ(e->args.size(), 2u);
  EXPECT_EQ(e->args[1].first, "K8S_POD_NAME");
  EXPECT_EQ(e->args[1].second, "p");
}

}  // namespace
}  // namespace mflow::cni
