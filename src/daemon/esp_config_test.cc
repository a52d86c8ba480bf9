// Encrypted peers in the config ([[underlay.esp]]) and the --encrypt key
// file: parsed, cross-checked, refused when readable by others, and never a
// key in an error. EspKeys: make-before-break on reload.
#include "daemon/esp_config.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "daemon/config.h"
#include "daemon/esp_underlay.h"

namespace mflow::daemon {
namespace {

const std::string kKeyA = "00112233445566778899aabbccddeeff";
const std::string kKeyB = "ffeeddccbbaa99887766554433221100";

std::string Sa(uint32_t spi, const std::string& key) {
  char b[32];
  std::snprintf(b, sizeof b, "spi=0x%x", spi);
  return std::string(b) + " alg=aes-128-gcm key=" + key + " salt=01020304 esn=on";
}

std::string EspTable(const std::string& peer, uint32_t in, uint32_t out) {
  return "[[underlay.esp]]\npeer = \"" + peer + "\"\nin  = \"" + Sa(in, kKeyA) +
         "\"\nout = \"" + Sa(out, kKeyB) + "\"\n";
}

TEST(EspConfig, ParsesEncryptedBesidePlainPeers) {
  const std::string text = "[underlay]\nlocal = \"198.18.0.1\"\npeers = [\"198.18.0.2\", \"198.18.0.3\"]\n"
                           "esp_port = 4600\n" + EspTable("198.18.0.2", 0x2001, 0x1001);
  auto c = ParseConfig(text, "t.toml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  ASSERT_EQ(c->esp.size(), 1u);
  EXPECT_EQ(c->esp[0].peer.ToString(), "198.18.0.2");
  EXPECT_EQ(c->esp[0].in.spi, 0x2001u);
  EXPECT_EQ(c->esp[0].out.spi, 0x1001u);
  EXPECT_EQ(c->esp_port, 4600);
  EXPECT_EQ(c->inner_mtu(), 1500u - 50 - 45);
  EXPECT_EQ(PlainPeers(c->peers, c->esp).size(), 1u);
  EXPECT_EQ(PlainPeers(c->peers, c->esp)[0].ToString(), "198.18.0.3");
}

TEST(EspConfig, ErrorsNameTheFieldAndNeverTheKey) {
  struct Case {
    std::string text, want;
  } cases[] = {
      {"[underlay]\npeers = [\"198.18.0.2\"]\n" + EspTable("198.18.0.9", 1, 2), "is not in underlay.peers"},
      {"[underlay]\npeers = [\"198.18.0.2\"]\n" + EspTable("198.18.0.2", 1, 2) +
           EspTable("198.18.0.2", 3, 4), "two [[underlay.esp]] tables"},
      {"[underlay]\npeers = [\"198.18.0.2\"]\n[[underlay.esp]]\npeer = \"198.18.0.2\"\nin = \"spi=1 "
       "alg=aes-128-gcm key=" + kKeyA + "00 salt=01020304\"\nout = \"" + Sa(2, kKeyB) + "\"\n",
       "underlay.esp[0].in"},
      {"[underlay]\npeers = [\"198.18.0.2\"]\n[[underlay.esp]]\npeer = \"198.18.0.2\"\nin = \"" +
           Sa(1, kKeyA) + "\"\n", "underlay.esp[0].out"},
      {"[underlay]\npeers = [\"198.18.0.2\"]\n[[underlay.esp]]\npeer = \"198.18.0.2\"\nkey = \"" + kKeyA +
           "\"\n", "unknown setting"},
  };
  for (const Case& c : cases) {
    auto r = ParseConfig(c.text, "t.toml");
    ASSERT_FALSE(r.ok()) << c.want;
    EXPECT_NE(r.status().message().find(c.want), std::string::npos) << r.status().message();
    EXPECT_EQ(r.status().message().find(kKeyA.substr(0, 12)), std::string::npos) << r.status().message();
    EXPECT_EQ(r.status().message().find(kKeyB.substr(0, 12)), std::string::npos) << r.status().message();
  }
}

TEST(EspConfig, KeyFileMustBePrivateAndHoldOnlyEspTables) {
  char dir[] = "/tmp/mfe-keys-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string path = std::string(dir) + "/keys.toml";
  auto write = [&](const std::string& text, mode_t mode) {
    std::ofstream(path) << text;
    chmod(path.c_str(), mode);
  };
  write(EspTable("198.18.0.2", 0x2001, 0x1001), 0600);
  auto ok = LoadEspKeyFile(path);
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok->size(), 1u);
  write(EspTable("198.18.0.2", 0x2001, 0x1001), 0640);
  auto open = LoadEspKeyFile(path);
  ASSERT_FALSE(open.ok());
  EXPECT_NE(open.status().message().find("chmod 600"), std::string::npos);
  write("[underlay]\npeers = [\"198.18.0.2\"]\n" + EspTable("198.18.0.2", 1, 2), 0600);
  EXPECT_FALSE(LoadEspKeyFile(path).ok()) << "only [[underlay.esp]] tables";
  write("[[underlay.esp]]\npeer = \"198.18.0.2\"\nin = \"" + Sa(1, kKeyA) + " \"broken\n", 0600);
  auto bad = LoadEspKeyFile(path);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message().find(kKeyA.substr(0, 12)), std::string::npos) << bad.status().message();
  unlink(path.c_str());
  rmdir(dir);
}

TEST(EspConfig, RekeyIsMakeBeforeBreak) {
  auto table = std::move(esp::EspSaTable::Create(2)).value();
  EspKeys keys(table.get());
  auto parse = [](uint32_t in, uint32_t out) {
    return std::move(ParseConfig("[underlay]\npeers = [\"198.18.0.2\"]\n" + EspTable("198.18.0.2", in, out),
                                 "t")).value().esp;
  };
  std::vector<std::string> what;
  ASSERT_TRUE(keys.Apply(parse(0x2001, 0x1001), 1000, &what).ok());
  EXPECT_EQ(table->InboundSpis(), std::vector<uint32_t>{0x2001});
  // The new inbound SA joins the old one; the outbound one switches.
  ASSERT_TRUE(keys.Apply(parse(0x2002, 0x1002), 2000, &what).ok());
  EXPECT_EQ(table->InboundSpis().size(), 2u);
  EXPECT_EQ(table->OutboundStates().size(), 1u);
  EXPECT_EQ(table->OutboundStates()[0].spi, 0x1002u);
  keys.Expire(2000 + EspKeys::kGraceMs - 1, &what);
  EXPECT_EQ(table->InboundSpis().size(), 2u) << "still in its grace period";
  keys.Expire(2000 + EspKeys::kGraceMs, &what);
  EXPECT_EQ(table->InboundSpis(), std::vector<uint32_t>{0x2002});
  // Another key under the same inbound SPI cannot be make-before-break.
  auto same_spi = parse(0x2002, 0x1003);
  same_spi[0].in.key[0] ^= 1;
  EXPECT_FALSE(keys.Apply(same_spi, 30000, &what).ok());
  EXPECT_EQ(table->OutboundStates()[0].spi, 0x1002u) << "a refusal changes nothing";
  for (const std::string& w : what) EXPECT_EQ(w.find("key"), std::string::npos) << w;
}

}  // namespace
}  // namespace mflow::daemon
