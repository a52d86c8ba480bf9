// VxlanEncap: the output parses as VXLAN with the right outer fields and the
// inner frame untouched; IPv4 output equals the frame builder's byte for
// byte; trains are encapsulated segment by segment; every drop edge.
#include "stage/vxlan_encap.h"

#include <gtest/gtest.h>

#include <cstring>
#include <optional>
#include <set>
#include <vector>

#include "packet/pool.h"
#include "stage/gso_segment.h"
#include "wire/checksum.h"
#include "wire/frame_builder.h"
#include "wire/test_frames.h"
#include "wire/ipv4.h"
#include "wire/ipv6.h"
#include "wire/parse.h"
#include "wire/udp.h"
#include "wire/vxlan.h"

namespace mflow {
namespace {

using Frame = std::vector<uint8_t>;

const wire::IpAddr kLocal4 = wire::IpAddr::V4(0xC6120001);   // 198.18.0.1
const wire::IpAddr kRemote4 = wire::IpAddr::V4(0xC6120002);  // 198.18.0.2
const wire::MacAddr kSrcMac{{0x02, 0xaa, 0, 0, 0, 0x01}};
const wire::MacAddr kDstMac{{0x02, 0xaa, 0, 0, 0, 0x02}};

using testing::V6;

Frame InnerFrame(uint32_t payload, uint16_t sport = 40000, std::optional<uint16_t> vlan = {}) {
  wire::InnerSpec spec;
  spec.sport = sport;
  spec.vlan = vlan;
  Frame pl(payload);
  for (uint32_t i = 0; i < payload; ++i) pl[i] = static_cast<uint8_t>(i * 7);
  Frame f = testing::BuildInner(spec, pl, payload + 100);
  EXPECT_FALSE(f.empty());
  return f;
}

VxlanEncapConfig Config4() {
  VxlanEncapConfig c;
  c.local_ip = kLocal4;
  c.src_mac = kSrcMac;
  c.dst_mac = kDstMac;
  c.vni = 42;
  return c;
}

VxlanEncapConfig Config6() {
  VxlanEncapConfig c = Config4();
  c.local_ip = V6(1);
  return c;
}

uint16_t Be16At(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }

// The pieces of one parsed VXLAN frame.
struct Outer {
  wire::FrameLayout l;
  wire::UdpHeader udp;
  wire::VxlanHeader vx;
  Frame inner;
};

Outer ParseOuter(const Frame& f) {
  Outer o;
  EXPECT_EQ(wire::ParseFrame(f.data(), static_cast<uint32_t>(f.size()), &o.l),
            wire::ParseResult::kOk);
  EXPECT_EQ(o.l.l4_proto, wire::kIpProtoUdp);
  EXPECT_EQ(o.l.l3_end, f.size());
  std::memcpy(&o.udp, f.data() + o.l.l4_off, sizeof(o.udp));
  std::memcpy(&o.vx, f.data() + o.l.l4_off + 8, sizeof(o.vx));
  o.inner.assign(f.begin() + o.l.l4_off + 16, f.begin() + o.l.l3_end);
  return o;
}

bool UdpChecksumOk(const Frame& f, const wire::FrameLayout& l) {
  const uint32_t udp_len = l.l3_end - l.l4_off;
  uint32_t pseudo;
  if (l.ipv6) {
    wire::Ipv6Header ip;
    std::memcpy(&ip, f.data() + l.l3_off, sizeof(ip));
    pseudo = wire::PseudoHeaderSumV6(&ip, wire::kIpProtoUdp, udp_len);
  } else {
    wire::Ipv4Header ip;
    std::memcpy(&ip, f.data() + l.l3_off, sizeof(ip));
    pseudo = wire::PseudoHeaderSumV4(&ip, wire::kIpProtoUdp, udp_len);
  }
  return wire::ChecksumFold(wire::ChecksumPartial(f.data() + l.l4_off, udp_len, pseudo)) == 0xffff;
}

class VxlanEncapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pool_ = PacketPool::Create({"p", 256, 2048}).value();
    Make(Config4());
  }
  void Make(const VxlanEncapConfig& c) { stage_ = VxlanEncap::Create(c).value(); }

  Packet* Pkt(const Frame& f, const wire::IpAddr& remote = kRemote4) {
    Packet* p = pool_->Alloc();
    EXPECT_NE(p, nullptr);
    std::memcpy(p->data, f.data(), f.size());
    p->len = static_cast<uint32_t>(f.size());
    p->remote = remote;
    return p;
  }
  void Run(Batch& b) {
    StageContext ctx;
    ctx.counters = &counters_;
    ctx.pool = pool_.get();
    stage_->Process(b, ctx);
  }
  // Runs one packet; returns its output frame, or an empty frame if dropped.
  Frame RunOne(Packet* p) {
    Batch b;
    b.Push(p);
    Run(b);
    if (b.n == 0) return {};
    Frame out(p->frame_len());
    p->Flatten(out.data(), static_cast<uint32_t>(out.size()));
    PacketFree(p);
    return out;
  }
  uint16_t SourcePort(const Frame& inner) {
    const Frame out = RunOne(Pkt(inner));
    return Be16At(out.data() + 14 + 20);
  }

  std::unique_ptr<PacketPool> pool_;
  std::unique_ptr<VxlanEncap> stage_;
  StageCounters counters_;
};

TEST_F(VxlanEncapTest, Ipv4OutputParsesAndCarriesTheInnerFrame) {
  const Frame inner = InnerFrame(1000);
  const Frame out = RunOne(Pkt(inner));
  ASSERT_EQ(out.size(), inner.size() + wire::kVxlanOverheadV4);
  const Outer o = ParseOuter(out);
  EXPECT_FALSE(o.l.ipv6);
  wire::EthernetHeader eth;
  std::memcpy(&eth, out.data(), sizeof(eth));
  EXPECT_EQ(eth.dst, kDstMac);
  EXPECT_EQ(eth.src, kSrcMac);
  wire::Ipv4Header ip;
  std::memcpy(&ip, out.data() + 14, sizeof(ip));
  EXPECT_TRUE(wire::VerifyIpv4Checksum(reinterpret_cast<const wire::Ipv4Header*>(out.data() + 14)));
  EXPECT_EQ(ip.total_length.host(), 20 + 8 + 8 + inner.size());
  EXPECT_EQ(ip.ttl, 64);
  EXPECT_EQ(ip.id.host(), 0);
  EXPECT_EQ(ip.frag_off.host(), wire::kIpv4DontFragment);
  EXPECT_EQ(ip.tos, 0);
  EXPECT_EQ(ip.src.host(), kLocal4.v4_host());
  EXPECT_EQ(ip.dst.host(), kRemote4.v4_host());
  EXPECT_EQ(o.udp.dst_port.host(), wire::kVxlanPort);
  EXPECT_EQ(o.udp.length.host(), 8 + 8 + inner.size());
  EXPECT_EQ(o.udp.checksum.host(), 0);  // IPv4 default: no UDP checksum
  EXPECT_GE(o.udp.src_port.host(), 49152);
  EXPECT_EQ(o.vx.flags, wire::kVxlanFlagI);
  EXPECT_TRUE(o.vx.ReservedBitsClear());
  EXPECT_EQ(o.vx.vni(), 42u);
  EXPECT_TRUE(o.inner == inner) << "inner frame changed";
  EXPECT_EQ(counters_.in, 1u);
  EXPECT_EQ(counters_.out, 1u);
}

// Differential: the stage and the test frame builder, written separately,
// produce the same bytes for the same outer fields.
TEST_F(VxlanEncapTest, Ipv4OutputEqualsFrameBuilder) {
  for (int sport : {1000, 2000, 3000}) {
    const Frame inner = InnerFrame(700, static_cast<uint16_t>(sport));
    const Frame out = RunOne(Pkt(inner));
    wire::OuterSpec spec;
    spec.src_mac = kSrcMac;
    spec.dst_mac = kDstMac;
    spec.src_ip = kLocal4;
    spec.dst_ip = kRemote4;
    spec.sport = Be16At(out.data() + 34);
    spec.vni = 42;
    Frame want(inner.size() + 100);
    want.resize(wire::BuildVxlanFrame(spec, inner, want.data(), static_cast<uint32_t>(want.size())));
    EXPECT_TRUE(out == want) << "sport " << sport;
  }
}

// Decapsulating the output (parse, strip to the VXLAN payload) gives back the
// input frame, and classifying through the outer headers finds the same flow
// as classifying the inner frame directly.
TEST_F(VxlanEncapTest, DecapOfOutputEqualsInput) {
  for (bool v6 : {false, true}) {
    Make(v6 ? Config6() : Config4());
    const Frame inner = InnerFrame(333, 41000, uint16_t{7});
    Packet* p = Pkt(inner, v6 ? V6(2) : kRemote4);
    p->vni = 99;
    const Frame out = RunOne(p);
    const Outer o = ParseOuter(out);
    EXPECT_EQ(o.vx.vni(), 99u);
    EXPECT_TRUE(o.inner == inner);
    wire::FlowKey through, direct;
    ASSERT_TRUE(wire::ClassifyVxlan(out.data(), static_cast<uint32_t>(out.size()), &through));
    ASSERT_TRUE(wire::ClassifyInner(inner.data(), static_cast<uint32_t>(inner.size()), 99, &direct));
    EXPECT_EQ(through, direct);
  }
}

TEST_F(VxlanEncapTest, SourcePortStablePerFlowAndSpreadAcrossFlows) {
  const Frame a = InnerFrame(100, 40000);
  EXPECT_EQ(SourcePort(a), SourcePort(a));
  std::set<uint16_t> ports;
  uint32_t buckets[8] = {};
  constexpr uint32_t kFlows = 800;
  for (uint32_t i = 0; i < kFlows; ++i) {
    const uint16_t sp = SourcePort(InnerFrame(64, static_cast<uint16_t>(20000 + i)));
    ASSERT_GE(sp, 49152);
    ports.insert(sp);
    ++buckets[(sp - 49152u) / 2048u];
  }
  EXPECT_GT(ports.size(), kFlows * 9 / 10);  // ~5 collisions expected in 16384
  for (uint32_t n : buckets) {
    EXPECT_GT(n, kFlows / 8 / 2);
    EXPECT_LT(n, kFlows / 8 * 2);
  }
}

TEST_F(VxlanEncapTest, SourcePortScalesTheHashIntoTheRange) {
  const Frame inner = InnerFrame(64);
  struct Case {
    uint32_t hash;
    uint16_t port;
  };
  for (const Case c : {Case{1, 49152}, Case{0x80000000u, 57344}, Case{0xffffffffu, 65535}}) {
    Packet* p = Pkt(inner);
    p->flow_hash = c.hash;
    const Frame out = RunOne(p);
    EXPECT_EQ(Be16At(out.data() + 34), c.port) << std::hex << c.hash;
  }
  // A hash of 0 means "not computed": the stage computes and keeps it.
  Packet* p = Pkt(inner);
  Batch b;
  b.Push(p);
  Run(b);
  wire::FlowKey key;
  ASSERT_TRUE(wire::ClassifyInner(inner.data(), static_cast<uint32_t>(inner.size()), 42, &key));
  EXPECT_EQ(p->flow_hash, wire::FlowHash(key));
  PacketFree(p);
}

TEST_F(VxlanEncapTest, Ipv6UnderlayHasValidUdpChecksum) {
  Make(Config6());
  const Frame inner = InnerFrame(1001);  // odd length
  Packet* p = Pkt(inner, V6(2));
  p->flow_hash = 0x12345678;
  const Frame out = RunOne(p);
  ASSERT_EQ(out.size(), inner.size() + wire::kVxlanOverheadV6);
  const Outer o = ParseOuter(out);
  ASSERT_TRUE(o.l.ipv6);
  wire::Ipv6Header ip;
  std::memcpy(&ip, out.data() + 14, sizeof(ip));
  EXPECT_EQ(ip.version(), 6);
  EXPECT_EQ(ip.ver_tc_flow.host() & 0xfffff, 0x45678u);  // flow label from the hash
  EXPECT_EQ(ip.payload_length.host(), 16 + inner.size());
  EXPECT_EQ(ip.hop_limit, 64);
  EXPECT_EQ(ip.next_header, wire::kIpProtoUdp);
  EXPECT_EQ(0, std::memcmp(ip.src.data(), V6(1).bytes, 16));
  EXPECT_EQ(0, std::memcmp(ip.dst.data(), V6(2).bytes, 16));
  EXPECT_NE(o.udp.checksum.host(), 0);
  EXPECT_TRUE(UdpChecksumOk(out, o.l));
  EXPECT_TRUE(o.inner == inner);
}

TEST_F(VxlanEncapTest, Ipv4UdpChecksumWhenAskedFor) {
  VxlanEncapConfig c = Config4();
  c.udp_checksum = true;
  Make(c);
  const Frame out = RunOne(Pkt(InnerFrame(500)));
  const Outer o = ParseOuter(out);
  EXPECT_NE(o.udp.checksum.host(), 0);
  EXPECT_TRUE(UdpChecksumOk(out, o.l));
}

TEST_F(VxlanEncapTest, TooBigAgainstInnerMtu) {
  // Inner IPv4 packet of 1450 bytes = 14 + 1450 byte frame: fits; 1451: not.
  const uint32_t fits = 1450 - 20 - 20;
  EXPECT_FALSE(RunOne(Pkt(InnerFrame(fits))).empty());
  EXPECT_TRUE(RunOne(Pkt(InnerFrame(fits + 1))).empty());
  EXPECT_EQ(counters_.drops[VxlanEncap::kTooBig], 1u);
  // An 802.1Q tag does not count against the MTU.
  EXPECT_FALSE(RunOne(Pkt(InnerFrame(fits, 40000, uint16_t{5}))).empty());
  EXPECT_TRUE(RunOne(Pkt(InnerFrame(fits + 1, 40000, uint16_t{5}))).empty());
  EXPECT_EQ(counters_.drops[VxlanEncap::kTooBig], 2u);
  EXPECT_EQ(pool_->available(), pool_->count());
}

// The TX chain's shape: GsoSegment makes a train, VxlanEncap wraps each
// segment in its own headroom. Checked over IPv6 so the UDP checksum covers
// the segments' fragments.
TEST_F(VxlanEncapTest, TrainIsEncapsulatedSegmentBySegment) {
  Make(Config6());
  auto big = PacketPool::Create({"big", 2, 70000}).value();
  wire::InnerSpec spec;
  Frame pl(10000);
  for (uint32_t i = 0; i < pl.size(); ++i) pl[i] = static_cast<uint8_t>(i * 3 + 1);
  Packet* carrier = big->Alloc();
  carrier->len = wire::BuildInnerFrame(spec, pl, carrier->data, carrier->tailroom());
  ASSERT_GT(carrier->len, 0u);
  carrier->gso_size = 1400;
  carrier->remote = V6(2);
  carrier->vni = 5;
  auto seg = GsoSegment::Create({}).value();
  Batch b;
  b.Push(carrier);
  StageCounters seg_counters;
  StageContext ctx;
  ctx.counters = &seg_counters;
  ctx.pool = pool_.get();
  seg->Process(b, ctx);
  ASSERT_EQ(b.n, 1u);
  ASSERT_EQ(carrier->nsegs, 8u);
  std::vector<Frame> before;
  for (const Packet* s = carrier->segs; s != nullptr; s = s->seg_next) {
    Frame f(s->frame_len());
    s->Flatten(f.data(), static_cast<uint32_t>(f.size()));
    before.push_back(f);
  }
  const uint8_t* carrier_data = carrier->data;
  const uint32_t carrier_len = carrier->len;

  Run(b);
  ASSERT_EQ(b.n, 1u);
  EXPECT_EQ(carrier->data, carrier_data);  // the carrier itself is not sent
  EXPECT_EQ(carrier->len, carrier_len);
  uint32_t i = 0;
  std::set<uint16_t> sports;
  for (const Packet* s = carrier->segs; s != nullptr; s = s->seg_next, ++i) {
    SCOPED_TRACE("segment " + std::to_string(i));
    EXPECT_GT(s->nfrags, 0u);
    Frame out(s->frame_len());
    s->Flatten(out.data(), static_cast<uint32_t>(out.size()));
    const Outer o = ParseOuter(out);
    EXPECT_TRUE(UdpChecksumOk(out, o.l));
    EXPECT_EQ(o.vx.vni(), 5u);
    EXPECT_TRUE(o.inner == before[i]);
    EXPECT_EQ(s->l3_off, 70 + 14);  // still the inner IP header, from data
    sports.insert(o.udp.src_port.host());
  }
  EXPECT_EQ(i, 8u);
  EXPECT_EQ(sports.size(), 1u);  // one flow, one source port
  PacketFree(carrier);
  EXPECT_EQ(pool_->available(), pool_->count());
  EXPECT_EQ(big->available(), big->count());
}

TEST_F(VxlanEncapTest, TrainDropsWholeWhenASegmentFails) {
  auto big = PacketPool::Create({"big", 1, 4096}).value();
  Packet* carrier = big->Alloc();
  carrier->len = 60;
  Packet* s1 = pool_->Alloc();
  Packet* s2 = pool_->Alloc();
  const Frame ok = InnerFrame(100);
  std::memcpy(s1->data, ok.data(), ok.size());
  s1->len = static_cast<uint32_t>(ok.size());
  s1->remote = kRemote4;
  s2->len = 5;  // runt
  s2->remote = kRemote4;
  carrier->segs = s1;
  s1->seg_next = s2;
  carrier->nsegs = 2;
  Batch b;
  b.Push(carrier);
  Run(b);
  EXPECT_EQ(b.n, 0u);
  EXPECT_EQ(counters_.drops[VxlanEncap::kRunt], 1u);
  EXPECT_EQ(pool_->available(), pool_->count());
  EXPECT_EQ(big->available(), big->count());
}

TEST_F(VxlanEncapTest, RemoteSelection) {
  const Frame inner = InnerFrame(100);
  // No remote and no default: dropped, flood or not.
  Packet* p = Pkt(inner, wire::IpAddr{});
  p->out_port = kPortFlood;
  EXPECT_TRUE(RunOne(p).empty());
  EXPECT_EQ(counters_.drops[VxlanEncap::kNoRemote], 1u);
  // With a default remote, unset remotes go there; set ones are kept.
  VxlanEncapConfig c = Config4();
  c.default_remote = wire::IpAddr::V4(0xC6120063);
  Make(c);
  p = Pkt(inner, wire::IpAddr{});
  p->out_port = kPortFlood;
  Frame out = RunOne(p);
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(Be16At(out.data() + 30), 0xC612);
  EXPECT_EQ(Be16At(out.data() + 32), 0x0063);
  p = Pkt(inner, kRemote4);
  p->out_port = kPortFlood;
  out = RunOne(p);
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(Be16At(out.data() + 32), 0x0002);
}

TEST_F(VxlanEncapTest, OtherDrops) {
  const Frame inner = InnerFrame(100);
  EXPECT_TRUE(RunOne(Pkt(inner, V6(2))).empty());
  EXPECT_EQ(counters_.drops[VxlanEncap::kFamilyMismatch], 1u);

  Packet* p = Pkt(inner);
  p->len = 13;
  EXPECT_TRUE(RunOne(p).empty());
  p = Pkt(inner);
  p->data[12] = 0x81;  // 802.1Q, but the tag is cut off
  p->data[13] = 0x00;
  p->len = 16;
  EXPECT_TRUE(RunOne(p).empty());
  EXPECT_EQ(counters_.drops[VxlanEncap::kRunt], 2u);

  p = Pkt(inner);
  p->vni = 1u << 24;
  EXPECT_TRUE(RunOne(p).empty());
  EXPECT_EQ(counters_.drops[VxlanEncap::kBadVni], 1u);

  p = pool_->Alloc();
  p->data = p->buf + 49;  // one byte short of the 50 an IPv4 underlay needs
  std::memcpy(p->data, inner.data(), inner.size());
  p->len = static_cast<uint32_t>(inner.size());
  p->remote = kRemote4;
  EXPECT_TRUE(RunOne(p).empty());
  EXPECT_EQ(counters_.drops[VxlanEncap::kNoHeadroom], 1u);
  EXPECT_EQ(pool_->available(), pool_->count());
}

TEST_F(VxlanEncapTest, MovesInnerOffsetsPastTheOuterHeaders) {
  Packet* p = Pkt(InnerFrame(100));
  p->l3_off = 14;
  p->l4_off = 34;
  Batch b;
  b.Push(p);
  Run(b);
  ASSERT_EQ(b.n, 1u);
  EXPECT_EQ(p->l3_off, 64);
  EXPECT_EQ(p->l4_off, 84);
  PacketFree(p);
}

TEST_F(VxlanEncapTest, VxlanOnlyPrependsJustTheVxlanHeader) {
  VxlanEncapConfig c = Config4();
  c.vxlan_only = true;
  Make(c);
  const Frame inner = InnerFrame(100);
  // No remote needed: the socket port chooses the destination (or floods).
  Packet* p = Pkt(inner, wire::IpAddr{});
  p->out_port = kPortFlood;
  p->vni = 7;
  p->l3_off = 14;
  const Frame out = RunOne(p);
  ASSERT_EQ(out.size(), inner.size() + 8);
  wire::VxlanHeader vx;
  std::memcpy(&vx, out.data(), sizeof(vx));
  EXPECT_EQ(vx.flags, wire::kVxlanFlagI);
  EXPECT_TRUE(vx.ReservedBitsClear());
  EXPECT_EQ(vx.vni(), 7u);
  EXPECT_EQ(0, std::memcmp(out.data() + 8, inner.data(), inner.size()));
  // The MTU still holds.
  EXPECT_TRUE(RunOne(Pkt(InnerFrame(1500))).empty());
  EXPECT_EQ(counters_.drops[VxlanEncap::kTooBig], 1u);
}

TEST_F(VxlanEncapTest, HairpinToALocalPortPassesUnencapsulated) {
  const Frame inner = InnerFrame(100);
  Packet* p = Pkt(inner, wire::IpAddr{});
  p->out_port = 3;
  const Frame out = RunOne(p);
  EXPECT_EQ(out, inner);
  EXPECT_EQ(counters_.drops[VxlanEncap::kNoRemote], 0u);
}

TEST(VxlanEncapCreateTest, RejectsBadConfigs) {
  EXPECT_TRUE(VxlanEncap::Create(Config4()).ok());
  EXPECT_TRUE(VxlanEncap::Create(Config6()).ok());
  VxlanEncapConfig c = Config4();
  c.local_ip = wire::IpAddr{};
  EXPECT_FALSE(VxlanEncap::Create(c).ok());
  c = Config4();
  c.default_remote = V6(9);
  EXPECT_FALSE(VxlanEncap::Create(c).ok());
  c = Config4();
  c.vni = 1u << 24;
  EXPECT_FALSE(VxlanEncap::Create(c).ok());
  c = Config4();
  c.src_port_min = 60000;
  c.src_port_max = 50000;
  EXPECT_FALSE(VxlanEncap::Create(c).ok());
  c = Config4();
  c.inner_mtu = 65535;
  EXPECT_FALSE(VxlanEncap::Create(c).ok());
  c = Config4();
  c.ttl = 0;
  EXPECT_FALSE(VxlanEncap::Create(c).ok());
  auto s = VxlanEncap::Create(Config4()).value();
  ASSERT_EQ(s->drop_reasons().size(), VxlanEncap::kNumDrops);
  EXPECT_EQ(s->drop_reasons()[VxlanEncap::kTooBig], "too_big");
}

}  // namespace
}  // namespace mflow
