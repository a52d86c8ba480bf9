// OuterValidate + VxlanDecap: good frames come out as inner frames with VNI
// and remote VTEP set, in order; every malformed variant ends on exactly the
// expected counted drop edge and its packet goes back to the pool.
#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "packet/pool.h"
#include "stage/outer_validate.h"
#include "stage/vxlan_decap.h"
#include "wire/checksum.h"
#include "wire/frame_builder.h"
#include "wire/test_frames.h"

namespace mflow {
namespace {

using Frame = std::vector<uint8_t>;

// Outer IPv4 layout built by BuildVxlanFrame: Ethernet 14, IP 20, UDP 8, VXLAN 8.
constexpr uint32_t kIp4 = 14;
constexpr uint32_t kUdp4 = 34;
constexpr uint32_t kVx4 = 42;
// Outer IPv6: Ethernet 14, IP 40, UDP 8, VXLAN 8.
constexpr uint32_t kUdp6 = 54;

constexpr uint32_t kPoolSize = 128;
const wire::IpAddr kPeer = wire::IpAddr::V4(0xC6120001);

Frame Inner(uint32_t payload_len = 100) {
  std::vector<uint8_t> payload(payload_len);
  for (uint32_t i = 0; i < payload_len; ++i) payload[i] = static_cast<uint8_t>(i * 7);
  return testing::BuildInner(wire::InnerSpec{}, payload, 2048);
}

Frame Vxlan(const Frame& inner, const wire::OuterSpec& outer = wire::OuterSpec{}) {
  Frame out = testing::BuildVxlan(inner, outer);
  EXPECT_FALSE(out.empty());
  return out;
}

using testing::Outer6;

void SetBe16(Frame& f, uint32_t off, uint32_t v) {
  f[off] = static_cast<uint8_t>(v >> 8);
  f[off + 1] = static_cast<uint8_t>(v);
}
uint16_t GetBe16(const Frame& f, uint32_t off) {
  return static_cast<uint16_t>((f[off] << 8) | f[off + 1]);
}

void FixIpv4Checksum(Frame& f, uint32_t l3 = kIp4) {
  const uint32_t hl = uint32_t{f[l3] & 0x0fu} * 4;
  f[l3 + 10] = 0;
  f[l3 + 11] = 0;
  const uint16_t c = wire::ChecksumFinish(wire::ChecksumPartial(&f[l3], hl));
  std::memcpy(&f[l3 + 10], &c, 2);
}

class OuterDecapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    PacketPoolConfig pc;
    pc.count = kPoolSize;
    auto pool = PacketPool::Create(pc);
    ASSERT_TRUE(pool.ok());
    pool_ = std::move(pool).value();
    outer_ = MakeOuter(OuterValidateConfig{});
    VxlanDecapConfig dc;
    dc.vnis = {42, 7};
    auto decap = VxlanDecap::Create(dc);
    ASSERT_TRUE(decap.ok()) << decap.status().message();
    decap_ = std::move(decap).value();
  }

  static std::unique_ptr<OuterValidate> MakeOuter(const OuterValidateConfig& cfg) {
    auto s = OuterValidate::Create(cfg);
    EXPECT_TRUE(s.ok()) << s.status().message();
    return std::move(s).value();
  }

  Packet* ToPacket(const Frame& f, uint64_t tag) {
    Packet* p = pool_->Alloc();
    EXPECT_NE(p, nullptr);
    EXPECT_LE(f.size(), p->tailroom());
    std::memcpy(p->data, f.data(), f.size());
    p->len = static_cast<uint32_t>(f.size());
    p->seq = tag;
    return p;
  }

  // Runs frames through both stages; returns the survivors' tags in order.
  std::vector<uint64_t> Run(const std::vector<Frame>& frames, OuterValidate* outer = nullptr) {
    Batch b;
    for (size_t i = 0; i < frames.size(); ++i) b.Push(ToPacket(frames[i], i));
    ctx_.pool = pool_.get();
    ctx_.counters = &outer_counters_;
    (outer != nullptr ? outer : outer_.get())->Process(b, ctx_);
    ctx_.counters = &decap_counters_;
    decap_->Process(b, ctx_);
    std::vector<uint64_t> tags;
    for (Packet* p : b) tags.push_back(p->seq);
    survivors_.Clear();
    for (Packet* p : b) survivors_.Push(p);
    return tags;
  }

  void FreeSurvivors() {
    for (Packet* p : survivors_) PacketFree(p);
    survivors_.Clear();
  }

  uint64_t TotalDrops(const StageCounters& c) {
    uint64_t n = 0;
    for (uint64_t d : c.drops) n += d;
    return n;
  }
  // The drop counters as plain numbers, to compare with expected arrays.
  static std::array<uint64_t, kMaxDropReasons> Drops(const StageCounters& c) {
    std::array<uint64_t, kMaxDropReasons> d{};
    for (uint32_t r = 0; r < kMaxDropReasons; ++r) d[r] = c.drops[r];
    return d;
  }

  std::unique_ptr<PacketPool> pool_;
  std::unique_ptr<OuterValidate> outer_;
  std::unique_ptr<VxlanDecap> decap_;
  StageCounters outer_counters_;
  StageCounters decap_counters_;
  StageContext ctx_;
  Batch survivors_;
};

TEST_F(OuterDecapTest, RejectsBadConfig) {
  VxlanDecapConfig dc;
  EXPECT_FALSE(VxlanDecap::Create(dc).ok());  // no VNI
  dc.vnis = {1u << 24};
  EXPECT_FALSE(VxlanDecap::Create(dc).ok());
  OuterValidateConfig oc;
  oc.port = 0;
  EXPECT_FALSE(OuterValidate::Create(oc).ok());
  oc.port = 4789;
  oc.peers = {wire::IpAddr{}};
  EXPECT_FALSE(OuterValidate::Create(oc).ok());
}

TEST_F(OuterDecapTest, GoodFrameBecomesInnerFrame) {
  const Frame inner = Inner();
  ASSERT_EQ(Run({Vxlan(inner)}), std::vector<uint64_t>{0});
  Packet* p = survivors_.pkts[0];
  EXPECT_EQ(p->vni, 42u);
  EXPECT_EQ(p->remote, kPeer);
  ASSERT_EQ(p->len, inner.size());
  EXPECT_EQ(std::memcmp(p->data, inner.data(), inner.size()), 0);
  EXPECT_EQ(outer_counters_.in, 1u);
  EXPECT_EQ(outer_counters_.out, 1u);
  EXPECT_EQ(decap_counters_.out, 1u);
  FreeSurvivors();
  EXPECT_EQ(pool_->available(), kPoolSize);
}

TEST_F(OuterDecapTest, EthernetPaddingIsTrimmed) {
  const Frame inner = Inner(0);
  Frame f = Vxlan(inner);
  f.resize(f.size() + 12, 0);  // padded frame
  ASSERT_EQ(Run({f}).size(), 1u);
  EXPECT_EQ(survivors_.pkts[0]->len, inner.size());
  FreeSurvivors();
}

TEST_F(OuterDecapTest, VlanTaggedOuterAccepted) {
  const Frame inner = Inner();
  Frame f = Vxlan(inner);
  const uint8_t tag[4] = {0x81, 0x00, 0x00, 0x64};  // TPID, VID 100
  f.insert(f.begin() + 12, tag, tag + 4);
  ASSERT_EQ(Run({f}).size(), 1u);
  EXPECT_EQ(survivors_.pkts[0]->len, inner.size());
  EXPECT_EQ(std::memcmp(survivors_.pkts[0]->data, inner.data(), inner.size()), 0);
  FreeSurvivors();
}

TEST_F(OuterDecapTest, Ipv4OptionsAreSkipped) {
  const Frame inner = Inner();
  Frame f = Vxlan(inner);
  const uint8_t nops[4] = {1, 1, 1, 1};
  f.insert(f.begin() + kUdp4, nops, nops + 4);
  f[kIp4] = 0x46;  // IHL 6
  SetBe16(f, kIp4 + 2, static_cast<uint16_t>(GetBe16(f, kIp4 + 2) + 4));
  FixIpv4Checksum(f);
  ASSERT_EQ(Run({f}).size(), 1u);
  EXPECT_EQ(std::memcmp(survivors_.pkts[0]->data, inner.data(), inner.size()), 0);
  FreeSurvivors();
}

TEST_F(OuterDecapTest, UdpChecksumVerifiedWhenPresent) {
  wire::OuterSpec o;
  o.udp_checksum = true;
  const Frame good = Vxlan(Inner(), o);
  ASSERT_NE(GetBe16(good, kUdp4 + 6), 0);
  Frame bad = good;
  bad.back() ^= 0x01;  // payload bit flip
  EXPECT_EQ(Run({good, bad}), std::vector<uint64_t>{0});
  EXPECT_EQ(outer_counters_.drops[OuterValidate::kBadUdpChecksum], 1u);
  FreeSurvivors();
}

TEST_F(OuterDecapTest, Ipv6Outer) {
  const Frame inner = Inner();
  const Frame good = Vxlan(inner, Outer6());
  ASSERT_EQ(Run({good}).size(), 1u);
  EXPECT_EQ(survivors_.pkts[0]->remote, Outer6().src_ip);
  EXPECT_EQ(std::memcmp(survivors_.pkts[0]->data, inner.data(), inner.size()), 0);
  FreeSurvivors();

  Frame zero = good;
  zero[kUdp6 + 6] = 0;
  zero[kUdp6 + 7] = 0;
  EXPECT_TRUE(Run({zero}).empty());
  EXPECT_EQ(outer_counters_.drops[OuterValidate::kZeroUdpChecksumV6], 1u);

  OuterValidateConfig allow;
  allow.allow_zero_udp_checksum_v6 = true;
  auto lenient = MakeOuter(allow);
  EXPECT_EQ(Run({zero}, lenient.get()).size(), 1u);
  FreeSurvivors();
  EXPECT_EQ(pool_->available(), kPoolSize);
}

TEST_F(OuterDecapTest, UnknownPeerDropped) {
  OuterValidateConfig cfg;
  cfg.peers = {wire::IpAddr::V4(0x0a000001), kPeer};
  auto known = MakeOuter(cfg);
  EXPECT_EQ(Run({Vxlan(Inner())}, known.get()).size(), 1u);
  FreeSurvivors();
  cfg.peers = {wire::IpAddr::V4(0x0a000001)};
  auto strangers = MakeOuter(cfg);
  EXPECT_TRUE(Run({Vxlan(Inner())}, strangers.get()).empty());
  EXPECT_EQ(outer_counters_.drops[OuterValidate::kUnknownPeer], 1u);
}

// One malformed variant: how to break a good frame, and where it must end.
struct Variant {
  std::string name;
  std::function<Frame()> make;
  bool at_outer;  // dropped by OuterValidate (else by VxlanDecap)
  uint32_t reason;
};

Frame Mutate(Frame f, const std::function<void(Frame&)>& m) {
  m(f);
  return f;
}

std::vector<Variant> Variants() {
  const Frame g4 = Vxlan(Inner());
  const Frame g6 = Vxlan(Inner(), Outer6());
  using OV = OuterValidate;
  using VD = VxlanDecap;
  auto v4 = [g4](std::function<void(Frame&)> m) { return [g4, m] { return Mutate(g4, m); }; };
  auto v6 = [g6](std::function<void(Frame&)> m) { return [g6, m] { return Mutate(g6, m); }; };
  // Shrinks the outer datagram to end `keep` bytes after the UDP header
  // start, with consistent IP and UDP lengths.
  auto shrink_v4 = [](Frame& f, uint32_t udp_bytes) {
    f.resize(kUdp4 + udp_bytes);
    SetBe16(f, kIp4 + 2, static_cast<uint16_t>(20 + udp_bytes));
    if (udp_bytes >= 6) SetBe16(f, kUdp4 + 4, static_cast<uint16_t>(udp_bytes));
    FixIpv4Checksum(f);
  };
  return {
      {"eth_truncated", v4([](Frame& f) { f.resize(10); }), true, OV::kTruncated},
      {"vlan_truncated", v4([](Frame& f) { f.resize(16); SetBe16(f, 12, 0x8100); }), true,
       OV::kTruncated},
      {"ip_truncated", v4([](Frame& f) { f.resize(kIp4 + 12); }), true, OV::kTruncated},
      {"udp_truncated", v4([=](Frame& f) { shrink_v4(f, 4); }), true, OV::kTruncated},
      {"frame_cut_in_payload", v4([](Frame& f) { f.resize(f.size() - 30); }), true,
       OV::kBadIpTotalLength},
      {"not_ip", v4([](Frame& f) { SetBe16(f, 12, 0x0806); }), true, OV::kNotIp},
      {"ip_version", v4([](Frame& f) { f[kIp4] = 0x65; FixIpv4Checksum(f); }), true,
       OV::kBadIpVersion},
      {"ihl_too_small", v4([](Frame& f) { f[kIp4] = 0x44; }), true, OV::kBadIpHeaderLength},
      {"ihl_beyond_frame", v4([](Frame& f) { f.resize(kIp4 + 40); f[kIp4] = 0x4f; }), true,
       OV::kBadIpHeaderLength},
      {"total_length_too_big",
       v4([](Frame& f) {
         SetBe16(f, kIp4 + 2, static_cast<uint16_t>(f.size() - kIp4 + 1));
         FixIpv4Checksum(f);
       }),
       true, OV::kBadIpTotalLength},
      {"total_length_below_header",
       v4([](Frame& f) { SetBe16(f, kIp4 + 2, 19); FixIpv4Checksum(f); }), true,
       OV::kBadIpTotalLength},
      {"ip_checksum", v4([](Frame& f) { f[kIp4 + 10] ^= 0x40; }), true, OV::kBadIpChecksum},
      {"ip_more_fragments", v4([](Frame& f) { SetBe16(f, kIp4 + 6, 0x2000); FixIpv4Checksum(f); }),
       true, OV::kFragment},
      {"ip_fragment_offset", v4([](Frame& f) { SetBe16(f, kIp4 + 6, 0x0010); FixIpv4Checksum(f); }),
       true, OV::kFragment},
      {"ttl_zero", v4([](Frame& f) { f[kIp4 + 8] = 0; FixIpv4Checksum(f); }), true, OV::kTtlZero},
      {"not_udp", v4([](Frame& f) { f[kIp4 + 9] = 6; FixIpv4Checksum(f); }), true, OV::kNotUdp},
      {"wrong_port", v4([](Frame& f) { SetBe16(f, kUdp4 + 2, 4790); }), true, OV::kWrongPort},
      {"udp_length_too_big",
       v4([](Frame& f) { SetBe16(f, kUdp4 + 4, GetBe16(f, kUdp4 + 4) + 1u); }),
       true, OV::kBadUdpLength},
      {"udp_length_too_small",
       v4([](Frame& f) { SetBe16(f, kUdp4 + 4, GetBe16(f, kUdp4 + 4) - 1u); }),
       true, OV::kBadUdpLength},
      {"v6_truncated", v6([](Frame& f) { f.resize(14 + 39); }), true, OV::kTruncated},
      {"v6_payload_length_too_big",
       v6([](Frame& f) { SetBe16(f, 18, static_cast<uint16_t>(GetBe16(f, 18) + 1)); }), true,
       OV::kBadIpTotalLength},
      {"v6_version", v6([](Frame& f) { f[14] = 0x40; }), true, OV::kBadIpVersion},
      {"v6_hop_by_hop", v6([](Frame& f) { f[14 + 6] = 0; }), true, OV::kIpv6ExtensionHeader},
      {"v6_fragment", v6([](Frame& f) { f[14 + 6] = 44; }), true, OV::kFragment},
      {"v6_hop_limit_zero", v6([](Frame& f) { f[14 + 7] = 0; }), true, OV::kTtlZero},
      {"v6_udp_checksum", v6([](Frame& f) { f[kUdp6 + 6] ^= 0x10; }), true, OV::kBadUdpChecksum},
      {"v6_zero_udp_checksum", v6([](Frame& f) { f[kUdp6 + 6] = 0; f[kUdp6 + 7] = 0; }), true,
       OV::kZeroUdpChecksumV6},
      {"vxlan_truncated", v4([=](Frame& f) { shrink_v4(f, 8 + 7); }), false, VD::kTruncated},
      {"flag_i_clear", v4([](Frame& f) { f[kVx4] = 0; }), false, VD::kFlagIClear},
      {"flag_reserved", v4([](Frame& f) { f[kVx4] = 0x0c; }), false, VD::kReservedBits},
      {"reserved_field", v4([](Frame& f) { f[kVx4 + 2] = 1; }), false, VD::kReservedBits},
      {"vni_reserved_byte", v4([](Frame& f) { f[kVx4 + 7] = 1; }), false, VD::kReservedBits},
      {"unknown_vni", v4([](Frame& f) { f[kVx4 + 6] = 43; }), false, VD::kUnknownVni},
      {"inner_truncated", [] { return Vxlan(Frame(13, 0xab)); }, false, VD::kInnerTruncated},
      {"inner_too_big", [] { return Vxlan(Inner(1500 - 20 - 20 + 5)); }, false, VD::kInnerTooBig},
  };
}

TEST_F(OuterDecapTest, EachMalformedVariantEndsOnItsEdge) {
  const Frame good = Vxlan(Inner());
  for (const Variant& v : Variants()) {
    SCOPED_TRACE(v.name);
    outer_counters_ = StageCounters{};
    decap_counters_ = StageCounters{};
    // Good neighbours on both sides: they pass, in order.
    EXPECT_EQ(Run({good, v.make(), good}), (std::vector<uint64_t>{0, 2}));
    const StageCounters& hit = v.at_outer ? outer_counters_ : decap_counters_;
    const StageCounters& other = v.at_outer ? decap_counters_ : outer_counters_;
    EXPECT_EQ(hit.drops[v.reason], 1u);
    EXPECT_EQ(TotalDrops(hit), 1u);
    EXPECT_EQ(TotalDrops(other), 0u);
    EXPECT_EQ(pool_->available(), kPoolSize - 2);  // the dropped packet is back
    FreeSurvivors();
  }
  EXPECT_EQ(pool_->available(), kPoolSize);
}

TEST_F(OuterDecapTest, MixedBatchKeepsOrderAndCountsEveryDrop) {
  const auto variants = Variants();
  std::vector<Frame> frames;
  std::vector<uint64_t> want;
  std::array<uint64_t, kMaxDropReasons> want_outer{};
  std::array<uint64_t, kMaxDropReasons> want_decap{};
  for (size_t i = 0; i < variants.size(); ++i) {
    want.push_back(frames.size());
    frames.push_back(Vxlan(Inner(static_cast<uint32_t>(i))));
    frames.push_back(variants[i].make());
    (variants[i].at_outer ? want_outer : want_decap)[variants[i].reason]++;
  }
  EXPECT_EQ(Run(frames), want);
  EXPECT_EQ(Drops(outer_counters_), want_outer);
  EXPECT_EQ(Drops(decap_counters_), want_decap);
  EXPECT_EQ(outer_counters_.in, frames.size());
  EXPECT_EQ(decap_counters_.out, want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    const Frame inner = Inner(static_cast<uint32_t>(i));
    ASSERT_EQ(survivors_.pkts[i]->len, inner.size());
    EXPECT_EQ(std::memcmp(survivors_.pkts[i]->data, inner.data(), inner.size()), 0);
  }
  FreeSurvivors();
  EXPECT_EQ(pool_->available(), kPoolSize);
}

}  // namespace
}  // namespace mflow
