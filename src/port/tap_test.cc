// Container ports: the vnet header conversions (no privileges needed), and
// real TAP devices in network namespaces of their own (root only, skipped
// otherwise): configuration, ARP + ping answered through TapSet, a bulk TCP
// stream relayed between two namespaces with and without offloads, VNI
// isolation of flooding, truncation, and Add/Remove under traffic.
//
// Namespaces are "mflowt-<pid>-<n>" (ip netns add/del), interfaces "mft*",
// addresses in 198.19.0.0/16. Traffic comes from sockets that the test opens
// inside the namespaces (RunInNetns), so no external tools other than `ip`
// are needed. Every loop is bounded by a deadline.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "common/shell_capture.h"
#include "packet/pool.h"
#include "port/netns.h"
#include "port/tap_device.h"
#include "port/tap_set.h"
#include "port/vnet_hdr.h"
#include "wire/checksum.h"
#include "wire/frame_builder.h"
#include "wire/test_frames.h"

extern char** environ;

namespace mflow {
namespace {

using Clock = std::chrono::steady_clock;
using Frame = std::vector<uint8_t>;
using std::chrono::milliseconds;

// ---------------------------------------------------------------------------
// vnet header conversions: pure functions on packets from a small pool.

class VnetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    PacketPoolConfig pc;
    pc.name = "vnet-test";
    pc.count = 8;
    pc.buf_size = 4096;
    pool_ = std::move(PacketPool::Create(pc)).value();
  }
  void TearDown() override {
    for (Packet* p : held_) PacketFree(p);
    EXPECT_EQ(pool_->available(), 8u);
  }
  Packet* Load(const Frame& f) {
    Packet* p = pool_->Alloc();
    std::memcpy(p->data, f.data(), f.size());
    p->len = static_cast<uint32_t>(f.size());
    held_.push_back(p);
    return p;
  }
  std::unique_ptr<PacketPool> pool_;
  std::vector<Packet*> held_;
};

uint16_t Raw16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

// Replaces the L4 checksum at field with the folded, not complemented,
// pseudo-header sum: what a stack hands out with NEEDS_CSUM.
void MakePartial(Frame& f, uint32_t l3, uint32_t l4, uint32_t field, bool v6, uint8_t proto) {
  const uint32_t l4_len = static_cast<uint32_t>(f.size()) - l4;
  uint32_t sum;
  if (v6) {
    wire::Ipv6Header h;
    std::memcpy(&h, &f[l3], sizeof(h));
    sum = wire::PseudoHeaderSumV6(&h, proto, l4_len);
  } else {
    wire::Ipv4Header h;
    std::memcpy(&h, &f[l3], sizeof(h));
    sum = wire::PseudoHeaderSumV4(&h, proto, l4_len);
  }
  const uint16_t partial = wire::ChecksumFold(sum);
  std::memcpy(&f[field], &partial, 2);
}

TEST_F(VnetTest, NeedsCsumCompletesTcpAndUdpChecksums) {
  struct Case {
    wire::InnerSpec spec;
    uint32_t l3, l4, csum_off;
    bool v6;
  };
  const Case cases[] = {
      {testing::Tcp4(), 14, 34, 16, false},
      {testing::Udp4(), 14, 34, 6, false},
      {testing::Tcp6(), 14, 54, 16, true},
      {testing::Udp6(), 14, 54, 6, true},
  };
  for (const Case& c : cases) {
    Frame f = testing::BuildInner(c.spec, testing::StreamPayload(333), 4000);
    ASSERT_FALSE(f.empty());
    const uint16_t good = Raw16(&f[c.l4 + c.csum_off]);
    MakePartial(f, c.l3, c.l4, c.l4 + c.csum_off, c.v6, c.spec.l4_proto);
    ASSERT_NE(Raw16(&f[c.l4 + c.csum_off]), good);
    Packet* p = Load(f);
    VnetHdr h;
    h.flags = kVnetFNeedsCsum;
    h.csum_start = static_cast<uint16_t>(c.l4);
    h.csum_offset = static_cast<uint16_t>(c.csum_off);
    ASSERT_EQ(ApplyVnetHdr(h, p), VnetRx::kOk);
    EXPECT_EQ(Raw16(p->data + c.l4 + c.csum_off), good) << "proto " << int{c.spec.l4_proto};
    EXPECT_TRUE(p->flags & kPktFlagL4CsumOk);
    EXPECT_EQ(p->l3_off, c.l3);
    EXPECT_EQ(p->l4_off, c.l4);
    EXPECT_EQ(p->l4_proto, c.spec.l4_proto);
    EXPECT_EQ((p->flags & kPktFlagIpv6) != 0, c.v6);
    EXPECT_EQ(p->gso_size, 0);
  }
}

TEST_F(VnetTest, BadChecksumOffsetsAreRejectedWithoutSideEffects) {
  Frame f = testing::BuildInner(testing::Tcp4(), testing::StreamPayload(100), 4000);
  const auto len = static_cast<uint16_t>(f.size());
  const Frame before = f;
  struct Off {
    uint16_t start, offset;
    VnetRx want;
  };
  const Off offs[] = {
      {len, 0, VnetRx::kBadCsumOffsets},                               // start at the end
      {static_cast<uint16_t>(len + 100), 0, VnetRx::kBadCsumOffsets},  // beyond
      {34, static_cast<uint16_t>(len - 34 - 1),
       VnetRx::kBadCsumOffsets},                         // field straddles the end
      {34, 0xffff, VnetRx::kBadCsumOffsets},             // no wrap-around
      {static_cast<uint16_t>(len - 2), 0, VnetRx::kOk},  // last two bytes: in bounds
  };
  for (const Off& o : offs) {
    Packet* p = Load(f);
    VnetHdr h;
    h.flags = kVnetFNeedsCsum;
    h.csum_start = o.start;
    h.csum_offset = o.offset;
    EXPECT_EQ(ApplyVnetHdr(h, p), o.want) << o.start << "+" << o.offset;
    if (o.want != VnetRx::kOk) {
      EXPECT_EQ(std::memcmp(p->data, before.data(), before.size()), 0);
      EXPECT_EQ(p->flags, 0);
      EXPECT_EQ(p->l4_off, 0);
    }
  }
}

TEST_F(VnetTest, TcpGsoKeepsPartialChecksumAndCountsSegments) {
  Frame f = testing::BuildInner(testing::Tcp4(), testing::StreamPayload(3000), 4000);
  MakePartial(f, 14, 34, 34 + 16, false, 6);
  const uint16_t partial = Raw16(&f[50]);
  Packet* p = Load(f);
  VnetHdr h;
  h.flags = kVnetFNeedsCsum;
  h.gso_type = kVnetGsoTcpv4;
  h.gso_size = 1000;
  h.hdr_len = 54;
  h.csum_start = 34;
  h.csum_offset = 16;
  ASSERT_EQ(ApplyVnetHdr(h, p), VnetRx::kOk);
  EXPECT_EQ(p->gso_size, 1000);
  EXPECT_EQ(p->gso_segs, 3);
  EXPECT_EQ(Raw16(p->data + 50), partial);  // left for gso_segment / the next TAP
  EXPECT_EQ(p->l4_off, 34);
  EXPECT_FALSE(p->flags & kPktFlagL4CsumOk);

  // And back: the header a TAP writer builds for it is the one it came with.
  VnetHdr out;
  ASSERT_TRUE(BuildVnetHdr(*p, &out));
  EXPECT_EQ(out.flags, kVnetFNeedsCsum);
  EXPECT_EQ(out.gso_type, kVnetGsoTcpv4);
  EXPECT_EQ(out.gso_size, 1000);
  EXPECT_EQ(out.hdr_len, 54);
  EXPECT_EQ(out.csum_start, 34);
  EXPECT_EQ(out.csum_offset, 16);

  // The GSO type must match the frame: TCPV6 on IPv4, or TCP GSO on UDP.
  h.gso_type = kVnetGsoTcpv6;
  EXPECT_EQ(ApplyVnetHdr(h, Load(f)), VnetRx::kBadGso);
  Frame u = testing::BuildInner(testing::Udp4(), testing::StreamPayload(3000), 4000);
  h.gso_type = kVnetGsoTcpv4;
  EXPECT_EQ(ApplyVnetHdr(h, Load(u)), VnetRx::kBadGso);
  h.gso_size = 0;
  EXPECT_EQ(ApplyVnetHdr(h, Load(f)), VnetRx::kBadGso);
}

TEST_F(VnetTest, UdpGsoKeepsPartialChecksumAndCountsSegments) {
  for (bool v6 : {false, true}) {
    SCOPED_TRACE(v6 ? "ipv6" : "ipv4");
    Frame f = testing::BuildInner(v6 ? testing::Udp6() : testing::Udp4(),
                                  testing::StreamPayload(3001), 4000);
    const uint32_t l4 = v6 ? 54 : 34;
    Packet* p = Load(f);
    VnetHdr h;
    h.flags = kVnetFNeedsCsum;
    h.gso_type = kVnetGsoUdpL4;  // one type for both IP versions
    h.gso_size = 1000;
    h.hdr_len = static_cast<uint16_t>(l4 + 8);
    h.csum_start = static_cast<uint16_t>(l4);
    h.csum_offset = 6;
    const uint16_t before = Raw16(&f[l4 + 6]);
    ASSERT_EQ(ApplyVnetHdr(h, p), VnetRx::kOk);
    EXPECT_EQ(p->gso_size, 1000);
    EXPECT_EQ(p->gso_segs, 4);  // 3 x 1000 + 1
    EXPECT_EQ(p->l4_off, l4);
    EXPECT_EQ(p->l4_proto, 17);
    EXPECT_EQ(Raw16(p->data + l4 + 6), before);  // left for gso_segment

    // USO on a TCP frame is refused, as TSO on a UDP one is.
    Frame t = testing::BuildInner(v6 ? testing::Tcp6() : testing::Tcp4(),
                                  testing::StreamPayload(3000), 4000);
    EXPECT_EQ(ApplyVnetHdr(h, Load(t)), VnetRx::kBadGso);
    h.gso_size = 0;
    EXPECT_EQ(ApplyVnetHdr(h, Load(f)), VnetRx::kBadGso);
  }
}

TEST_F(VnetTest, UfoAndEcnGsoAreUnsupported) {
  Frame f = testing::BuildInner(testing::Udp4(), testing::StreamPayload(3000), 4000);
  for (uint8_t type : {kVnetGsoUdp, static_cast<uint8_t>(kVnetGsoTcpv4 | kVnetGsoEcn),
                       uint8_t{9}}) {
    VnetHdr h;
    h.flags = kVnetFNeedsCsum;
    h.gso_type = type;
    h.gso_size = 1000;
    h.csum_start = 34;
    h.csum_offset = 6;
    EXPECT_EQ(ApplyVnetHdr(h, Load(f)), VnetRx::kUnsupportedGso) << int{type};
  }
}

TEST_F(VnetTest, DataValidAndPlainFrames) {
  Frame f = testing::BuildInner(testing::Tcp6(), testing::StreamPayload(200), 4000);
  Packet* p = Load(f);
  VnetHdr h;
  h.flags = kVnetFDataValid;
  ASSERT_EQ(ApplyVnetHdr(h, p), VnetRx::kOk);
  EXPECT_TRUE(p->flags & kPktFlagL4CsumOk);
  EXPECT_TRUE(p->flags & kPktFlagIpv6);

  VnetHdr out;
  ASSERT_TRUE(BuildVnetHdr(*p, &out));
  EXPECT_EQ(out.flags, kVnetFDataValid);
  EXPECT_EQ(out.gso_type, kVnetGsoNone);

  Packet* q = Load(f);
  ASSERT_EQ(ApplyVnetHdr(VnetHdr{}, q), VnetRx::kOk);
  EXPECT_EQ(q->flags & kPktFlagL4CsumOk, 0);
  ASSERT_TRUE(BuildVnetHdr(*q, &out));
  EXPECT_EQ(out.flags, 0);

  // An ARP frame: no IP metadata, no flags.
  Frame arp(42, 0);
  arp[12] = 0x08;
  arp[13] = 0x06;
  Packet* a = Load(arp);
  ASSERT_EQ(ApplyVnetHdr(VnetHdr{}, a), VnetRx::kOk);
  EXPECT_EQ(a->l3_off, 0);
  EXPECT_EQ(a->l4_off, 0);
}

TEST_F(VnetTest, SuperFrameHeaderForIpv6AndBadOffsets) {
  Frame f = testing::BuildInner(testing::Tcp6(), testing::StreamPayload(200), 4000);
  Packet* p = Load(f);
  p->l3_off = 14;
  p->l4_off = 54;
  p->l4_proto = 6;
  p->flags = kPktFlagIpv6 | kPktFlagL4CsumOk;
  p->gso_size = 100;
  p->gso_segs = 2;
  VnetHdr out;
  ASSERT_TRUE(BuildVnetHdr(*p, &out));
  EXPECT_EQ(out.gso_type, kVnetGsoTcpv6);
  EXPECT_EQ(out.flags, kVnetFNeedsCsum);
  EXPECT_EQ(out.hdr_len, 74);
  EXPECT_EQ(out.csum_start, 54);

  p->l4_off = 0;  // offsets never set
  EXPECT_FALSE(BuildVnetHdr(*p, &out));
  p->l4_off = 54;
  p->l4_proto = 17;
  EXPECT_FALSE(BuildVnetHdr(*p, &out));
  p->l4_proto = 6;
  p->len = 60;  // TCP header not in the linear part
  EXPECT_FALSE(BuildVnetHdr(*p, &out));
}

TEST(NetnsTest, ErrorsNameThePath) {
  Status s = RunInNetns("/nonexistent/mflowt-ns", [] { return Status::Ok(); });
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "netns /nonexistent/mflowt-ns: No such file or directory");
  // Empty path: runs here.
  bool ran = false;
  EXPECT_TRUE(RunInNetns("", [&] {
                ran = true;
                return Status::Ok();
              }).ok());
  EXPECT_TRUE(ran);
  // fn's own error comes back unchanged.
  s = RunInNetns("", [] { return Status::Error("boom"); });
  EXPECT_EQ(s.message(), "boom");

  TapConfig c;
  c.ifname = "mft0";
  c.netns = "/nonexistent/mflowt-ns";
  auto dev = TapDevice::Create(c);
  ASSERT_FALSE(dev.ok());
  EXPECT_EQ(dev.status().message(),
            "tap mft0: netns /nonexistent/mflowt-ns: No such file or directory");
  c.netns.clear();
  c.addresses = {"198.19.0.1/33"};
  EXPECT_NE(TapDevice::Create(c).status().message().find("address '198.19.0.1/33'"),
            std::string::npos);
  EXPECT_EQ(TapDevice::Create(c).status().code(), StatusCode::kInvalid);
  c.addresses = {"fd00::1/129"};
  EXPECT_NE(TapDevice::Create(c).status().message().find("address 'fd00::1/129'"),
            std::string::npos);
  c.addresses.clear();
  c.gateway = "fd00::zz";
  EXPECT_NE(TapDevice::Create(c).status().message().find("gateway 'fd00::zz'"), std::string::npos);
  c.gateway.clear();
  c.routes = {{"fd00:1::/64", "198.19.0.1"}};
  EXPECT_EQ(TapDevice::Create(c).status().message(),
            "tap mft0: routes[0]: gw '198.19.0.1': not of the address family of dst 'fd00:1::/64'");
  c.routes = {{"fd00:1::/200", ""}};
  EXPECT_NE(TapDevice::Create(c).status().message().find("routes[0]: dst 'fd00:1::/200'"),
            std::string::npos);
  c.routes.clear();
  c.ifname = "mft-name-too-long";
  EXPECT_NE(TapDevice::Create(c).status().message().find("at most 15"), std::string::npos);
}

// ---------------------------------------------------------------------------
// Real TAP devices (root).

// Runs argv with its output discarded, returns its exit status (-1 if it
// could not run). Only ever waits for the child it started.
int RunCmd(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid;
  const int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return -1;
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

uint32_t Ip4(const char* s) {
  in_addr a{};
  inet_pton(AF_INET, s, &a);
  return a.s_addr;  // network order
}

class TapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces, /dev/net/tun)";
    PacketPoolConfig pc;
    pc.name = "tap-rx";
    pc.count = 256;
    pc.buf_size = kTapRxBufSize;
    rx_pool_ = std::move(PacketPool::Create(pc)).value();
    pc.name = "tap-tx";
    pc.count = 64;
    pc.buf_size = 2048;
    tx_pool_ = std::move(PacketPool::Create(pc)).value();
  }
  void TearDown() override {
    set_.reset();  // closes the TAPs before their namespaces go
    for (const auto& ns : netns_) RunCmd({"ip", "netns", "del", ns});
  }

  // A fresh namespace (lo up, IPv6 off unless asked for, to keep router
  // solicitations and MLD reports out of the captures); returns its path.
  std::string NewNetns(bool ipv6 = false) {
    const std::string name =
        "mflowt-" + std::to_string(getpid()) + "-" + std::to_string(netns_.size());
    RunCmd({"ip", "netns", "del", name});  // a leftover of a crashed run with our pid
    EXPECT_EQ(RunCmd({"ip", "netns", "add", name}), 0) << name;
    netns_.push_back(name);
    RunCmd({"ip", "-n", name, "link", "set", "lo", "up"});
    const std::string path = "/var/run/netns/" + name;
    if (ipv6) return path;
    Status s = RunInNetns(path, [] {
      for (const char* f : {"/proc/sys/net/ipv6/conf/default/disable_ipv6",
                            "/proc/sys/net/ipv6/conf/all/disable_ipv6"}) {
        const int fd = open(f, O_WRONLY | O_CLOEXEC);
        if (fd < 0) continue;  // kernel without IPv6: nothing to silence
        [[maybe_unused]] const ssize_t w = write(fd, "1", 1);
        close(fd);
      }
      return Status::Ok();
    });
    EXPECT_TRUE(s.ok()) << s.message();
    return path;
  }
  static std::string NsName(const std::string& path) { return path.substr(path.rfind('/') + 1); }

  std::unique_ptr<TapDevice> NewTap(const std::string& name, const std::string& ns,
                                    const std::string& address, bool offload = true) {
    TapConfig c;
    c.ifname = name;
    c.netns = ns;
    if (!address.empty()) c.addresses = {address};
    c.offload = offload;
    auto dev = TapDevice::Create(c);
    EXPECT_TRUE(dev.ok()) << dev.status().message();
    return dev.ok() ? std::move(dev).value() : nullptr;
  }
  TapSet& Set() {
    if (!set_) set_ = std::move(TapSet::Create(rx_pool_.get())).value();
    return *set_;
  }
  // A socket opened inside the namespace (it stays there).
  static int SocketIn(const std::string& ns, int type, int proto) {
    int fd = -1;
    Status s = RunInNetns(ns, [&] {
      fd = socket(AF_INET, type | SOCK_CLOEXEC, proto);
      return fd >= 0 ? Status::Ok() : Status::Error(ErrnoText(errno));
    });
    EXPECT_TRUE(s.ok()) << s.message();
    return fd;
  }
  Packet* TxPacket(const Frame& f, uint16_t out_port, uint32_t vni, uint16_t in_port = kPortNone) {
    Packet* p = tx_pool_->Alloc();
    std::memcpy(p->data, f.data(), f.size());
    p->len = static_cast<uint32_t>(f.size());
    p->out_port = out_port;
    p->vni = vni;
    p->in_port = in_port;
    return p;
  }
  static const TapPortInfo* Info(const std::vector<TapPortInfo>& v, uint16_t id) {
    for (const auto& i : v)
      if (i.id == id) return &i;
    return nullptr;
  }
  static uint64_t Drop(const TapPortInfo& i, const std::string& name) {
    for (const auto& [n, v] : i.drops)
      if (n == name) return v;
    return ~uint64_t{0};
  }
  static uint64_t SetDrop(const TapSet& s, const std::string& name) {
    for (const auto& [n, v] : s.Drops())
      if (n == name) return v;
    return ~uint64_t{0};
  }

  std::unique_ptr<PacketPool> rx_pool_;
  std::unique_ptr<PacketPool> tx_pool_;
  std::unique_ptr<TapSet> set_;
  std::vector<std::string> netns_;
};

TEST_F(TapTest, CreateConfiguresTheDeviceInItsNamespace) {
  const std::string ns = NewNetns();
  const std::string n = NsName(ns);
  TapConfig c;
  c.ifname = "mftcfg";
  c.netns = ns;
  c.mac = wire::MacAddr{{0x02, 0x19, 0, 0, 0, 0x01}};
  c.mtu = 1400;
  c.addresses = {"198.19.0.1/24"};
  c.gso_max_size = 60000;
  {
    auto dev = TapDevice::Create(c);
    ASSERT_TRUE(dev.ok()) << dev.status().message();
    EXPECT_EQ((*dev)->name(), "mftcfg");
    EXPECT_EQ((*dev)->netns(), ns);
    // USO where the kernel takes it (Linux 6.2+), both versions or none.
    const unsigned uso = (*dev)->offloads() & (kTunFUso4 | kTunFUso6);
    EXPECT_TRUE(uso == 0 || uso == (kTunFUso4 | kTunFUso6)) << (*dev)->offloads_string();
    EXPECT_EQ((*dev)->offloads() & ~uso, kTunFCsum | kTunFTso4 | kTunFTso6);
    EXPECT_EQ((*dev)->offloads_string(), uso != 0 ? "csum,tso4,tso6,uso4,uso6" : "csum,tso4,tso6");
    EXPECT_EQ((*dev)->rx_buf_size(), kTapRxBufSize);
    const std::string link = ShellCapture("ip -n " + n + " -o link show dev mftcfg");
    EXPECT_NE(link.find("mtu 1400"), std::string::npos) << link;
    EXPECT_NE(link.find("02:19:00:00:00:01"), std::string::npos) << link;
    EXPECT_NE(link.find(",UP"), std::string::npos) << link;
    const std::string details = ShellCapture("ip -n " + n + " -d -o link show dev mftcfg");
    EXPECT_NE(details.find("gso_max_size 60000 "), std::string::npos) << details;
    const std::string addr = ShellCapture("ip -n " + n + " -o -4 addr show dev mftcfg");
    EXPECT_NE(addr.find("198.19.0.1/24"), std::string::npos) << addr;
    const std::string route = ShellCapture("ip -n " + n + " route show default");
    EXPECT_NE(route.find("default dev mftcfg"), std::string::npos) << route;
    // Not in our namespace.
    EXPECT_NE(RunCmd({"ip", "link", "show", "dev", "mftcfg"}), 0);

    // A second device in the same namespace: a gateway route, no offloads,
    // no MAC given: 0a:58 and its address (locally administered, unicast,
    // the same after a restart).
    TapConfig g;
    g.ifname = "mftgw";
    g.netns = ns;
    g.addresses = {"198.19.1.1/24"};
    g.gateway = "198.19.1.254";
    g.offload = false;
    auto gw = TapDevice::Create(g);
    ASSERT_TRUE(gw.ok()) << gw.status().message();
    EXPECT_EQ((*gw)->offloads(), 0u);
    EXPECT_EQ((*gw)->offloads_string(), "none");
    EXPECT_EQ((*gw)->rx_buf_size(), kHeadroom + 1450 + 18);
    EXPECT_EQ((*gw)->mac().b[0] & 0x03, 0x02);
    EXPECT_EQ((*gw)->mac().ToString(), "0a:58:c6:13:01:01");
    EXPECT_NE(ShellCapture("ip -n " + n + " route show default").find("via 198.19.1.254 dev mftgw"),
              std::string::npos);

    // The same name again in the namespace: the kernel refuses, we say where.
    TapConfig dup = c;
    dup.addresses.clear();
    auto d = TapDevice::Create(dup);
    ASSERT_FALSE(d.ok());
    EXPECT_EQ(d.status().message().rfind("tap mftcfg: ", 0), 0u) << d.status().message();
  }
  // Destroyed: the devices and their routes are gone.
  EXPECT_NE(RunCmd({"ip", "-n", n, "link", "show", "dev", "mftcfg"}), 0);
  EXPECT_EQ(ShellCapture("ip -n " + n + " route show default"), "");
}

// Dual stack through netlink: both addresses with their prefixes (the IPv6
// one usable at once: no DAD), default routes per family, extra routes
// on-link and via a gateway, gso_max_size; then a device name that is taken
// is refused as kExists and the namespace is left exactly as it was.
TEST_F(TapTest, DualStackAddressesRoutesAndExistingName) {
  const std::string ns = NewNetns(/*ipv6=*/true);
  const std::string n = NsName(ns);
  TapConfig c;
  c.ifname = "mftds";
  c.netns = ns;
  c.addresses = {"198.19.5.1/24", "fd00:198:19::1/64"};
  c.routes = {{"fd00:1::/64", "fd00:198:19::fe"}, {"198.51.100.0/24", ""}, {"198.51.101.0/24", "198.19.5.254"}};
  c.gso_max_size = 60000;
  auto dev = TapDevice::Create(c);
  ASSERT_TRUE(dev.ok()) << dev.status().message();
  EXPECT_EQ((*dev)->mac().ToString(), "0a:58:c6:13:05:01");  // the first IPv4 address
  EXPECT_EQ((*dev)->addresses(), (std::vector<std::string>{"198.19.5.1/24", "fd00:198:19::1/64"}));
  EXPECT_EQ((*dev)->routes(),
            (std::vector<IpRoute>{{"0.0.0.0/0", ""},
                                  {"::/0", ""},
                                  {"fd00:1::/64", "fd00:198:19::fe"},
                                  {"198.51.100.0/24", ""},
                                  {"198.51.101.0/24", "198.19.5.254"}}));
  const std::string index = ShellCapture("ip -n " + n + " -o link show dev mftds");
  EXPECT_EQ(index.rfind(std::to_string((*dev)->ifindex()) + ": mftds:", 0), 0u) << index;
  const std::string a4 = ShellCapture("ip -n " + n + " -o -4 addr show dev mftds");
  EXPECT_NE(a4.find("inet 198.19.5.1/24 brd 198.19.5.255 "), std::string::npos) << a4;
  const std::string a6 = ShellCapture("ip -n " + n + " -o -6 addr show dev mftds scope global");
  EXPECT_NE(a6.find("inet6 fd00:198:19::1/64 "), std::string::npos) << a6;
  EXPECT_EQ(a6.find("tentative"), std::string::npos) << a6;  // usable at once
  const std::string r4 = ShellCapture("ip -n " + n + " -4 route show");
  EXPECT_NE(r4.find("default dev mftds"), std::string::npos) << r4;
  EXPECT_NE(r4.find("198.19.5.0/24 dev mftds"), std::string::npos) << r4;
  EXPECT_NE(r4.find("198.51.100.0/24 dev mftds"), std::string::npos) << r4;
  EXPECT_NE(r4.find("198.51.101.0/24 via 198.19.5.254 dev mftds"), std::string::npos) << r4;
  const std::string r6 = ShellCapture("ip -n " + n + " -6 route show");
  EXPECT_NE(r6.find("fd00:198:19::/64 dev mftds"), std::string::npos) << r6;
  EXPECT_NE(r6.find("fd00:1::/64 via fd00:198:19::fe dev mftds"), std::string::npos) << r6;
  EXPECT_NE(r6.find("default dev mftds"), std::string::npos) << r6;
  const std::string details = ShellCapture("ip -n " + n + " -d -o link show dev mftds");
  EXPECT_NE(details.find("gso_max_size 60000 "), std::string::npos) << details;

  // IPv6 only, a gateway of that family: the MAC from the IPv6 address's
  // last 4 bytes, one default route via the gateway and none for IPv4.
  TapConfig v6;
  v6.ifname = "mftv6";
  v6.netns = ns;
  v6.addresses = {"fd00:198:20::a:b0c/64"};
  v6.gateway = "fd00:198:20::1";
  auto d6 = TapDevice::Create(v6);
  ASSERT_TRUE(d6.ok()) << d6.status().message();
  EXPECT_EQ((*d6)->mac().ToString(), "0a:58:00:0a:0b:0c");
  EXPECT_NE(ShellCapture("ip -n " + n + " -6 route show default").find("via fd00:198:20::1 dev mftv6"),
            std::string::npos);
  EXPECT_EQ(ShellCapture("ip -n " + n + " -4 route show dev mftv6"), "");

  // A device of that name exists (a veth, as a runtime's eth0 would be):
  // refused before anything is changed in the namespace.
  ASSERT_EQ(RunCmd({"ip", "-n", n, "link", "add", "mftexist", "type", "veth", "peer", "name",
                    "mftexistp"}),
            0);
  auto state = [&] {
    return ShellCapture("ip -n " + n + " -o addr show") + ShellCapture("ip -n " + n + " -4 route show") +
           ShellCapture("ip -n " + n + " -6 route show") + ShellCapture("ip -n " + n + " -o link show");
  };
  const std::string before = state();
  TapConfig taken = c;
  taken.ifname = "mftexist";
  taken.addresses = {"198.19.6.1/24", "fd00:198:21::1/64"};
  taken.routes.clear();
  auto t = TapDevice::Create(taken);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), StatusCode::kExists) << t.status().message();
  EXPECT_EQ(t.status().message(), "tap mftexist: a device named mftexist exists in the namespace");
  EXPECT_EQ(state(), before);

  // A failing step names itself: the same route twice on one device.
  TapConfig dup;
  dup.ifname = "mftdup";
  dup.netns = ns;
  dup.gateway = "none";
  dup.routes = {{"fd00:1::/64", ""}, {"fd00:1::/64", ""}};
  dup.addresses = {"fd00:198:19::2/64"};
  auto d = TapDevice::Create(dup);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().message(), "tap mftdup: route fd00:1::/64 on-link: File exists");
  EXPECT_NE(RunCmd({"ip", "-n", n, "link", "show", "dev", "mftdup"}), 0);  // gone again
  // The kernel's own reason, not libnl's summary of it.
  dup.routes.clear();
  dup.addresses = {"198.19.7.1/24"};
  dup.gateway = "198.18.200.1";  // not on any link of the namespace
  d = TapDevice::Create(dup);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().message(), "tap mftdup: route 0.0.0.0/0 via 198.18.200.1: Network is unreachable");
}

// ARP and ping from inside a namespace, answered by the test through TapSet.
TEST_F(TapTest, ArpAndPingAnsweredThroughTheSet) {
  const std::string ns = NewNetns();
  constexpr uint16_t kPort = 3;
  constexpr uint32_t kVni = 7;
  auto dev = NewTap("mftping", ns, "198.19.0.1/24");
  ASSERT_NE(dev, nullptr);
  const wire::MacAddr tap_mac = dev->mac();
  ASSERT_TRUE(Set().Add(kPort, kVni, std::move(dev)).ok());
  EXPECT_EQ(Set().Find("mftping"), kPort);

  const int icmp = SocketIn(ns, SOCK_RAW, IPPROTO_ICMP);
  ASSERT_GE(icmp, 0);
  // Echo request id 0x4d46 seq 1 to 198.19.0.2, a host that exists only as
  // this test's answers.
  uint8_t req[16] = {8, 0, 0, 0, 0x4d, 0x46, 0, 1, 'm', 'f', 'l', 'o', 'w', '-', 't', 'p'};
  const uint16_t c = wire::ChecksumFinish(wire::ChecksumPartial(req, sizeof(req)));
  std::memcpy(req + 2, &c, 2);
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_addr.s_addr = Ip4("198.19.0.2");
  ASSERT_EQ(sendto(icmp, req, sizeof(req), 0, reinterpret_cast<sockaddr*>(&dst), sizeof(dst)),
            static_cast<ssize_t>(sizeof(req)));

  const wire::MacAddr peer{{0x02, 0x19, 0, 0, 0, 0x02}};
  bool arp_seen = false, echo_seen = false, reply_seen = false;
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  Packet* pkts[32];
  while (!reply_seen && Clock::now() < deadline) {
    Set().Wait(20);
    const uint32_t got = Set().RxBurst(pkts, 32);
    for (uint32_t i = 0; i < got; ++i) {
      Packet* p = pkts[i];
      EXPECT_EQ(p->in_port, kPort);
      EXPECT_EQ(p->vni, kVni);
      const uint8_t* f = p->data;
      const uint16_t et = static_cast<uint16_t>(f[12] << 8 | f[13]);
      if (et == 0x0806 && p->len >= 42 && f[21] == 1 &&
          std::memcmp(f + 38, &dst.sin_addr.s_addr, 4) == 0) {
        arp_seen = true;
        wire::MacAddr to;
        std::memcpy(to.b.data(), f, 6);
        EXPECT_TRUE(to.IsBroadcast());
        // "198.19.0.2 is at peer", to the asker.
        Frame r(f, f + 42);
        std::memcpy(&r[0], f + 6, 6);
        std::memcpy(&r[6], peer.b.data(), 6);
        r[21] = 2;
        std::memcpy(&r[22], peer.b.data(), 6);
        std::memcpy(&r[28], f + 38, 4);
        std::memcpy(&r[32], f + 22, 6);
        std::memcpy(&r[38], f + 28, 4);
        Packet* out = TxPacket(r, kPort, kVni);
        Set().TxBurst(&out, 1);
      } else if (et == 0x0800 && p->len >= 14 + 20 + sizeof(req) && f[23] == 1 && f[34] == 8) {
        echo_seen = true;
        EXPECT_EQ(std::memcmp(f, peer.b.data(), 6), 0);  // ARP worked: sent to peer's MAC
        EXPECT_EQ(std::memcmp(f + 6, tap_mac.b.data(), 6), 0);
        Frame r(f, f + p->len);
        std::memcpy(&r[0], f + 6, 6);
        std::memcpy(&r[6], f, 6);
        std::memcpy(&r[26], f + 30, 4);  // swapping addresses keeps the IP checksum
        std::memcpy(&r[30], f + 26, 4);
        r[34] = 0;  // echo reply
        r[36] = r[37] = 0;
        const uint16_t ic = wire::ChecksumFinish(wire::ChecksumPartial(&r[34], r.size() - 34));
        std::memcpy(&r[36], &ic, 2);
        Packet* out = TxPacket(r, kPort, kVni);
        Set().TxBurst(&out, 1);
      }
    }
    PacketFreeBurst(pkts, got);
    // Did the echo reply reach the socket in the namespace?
    pollfd pfd{icmp, POLLIN, 0};
    while (echo_seen && poll(&pfd, 1, 0) == 1) {
      uint8_t buf[256];
      const ssize_t n = recv(icmp, buf, sizeof(buf), 0);
      if (n >= 28 && buf[20] == 0 && buf[24] == 0x4d && buf[25] == 0x46) reply_seen = true;
      if (n <= 0) break;
    }
  }
  close(icmp);
  EXPECT_TRUE(arp_seen);
  EXPECT_TRUE(echo_seen);
  EXPECT_TRUE(reply_seen);
  const auto info = Set().Snapshot();
  ASSERT_EQ(info.size(), 1u);
  EXPECT_EQ(info[0].name, "mftping");
  EXPECT_EQ(info[0].vni, kVni);
  EXPECT_EQ(info[0].addresses, std::vector<std::string>{"198.19.0.1/24"});
  EXPECT_GE(info[0].rx_frames, 2u);
  EXPECT_EQ(info[0].tx_frames, 2u);
  EXPECT_EQ(Drop(info[0], "tx_error"), 0u);
  EXPECT_EQ(tx_pool_->available(), 64u);
}

// Flooding reaches the other ports of the VNI only; unicast to a missing
// port or one in another VNI is a counted drop; Add validates; Remove works.
TEST_F(TapTest, FloodStaysInItsVniAndUnknownPortsAreDrops) {
  const std::string ns = NewNetns();
  ASSERT_TRUE(Set().Add(1, 7, NewTap("mfta", ns, "")).ok());
  ASSERT_TRUE(Set().Add(2, 7, NewTap("mftb", ns, "")).ok());
  ASSERT_TRUE(Set().Add(3, 8, NewTap("mftc", ns, "")).ok());
  EXPECT_EQ(Set().size(), 3u);
  EXPECT_EQ(Set().Find("mftb"), 2);
  EXPECT_EQ(Set().Find("mftb", ns), 2);
  EXPECT_EQ(Set().Find("mftb", "/var/run/netns/other"), std::nullopt);
  EXPECT_EQ(Set().Find("nope"), std::nullopt);

  // Add's checks.
  Status s = Set().Add(2, 7, NewTap("mftd", ns, ""));
  EXPECT_NE(s.message().find("port id in use by tap mftb"), std::string::npos) << s.message();
  s = Set().Add(kPortFlood, 7, NewTap("mftd", ns, ""));
  EXPECT_NE(s.message().find("port id must be below"), std::string::npos) << s.message();
  s = Set().Add(4, 1u << 24, NewTap("mftd", ns, ""));
  EXPECT_NE(s.message().find("not 24-bit"), std::string::npos) << s.message();
  {
    auto small = std::move(TapSet::Create(tx_pool_.get())).value();
    s = small->Add(4, 7, NewTap("mftd", ns, ""));
    EXPECT_NE(s.message().find("has 2048-byte buffers, the device needs 65728"), std::string::npos)
        << s.message();
    EXPECT_TRUE(small->Add(4, 7, NewTap("mftd", ns, "", /*offload=*/false)).ok());
  }

  Frame bcast(60, 0);
  std::memset(bcast.data(), 0xff, 6);
  bcast[6] = 0x02;
  bcast[12] = 0x08;
  bcast[13] = 0x06;
  Packet* burst[5] = {
      TxPacket(bcast, kPortFlood, 7, /*in_port=*/1),  // -> mftb only
      TxPacket(bcast, 3, 7),                          // mftc is in VNI 8: no_port
      TxPacket(bcast, 9, 7),                          // no such port
      TxPacket(bcast, kPortNone, 7),                  // nowhere
      TxPacket(bcast, 3, 8),                          // -> mftc
  };
  Set().TxBurst(burst, 5);
  auto info = Set().Snapshot();
  ASSERT_EQ(info.size(), 3u);
  EXPECT_EQ(Info(info, 1)->tx_frames, 0u);
  EXPECT_EQ(Info(info, 2)->tx_frames, 1u);
  EXPECT_EQ(Info(info, 2)->tx_bytes, 60u);
  EXPECT_EQ(Info(info, 3)->tx_frames, 1u);
  EXPECT_EQ(SetDrop(Set(), "no_port"), 3u);
  EXPECT_EQ(tx_pool_->available(), 64u);

  // The set's byte totals (copy_stats.h) keep a removed port's bytes.
  EXPECT_EQ(Set().ByteTotals().tx_bytes, 120u);
  EXPECT_EQ(Set().ByteTotals().rx_bytes, 0u);
  ASSERT_TRUE(Set().Remove(2).ok());
  EXPECT_EQ(Set().ByteTotals().tx_bytes, 120u);
  EXPECT_FALSE(Set().Remove(2).ok());
  EXPECT_EQ(Set().Find("mftb"), std::nullopt);
  EXPECT_NE(RunCmd({"ip", "-n", NsName(ns), "link", "show", "dev", "mftb"}), 0);
  Packet* p = TxPacket(bcast, 2, 7);
  Set().TxBurst(&p, 1);
  EXPECT_EQ(SetDrop(Set(), "no_port"), 4u);
}

// A device deleted under us (ip link del inside the container) is reported
// once, leaves the poll set (no busy loop: Wait blocks again), and the other
// ports carry on.
TEST_F(TapTest, DeletedDeviceIsReportedAndStopsPolling) {
  const std::string ns = NewNetns();
  ASSERT_TRUE(Set().Add(1, 7, NewTap("mftgone", ns, "")).ok());
  ASSERT_TRUE(Set().Add(2, 7, NewTap("mftstay", ns, "")).ok());
  ASSERT_EQ(RunCmd({"ip", "-n", NsName(ns), "link", "del", "mftgone"}), 0);
  std::vector<uint16_t> gone;
  for (int i = 0; i < 100 && gone.empty(); ++i) {
    Set().Wait(10);
    Packet* pkts[8];
    PacketFreeBurst(pkts, Set().RxBurst(pkts, 8));
    gone = Set().TakeGone();
  }
  ASSERT_EQ(gone, std::vector<uint16_t>{1});
  EXPECT_TRUE(Set().TakeGone().empty());  // reported once
  // The dead descriptor is not polled or read any more: more bursts add no
  // read errors (before the fix, every Wait returned at once and every burst
  // counted one).
  const uint64_t errors = Drop(*Info(Set().Snapshot(), 1), "rx_error");
  for (int i = 0; i < 50; ++i) {
    Packet* pkts[8];
    EXPECT_EQ(Set().RxBurst(pkts, 8), 0u);
  }
  EXPECT_EQ(Drop(*Info(Set().Snapshot(), 1), "rx_error"), errors);
  // Nor polled: a dead descriptor left in the epoll set polls as an error
  // for ever and would end every Wait at once. With the other port quiet, a
  // Wait lasts its timeout (a lower bound: a slow machine only lengthens it).
  const auto t0 = Clock::now();
  EXPECT_TRUE(Set().Wait(200));
  EXPECT_GE(Clock::now() - t0, milliseconds(190));
  // The other port still works; the gone one is removed cleanly.
  Frame bcast(60, 0);
  std::memset(bcast.data(), 0xff, 6);
  bcast[6] = 0x02;
  bcast[12] = 0x08;
  bcast[13] = 0x06;
  Packet* p = TxPacket(bcast, 2, 7);
  Set().TxBurst(&p, 1);
  EXPECT_EQ(Info(Set().Snapshot(), 2)->tx_frames, 1u);
  EXPECT_TRUE(Set().Remove(1).ok());
  EXPECT_EQ(Set().size(), 1u);
}

// A frame larger than the packet buffer is lost and counted; a UDP datagram
// left to us with NEEDS_CSUM arrives with a correct checksum.
TEST_F(TapTest, ReadCompletesUdpChecksumAndCountsTruncation) {
  const std::string ns = NewNetns();
  auto dev = NewTap("mftudp", ns, "198.19.2.1/24");
  ASSERT_NE(dev, nullptr);
  const int udp = SocketIn(ns, SOCK_DGRAM, 0);
  ASSERT_GE(udp, 0);
  const int on = 1;
  ASSERT_EQ(setsockopt(udp, SOL_SOCKET, SO_BROADCAST, &on, sizeof(on)), 0);
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_port = htons(9);
  dst.sin_addr.s_addr = Ip4("198.19.2.255");  // broadcast: no ARP needed
  const std::vector<uint8_t> payload = testing::StreamPayload(1000);
  auto send = [&] {
    return sendto(udp, payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&dst),
                  sizeof(dst));
  };

  // Finds the next frame that is our datagram (skipping anything else).
  auto read_udp = [&](Packet* p) {
    const auto deadline = Clock::now() + std::chrono::seconds(3);
    while (Clock::now() < deadline) {
      p->data = p->buf + kHeadroom;
      p->len = 0;
      p->flags = 0;
      const int r = dev->Read(p);
      if (r < 0) return false;
      if (r == 0) {
        pollfd pfd{dev->fd(), POLLIN, 0};
        poll(&pfd, 1, 20);
        continue;
      }
      if (p->len == 14 + 20 + 8 + 1000 && p->data[23] == 17) return true;
    }
    return false;
  };

  ASSERT_EQ(send(), 1000);
  Packet* p = rx_pool_->Alloc();
  ASSERT_TRUE(read_udp(p));
  EXPECT_TRUE(p->flags & kPktFlagL4CsumOk);
  EXPECT_EQ(p->l4_off, 34);
  EXPECT_EQ(p->l4_proto, 17);
  // Verify: pseudo-header + UDP segment sums to 0xffff.
  wire::Ipv4Header ip;
  std::memcpy(&ip, p->data + 14, sizeof(ip));
  const uint32_t sum =
      wire::ChecksumPartial(p->data + 34, 1008, wire::PseudoHeaderSumV4(&ip, 17, 1008));
  EXPECT_EQ(wire::ChecksumFold(sum), 0xffff);
  EXPECT_EQ(std::memcmp(p->data + 42, payload.data(), 1000), 0);
  PacketFree(p);

  // The same datagram into a 512-byte buffer: consumed and counted.
  PacketPoolConfig pc;
  pc.name = "small";
  pc.count = 1;
  pc.buf_size = 512;
  auto small = std::move(PacketPool::Create(pc)).value();
  ASSERT_EQ(send(), 1000);
  Packet* q = small->Alloc();
  const auto deadline = Clock::now() + std::chrono::seconds(3);
  while (dev->counters().drops[kTapRxTruncated].load() == 0 && Clock::now() < deadline) {
    if (dev->Read(q) == 0) {
      pollfd pfd{dev->fd(), POLLIN, 0};
      poll(&pfd, 1, 20);
    }
  }
  EXPECT_EQ(dev->counters().drops[kTapRxTruncated].load(), 1u);
  PacketFree(q);
  close(udp);
}

// USO: a UDP_SEGMENT send in the container reaches us as one super-frame
// (UDP_L4, gso_size = the segment size) whose payload is the send's bytes.
TEST_F(TapTest, UdpSegmentSendArrivesAsOneSuperFrame) {
  const std::string ns = NewNetns();
  auto dev = NewTap("mftuso", ns, "198.19.2.1/24");
  ASSERT_NE(dev, nullptr);
  if ((dev->offloads() & kTunFUso4) == 0)
    GTEST_SKIP() << "this kernel's TAP refuses USO (" << dev->offloads_string() << ")";
  const int udp = SocketIn(ns, SOCK_DGRAM, 0);
  ASSERT_GE(udp, 0);
  const int on = 1;
  ASSERT_EQ(setsockopt(udp, SOL_SOCKET, SO_BROADCAST, &on, sizeof(on)), 0);
  constexpr int kUdpSegment = 103;  // UDP_SEGMENT (Linux 4.18)
  const int seg = 1200;
  ASSERT_EQ(setsockopt(udp, IPPROTO_UDP, kUdpSegment, &seg, sizeof(seg)), 0) << ErrnoText(errno);
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_port = htons(9);
  dst.sin_addr.s_addr = Ip4("198.19.2.255");  // broadcast: no ARP needed
  const std::vector<uint8_t> payload = testing::StreamPayload(10 * 1200 + 345);
  ASSERT_EQ(sendto(udp, payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&dst),
                   sizeof(dst)),
            static_cast<ssize_t>(payload.size()))
      << ErrnoText(errno);

  Packet* p = rx_pool_->Alloc();
  bool found = false;
  const auto deadline = Clock::now() + std::chrono::seconds(3);
  while (!found && Clock::now() < deadline) {
    p->data = p->buf + kHeadroom;
    p->len = 0;
    p->flags = 0;
    p->gso_size = 0;
    const int r = dev->Read(p);
    ASSERT_GE(r, 0);
    if (r == 0) {
      pollfd pfd{dev->fd(), POLLIN, 0};
      poll(&pfd, 1, 20);
      continue;
    }
    found = p->l4_proto == 17 && p->len > 14 + 20 + 8 + 1200;
  }
  ASSERT_TRUE(found) << "no UDP super-frame read";
  EXPECT_EQ(p->gso_size, 1200);
  EXPECT_EQ(p->gso_segs, 11);
  EXPECT_EQ(p->len, 14u + 20 + 8 + payload.size());
  EXPECT_EQ(std::memcmp(p->data + 42, payload.data(), payload.size()), 0);
  PacketFree(p);
  close(udp);
}

// A bulk TCP stream from namespace A to namespace B, every frame relayed by
// the test: RxBurst from one TAP, TxBurst to the other (broadcasts flooded).
// With offloads the sender's super-frames cross as super-frames.
class TapRelayTest : public TapTest {
 public:
  void Relay(bool offload, uint32_t total) {
    const std::string ns_a = NewNetns();
    const std::string ns_b = NewNetns();
    ASSERT_TRUE(Set().Add(1, 5, NewTap("mfta", ns_a, "198.19.1.1/24", offload)).ok());
    ASSERT_TRUE(Set().Add(2, 5, NewTap("mftb", ns_b, "198.19.1.2/24", offload)).ok());

    const int lfd = SocketIn(ns_b, SOCK_STREAM, 0);
    const int cfd = SocketIn(ns_a, SOCK_STREAM, 0);
    ASSERT_GE(lfd, 0);
    ASSERT_GE(cfd, 0);
    // Every blocking call of the two threads gives up after a while.
    const timeval tmo{5, 0};
    for (int fd : {lfd, cfd}) {
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo));
      setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tmo, sizeof(tmo));
    }
    const int on = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(5001);
    addr.sin_addr.s_addr = Ip4("198.19.1.2");
    ASSERT_EQ(bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0)
        << ErrnoText(errno);
    ASSERT_EQ(listen(lfd, 1), 0);

    // Byte i of the stream: a cheap mix of i, so shifted or repeated data shows.
    auto byte_at = [](uint64_t i) { return static_cast<uint8_t>((i * 2654435761u) >> 13); };
    std::atomic<bool> sent_ok{false}, done{false};
    std::atomic<uint64_t> received{0}, first_bad{~uint64_t{0}};
    std::thread sender([&] {
      if (connect(cfd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return;
      std::vector<uint8_t> buf(64 * 1024);
      uint64_t off = 0;
      while (off < total) {
        const size_t n = std::min<uint64_t>(buf.size(), total - off);
        for (size_t i = 0; i < n; ++i) buf[i] = byte_at(off + i);
        size_t put = 0;
        while (put < n) {
          const ssize_t w = send(cfd, buf.data() + put, n - put, MSG_NOSIGNAL);
          if (w <= 0) return;
          put += static_cast<size_t>(w);
        }
        off += n;
      }
      shutdown(cfd, SHUT_WR);
      sent_ok = true;
    });
    std::thread receiver([&] {
      const int s = accept(lfd, nullptr, nullptr);
      if (s >= 0) {
        setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo));
        std::vector<uint8_t> buf(64 * 1024);
        uint64_t off = 0;
        for (;;) {
          const ssize_t r = recv(s, buf.data(), buf.size(), 0);
          if (r <= 0) break;
          for (ssize_t i = 0; i < r; ++i) {
            if (buf[static_cast<size_t>(i)] != byte_at(off + static_cast<uint64_t>(i)) &&
                first_bad.load() == ~uint64_t{0})
              first_bad = off + static_cast<uint64_t>(i);
          }
          off += static_cast<uint64_t>(r);
          received = off;
        }
        close(s);
      }
      done = true;
    });

    uint64_t frames = 0, super_frames = 0, max_frame = 0;
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    Packet* pkts[32];
    while (!done && Clock::now() < deadline) {
      const uint32_t got = Set().RxBurst(pkts, 32);
      if (got == 0) {
        Set().Wait(10);
        continue;
      }
      for (uint32_t i = 0; i < got; ++i) {
        Packet* p = pkts[i];
        ++frames;
        if (p->gso_size > 0) ++super_frames;
        max_frame = std::max<uint64_t>(max_frame, p->len);
        p->out_port = (p->data[0] & 1) != 0 ? kPortFlood : (p->in_port == 1 ? 2 : 1);
      }
      Set().TxBurst(pkts, got);
    }
    sender.join();
    receiver.join();
    close(cfd);
    close(lfd);

    EXPECT_TRUE(sent_ok);
    EXPECT_EQ(received.load(), total);
    EXPECT_EQ(first_bad.load(), ~uint64_t{0}) << "first wrong byte at " << first_bad.load();
    if (offload) {
      EXPECT_GT(super_frames, 0u);
      EXPECT_GT(max_frame, 1500u);
    } else {
      EXPECT_EQ(super_frames, 0u);
      EXPECT_LE(max_frame, 1450u + 14u);
    }
    for (const auto& info : Set().Snapshot()) {
      for (const auto& [name, v] : info.drops) EXPECT_EQ(v, 0u) << info.name << " " << name;
    }
    EXPECT_EQ(SetDrop(Set(), "no_port"), 0u);
    EXPECT_EQ(rx_pool_->available() + Set().stashed(), 256u);
    std::printf(
        "[ relay    ] offload=%d: %llu bytes in %llu frames, %llu super-frames, largest %llu\n",
        offload, static_cast<unsigned long long>(received.load()),
        static_cast<unsigned long long>(frames), static_cast<unsigned long long>(super_frames),
        static_cast<unsigned long long>(max_frame));
  }
};

TEST_F(TapRelayTest, TcpStreamWithOffloadsCrossesAsSuperFrames) { Relay(true, 24u << 20); }
TEST_F(TapRelayTest, TcpStreamWithoutOffloads) { Relay(false, 4u << 20); }

// Ports come and go while another thread keeps bursting through the set:
// nothing crashes (run it under ASan/TSan), every packet is freed.
TEST_F(TapTest, AddAndRemoveWhileBursting) {
  const std::string ns = NewNetns();
  ASSERT_TRUE(Set().Add(1, 9, NewTap("mftfix", ns, "198.19.3.1/24")).ok());
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> bursts{0};
  Frame bcast(60, 0);
  std::memset(bcast.data(), 0xff, 6);
  bcast[12] = 0x08;
  bcast[13] = 0x06;
  // Unicast to ports that come and go, flooding over them, and the fixed one.
  auto send_some = [&] {
    Packet* out[4];
    uint32_t n = 0;
    for (uint16_t port : {kPortFlood, uint16_t{2}, uint16_t{3}, uint16_t{1}}) {
      if (Packet* p = tx_pool_->Alloc()) {
        std::memcpy(p->data, bcast.data(), bcast.size());
        p->len = static_cast<uint32_t>(bcast.size());
        p->out_port = port;
        p->vni = 9;
        out[n++] = p;
      }
    }
    Set().TxBurst(out, n);
  };
  // The RX role (RxBurst, Wait) and a second TxBurst caller, as engines do.
  std::thread rx([&] {
    Packet* pkts[16];
    while (!stop) {
      const uint32_t got = Set().RxBurst(pkts, 16);
      Set().TxBurst(pkts, got);  // out_port kPortNone: counted as no_port
      send_some();
      Set().Wait(1);
      ++bursts;
    }
  });
  std::thread tx([&] {
    while (!stop) {
      send_some();
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  });
  for (int round = 0; round < 8; ++round) {
    EXPECT_TRUE(Set().Add(2, 9, NewTap("mftx2", ns, "")).ok());
    EXPECT_TRUE(Set().Add(3, 9, NewTap("mftx3", ns, "")).ok());
    std::this_thread::sleep_for(milliseconds(5));
    EXPECT_GE(Set().Snapshot().size(), 1u);
    EXPECT_TRUE(Set().Remove(2).ok());
    Set().Interrupt();
    EXPECT_TRUE(Set().Remove(3).ok());
  }
  stop = true;
  Set().Interrupt();
  rx.join();
  tx.join();
  EXPECT_GT(bursts.load(), 0u);
  EXPECT_EQ(Set().size(), 1u);
  EXPECT_GT(Set().Snapshot()[0].tx_frames, 0u);
  EXPECT_EQ(tx_pool_->available(), 64u);
  EXPECT_EQ(rx_pool_->available() + Set().stashed(), 256u);  // the stash is not lost
}

// Write gathers the linear part and the fragments into one frame, and sends
// a TSO train as its segments. UDP datagrams without kPktFlagL4CsumOk: the
// namespace's stack verifies their checksums, so arrival proves the bytes.
TEST_F(TapTest, WriteGathersFragmentsAndTrainSegments) {
  const std::string ns = NewNetns();
  auto dev = NewTap("mftw", ns, "198.19.4.1/24");
  ASSERT_NE(dev, nullptr);
  const wire::MacAddr tap_mac = dev->mac();
  ASSERT_TRUE(Set().Add(4, 11, std::move(dev)).ok());
  const int udp = SocketIn(ns, SOCK_DGRAM, 0);
  ASSERT_GE(udp, 0);
  const timeval tmo{2, 0};
  setsockopt(udp, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(7000);
  addr.sin_addr.s_addr = Ip4("198.19.4.1");
  ASSERT_EQ(bind(udp, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);

  wire::InnerSpec spec = testing::Udp4();
  spec.dst_mac = tap_mac;
  spec.src_ip = wire::IpAddr::V4(0xC6130402);  // 198.19.4.2
  spec.dst_ip = wire::IpAddr::V4(0xC6130401);  // 198.19.4.1
  spec.sport = 7001;
  spec.dport = 7000;
  // Three datagrams, each split as linear part + two fragments that point
  // into buffers the test owns.
  std::vector<Frame> frames;
  for (uint32_t i = 0; i < 3; ++i)
    frames.push_back(testing::BuildInner(spec, testing::StreamPayload(600, i * 1000), 2048));
  auto split = [&](const Frame& f) {
    Packet* p = tx_pool_->Alloc();
    std::memcpy(p->data, f.data(), 100);
    p->len = 100;
    p->AppendFrag(f.data() + 100, 250);
    p->AppendFrag(f.data() + 350, static_cast<uint32_t>(f.size()) - 350);
    return p;
  };
  Packet* single = split(frames[0]);
  single->out_port = 4;
  single->vni = 11;
  Packet* carrier = tx_pool_->Alloc();  // its own bytes are never sent
  carrier->out_port = 4;
  carrier->vni = 11;
  carrier->segs = split(frames[1]);
  carrier->segs->seg_next = split(frames[2]);
  carrier->nsegs = 2;
  Packet* burst[2] = {single, carrier};
  Set().TxBurst(burst, 2);

  for (uint32_t i = 0; i < 3; ++i) {
    uint8_t buf[2048];
    const ssize_t n = recv(udp, buf, sizeof(buf), 0);
    ASSERT_EQ(n, 600) << "datagram " << i << ": " << ErrnoText(errno);
    EXPECT_EQ(std::memcmp(buf, testing::StreamPayload(600, i * 1000).data(), 600), 0) << i;
  }
  close(udp);
  const auto info = Set().Snapshot();
  EXPECT_EQ(info[0].tx_frames, 3u);
  EXPECT_EQ(info[0].tx_bytes, 3 * frames[0].size());
  EXPECT_EQ(tx_pool_->available(), 64u);
}

// Interrupt wakes a Wait that has nothing else to wake it. Only the
// interrupted wait has an upper bound, 30 s against its 60 s timeout, so a
// slow machine cannot fail it; the blocking one has a lower bound.
TEST_F(TapTest, InterruptWakesWait) {
  Set();
  std::thread t([&] {
    std::this_thread::sleep_for(milliseconds(50));
    Set().Interrupt();
  });
  const auto start = Clock::now();
  EXPECT_TRUE(Set().Wait(60000));
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(30));
  t.join();
  // Drained: the next Wait times out.
  const auto again = Clock::now();
  EXPECT_TRUE(Set().Wait(200));
  EXPECT_GE(Clock::now() - again, milliseconds(190));
}

// The TAP's txqueuelen as configured (mflowd sets it deliberately) and as
// the kernel's default when not: `ip link` shows what the device got.
TEST_F(TapTest, TxQueueLenIsApplied) {
  const std::string ns = NewNetns();
  const std::string n = NsName(ns);
  TapConfig c;
  c.ifname = "mftq";
  c.netns = ns;
  c.addresses = {"198.19.3.1/24"};
  c.tx_queue_len = 64;
  auto dev = TapDevice::Create(c);
  ASSERT_TRUE(dev.ok()) << dev.status().message();
  EXPECT_EQ((*dev)->tx_queue_len(), 64u);
  const std::string link = ShellCapture("ip -n " + n + " -o link show dev mftq");
  EXPECT_NE(link.find(" qlen 64"), std::string::npos) << link;
  EXPECT_NE(link.find(",UP"), std::string::npos) << link;

  c.ifname = "mftq0";
  c.addresses = {"198.19.4.1/24"};
  c.tx_queue_len = 0;  // the kernel's
  auto plain = TapDevice::Create(c);
  ASSERT_TRUE(plain.ok()) << plain.status().message();
  EXPECT_EQ((*plain)->tx_queue_len(), 0u);
  EXPECT_NE(ShellCapture("ip -n " + n + " -o link show dev mftq0").find(" qlen "),
            std::string::npos);
}

// A TAP nobody reads, and a sender that does not stop: the device holds at
// most its txqueuelen frames for the reader, and every other datagram is
// either dropped by the device (tx_dropped: tun without flow control, Linux
// 3.8 up to at least 6.18) or refused to the sender (EAGAIN/ENOBUFS: a
// kernel whose tun stops its queue). Which of the two happened is printed,
// not asserted, so the test holds on both kinds of kernel; the accounting is.
TEST_F(TapTest, UnreadTapHoldsItsQueueAndAccountsForTheRest) {
  const std::string ns = NewNetns();
  const std::string n = NsName(ns);
  constexpr uint32_t kQueue = 64;
  constexpr int kSends = 400;
  TapConfig c;
  c.ifname = "mftfull";
  c.netns = ns;
  c.addresses = {"198.19.5.1/24"};
  c.offload = false;
  c.tx_queue_len = kQueue;
  auto created = TapDevice::Create(c);
  ASSERT_TRUE(created.ok()) << created.status().message();
  const std::unique_ptr<TapDevice> dev = std::move(created).value();
  // A number after "key": in JSON text, from position from; ~0 if absent.
  auto json_num = [](const std::string& j, const std::string& key, size_t from = 0) {
    const size_t k = j.find("\"" + key + "\":", from);
    return k == std::string::npos ? ~uint64_t{0} : std::stoull(j.substr(k + key.size() + 3));
  };
  auto tx_dropped = [&] {
    const std::string j = ShellCapture("ip -n " + n + " -s -j link show dev mftfull");
    const size_t tx = j.find("\"tx\":");
    return tx == std::string::npos ? ~uint64_t{0} : json_num(j, "dropped", tx);
  };
  // What the qdisc dropped and still holds (tc -s -j: "drops", "qlen").
  auto qdisc = [&](const std::string& key) {
    return json_num(ShellCapture("tc -n " + n + " -s -j qdisc show dev mftfull"), key);
  };
  const uint64_t dropped_before = tx_dropped();
  const uint64_t qdrops_before = qdisc("drops");
  ASSERT_NE(dropped_before, ~uint64_t{0});
  ASSERT_NE(qdrops_before, ~uint64_t{0});

  const int udp = SocketIn(ns, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  ASSERT_GE(udp, 0);
  const int on = 1;
  ASSERT_EQ(setsockopt(udp, SOL_SOCKET, SO_BROADCAST, &on, sizeof(on)), 0);
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_port = htons(9);
  dst.sin_addr.s_addr = Ip4("198.19.5.255");  // broadcast: no ARP
  const std::vector<uint8_t> payload = testing::StreamPayload(64);
  int sent = 0, refused = 0;
  for (int i = 0; i < kSends; ++i) {
    if (sendto(udp, payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&dst),
               sizeof(dst)) == static_cast<ssize_t>(payload.size()))
      ++sent;
    else if (errno == EAGAIN || errno == ENOBUFS)
      ++refused;
  }
  EXPECT_EQ(sent + refused, kSends);
  const uint64_t dropped = tx_dropped() - dropped_before;
  const uint64_t qdisc_dropped = qdisc("drops") - qdrops_before;
  const uint64_t qdisc_held = qdisc("qlen");

  // What the reader finds: the ring's worth of our datagrams.
  Packet* p = rx_pool_->Alloc();
  uint32_t held = 0;
  for (;;) {
    p->data = p->buf + kHeadroom;
    p->len = 0;
    const int r = dev->Read(p);
    if (r <= 0) break;
    if (p->len == 14 + 20 + 8 + 64) ++held;
  }
  PacketFree(p);
  close(udp);
  std::printf("      tun pushed back: %s (sent %d, refused %d; TAP held %u, tx_dropped %llu; "
              "qdisc held %llu, dropped %llu)\n",
              refused > 0 || qdisc_held > 0 ? "yes" : "no", sent, refused, held,
              static_cast<unsigned long long>(dropped),
              static_cast<unsigned long long>(qdisc_held),
              static_cast<unsigned long long>(qdisc_dropped));
  EXPECT_EQ(held, kQueue);
  // Every datagram the socket took is somewhere: in the TAP, dropped by it,
  // or in or dropped by the qdisc (a kernel whose tun stops its queue).
  EXPECT_EQ(held + dropped + qdisc_held + qdisc_dropped, static_cast<uint64_t>(sent));
}

}  // namespace
}  // namespace mflow
