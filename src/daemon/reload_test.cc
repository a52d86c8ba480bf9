// A reload is all or nothing (Daemon::Reload): when a step fails after the
// ones before it succeeded, the daemon is left as it was. Here the new ESP
// SAs and a new underlay.local come in one reload, and the ESP socket
// cannot bind the new address (another socket holds it); before the fix
// the new SAs were installed and stayed although the reload was refused.
// Also EspKeys alone: a rekey the table cannot finish changes nothing.
// No privileges: the daemon has no ports; its sockets are on loopback,
// ports 19400-19401 (the mpo- test range).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "daemon/config.h"
#include "daemon/daemon.h"
#include "daemon/esp_underlay.h"

namespace mflow::daemon {
namespace {

using nlohmann::json;

constexpr uint16_t kPort = 19400;
constexpr uint16_t kEspPort = 19401;

std::string Sa(uint32_t spi, const char* key) {
  char b[128];
  std::snprintf(b, sizeof b, "spi=0x%x alg=aes-128-gcm key=%s salt=01020304 esn=on", spi, key);
  return b;
}

// A config with one plain and one encrypted peer on loopback.
Config MakeConfig(const std::string& local, uint32_t in_spi, uint32_t out_spi) {
  const std::string text =
      "[underlay]\nlocal = \"" + local + "\"\nport = " + std::to_string(kPort) +
      "\nesp_port = " + std::to_string(kEspPort) +
      "\npeers = [\"127.0.0.2\", \"127.0.0.3\"]\n[engine]\nworkers = 1\n"
      "[[underlay.esp]]\npeer = \"127.0.0.3\"\nin = \"" +
      Sa(in_spi, "00112233445566778899aabbccddeeff") + "\"\nout = \"" +
      Sa(out_spi, "ffeeddccbbaa99887766554433221100") + "\"\n";
  auto c = ParseConfig(text, "reload_test");
  EXPECT_TRUE(c.ok()) << c.status().message();
  return *c;
}

// The encrypted peer's SPIs as `mflowctl peers` shows them.
json EspPeer(Daemon& d) {
  const json r = d.Handle({{"cmd", "peers"}});
  EXPECT_EQ(r.value("esp_peers", json::array()).size(), 1u) << r;
  return r.value("esp_peers", json::array()).at(0);
}

// A UDP socket bound to addr:port, so that the daemon cannot bind it.
int Occupy(const char* addr, uint16_t port) {
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  inet_pton(AF_INET, addr, &sa.sin_addr);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  return fd;
}

TEST(DaemonReload, FailedRebindLeavesTheSasAsTheyWere) {
  auto made = Daemon::Create(MakeConfig("127.0.0.1", 0x2001, 0x1001));
  ASSERT_TRUE(made.ok()) << made.status().message();
  Daemon& d = **made;
  Config next = MakeConfig("127.0.0.5", 0x2002, 0x1002);
  d.SetConfigSource([&next]() -> StatusOr<Config> { return next; });

  // The new ESP SAs validate; the move to 127.0.0.5 fails at the ESP
  // socket (the VXLAN one moved first and must come back too).
  const int blocker = Occupy("127.0.0.5", kEspPort);
  auto r = d.Reload();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("underlay.esp_port"), std::string::npos) << r.status().message();
  json peer = EspPeer(d);
  EXPECT_EQ(peer["inbound_spis"], json::array({0x2001})) << "the new inbound SPI is not accepted";
  EXPECT_EQ(peer["outbound_spis"], json::array({0x1001})) << "the running peer's SA still sends";
  EXPECT_EQ(d.Handle({{"cmd", "status"}})["local"], "127.0.0.1");

  // Once the address is free the same reload applies whole: nothing the
  // refused one did is in the way.
  close(blocker);
  r = d.Reload();
  ASSERT_TRUE(r.ok()) << r.status().message();
  peer = EspPeer(d);
  EXPECT_EQ(peer["inbound_spis"].size(), 2u) << "old and new during the grace period: " << peer;
  EXPECT_EQ(peer["outbound_spis"], json::array({0x1002}));
  EXPECT_EQ(d.Handle({{"cmd", "status"}})["local"], "127.0.0.5");
}

TEST(DaemonReload, SpiClashIsRefusedBeforeAnythingChanges) {
  auto made = Daemon::Create(MakeConfig("127.0.0.1", 0x2001, 0x1001));
  ASSERT_TRUE(made.ok()) << made.status().message();
  Daemon& d = **made;
  // Config validation cannot see it: the new inbound SPI is the running
  // SA's with another key (not make-before-break). EspKeys::Check refuses
  // it before the peers or the address change.
  Config next = MakeConfig("127.0.0.6", 0x2001, 0x1002);
  next.esp[0].in.key[0] ^= 1;
  d.SetConfigSource([&next]() -> StatusOr<Config> { return next; });
  auto r = d.Reload();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("rekey needs a new inbound SPI"), std::string::npos)
      << r.status().message();
  EXPECT_EQ(EspPeer(d)["outbound_spis"], json::array({0x1001}));
  EXPECT_EQ(d.Handle({{"cmd", "status"}})["local"], "127.0.0.1") << "the address did not move";
}

std::vector<EspPeerConfig> Peers(uint32_t count, uint32_t in_base, uint32_t out_base) {
  std::string text = "[underlay]\npeers = [";
  std::string tables;
  for (uint32_t i = 0; i < count; ++i) {
    const std::string peer = "198.18.1." + std::to_string(i + 1);
    text += (i ? ", \"" : "\"") + peer + "\"";
    tables += "[[underlay.esp]]\npeer = \"" + peer + "\"\nin = \"" +
              Sa(in_base + i, "00112233445566778899aabbccddeeff") + "\"\nout = \"" +
              Sa(out_base + i, "ffeeddccbbaa99887766554433221100") + "\"\n";
  }
  auto c = ParseConfig(text + "]\n" + tables, "t");
  EXPECT_TRUE(c.ok()) << c.status().message();
  return c->esp;
}

TEST(EspKeysAllOrNothing, RekeyWithoutFreeOutboundSlotsChangesNothing) {
  auto table = std::move(esp::EspSaTable::Create(1)).value();
  EspKeys keys(table.get());
  std::vector<std::string> what;
  // All outbound slots but one in use; rekeying every peer needs n more.
  // The inbound SAs would fit: before the fix they were added, then the
  // second outbound switch failed and they stayed, orphaned.
  const uint32_t n = esp::EspSaTable::kMaxOutbound - 1;
  ASSERT_TRUE(keys.Apply(Peers(n, 0x2000, 0x1000), 1000, &what).ok());
  const std::vector<uint32_t> spis = table->InboundSpis();
  what.clear();
  const Status s = keys.Apply(Peers(n, 0x3000, 0x4000), 2000, &what);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("free slots"), std::string::npos) << s.message();
  EXPECT_EQ(table->InboundSpis(), spis) << "no new inbound SA stays";
  for (const auto& o : table->OutboundStates()) EXPECT_LT(o.spi, 0x1000u + n) << "outbound unchanged";
  EXPECT_TRUE(what.empty());
  // Rekeying one peer fits and applies.
  auto one = Peers(n, 0x2000, 0x1000);
  one[0].in.spi = 0x3000;
  one[0].out.spi = 0x4000;
  EXPECT_TRUE(keys.Apply(one, 3000, &what).ok());
}

TEST(EspKeysAllOrNothing, TwoPeersSwappingSpisIsRefusedWhole) {
  auto table = std::move(esp::EspSaTable::Create(1)).value();
  EspKeys keys(table.get());
  std::vector<std::string> what;
  auto now = Peers(2, 0x2000, 0x1000);
  ASSERT_TRUE(keys.Apply(now, 1000, &what).ok());
  // Peer 1 takes a fresh SPI, peer 2 takes peer 1's live one: unique in
  // the config, but the table still holds 0x2000 for peer 1.
  auto next = now;
  next[0].in.spi = 0x2005;
  next[1].in.spi = 0x2000;
  const Status s = keys.Apply(next, 2000, &what);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("another peer's live inbound SA"), std::string::npos) << s.message();
  EXPECT_EQ(table->InboundSpis(), (std::vector<uint32_t>{0x2000, 0x2001})) << "0x2005 not added";
}

}  // namespace
}  // namespace mflow::daemon
