// Config: the embedded default parses and validates; every kind of bad
// input is refused with a message naming the field.
#include "daemon/config.h"

#include <gtest/gtest.h>

namespace mflow::daemon {
namespace {

TEST(ConfigTest, EmbeddedDefaultIsValid) {
  auto c = ParseConfig(DefaultConfigText(), "default");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->mode, SteeringMode::kMicroflow);
  EXPECT_EQ(c->placement, PlacementMode::kAuto);
  EXPECT_EQ(c->local.ToString(), "198.18.0.1");
  ASSERT_EQ(c->peers.size(), 1u);
  EXPECT_EQ(c->peers[0].ToString(), "198.18.0.2");
  EXPECT_EQ(c->inner_mtu(), 1450u);
  EXPECT_EQ(c->vnis, std::vector<uint32_t>{42});
}

TEST(ConfigTest, ParsesEverySection) {
  auto c = ParseConfig(R"(
[daemon]
control_socket = "/tmp/x.sock"
log_format = "json"
[engine]
mode = "stage"
workers = 3
cpus = [0, 1]
placement = "spread"
[underlay]
local = "2001:db8::1"
peers = ["2001:db8::2", "2001:db8::3"]
mtu = 9000
[overlay]
vnis = [7, 8]
[[port]]
name = "mf0"
netns = "/var/run/netns/c1"
vni = 8
address = "198.19.0.1/24"
)",
                       "t");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->mode, SteeringMode::kStage);
  EXPECT_EQ(c->workers, 3u);
  EXPECT_EQ(c->placement, PlacementMode::kSpread);
  EXPECT_EQ(c->cpus, (std::vector<int>{0, 1}));
  EXPECT_EQ(c->peers.size(), 2u);
  EXPECT_EQ(c->inner_mtu(), 9000u - 70u);
  ASSERT_EQ(c->ports.size(), 1u);
  EXPECT_EQ(c->ports[0].vni, 8u);
}

struct Bad {
  const char* toml;
  const char* field;  // must appear in the error
};

TEST(ConfigTest, BadInputNamesTheField) {
  const Bad cases[] = {
      {"[engine]\nmode = \"fast\"", "engine.mode"},
      {"[engine]\nworkers = 0", "engine.workers"},
      {"[engine]\nplacement = \"away\"", "engine.placement"},
      {"[engine]\nmice_placement = \"home\"", "engine.mice_placement"},  // renamed
      {"[engine]\nworkers = \"two\"", "engine.workers"},
      {"[engine]\nworkerz = 2", "engine.workerz"},
      {"[underlay]\nlocal = \"198.18.0.300\"", "underlay.local"},
      {"[underlay]\npeers = [\"198.18.0.2\", \"x\"]", "underlay.peers[1]"},
      {"[underlay]\npeers = [\"2001:db8::2\"]", "underlay.peers[0]"},
      {"[underlay]\nmtu = 100", "underlay.mtu"},
      {"[overlay]\nvnis = [0]", "overlay.vnis"},
      {"[overlay]\nfdb_size = 1000", "overlay.fdb_size"},
      {"[daemon]\nlog_level = \"loud\"", "daemon.log_level"},
      {"[[port]]\nname = \"a\"\nvni = 5", "port[0] (a).vni"},
      {"[[port]]\nvni = 42", "port[0].name"},
      {"[[port]]\nname = \"a\"\nvni = 42\n[[port]]\nname = \"a\"\nvni = 42", "port[1] (a).name"},
      {"engine = 3", "engine"},
      {"[engine\nmode = 1", "t:1:"},  // syntax error: file:line:column
  };
  for (const Bad& b : cases) {
    auto c = ParseConfig(b.toml, "t");
    ASSERT_FALSE(c.ok()) << b.toml;
    EXPECT_NE(c.status().message().find(b.field), std::string::npos)
        << "error '" << c.status().message() << "' does not name " << b.field;
  }
}

TEST(ConfigTest, PortSpec) {
  auto p = ParsePortSpec("name=mf0,netns=/var/run/netns/c1,vni=42,address=198.19.0.1/24,mtu=1400");
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->name, "mf0");
  EXPECT_EQ(p->netns, "/var/run/netns/c1");
  EXPECT_EQ(p->vni, 42u);
  EXPECT_EQ(p->address, "198.19.0.1/24");
  EXPECT_EQ(p->mtu, 1400u);
  for (const char* bad : {"name=mf0", "vni=42", "name=a,vni=x", "name=a,vni=42,colour=red",
                          "name=a,vni=42,mtu=10", "name"})
    EXPECT_FALSE(ParsePortSpec(bad).ok()) << bad;
}

TEST(ConfigTest, RestartOnlyChangesNameWhatAReloadCannotApply) {
  const Config a = ParseConfig(DefaultConfigText(), "default").value();
  Config b = a;
  EXPECT_TRUE(RestartOnlyChanges(a, b).empty());
  // What a reload applies is not listed.
  b.local = wire::IpAddr::V4(0xC612000B);
  b.peers = {wire::IpAddr::V4(0xC612000C)};
  b.log_level = "debug";
  EXPECT_TRUE(RestartOnlyChanges(a, b).empty());
  b.workers = a.workers + 1;
  b.vnis.push_back(43);
  PortConfig extra;
  extra.name = "mf9";
  b.ports.push_back(extra);
  EXPECT_EQ(RestartOnlyChanges(a, b),
            (std::vector<std::string>{"engine.workers", "overlay.vnis", "port"}));
}

}  // namespace
}  // namespace mflow::daemon
