// TcpCoalesce (after InnerChecksum, as in the RX chain): which segments merge,
// and that a super-frame's flattened bytes equal the frame a sender would
// have built from the concatenated payload, with the partial checksum.
#include "stage/tcp_coalesce.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <vector>

#include "packet/pool.h"
#include "stage/inner_checksum.h"
#include "wire/checksum.h"
#include "wire/frame_builder.h"
#include "wire/tcp.h"

namespace mflow {
namespace {

using Frame = std::vector<uint8_t>;
constexpr uint32_t kPoolSize = 256;
constexpr uint32_t kMss = 1448;
constexpr uint32_t kL3 = 14;
constexpr uint8_t kAck = wire::kTcpAck;
constexpr uint8_t kPsh = wire::kTcpPsh;

uint8_t Pattern(uint32_t stream_pos) { return static_cast<uint8_t>((stream_pos * 7) % 251); }

void SetBe16(Frame& f, uint32_t off, uint32_t v) {
  f[off] = static_cast<uint8_t>(v >> 8);
  f[off + 1] = static_cast<uint8_t>(v);
}
uint16_t GetBe16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }

struct SegSpec {
  uint32_t seq = 1000;
  uint32_t len = kMss;
  uint8_t flags = kAck;
  uint16_t sport = 40000;
  uint32_t ack = 1;
  uint16_t window = 0xffff;
  bool v6 = false;
  std::vector<uint8_t> options;  // TCP option bytes, a multiple of 4
};

uint32_t L4Off(bool v6) { return v6 ? kL3 + 40 : kL3 + 20; }

// The pseudo-header sum of the frame's IP header for a TCP length.
uint32_t Pseudo(const uint8_t* f, bool v6, uint32_t l4_len) {
  if (v6) {
    wire::Ipv6Header h;
    std::memcpy(&h, f + kL3, sizeof(h));
    return wire::PseudoHeaderSumV6(&h, wire::kIpProtoTcp, l4_len);
  }
  wire::Ipv4Header h;
  std::memcpy(&h, f + kL3, sizeof(h));
  return wire::PseudoHeaderSumV4(&h, wire::kIpProtoTcp, l4_len);
}

// Rewrites window/options of a built frame and makes its checksums valid.
void Patch(Frame& f, const SegSpec& s) {
  if (s.options.empty() && s.window == 0xffff) return;
  const uint32_t l4 = L4Off(s.v6);
  const uint32_t n = static_cast<uint32_t>(s.options.size());
  f.insert(f.begin() + l4 + 20, s.options.begin(), s.options.end());
  f[l4 + 12] = static_cast<uint8_t>(((20 + n) / 4) << 4);
  SetBe16(f, l4 + 14, s.window);
  if (s.v6) {
    SetBe16(f, kL3 + 4, GetBe16(&f[kL3 + 4]) + n);
  } else {
    SetBe16(f, kL3 + 2, GetBe16(&f[kL3 + 2]) + n);
    f[kL3 + 10] = 0;
    f[kL3 + 11] = 0;
    const uint16_t c = wire::ChecksumFinish(wire::ChecksumPartial(&f[kL3], 20));
    std::memcpy(&f[kL3 + 10], &c, 2);
  }
  const uint32_t l4_len = static_cast<uint32_t>(f.size()) - l4;
  f[l4 + 16] = 0;
  f[l4 + 17] = 0;
  const uint16_t c =
      wire::ChecksumFinish(wire::ChecksumPartial(&f[l4], l4_len, Pseudo(f.data(), s.v6, l4_len)));
  std::memcpy(&f[l4 + 16], &c, 2);
}

Frame Build(const SegSpec& s, uint32_t payload_len) {
  wire::InnerSpec spec;
  spec.tcp_seq = s.seq;
  spec.tcp_ack = s.ack;
  spec.tcp_flags = s.flags;
  spec.sport = s.sport;
  if (s.v6) {
    const uint8_t a[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    const uint8_t b[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
    spec.src_ip = wire::IpAddr::V6(a);
    spec.dst_ip = wire::IpAddr::V6(b);
  }
  std::vector<uint8_t> payload(payload_len);
  for (uint32_t i = 0; i < payload_len; ++i) payload[i] = Pattern(s.seq + i);
  Frame f(70000);
  f.resize(wire::BuildInnerFrame(spec, payload, f.data(), static_cast<uint32_t>(f.size())));
  EXPECT_FALSE(f.empty());
  Patch(f, s);
  return f;
}

Frame Seg(const SegSpec& s) { return Build(s, s.len); }

// n back-to-back segments of size kMss starting at spec.seq.
std::vector<Frame> Stream(SegSpec s, uint32_t n) {
  std::vector<Frame> out;
  for (uint32_t i = 0; i < n; ++i) {
    out.push_back(Seg(s));
    s.seq += s.len;
  }
  return out;
}

std::vector<uint8_t> Timestamps(uint32_t val) {
  // NOP, NOP, TS(kind 8, len 10, val, ecr)
  return {1, 1, 8, 10, static_cast<uint8_t>(val >> 24), static_cast<uint8_t>(val >> 16),
          static_cast<uint8_t>(val >> 8), static_cast<uint8_t>(val), 0, 0, 0, 7};
}

class TcpCoalesceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    PacketPoolConfig pc;
    pc.count = kPoolSize;
    pool_ = std::move(PacketPool::Create(pc)).value();
    csum_ = std::move(InnerChecksum::Create(InnerChecksumConfig{})).value();
    gro_ = Make(TcpCoalesceConfig{});
  }
  void TearDown() override {
    FreeOut();
    EXPECT_EQ(pool_->available(), kPoolSize);
  }
  static std::unique_ptr<TcpCoalesce> Make(const TcpCoalesceConfig& cfg) {
    auto s = TcpCoalesce::Create(cfg);
    EXPECT_TRUE(s.ok()) << s.status().message();
    return std::move(s).value();
  }

  // InnerChecksum then TcpCoalesce; the output frames stay in out_.
  const std::vector<Packet*>& Run(const std::vector<Frame>& frames, TcpCoalesce* gro = nullptr,
                                  bool verify = true) {
    FreeOut();
    Batch b;
    for (size_t i = 0; i < frames.size(); ++i) {
      Packet* p = pool_->Alloc();
      EXPECT_NE(p, nullptr);
      std::memcpy(p->data, frames[i].data(), frames[i].size());
      p->len = static_cast<uint32_t>(frames[i].size());
      p->vni = 42;
      p->seq = i;
      b.Push(p);
    }
    StageContext ctx;
    ctx.pool = pool_.get();
    StageCounters csum_counters;
    if (verify) {
      ctx.counters = &csum_counters;
      csum_->Process(b, ctx);
      EXPECT_EQ(b.n, frames.size()) << "test frames must be valid";
    }
    counters_ = StageCounters{};
    ctx.counters = &counters_;
    (gro != nullptr ? gro : gro_.get())->Process(b, ctx);
    for (Packet* p : b) out_.push_back(p);
    EXPECT_EQ(counters_.in, frames.size());
    EXPECT_EQ(counters_.out, out_.size());
    return out_;
  }
  void FreeOut() {
    for (Packet* p : out_) PacketFree(p);
    out_.clear();
  }
  // Segments per output frame.
  std::vector<uint32_t> Segs() const {
    std::vector<uint32_t> n;
    for (Packet* p : out_) n.push_back(p->gso_segs == 0 ? 1 : p->gso_segs);
    return n;
  }

  // The super-frame equals the frame built from the concatenated payload,
  // except for the TCP checksum, which must be the partial one and complete
  // to the built frame's checksum.
  void ExpectSuperFrame(const Packet* p, const SegSpec& first, uint32_t total_payload,
                        uint8_t last_flags) {
    SegSpec s = first;
    s.flags = last_flags;
    const Frame want = Build(s, total_payload);
    Frame got(want.size() + 16);
    ASSERT_EQ(p->Flatten(got.data(), static_cast<uint32_t>(got.size())), want.size());
    got.resize(want.size());
    const uint32_t l4 = L4Off(first.v6);
    const uint32_t l4_len = static_cast<uint32_t>(want.size()) - l4;
    uint16_t partial;
    std::memcpy(&partial, &got[l4 + 16], 2);
    EXPECT_EQ(partial, wire::ChecksumFold(Pseudo(want.data(), first.v6, l4_len)));
    // Completing it the way a NIC or the kernel would: sum from csum_start.
    const uint16_t completed = wire::ChecksumFinish(wire::ChecksumPartial(&got[l4], l4_len));
    uint16_t want_csum;
    std::memcpy(&want_csum, &want[l4 + 16], 2);
    EXPECT_EQ(completed, want_csum);
    std::memcpy(&got[l4 + 16], &want[l4 + 16], 2);
    EXPECT_TRUE(got == want) << "super-frame bytes differ";
    EXPECT_NE(p->flags & kPktFlagL4CsumOk, 0);
  }

  std::unique_ptr<PacketPool> pool_;
  std::unique_ptr<InnerChecksum> csum_;
  std::unique_ptr<TcpCoalesce> gro_;
  StageCounters counters_;
  std::vector<Packet*> out_;
};

TEST_F(TcpCoalesceTest, RejectsBadConfig) {
  EXPECT_FALSE(TcpCoalesce::Create(TcpCoalesceConfig{.max_ip_len = 70000}).ok());
  EXPECT_FALSE(TcpCoalesce::Create(TcpCoalesceConfig{.max_segs = 1}).ok());
  EXPECT_FALSE(TcpCoalesce::Create(TcpCoalesceConfig{.max_segs = kMaxFrags + 2}).ok());
  EXPECT_TRUE(gro_->drop_reasons().empty());
}

TEST_F(TcpCoalesceTest, FortyFiveSegmentsBecomeOneSuperFrame) {
  const SegSpec first;
  Run(Stream(first, 45));
  ASSERT_EQ(out_.size(), 1u);
  const Packet* h = out_[0];
  EXPECT_EQ(h->gso_size, kMss);
  EXPECT_EQ(h->gso_segs, 45);
  EXPECT_EQ(h->nfrags, 44);
  EXPECT_EQ(h->len, 14u + 20 + 20 + kMss);  // headers move, payload stays put
  EXPECT_EQ(h->frame_len(), 14u + 20 + 20 + 45 * kMss);
  ExpectSuperFrame(h, first, 45 * kMss, kAck);
  EXPECT_TRUE(wire::VerifyIpv4Checksum(reinterpret_cast<const wire::Ipv4Header*>(h->data + kL3)));
  // Freeing the head returns every packet.
  EXPECT_EQ(pool_->available(), kPoolSize - 45);
  FreeOut();
  EXPECT_EQ(pool_->available(), kPoolSize);
}

TEST_F(TcpCoalesceTest, Ipv6) {
  SegSpec first;
  first.v6 = true;
  Run(Stream(first, 20));
  ASSERT_EQ(out_.size(), 1u);
  EXPECT_EQ(out_[0]->gso_segs, 20);
  EXPECT_EQ(GetBe16(out_[0]->data + kL3 + 4), 20 + 20 * kMss);
  ExpectSuperFrame(out_[0], first, 20 * kMss, kAck);
}

TEST_F(TcpCoalesceTest, SequenceGapSplitsRuns) {
  SegSpec s;
  auto frames = Stream(s, 5);
  s.seq += 6 * kMss;  // one segment missing
  for (auto& f : Stream(s, 5)) frames.push_back(f);
  Run(frames);
  EXPECT_EQ(Segs(), (std::vector<uint32_t>{5, 5}));
  ExpectSuperFrame(out_[0], SegSpec{}, 5 * kMss, kAck);
  ExpectSuperFrame(out_[1], s, 5 * kMss, kAck);
  // A retransmission (going back) also starts a new run.
  SegSpec r;
  frames = Stream(r, 3);
  frames.push_back(Seg(r));
  Run(frames);
  EXPECT_EQ(Segs(), (std::vector<uint32_t>{3, 1}));
}

TEST_F(TcpCoalesceTest, PshJoinsAndEndsRun) {
  SegSpec s;
  std::vector<Frame> frames;
  for (uint32_t i = 0; i < 6; ++i) {
    s.flags = i == 3 ? static_cast<uint8_t>(kAck | kPsh) : kAck;
    frames.push_back(Seg(s));
    s.seq += kMss;
  }
  Run(frames);
  EXPECT_EQ(Segs(), (std::vector<uint32_t>{4, 2}));
  ExpectSuperFrame(out_[0], SegSpec{}, 4 * kMss, kAck | kPsh);
  // A PSH segment cannot start a run either.
  s = SegSpec{};
  s.flags = kAck | kPsh;
  frames = {Seg(s)};
  s.flags = kAck;
  s.seq += kMss;
  frames.push_back(Seg(s));
  Run(frames);
  EXPECT_EQ(Segs(), (std::vector<uint32_t>{1, 1}));
}

TEST_F(TcpCoalesceTest, ControlFlagsNeverMerge) {
  for (uint8_t flag : {wire::kTcpFin, wire::kTcpSyn, wire::kTcpRst, wire::kTcpUrg, wire::kTcpCwr,
                       wire::kTcpEce}) {
    SCOPED_TRACE(static_cast<int>(flag));
    SegSpec s;
    std::vector<Frame> frames;
    for (uint32_t i = 0; i < 6; ++i) {
      s.flags = i == 3 ? static_cast<uint8_t>(kAck | flag) : kAck;
      frames.push_back(Seg(s));
      s.seq += kMss;
    }
    Run(frames);
    EXPECT_EQ(Segs(), (std::vector<uint32_t>{3, 1, 2}));
    EXPECT_EQ(out_[1]->data[L4Off(false) + 13], kAck | flag);  // passed unchanged
  }
}

TEST_F(TcpCoalesceTest, InterleavedFlowsStayInOrder) {
  SegSpec a;
  SegSpec b;
  b.sport = 40001;
  std::vector<Frame> frames;
  auto add = [&frames](SegSpec& s, uint32_t n) {
    for (uint32_t i = 0; i < n; ++i) {
      frames.push_back(Seg(s));
      s.seq += s.len;
    }
  };
  add(a, 3);
  add(b, 2);
  add(a, 2);
  Run(frames);
  EXPECT_EQ(Segs(), (std::vector<uint32_t>{3, 2, 2}));
  const uint32_t l4 = L4Off(false);
  EXPECT_EQ(GetBe16(out_[0]->data + l4), 40000);
  EXPECT_EQ(GetBe16(out_[1]->data + l4), 40001);
  EXPECT_EQ(GetBe16(out_[2]->data + l4), 40000);
  EXPECT_EQ(out_[0]->seq, 0u);  // heads are the first packet of each run
  EXPECT_EQ(out_[1]->seq, 3u);
  EXPECT_EQ(out_[2]->seq, 5u);
}

TEST_F(TcpCoalesceTest, OptionsMustMatch) {
  SegSpec s;
  s.options = Timestamps(100);
  std::vector<Frame> frames;
  for (uint32_t i = 0; i < 6; ++i) {
    if (i == 3) s.options = Timestamps(101);
    frames.push_back(Seg(s));
    s.seq += kMss;
  }
  Run(frames);
  EXPECT_EQ(Segs(), (std::vector<uint32_t>{3, 3}));
  SegSpec first;
  first.options = Timestamps(100);
  ExpectSuperFrame(out_[0], first, 3 * kMss, kAck);
  // Options vs no options (different header length).
  s = SegSpec{};
  frames = {Seg(s)};
  s.seq += kMss;
  s.options = Timestamps(100);
  frames.push_back(Seg(s));
  Run(frames);
  EXPECT_EQ(Segs(), (std::vector<uint32_t>{1, 1}));
}

TEST_F(TcpCoalesceTest, AckAndWindowMustMatch) {
  SegSpec s;
  std::vector<Frame> frames;
  for (uint32_t i = 0; i < 6; ++i) {
    if (i == 2) s.ack = 5000;
    if (i == 4) s.window = 1000;
    frames.push_back(Seg(s));
    s.seq += kMss;
  }
  Run(frames);
  EXPECT_EQ(Segs(), (std::vector<uint32_t>{2, 2, 2}));
}

TEST_F(TcpCoalesceTest, ShortSegmentEndsRunLongerOneDoesNotJoin) {
  SegSpec s;
  std::vector<Frame> frames;
  for (uint32_t len : {kMss, kMss, 1000u, kMss}) {
    s.len = len;
    frames.push_back(Seg(s));
    s.seq += len;
  }
  Run(frames);
  EXPECT_EQ(Segs(), (std::vector<uint32_t>{3, 1}));
  EXPECT_EQ(out_[0]->gso_size, kMss);
  ExpectSuperFrame(out_[0], SegSpec{}, 2 * kMss + 1000, kAck);

  s = SegSpec{};
  s.len = 1000;
  frames = {Seg(s)};
  s.seq += 1000;
  s.len = kMss;
  frames.push_back(Seg(s));
  Run(frames);
  EXPECT_EQ(Segs(), (std::vector<uint32_t>{1, 1}));
}

TEST_F(TcpCoalesceTest, SixtyFourKiBCap) {
  SegSpec s;
  s.options = Timestamps(9);
  Run(Stream(s, 50));
  // 45 * 1448 + 20 + 32 = 65212 fits; a 46th segment would not.
  EXPECT_EQ(Segs(), (std::vector<uint32_t>{45, 5}));
  EXPECT_EQ(GetBe16(out_[0]->data + kL3 + 2), 20 + 32 + 45 * kMss);
  ExpectSuperFrame(out_[0], s, 45 * kMss, kAck);
}

TEST_F(TcpCoalesceTest, FragmentAndSegmentCaps) {
  SegSpec s;
  s.len = 100;
  Run(Stream(s, 60));
  // The head's own payload plus kMaxFrags fragments.
  EXPECT_EQ(Segs(), (std::vector<uint32_t>{kMaxFrags + 1, 60 - kMaxFrags - 1}));
  EXPECT_EQ(out_[0]->nfrags, kMaxFrags);
  ExpectSuperFrame(out_[0], s, (kMaxFrags + 1) * 100, kAck);

  auto four = Make(TcpCoalesceConfig{.max_segs = 4});
  Run(Stream(SegSpec{}, 10), four.get());
  EXPECT_EQ(Segs(), (std::vector<uint32_t>{4, 4, 2}));
  auto small = Make(TcpCoalesceConfig{.max_ip_len = 3000});
  Run(Stream(SegSpec{}, 5), small.get());
  EXPECT_EQ(Segs(), (std::vector<uint32_t>{2, 2, 1}));
}

TEST_F(TcpCoalesceTest, IneligiblePacketsPassUnchanged) {
  SegSpec s;
  auto frames = Stream(s, 2);
  SegSpec pure_ack = s;
  pure_ack.seq += 2 * kMss;
  frames.push_back(Build(pure_ack, 0));  // no payload
  wire::InnerSpec udp;
  udp.l4_proto = 17;
  Frame u(2048);
  const std::vector<uint8_t> payload(500, 1);
  u.resize(wire::BuildInnerFrame(udp, payload, u.data(), 2048));
  frames.push_back(u);
  Run(frames);
  EXPECT_EQ(Segs(), (std::vector<uint32_t>{2, 1, 1}));
  EXPECT_EQ(out_[1]->gso_size, 0);
  EXPECT_EQ(out_[2]->l4_proto, 17);

  // Without InnerChecksum's verification nothing is merged.
  Run(Stream(SegSpec{}, 4), nullptr, /*verify=*/false);
  EXPECT_EQ(Segs(), (std::vector<uint32_t>{1, 1, 1, 1}));
}

// The stage reads the IP and TCP headers itself, so it must check that they
// are in the frame: a previous stage's metadata (here claiming a verified TCP
// segment) is no guarantee. Each frame is a valid segment cut short inside
// its IP or TCP header (with the IP length made to agree, so that only the
// missing header bytes are wrong), in a heap block of exactly its size, so
// that a read past its end is an ASan error. It must pass unchanged and end
// the run before it.
TEST_F(TcpCoalesceTest, FrameTooShortForItsHeadersPassesWithoutOverread) {
  for (const bool v6 : {false, true}) {
    SegSpec s;
    s.v6 = v6;
    const Frame whole = Seg(s);
    const uint32_t l4 = L4Off(v6);
    for (uint32_t n = kL3 + 1; n < l4 + 20; ++n) {
      SCOPED_TRACE(testing::Message() << (v6 ? "v6" : "v4") << ", " << n << " bytes");
      Frame cut(whole.begin(), whole.begin() + n);
      if (!v6 && n >= kL3 + 4) SetBe16(cut, kL3 + 2, n - kL3);
      if (v6 && n >= l4) SetBe16(cut, kL3 + 4, n - l4);
      auto bytes = std::make_unique<uint8_t[]>(n);
      std::memcpy(bytes.get(), cut.data(), n);

      Batch b;
      Packet* before = pool_->Alloc();
      ASSERT_NE(before, nullptr);
      std::memcpy(before->data, whole.data(), whole.size());
      before->len = static_cast<uint32_t>(whole.size());
      Packet* shrt = pool_->Alloc();
      ASSERT_NE(shrt, nullptr);
      shrt->data = bytes.get();
      shrt->len = n;
      for (Packet* p : {before, shrt}) {
        p->l3_off = kL3;
        p->l4_off = static_cast<uint8_t>(l4);
        p->l4_proto = wire::kIpProtoTcp;
        p->flags = kPktFlagL4CsumOk | (v6 ? kPktFlagIpv6 : kPktFlagL3CsumOk);
        b.Push(p);
      }
      StageContext ctx;
      ctx.pool = pool_.get();
      counters_ = StageCounters{};
      ctx.counters = &counters_;
      gro_->Process(b, ctx);
      for (Packet* p : b) out_.push_back(p);

      EXPECT_EQ(counters_.in, 2u);
      EXPECT_EQ(counters_.out, 2u);
      ASSERT_EQ(out_.size(), 2u);
      EXPECT_EQ(out_[0], before);
      EXPECT_EQ(out_[1], shrt);
      EXPECT_EQ(before->nfrags, 0);  // nothing joined the segment before it
      EXPECT_EQ(before->chain, nullptr);
      EXPECT_EQ(shrt->data, bytes.get());
      EXPECT_EQ(shrt->len, n);
      EXPECT_EQ(shrt->gso_segs, 0);
      EXPECT_EQ(shrt->nfrags, 0);
      EXPECT_EQ(std::memcmp(bytes.get(), cut.data(), n), 0);
      FreeOut();  // while the block shrt points into is still alive
    }
  }
}

}  // namespace
}  // namespace mflow
