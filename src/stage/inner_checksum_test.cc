// InnerChecksum: metadata and flags of good frames, pass-through of what an
// L2 overlay forwards blindly, and one counted drop per kind of damage.
#include "stage/inner_checksum.h"

#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "packet/pool.h"
#include "wire/checksum.h"
#include "wire/frame_builder.h"
#include "wire/test_frames.h"

namespace mflow {
namespace {

using Frame = std::vector<uint8_t>;
constexpr uint32_t kPoolSize = 64;

using testing::Tcp4;
using testing::Tcp6;
using testing::Udp4;
using testing::Udp6;

Frame Build(const wire::InnerSpec& spec, uint32_t payload_len = 101) {
  std::vector<uint8_t> payload(payload_len);
  for (uint32_t i = 0; i < payload_len; ++i) payload[i] = static_cast<uint8_t>(i * 13 + 1);
  Frame f = testing::BuildInner(spec, payload, 2048);
  EXPECT_FALSE(f.empty());
  return f;
}

void SetBe16(Frame& f, uint32_t off, uint16_t v) {
  f[off] = static_cast<uint8_t>(v >> 8);
  f[off + 1] = static_cast<uint8_t>(v);
}

void FixIpv4Checksum(Frame& f) {
  const uint32_t hl = uint32_t{f[14] & 0x0fu} * 4;
  f[24] = 0;
  f[25] = 0;
  const uint16_t c = wire::ChecksumFinish(wire::ChecksumPartial(&f[14], hl));
  std::memcpy(&f[24], &c, 2);
}

class InnerChecksumTest : public ::testing::Test {
 protected:
  void SetUp() override {
    PacketPoolConfig pc;
    pc.count = kPoolSize;
    pool_ = std::move(PacketPool::Create(pc)).value();
    stage_ = std::move(InnerChecksum::Create(InnerChecksumConfig{})).value();
  }
  void TearDown() override {
    FreeOut();
    EXPECT_EQ(pool_->available(), kPoolSize);
  }

  Packet* ToPacket(const Frame& f, uint64_t tag) {
    Packet* p = pool_->Alloc();
    EXPECT_NE(p, nullptr);
    std::memcpy(p->data, f.data(), f.size());
    p->len = static_cast<uint32_t>(f.size());
    p->seq = tag;
    return p;
  }
  // Runs the packets; returns the survivors' tags (survivors kept in out_).
  std::vector<uint64_t> Run(std::vector<Packet*> pkts) {
    FreeOut();
    counters_ = StageCounters{};
    Batch b;
    for (Packet* p : pkts) b.Push(p);
    StageContext ctx;
    ctx.counters = &counters_;
    ctx.pool = pool_.get();
    stage_->Process(b, ctx);
    std::vector<uint64_t> tags;
    for (Packet* p : b) {
      tags.push_back(p->seq);
      out_.push_back(p);
    }
    return tags;
  }
  Packet* RunOne(const Frame& f) {
    auto tags = Run({ToPacket(f, 0)});
    return tags.size() == 1 ? out_[0] : nullptr;
  }
  void FreeOut() {
    for (Packet* p : out_) PacketFree(p);
    out_.clear();
  }

  std::unique_ptr<PacketPool> pool_;
  std::unique_ptr<InnerChecksum> stage_;
  StageCounters counters_;
  std::vector<Packet*> out_;
};

TEST_F(InnerChecksumTest, TcpIpv4) {
  const Frame f = Build(Tcp4());
  Packet* p = RunOne(f);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->l3_off, 14);
  EXPECT_EQ(p->l4_off, 34);
  EXPECT_EQ(p->l4_proto, 6);
  EXPECT_EQ(p->flags, kPktFlagL3CsumOk | kPktFlagL4CsumOk);
  EXPECT_EQ(p->len, f.size());
  EXPECT_EQ(std::memcmp(p->data, f.data(), f.size()), 0);  // nothing rewritten
}

TEST_F(InnerChecksumTest, UdpIpv4WithAndWithoutChecksum) {
  Frame f = Build(Udp4());
  Packet* p = RunOne(f);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->l4_proto, 17);
  EXPECT_EQ(p->flags, kPktFlagL3CsumOk | kPktFlagL4CsumOk);
  f[34 + 6] = 0;  // "no checksum" (RFC 768)
  f[34 + 7] = 0;
  f.back() ^= 0xff;  // and nothing verifies the payload then
  p = RunOne(f);
  ASSERT_NE(p, nullptr);
  EXPECT_NE(p->flags & kPktFlagL4CsumOk, 0);
}

TEST_F(InnerChecksumTest, Ipv6TcpAndUdp) {
  for (const auto& spec : {Tcp6(1, 2), Udp6(1, 2)}) {
    const Frame f = Build(spec);
    Packet* p = RunOne(f);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(p->l3_off, 14);
    EXPECT_EQ(p->l4_off, 54);
    EXPECT_EQ(p->l4_proto, spec.l4_proto);
    EXPECT_EQ(p->flags, kPktFlagIpv6 | kPktFlagL4CsumOk);
  }
  Frame zero = Build(Udp6(1, 2));
  zero[54 + 6] = 0;
  zero[54 + 7] = 0;
  EXPECT_EQ(RunOne(zero), nullptr);
  EXPECT_EQ(counters_.drops[InnerChecksum::kBadUdpChecksum], 1u);
}

TEST_F(InnerChecksumTest, VlanTaggedAndPadded) {
  wire::InnerSpec s = Tcp4();
  s.vlan = 100;
  Frame f = Build(s, 0);  // 58 bytes: a real wire would pad it to 60
  const size_t real = f.size();
  f.resize(60, 0);
  Packet* p = RunOne(f);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->l3_off, 18);
  EXPECT_EQ(p->l4_off, 38);
  EXPECT_EQ(p->len, real);
}

TEST_F(InnerChecksumTest, NonTcpUdpPassesUnchanged) {
  wire::InnerSpec icmp = Tcp4();
  icmp.l4_proto = 1;
  Frame frag = Build(Udp4());
  SetBe16(frag, 14 + 6, 0x2000);  // more fragments
  FixIpv4Checksum(frag);
  Frame arp = Build(Tcp4());
  SetBe16(arp, 12, 0x0806);
  Frame v6_ext = Build(Tcp6(1, 2));
  v6_ext[14 + 6] = 0;  // hop-by-hop
  const std::vector<Frame> frames = {Build(icmp), frag, arp, v6_ext};
  std::vector<Packet*> pkts;
  for (size_t i = 0; i < frames.size(); ++i) pkts.push_back(ToPacket(frames[i], i));
  ASSERT_EQ(Run(pkts).size(), frames.size());
  for (size_t i = 0; i < frames.size(); ++i) {
    Packet* p = out_[i];
    EXPECT_EQ(p->l3_off, 0) << i;
    EXPECT_EQ(p->flags, 0) << i;
    ASSERT_EQ(p->len, frames[i].size());
    EXPECT_EQ(std::memcmp(p->data, frames[i].data(), frames[i].size()), 0);
  }
}

TEST_F(InnerChecksumTest, TrustedFramesAreNotVerified) {
  Frame bad = Build(Tcp4());
  bad.back() ^= 0x55;
  Packet* flagged = ToPacket(bad, 0);
  flagged->flags = kPktFlagL4CsumOk;  // verified by someone before us
  Packet* gso = ToPacket(bad, 1);
  gso->gso_size = 1448;  // super-frame: checksum is partial by convention
  EXPECT_EQ(Run({flagged, gso, ToPacket(bad, 2)}), (std::vector<uint64_t>{0, 1}));
  EXPECT_EQ(counters_.drops[InnerChecksum::kBadTcpChecksum], 1u);
  EXPECT_EQ(out_[1]->flags & kPktFlagL4CsumOk, 0);  // not claimed as verified

  auto lazy = std::move(InnerChecksum::Create(InnerChecksumConfig{.verify_l4 = false})).value();
  Batch b;
  b.Push(ToPacket(bad, 3));
  StageContext ctx;
  StageCounters c;
  ctx.counters = &c;
  lazy->Process(b, ctx);
  ASSERT_EQ(b.n, 1u);
  out_.push_back(b.pkts[0]);
}

struct Variant {
  std::string name;
  std::function<Frame()> make;
  uint32_t reason;
};

std::vector<Variant> Variants() {
  auto mut = [](wire::InnerSpec spec, std::function<void(Frame&)> m) {
    return [spec, m] {
      Frame f = Build(spec);
      m(f);
      return f;
    };
  };
  using IC = InnerChecksum;
  return {
      {"short_ethernet", mut(Tcp4(), [](Frame& f) { f.resize(13); }), IC::kTruncatedEthernet},
      {"short_vlan", mut(Tcp4(), [](Frame& f) { f.resize(16); SetBe16(f, 12, 0x8100); }),
       IC::kTruncatedEthernet},
      {"short_ipv4", mut(Tcp4(), [](Frame& f) { f.resize(14 + 19); }), IC::kTruncatedIp},
      {"short_ipv6", mut(Tcp6(1, 2), [](Frame& f) { f.resize(14 + 39); }), IC::kTruncatedIp},
      {"ip_version", mut(Tcp4(), [](Frame& f) { f[14] = 0x65; }), IC::kBadIpHeader},
      {"ihl", mut(Tcp4(), [](Frame& f) { f[14] = 0x44; }), IC::kBadIpHeader},
      {"total_length_big",
       mut(Tcp4(), [](Frame& f) { SetBe16(f, 16, static_cast<uint16_t>(f.size())); }),
       IC::kBadIpTotalLength},
      {"total_length_small", mut(Tcp4(), [](Frame& f) { SetBe16(f, 16, 19); }),
       IC::kBadIpTotalLength},
      {"v6_payload_length", mut(Tcp6(1, 2), [](Frame& f) { f.pop_back(); }), IC::kBadIpTotalLength},
      {"ip_checksum", mut(Tcp4(), [](Frame& f) { f[24] ^= 1; }), IC::kBadIpChecksum},
      {"ip_checksum_before_l4",
       mut(Tcp4(), [](Frame& f) { f[34 + 12] = 0x40; f[22] ^= 1; }), IC::kBadIpChecksum},
      {"tcp_data_offset", mut(Tcp4(), [](Frame& f) { f[34 + 12] = 0x40; }), IC::kBadL4Header},
      {"tcp_data_offset_beyond", mut(Tcp4(), [](Frame& f) { f[34 + 12] = 0xf0; f.resize(34 + 40);
         SetBe16(f, 16, 60); FixIpv4Checksum(f); }), IC::kBadL4Header},
      {"udp_length", mut(Udp4(), [](Frame& f) { f[34 + 5] ^= 1; }), IC::kBadL4Header},
      {"tcp_payload", mut(Tcp4(), [](Frame& f) { f.back() ^= 0x80; }), IC::kBadTcpChecksum},
      {"tcp_header", mut(Tcp4(), [](Frame& f) { f[34 + 4] ^= 1; }), IC::kBadTcpChecksum},
      {"tcp6_payload", mut(Tcp6(1, 2), [](Frame& f) { f[60] ^= 2; }), IC::kBadTcpChecksum},
      {"udp_payload", mut(Udp4(), [](Frame& f) { f.back() ^= 1; }), IC::kBadUdpChecksum},
      {"udp6_payload", mut(Udp6(1, 2), [](Frame& f) { f.back() ^= 1; }), IC::kBadUdpChecksum},
  };
}

TEST_F(InnerChecksumTest, EachDamageEndsOnItsEdge) {
  const Frame good = Build(Tcp4());
  for (const Variant& v : Variants()) {
    SCOPED_TRACE(v.name);
    EXPECT_EQ(Run({ToPacket(good, 0), ToPacket(v.make(), 1), ToPacket(good, 2)}),
              (std::vector<uint64_t>{0, 2}));
    uint64_t total = 0;
    for (uint64_t d : counters_.drops) total += d;
    EXPECT_EQ(counters_.drops[v.reason], 1u);
    EXPECT_EQ(total, 1u);
    EXPECT_EQ(pool_->available(), kPoolSize - 2);
  }
}

}  // namespace
}  // namespace mflow
