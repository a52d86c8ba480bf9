// The control socket's port API (docs/MFLOWCTL.md) against a real Daemon:
// port-add with dual-stack addresses and routes in a network namespace, the
// reply's fields, and the error codes a client (the CNI plugin) acts on.
// Needs root (namespaces, /dev/net/tun); skipped otherwise. Namespaces are
// "mfn-api-<pid>"; the underlay is loopback.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "common/shell_capture.h"
#include "daemon/daemon.h"

namespace mflow::daemon {
namespace {

using nlohmann::json;

class PortApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces, /dev/net/tun)";
    ns_ = "mfn-api-" + std::to_string(getpid());
    ShellCapture("ip netns del " + ns_);
    ASSERT_EQ(ShellCapture("ip netns add " + ns_), "");
    path_ = "/var/run/netns/" + ns_;
    Config c;
    c.local = *wire::IpAddr::Parse("127.0.0.1");
    c.peers = {*wire::IpAddr::Parse("127.0.0.2")};
    c.port = static_cast<uint16_t>(42000 + getpid() % 1000);
    c.workers = 1;
    c.vnis = {42};
    c.tap_txqueuelen = 500;  // not the default, so that ports/status show what was set
    auto d = Daemon::Create(c);
    ASSERT_TRUE(d.ok()) << d.status().message();
    daemon_ = std::move(d).value();
  }
  void TearDown() override {
    daemon_.reset();  // removes the ports before their namespace goes
    if (!ns_.empty()) ShellCapture("ip netns del " + ns_);
  }
  json PortAdd(json fields) {
    fields["cmd"] = "port-add";
    if (!fields.contains("netns")) fields["netns"] = path_;
    if (!fields.contains("vni")) fields["vni"] = 42;
    return daemon_->Handle(fields);
  }
  std::string Ip(const std::string& args) { return ShellCapture("ip -n " + ns_ + " " + args); }

  std::string ns_, path_;
  std::unique_ptr<Daemon> daemon_;
};

TEST_F(PortApiTest, DualStackPortAddReplyAndPorts) {
  const json r = PortAdd({{"name", "podman/c1:eth0"},
                          {"ifname", "eth0"},
                          {"addresses", {"198.19.0.5/24", "fd00:198:19::5/64"}},
                          {"routes", {{{"dst", "fd00:1::/64"}, {"gw", "fd00:198:19::1"}},
                                      {{"dst", "198.51.100.0/24"}}}}});
  ASSERT_EQ(r.value("ok", false), true) << r;
  EXPECT_EQ(r["name"], "podman/c1:eth0");
  EXPECT_EQ(r["ifname"], "eth0");
  EXPECT_EQ(r["mac"], "0a:58:c6:13:00:05");
  EXPECT_EQ(r["mtu"], 1450);
  const int ifindex = r.value("ifindex", 0);
  EXPECT_GT(ifindex, 0);
  EXPECT_EQ(Ip("-o link show dev eth0").rfind(std::to_string(ifindex) + ": eth0:", 0), 0u);
  const std::string addrs = Ip("-o addr show dev eth0");
  EXPECT_NE(addrs.find("inet 198.19.0.5/24"), std::string::npos) << addrs;
  EXPECT_NE(addrs.find("inet6 fd00:198:19::5/64"), std::string::npos) << addrs;
  EXPECT_NE(Ip("-6 route show").find("fd00:1::/64 via fd00:198:19::1 dev eth0"), std::string::npos);
  EXPECT_NE(Ip("-4 route show").find("198.51.100.0/24 dev eth0"), std::string::npos);

  const json ports = daemon_->Handle({{"cmd", "ports"}});
  ASSERT_EQ(ports["ports"].size(), 1u) << ports;
  const json& p = ports["ports"][0];
  EXPECT_EQ(p["name"], "podman/c1:eth0");
  EXPECT_EQ(p["ifname"], "eth0");
  EXPECT_EQ(p["ifindex"], ifindex);
  EXPECT_EQ(p["address"], "198.19.0.5/24");  // the first, for old clients
  // The txqueuelen shown is the device's.
  EXPECT_EQ(p["txqueuelen"], 500);
  EXPECT_NE(Ip("-o link show dev eth0").find(" qlen 500"), std::string::npos) << Ip("-o link show dev eth0");
  EXPECT_EQ(p["addresses"], json({"198.19.0.5/24", "fd00:198:19::5/64"}));
  EXPECT_EQ(p["routes"], json::parse(R"([{"dst":"0.0.0.0/0"},{"dst":"::/0"},
      {"dst":"fd00:1::/64","gw":"fd00:198:19::1"},{"dst":"198.51.100.0/24"}])"));

  const json status = daemon_->Handle({{"cmd", "status"}});
  EXPECT_EQ(status["ports"], 1);
  EXPECT_EQ(status["tap_txqueuelen"], 500);
  EXPECT_EQ(status["port_list"], json::parse(R"([{"name":"podman/c1:eth0","ifname":"eth0",
      "addresses":["198.19.0.5/24","fd00:198:19::5/64"]}])"));

  // The same name again: exists.
  json again = PortAdd({{"name", "podman/c1:eth0"}, {"ifname", "eth1"}});
  EXPECT_EQ(again["ok"], false);
  EXPECT_EQ(again["code"], "exists") << again;

  // Deleting: ok once, then not_found (a CNI DEL treats it as success).
  EXPECT_EQ(daemon_->Handle({{"cmd", "port-del"}, {"name", "podman/c1:eth0"}})["ok"], true);
  EXPECT_NE(ShellCapture("ip -n " + ns_ + " link show dev eth0").find("does not exist"), std::string::npos);
  const json gone = daemon_->Handle({{"cmd", "port-del"}, {"name", "podman/c1:eth0"}});
  EXPECT_EQ(gone["ok"], false);
  EXPECT_EQ(gone["code"], "not_found") << gone;
}

TEST_F(PortApiTest, ErrorCodes) {
  // A device of that name in the namespace: exists, and nothing changed.
  // A persistent TAP is the worst case: TUNSETIFF would attach to it.
  ASSERT_EQ(Ip("tuntap add dev eth0 mode tap"), "");
  const std::string before = Ip("-o addr show") + Ip("-4 route show") + Ip("-6 route show");
  json r = PortAdd({{"name", "c1"}, {"ifname", "eth0"}, {"addresses", {"198.19.0.6/24", "fd00::6/64"}}});
  EXPECT_EQ(r["ok"], false);
  EXPECT_EQ(r["code"], "exists") << r;
  EXPECT_NE(r["error"].get<std::string>().find("a device named eth0 exists"), std::string::npos) << r;
  EXPECT_EQ(Ip("-o addr show") + Ip("-4 route show") + Ip("-6 route show"), before);
  EXPECT_EQ(daemon_->Handle({{"cmd", "ports"}})["ports"].size(), 0u);

  struct Case {
    json fields;
    const char* code;
    const char* in_error;
  };
  const Case cases[] = {
      {{{"name", "c1"}, {"netns", "/var/run/netns/mfn-api-none"}}, "not_found", "netns /var/run/netns/mfn-api-none"},
      {{{"name", "c1"}, {"addresses", {"198.19.0.6/33"}}}, "invalid", "addresses[0] '198.19.0.6/33'"},
      {{{"name", "c1"}, {"addresses", "198.19.0.6/24"}}, "invalid", "port-add: addresses: must be an array"},
      {{{"name", "c1"}, {"routes", {{{"gw", "198.19.0.1"}}}}}, "invalid", "port-add: routes[0]: must be"},
      {{{"name", "c1"}, {"routes", {{{"dst", "fd00:1::/64"}, {"gw", "198.19.0.1"}}}}}, "invalid", "routes[0]: gw"},
      {{{"name", "c1"}, {"gateway", "somewhere"}}, "invalid", "gateway 'somewhere'"},
      {{{"name", "c1"}, {"ifname", "a-very-long-ifname"}}, "invalid", "ifname 'a-very-long-ifname'"},
      {{{"name", "c 1"}}, "invalid", "name 'c 1'"},
      {{{"name", 5}}, "invalid", "port-add: name: must be a string"},
      {{{"ifname", "eth1"}}, "invalid", "port-add: name: is required"},
      {{{"name", "c1"}, {"vni", 7}}, "invalid", "vni 7 is not configured"},
      {{{"name", "c1"}, {"vni", -1}}, "invalid", "port-add: vni: must be an integer"},
      {{{"name", "c1"}, {"mac", "ff:ff:ff:ff:ff:ff"}}, "invalid", "mac 'ff:ff:ff:ff:ff:ff'"},
      {{{"name", "c1"}, {"mtu", 9000}}, "invalid", "exceeds the inner MTU"},
      {{{"name", "c1"}, {"mtu", 10}}, "invalid", "mtu 10: must be 0 (the inner MTU) or at least 68"},
  };
  for (const Case& c : cases) {
    r = PortAdd(c.fields);
    EXPECT_EQ(r["ok"], false) << c.fields;
    EXPECT_EQ(r["code"], c.code) << r;
    EXPECT_NE(r["error"].get<std::string>().find(c.in_error), std::string::npos) << r;
  }
  r = daemon_->Handle({{"cmd", "port-del"}});
  EXPECT_EQ(r["code"], "invalid") << r;
  r = daemon_->Handle({{"cmd", "no-such-command"}});
  EXPECT_EQ(r["code"], "invalid") << r;

  // IPv6 only, the legacy "address" field, gateway none: MAC from the
  // address's last 4 bytes, no default route.
  r = PortAdd({{"name", "c6"}, {"address", "fd00:198:19::a:b0c/64"}, {"gateway", "none"}});
  ASSERT_EQ(r["ok"], true) << r;
  EXPECT_EQ(r["ifname"], "c6");
  EXPECT_EQ(r["mac"], "0a:58:00:0a:0b:0c");
  EXPECT_EQ(r["routes"], json::array());
  EXPECT_EQ(Ip("-6 route show default"), "");
}

}  // namespace
}  // namespace mflow::daemon
