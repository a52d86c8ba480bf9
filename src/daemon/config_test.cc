// Config: the embedded default parses and validates; every kind of bad
// input is refused with a message naming the field.
#include "daemon/config.h"

#include <gtest/gtest.h>

namespace mflow::daemon {
namespace {

struct Bad {
  const char* toml;
  const char* field;  // must appear in the error
};

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
  EXPECT_EQ(c->tap_txqueuelen, 1000u);  // the TAP ring, set deliberately (docs/BACKPRESSURE.md)
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
idle_polls = 8
idle_poll_us = 0
[underlay]
local = "2001:db8::1"
peers = ["2001:db8::2", "2001:db8::3"]
mtu = 9000
[overlay]
vnis = [7, 8]
tap_txqueuelen = 4096
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
  EXPECT_EQ(c->idle_polls, 8u);
  EXPECT_EQ(c->idle_poll_us, 0u);  // rounds only
  EXPECT_EQ(c->cpus, (std::vector<int>{0, 1}));
  EXPECT_EQ(c->peers.size(), 2u);
  EXPECT_EQ(c->inner_mtu(), 9000u - 70u);
  EXPECT_EQ(c->tap_txqueuelen, 4096u);
  ASSERT_EQ(c->ports.size(), 1u);
  EXPECT_EQ(c->ports[0].vni, 8u);
  EXPECT_EQ(c->ports[0].addresses, std::vector<std::string>{"198.19.0.1/24"});
  EXPECT_EQ(c->ports[0].device(), "mf0");  // ifname defaults to the name
}

TEST(ConfigTest, DualStackPort) {
  auto c = ParseConfig(R"(
[[port]]
name = "podman/c1:eth0"
ifname = "eth0"
netns = "/var/run/netns/c1"
vni = 42
addresses = ["198.19.0.5/24", "fd00:198:19::5/64"]
address = "198.19.1.5/24"
gateway = "none"
routes = [{ dst = "0.0.0.0/0", gw = "198.19.0.1" }, { dst = "fd00:1::/64" }]
)",
                       "t");
  ASSERT_TRUE(c.ok()) << c.status().message();
  ASSERT_EQ(c->ports.size(), 1u);
  const PortConfig& p = c->ports[0];
  EXPECT_EQ(p.name, "podman/c1:eth0");
  EXPECT_EQ(p.device(), "eth0");
  // The legacy single address comes after the list.
  EXPECT_EQ(p.addresses,
            (std::vector<std::string>{"198.19.0.5/24", "fd00:198:19::5/64", "198.19.1.5/24"}));
  EXPECT_EQ(p.gateway, "none");
  EXPECT_EQ(p.routes, (std::vector<IpRoute>{{"0.0.0.0/0", "198.19.0.1"}, {"fd00:1::/64", ""}}));
}

TEST(ConfigTest, BadPortFieldsNameTheField) {
  const std::string head = "[[port]]\nname = \"c1\"\nvni = 42\n";
  const Bad cases[] = {
      {"[[port]]\nname = \"a b\"\nvni = 42", "port[0] (a b).name 'a b'"},
      {"[[port]]\nname = \"has-a-very-long-name\"\nvni = 42", "(the default ifname): a device name has at most 15"},
      {"[[port]]\nname = \"ns/c1\"\nvni = 42", "name 'ns/c1' (the default ifname): not a valid device name"},
      {"ifname = \"eth:0\"", "port[0] (c1).ifname 'eth:0'"},
      {"ifname = \"0123456789abcdef\"", "port[0] (c1).ifname '0123456789abcdef': a device name has at most 15"},
      {"addresses = \"198.19.0.5/24\"", "port[0].addresses: must be a list"},
      {"addresses = [5]", "port[0].addresses[0]: must be a string"},
      {"addresses = [\"198.19.0.5/24\", \"fd00::5/129\"]", "port[0] (c1).addresses[1] 'fd00::5/129'"},
      {"address = \"198.19.0.256\"", "port[0] (c1).addresses[0] '198.19.0.256'"},
      {"gateway = \"gw\"", "port[0] (c1).gateway 'gw'"},
      {"routes = [{ gw = \"198.19.0.1\" }]", "port[0].routes[0].dst: is required"},
      {"routes = [{ dst = \"fd00:1::/64\", via = \"fd00::1\" }]", "port[0].routes[0].via: unknown setting"},
      {"routes = [{ dst = \"fd00:1::/64\", gw = \"198.19.0.1\" }]",
       "port[0] (c1).routes[0]: gw '198.19.0.1': not of the address family of dst 'fd00:1::/64'"},
      {"routes = [\"fd00:1::/64\"]", "port[0].routes[0]: must be a table"},
      {"mac = \"01:00:5e:00:00:01\"", "port[0] (c1).mac '01:00:5e:00:00:01': not a unicast"},
      {"addresses = [\"198.19.0.5/24\", \"fd00::5/64\"]\nmtu = 1200", "port[0] (c1).mtu 1200: below 1280"},
  };
  for (const Bad& b : cases) {
    const std::string text = std::string(b.toml).rfind("[[port]]", 0) == 0 ? b.toml : head + b.toml;
    auto c = ParseConfig(text, "t");
    ASSERT_FALSE(c.ok()) << text;
    EXPECT_NE(c.status().message().find(b.field), std::string::npos)
        << "error '" << c.status().message() << "' does not name " << b.field;
  }
  // Two ports with one device name in one namespace.
  auto c = ParseConfig(head + "ifname = \"eth0\"\n[[port]]\nname = \"c2\"\nvni = 42\nifname = \"eth0\"\n", "t");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("port[1] (c2).ifname: eth0 is used twice"), std::string::npos)
      << c.status().message();
}

TEST(ConfigTest, BadInputNamesTheField) {
  const Bad cases[] = {
      {"[engine]\nmode = \"fast\"", "engine.mode"},
      {"[engine]\nworkers = 0", "engine.workers"},
      {"[engine]\nidle_poll_us = 2000000", "engine.idle_poll_us"},
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
      {"[overlay]\ntap_txqueuelen = 0", "overlay.tap_txqueuelen"},
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
  EXPECT_EQ(p->addresses, std::vector<std::string>{"198.19.0.1/24"});
  EXPECT_EQ(p->mtu, 1400u);
  for (const char* bad : {"name=mf0", "vni=42", "name=a,vni=x", "name=a,vni=42,colour=red",
                          "name=a,vni=42,mtu=10", "name"})
    EXPECT_FALSE(ParsePortSpec(bad).ok()) << bad;
}

TEST(ConfigTest, DualStackPortSpec) {
  auto p = ParsePortSpec(
      "name=c1,ifname=eth0,netns=/var/run/netns/c1,vni=42,address=198.19.0.5/24,"
      "address=fd00:198:19::5/64,gateway=fd00:198:19::1,route=fd00:1::/64,route=198.51.100.0/24,"
      "via=198.19.0.254");
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->name, "c1");
  EXPECT_EQ(p->device(), "eth0");
  EXPECT_EQ(p->addresses, (std::vector<std::string>{"198.19.0.5/24", "fd00:198:19::5/64"}));
  EXPECT_EQ(p->gateway, "fd00:198:19::1");
  EXPECT_EQ(p->routes,
            (std::vector<IpRoute>{{"fd00:1::/64", ""}, {"198.51.100.0/24", "198.19.0.254"}}));

  const Bad cases[] = {
      {"name=c1,vni=42,via=198.19.0.1", "via='198.19.0.1' must follow a route=DST"},
      {"name=c1,vni=42,route=fd00:1::/64,via=fd00::1,via=fd00::2", "via='fd00::2' must follow"},
      {"name=c1,vni=42,address=fd00::5/64,address=fd00::x", "addresses[1] 'fd00::x'"},
      {"name=c1,vni=42,route=fd00:1::/64,via=198.19.0.1", "routes[0]: gw '198.19.0.1': not of the"},
      {"name=c1,vni=42,route=nowhere", "routes[0]: dst 'nowhere'"},
      {"name=c1,vni=42,ifname=way-too-long-name", "ifname 'way-too-long-name': a device name"},
      {"name=c 1,vni=42", "name 'c 1'"},
      {"name=c1,vni=42,gateway=x", "gateway 'x'"},
  };
  for (const Bad& b : cases) {
    auto r = ParsePortSpec(b.toml);
    ASSERT_FALSE(r.ok()) << b.toml;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalid) << b.toml;
    EXPECT_NE(r.status().message().find(b.field), std::string::npos)
        << "error '" << r.status().message() << "' does not name " << b.field;
    EXPECT_EQ(r.status().message().rfind("--port '", 0), 0u) << r.status().message();
  }
}

TEST(ConfigTest, CheckPortAcceptsTheContractsNames) {
  PortConfig p;
  p.name = std::string(128, 'a');
  p.ifname = "eth0";
  EXPECT_TRUE(CheckPort(p).ok()) << CheckPort(p).message();
  p.name += "a";
  EXPECT_EQ(CheckPort(p).code(), StatusCode::kInvalid);
  p.name = "k8s_pod.ns-1:eth0/x";
  EXPECT_TRUE(CheckPort(p).ok()) << CheckPort(p).message();
  p.ifname.clear();  // then the name must be a device name
  EXPECT_NE(CheckPort(p).message().find("(the default ifname)"), std::string::npos);
  p.name = "";
  EXPECT_NE(CheckPort(p).message().find("name '': must be 1..128"), std::string::npos);
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
