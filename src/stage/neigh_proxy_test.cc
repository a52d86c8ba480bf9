// NeighProxy and RemoteSubnets: ARP and ND requests for remote containers
// answered in place with the 0a:58 MAC (checked field by field and by
// checksum), everything else left as it was.
#include "stage/neigh_proxy.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "packet/pool.h"
#include "wire/checksum.h"

namespace mflow {
namespace {

const wire::IpAddr kVtepB = wire::IpAddr::V4(0xC6120002);
constexpr uint32_t kRemoteNet = 0xC6130700;  // 198.19.7.0/24
const uint8_t kReqMac[6] = {0x0a, 0x58, 0xc6, 0x13, 0x01, 0x02};
int p_flags(const Packet* p) { return p->flags; }

TEST(RemoteSubnetsTest, LookupBySubnetAndVni) {
  RemoteSubnets t;
  wire::IpAddr v;
  EXPECT_FALSE(t.Lookup(42, kRemoteNet + 1, &v));
  t.Set(42, {{0xC6130900, 24, wire::IpAddr::V4(9)}, {kRemoteNet, 24, kVtepB}, {0xC6130000, 25, wire::IpAddr::V4(1)}});
  EXPECT_EQ(t.size(), 3u);
  ASSERT_TRUE(t.Lookup(42, kRemoteNet + 200, &v));
  EXPECT_EQ(v, kVtepB);
  ASSERT_TRUE(t.Lookup(42, 0xC6130005, &v));
  EXPECT_EQ(v, wire::IpAddr::V4(1));
  EXPECT_FALSE(t.Lookup(42, 0xC6130085, &v));  // 198.19.0.133: past the /25
  EXPECT_FALSE(t.Lookup(42, 0xC6130800, &v));
  EXPECT_FALSE(t.Lookup(42, 0x01010101, &v));
  EXPECT_FALSE(t.Lookup(43, kRemoteNet + 1, &v));
  uint32_t a = 0;
  ASSERT_TRUE(RemoteSubnets::Ipv4OfMac(RemoteSubnets::MacFor(0xC6130705), &a));
  EXPECT_EQ(a, 0xC6130705u);
  EXPECT_FALSE(RemoteSubnets::Ipv4OfMac(wire::MacAddr{{0x02, 0x58, 1, 2, 3, 4}}, &a));
}

class NeighProxyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    PacketPoolConfig pc;
    pc.count = 16;
    pool_ = std::move(PacketPool::Create(pc)).value();
    subnets_.Set(42, {{kRemoteNet, 24, kVtepB}}, {0xC6130000, 16, {}});
    proxy_ = std::move(NeighProxy::Create({&subnets_})).value();
    ctx_.pool = pool_.get();
    ctx_.counters = &counters_;
  }
  void TearDown() override {
    for (Packet* p : out_) PacketFree(p);
    EXPECT_EQ(pool_->available(), 16u);
  }

  Packet* Frame(const std::vector<uint8_t>& bytes) {
    Packet* p = pool_->Alloc();
    std::memcpy(p->data, bytes.data(), bytes.size());
    p->len = static_cast<uint32_t>(bytes.size());
    p->vni = 42;
    p->in_port = 3;
    p->out_port = kPortFlood;  // as fdb_forward_tx leaves a broadcast
    return p;
  }
  // An ARP request from 198.19.1.2 (kReqMac) for target.
  Packet* Arp(uint32_t target, uint32_t sender = 0xC6130102) {
    std::vector<uint8_t> f = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    f.insert(f.end(), kReqMac, kReqMac + 6);
    f.insert(f.end(), {0x08, 0x06, 0, 1, 0x08, 0x00, 6, 4, 0, 1});
    f.insert(f.end(), kReqMac, kReqMac + 6);
    for (int s = 24; s >= 0; s -= 8) f.push_back(static_cast<uint8_t>(sender >> s));
    f.insert(f.end(), 6, 0);
    for (int s = 24; s >= 0; s -= 8) f.push_back(static_cast<uint8_t>(target >> s));
    f.resize(60, 0);  // Ethernet padding
    return Frame(f);
  }
  // A neighbour solicitation from src for target (fd00::<IPv4> style).
  Packet* Ns(const uint8_t (&src)[16], const uint8_t (&target)[16]) {
    std::vector<uint8_t> f = {0x33, 0x33, 0xff, target[13], target[14], target[15]};
    f.insert(f.end(), kReqMac, kReqMac + 6);
    f.insert(f.end(), {0x86, 0xdd, 0x60, 0, 0, 0, 0, 32, 58, 255});
    f.insert(f.end(), src, src + 16);
    const uint8_t mc[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, target[13], target[14], target[15]};
    f.insert(f.end(), mc, mc + 16);
    f.insert(f.end(), {135, 0, 0, 0, 0, 0, 0, 0});
    f.insert(f.end(), target, target + 16);
    f.insert(f.end(), {1, 1});
    f.insert(f.end(), kReqMac, kReqMac + 6);
    return Frame(f);  // checksum left zero: the proxy does not verify it
  }
  void Run(Packet* p) {
    Batch b;
    b.Push(p);
    proxy_->Process(b, ctx_);
    ASSERT_EQ(b.n, 1u);  // never a drop
    out_.push_back(p);
  }

  std::unique_ptr<PacketPool> pool_;
  RemoteSubnets subnets_;
  std::unique_ptr<NeighProxy> proxy_;
  StageCounters counters_;
  StageContext ctx_;
  std::vector<Packet*> out_;
};

TEST_F(NeighProxyTest, AnswersArpForRemoteContainer) {
  Packet* p = Arp(kRemoteNet + 5);
  Run(p);
  const uint8_t mac[6] = {0x0a, 0x58, 0xc6, 0x13, 0x07, 0x05};
  const uint8_t* d = p->data;
  EXPECT_EQ(std::memcmp(d, kReqMac, 6), 0);     // to the requester
  EXPECT_EQ(std::memcmp(d + 6, mac, 6), 0);     // from the target's MAC
  EXPECT_EQ(d[21], 2);                          // reply
  EXPECT_EQ(std::memcmp(d + 22, mac, 6), 0);    // sha
  const uint8_t spa[4] = {0xc6, 0x13, 0x07, 0x05}, tpa[4] = {0xc6, 0x13, 0x01, 0x02};
  EXPECT_EQ(std::memcmp(d + 28, spa, 4), 0);
  EXPECT_EQ(std::memcmp(d + 32, kReqMac, 6), 0);  // tha
  EXPECT_EQ(std::memcmp(d + 38, tpa, 4), 0);
  EXPECT_EQ(p->out_port, 3u);  // back out of the port it came in by
  EXPECT_EQ(counters_.events[NeighProxy::kArpAnswered].load(), 1u);
}

TEST_F(NeighProxyTest, LeavesOtherArpAlone) {
  Packet* local = Arp(0xC6130103);               // our own subnet: local flood only
  Run(local);
  EXPECT_EQ(p_flags(local) & kPktFlagLocalFlood, kPktFlagLocalFlood);
  EXPECT_EQ(local->out_port, kPortFlood);
  EXPECT_EQ(counters_.events[NeighProxy::kKeptLocal].load(), 1u);
  Packet* outside = Arp(0x0a000001);              // not the overlay: floods as before
  Packet* gratuitous = Arp(kRemoteNet + 5, kRemoteNet + 5);
  Packet* other_vni = Arp(kRemoteNet + 5);
  other_vni->vni = 43;
  Packet* from_underlay = Arp(kRemoteNet + 5);
  from_underlay->in_port = kPortNone;
  for (Packet* p : {outside, gratuitous, other_vni, from_underlay}) {
    std::vector<uint8_t> before(p->data, p->data + p->len);
    Run(p);
    EXPECT_EQ(std::vector<uint8_t>(p->data, p->data + p->len), before);
    EXPECT_EQ(p->out_port, kPortFlood);
    EXPECT_EQ(p_flags(p) & kPktFlagLocalFlood, 0);
  }
  EXPECT_EQ(counters_.events[NeighProxy::kArpAnswered].load(), 0u);
}

TEST_F(NeighProxyTest, AnswersNeighbourSolicitation) {
  const uint8_t src[16] = {0xfd, 0, 1, 0x98, 0, 0x19, 0, 0, 0, 0, 0, 0, 0xc6, 0x13, 0x01, 0x02};
  const uint8_t target[16] = {0xfd, 0, 1, 0x98, 0, 0x19, 0, 0, 0, 0, 0, 0, 0xc6, 0x13, 0x07, 0x05};
  Packet* p = Ns(src, target);
  Run(p);
  ASSERT_EQ(p->len, 86u);
  const uint8_t* d = p->data;
  const uint8_t mac[6] = {0x0a, 0x58, 0xc6, 0x13, 0x07, 0x05};
  EXPECT_EQ(std::memcmp(d, kReqMac, 6), 0);
  EXPECT_EQ(std::memcmp(d + 6, mac, 6), 0);
  EXPECT_EQ(d[20], 58);
  EXPECT_EQ(d[21], 255);
  EXPECT_EQ(std::memcmp(d + 22, target, 16), 0);  // from the target
  EXPECT_EQ(std::memcmp(d + 38, src, 16), 0);     // to the solicitor
  EXPECT_EQ(d[54], 136);
  EXPECT_EQ(d[58], 0x60);                         // S, O
  EXPECT_EQ(std::memcmp(d + 62, target, 16), 0);
  EXPECT_EQ(d[78], 2);
  EXPECT_EQ(d[79], 1);
  EXPECT_EQ(std::memcmp(d + 80, mac, 6), 0);
  // The checksum over pseudo-header and message verifies.
  wire::Ipv6Header h;
  std::memcpy(&h, d + 14, sizeof(h));
  EXPECT_EQ(wire::ChecksumFold(wire::ChecksumPartial(d + 54, 32, wire::PseudoHeaderSumV6(&h, 58, 32))),
            0xffff);
  EXPECT_EQ(p->out_port, 3u);
  EXPECT_EQ(counters_.events[NeighProxy::kNdAnswered].load(), 1u);
}

TEST_F(NeighProxyTest, NeverAnswersDadOrUnknownTargets) {
  const uint8_t unspecified[16] = {};
  const uint8_t src[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xc6, 0x13, 0x01, 0x02};
  const uint8_t remote[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xc6, 0x13, 0x07, 0x05};
  const uint8_t local[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xc6, 0x13, 0x01, 0x09};
  for (Packet* p : {Ns(unspecified, remote), Ns(src, local)}) {
    std::vector<uint8_t> before(p->data, p->data + p->len);
    Run(p);
    EXPECT_EQ(std::vector<uint8_t>(p->data, p->data + p->len), before);
    EXPECT_EQ(p->out_port, kPortFlood);
  }
  EXPECT_EQ(counters_.events[NeighProxy::kNdAnswered].load(), 0u);
}

}  // namespace
}  // namespace mflow
