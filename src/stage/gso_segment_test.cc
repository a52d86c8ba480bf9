// GsoSegment: a super-frame becomes a train of segments whose flattened
// bytes are valid frames carrying the original payload in order; errors drop
// the whole carrier and give every packet back.
#include "stage/gso_segment.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "packet/pool.h"
#include "wire/checksum.h"
#include "wire/frame_builder.h"
#include "wire/test_frames.h"
#include "wire/ipv4.h"
#include "wire/ipv6.h"
#include "wire/parse.h"
#include "wire/tcp.h"
#include "wire/udp.h"

namespace mflow {
namespace {

using Frame = std::vector<uint8_t>;

uint8_t Pattern(uint32_t i) { return static_cast<uint8_t>((i * 13 + 5) % 251); }

Frame Payload(uint32_t n) {
  Frame p(n);
  for (uint32_t i = 0; i < n; ++i) p[i] = Pattern(i);
  return p;
}

using testing::V6;

// Overwrites the TCP or UDP checksum with the folded pseudo-header sum only,
// as a TAP hands over a CHECKSUM_PARTIAL frame (virtio-net NEEDS_CSUM).
void MakeChecksumPartial(Frame& f) {
  wire::FrameLayout l;
  ASSERT_EQ(wire::ParseFrame(f.data(), static_cast<uint32_t>(f.size()), &l), wire::ParseResult::kOk);
  const uint32_t l4_len = l.l3_end - l.l4_off;
  uint32_t pseudo;
  if (l.ipv6) {
    wire::Ipv6Header h;
    std::memcpy(&h, f.data() + l.l3_off, sizeof(h));
    pseudo = wire::PseudoHeaderSumV6(&h, l.l4_proto, l4_len);
  } else {
    wire::Ipv4Header h;
    std::memcpy(&h, f.data() + l.l3_off, sizeof(h));
    pseudo = wire::PseudoHeaderSumV4(&h, l.l4_proto, l4_len);
  }
  const wire::Be16 c = wire::Be16::FromRaw(wire::ChecksumFold(pseudo));
  std::memcpy(f.data() + l.l4_off + (l.l4_proto == wire::kIpProtoTcp ? 16 : 6), &c, 2);
}

class GsoSegmentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    big_ = PacketPool::Create({"big", 4, 70000}).value();
    small_ = PacketPool::Create({"small", 128, 2048}).value();
    Make(1500);
  }
  void Make(uint32_t mtu) { stage_ = GsoSegment::Create({mtu}).value(); }

  // A carrier holding f: all linear, or the linear part cut at `linear` with
  // the rest as fragments of the given sizes pointing into frag_store_.
  Packet* Carrier(const Frame& f, uint16_t gso_size, uint32_t linear = 0,
                  std::vector<uint32_t> frag_sizes = {}) {
    Packet* p = big_->Alloc();
    EXPECT_NE(p, nullptr);
    const uint32_t n = static_cast<uint32_t>(f.size());
    const uint32_t lin = linear == 0 ? n : linear;
    std::memcpy(p->data, f.data(), lin);
    p->len = lin;
    frag_store_.assign(f.begin() + lin, f.end());
    uint32_t off = 0;
    for (uint32_t s : frag_sizes) {
      p->AppendFrag(frag_store_.data() + off, s);
      off += s;
    }
    if (off < frag_store_.size())
      p->AppendFrag(frag_store_.data() + off, static_cast<uint32_t>(frag_store_.size()) - off);
    p->gso_size = gso_size;
    p->seq = 77;
    p->vni = 42;
    p->in_port = 3;
    p->out_port = 5;
    p->remote = wire::IpAddr::V4(0xC6120009);
    return p;
  }

  void Run(Batch& b) {
    StageContext ctx;
    ctx.counters = &counters_;
    ctx.pool = small_.get();
    stage_->Process(b, ctx);
  }

  // Checks carrier's train against the frame f it was built from.
  void CheckTrain(const Packet* carrier, const Frame& f, uint16_t mss) {
    wire::FrameLayout ol;
    ASSERT_EQ(wire::ParseFrame(f.data(), static_cast<uint32_t>(f.size()), &ol),
              wire::ParseResult::kOk);
    const uint32_t payload = ol.payload_len();
    const uint32_t want_segs = (payload + mss - 1) / mss;
    ASSERT_TRUE(carrier->is_train());
    ASSERT_EQ(carrier->nsegs, want_segs);
    EXPECT_EQ(carrier->gso_segs, want_segs);
    EXPECT_NE(carrier->flow_hash, 0u);

    const bool tcp = ol.l4_proto == wire::kIpProtoTcp;
    wire::TcpHeader tcp0;
    std::memcpy(&tcp0, f.data() + ol.l4_off, sizeof(tcp0));
    wire::Ipv4Header ip0;
    std::memcpy(&ip0, f.data() + ol.l3_off, sizeof(ip0));

    Frame joined;
    uint32_t i = 0;
    std::vector<uint8_t> buf(4096);
    for (const Packet* s = carrier->segs; s != nullptr; s = s->seg_next, ++i) {
      SCOPED_TRACE("segment " + std::to_string(i));
      EXPECT_EQ(s->headroom(), kHeadroom);
      const uint32_t n = s->Flatten(buf.data(), static_cast<uint32_t>(buf.size()));
      ASSERT_GT(n, 0u);
      wire::FrameLayout l;
      ASSERT_EQ(wire::ParseFrame(buf.data(), n, &l), wire::ParseResult::kOk);
      EXPECT_EQ(l.l3_end, n);
      const uint32_t want_len = i + 1 < want_segs ? mss : payload - i * mss;
      ASSERT_EQ(l.payload_len(), want_len);
      // Everything but the patched fields equals the carrier's headers.
      EXPECT_EQ(std::memcmp(buf.data(), f.data(), ol.l3_off), 0);  // L2
      ASSERT_EQ(l.l4_proto, ol.l4_proto);
      if (tcp) {
        wire::TcpHeader th;
        std::memcpy(&th, buf.data() + l.l4_off, sizeof(th));
        EXPECT_EQ(th.seq.host(), tcp0.seq.host() + i * mss);
        EXPECT_EQ(th.ack, tcp0.ack);
        EXPECT_EQ(th.window, tcp0.window);
        uint8_t want_flags = tcp0.flags;
        if (i != 0) want_flags &= static_cast<uint8_t>(~wire::kTcpCwr);
        if (i + 1 != want_segs) want_flags &= static_cast<uint8_t>(~(wire::kTcpFin | wire::kTcpPsh));
        EXPECT_EQ(th.flags, want_flags);
      } else {
        // Each segment is a datagram of its own: same ports, its own
        // length, a checksum that is never 0 ("none").
        wire::UdpHeader uh;
        std::memcpy(&uh, buf.data() + l.l4_off, sizeof(uh));
        EXPECT_EQ(std::memcmp(&uh, f.data() + ol.l4_off, 4), 0);  // ports
        EXPECT_EQ(uh.length.host(), 8 + want_len);
        EXPECT_NE(uh.checksum.host(), 0);
      }
      uint32_t pseudo;
      if (l.ipv6) {
        wire::Ipv6Header ip;
        std::memcpy(&ip, buf.data() + l.l3_off, sizeof(ip));
        EXPECT_EQ(ip.payload_length.host(), l.l4_hdr_len + want_len);
        pseudo = wire::PseudoHeaderSumV6(&ip, ol.l4_proto, l.l3_end - l.l4_off);
        EXPECT_TRUE(s->flags & kPktFlagIpv6);
      } else {
        wire::Ipv4Header ip;
        std::memcpy(&ip, buf.data() + l.l3_off, sizeof(ip));
        EXPECT_TRUE(wire::VerifyIpv4Checksum(
            reinterpret_cast<const wire::Ipv4Header*>(buf.data() + l.l3_off)));
        EXPECT_EQ(ip.id.host(), static_cast<uint16_t>(ip0.id.host() + i));
        EXPECT_EQ(ip.frag_off, ip0.frag_off);
        EXPECT_EQ(ip.ttl, ip0.ttl);
        pseudo = wire::PseudoHeaderSumV4(&ip, ol.l4_proto, l.l3_end - l.l4_off);
      }
      EXPECT_EQ(wire::ChecksumFold(wire::ChecksumPartial(buf.data() + l.l4_off,
                                                         l.l3_end - l.l4_off, pseudo)),
                0xffff)
          << "L4 checksum does not verify";
      joined.insert(joined.end(), buf.begin() + l.payload_off(), buf.begin() + l.l3_end);
      // Metadata comes from the carrier.
      EXPECT_EQ(s->seq, carrier->seq);
      EXPECT_EQ(s->flow_hash, carrier->flow_hash);
      EXPECT_EQ(s->vni, carrier->vni);
      EXPECT_EQ(s->in_port, carrier->in_port);
      EXPECT_EQ(s->out_port, carrier->out_port);
      EXPECT_EQ(s->remote, carrier->remote);
      EXPECT_EQ(s->l3_off, l.l3_off);
      EXPECT_EQ(s->l4_off, l.l4_off);
      EXPECT_EQ(s->l4_proto, ol.l4_proto);
      EXPECT_EQ(s->gso_size, 0u);
    }
    EXPECT_EQ(i, want_segs);
    const Frame want(f.begin() + ol.payload_off(), f.begin() + ol.l3_end);
    EXPECT_TRUE(joined == want) << "payloads concatenated differ from the original";
  }

  // Segments one carrier of frame f and checks its train; frees it.
  void SegmentAndCheck(Packet* carrier, const Frame& f, uint16_t mss) {
    Batch b;
    b.Push(carrier);
    Run(b);
    ASSERT_EQ(b.n, 1u);
    CheckTrain(b.pkts[0], f, mss);
    PacketFree(b.pkts[0]);
  }

  void ExpectPoolsFull() {
    EXPECT_EQ(big_->available(), big_->count());
    EXPECT_EQ(small_->available(), small_->count());
  }

  std::unique_ptr<PacketPool> big_;
  std::unique_ptr<PacketPool> small_;
  std::unique_ptr<GsoSegment> stage_;
  StageCounters counters_;
  Frame frag_store_;
};

Frame Build(const wire::InnerSpec& spec, uint32_t payload) {
  Frame f = testing::BuildInner(spec, Payload(payload), payload + 200);
  EXPECT_FALSE(f.empty());
  return f;
}

TEST_F(GsoSegmentTest, Ipv4SuperFrameOf64KiBMakes46Segments) {
  wire::InnerSpec spec;
  spec.tcp_seq = 0xfffff000;  // the sequence numbers wrap inside the train
  spec.ip_id = 0xfff0;        // and so do the IP IDs
  spec.tcp_flags = wire::kTcpCwr | wire::kTcpEce | wire::kTcpAck | wire::kTcpPsh | wire::kTcpFin;
  Frame f = Build(spec, 65400);  // 45 full segments of 1448 + 240
  MakeChecksumPartial(f);
  Batch b;
  b.Push(Carrier(f, 1448));
  Run(b);
  ASSERT_EQ(b.n, 1u);
  EXPECT_EQ(b.pkts[0]->nsegs, 46u);
  CheckTrain(b.pkts[0], f, 1448);
  EXPECT_EQ(counters_.in, 1u);
  EXPECT_EQ(counters_.out, 46u);
  PacketFree(b.pkts[0]);
  ExpectPoolsFull();
}

TEST_F(GsoSegmentTest, Ipv6WithVlanSuperFrame) {
  wire::InnerSpec spec;
  spec.vlan = 100;
  spec.src_ip = V6(1);
  spec.dst_ip = V6(2);
  spec.tcp_flags = wire::kTcpAck | wire::kTcpPsh;
  Frame f = Build(spec, 30001);  // odd payload length: an odd last segment
  MakeChecksumPartial(f);
  SegmentAndCheck(Carrier(f, 1428), f, 1428);
  ExpectPoolsFull();
}

// A GRO-style carrier: some payload in the linear part, the rest in
// fragments of odd sizes, so chunks straddle fragment boundaries at odd
// offsets (the checksum must treat the pieces as one byte stream).
TEST_F(GsoSegmentTest, CarrierWithFragments) {
  for (bool v6 : {false, true}) {
    SCOPED_TRACE(v6 ? "ipv6" : "ipv4");
    wire::InnerSpec spec;
    if (v6) {
      spec.src_ip = V6(1);
      spec.dst_ip = V6(2);
    }
    Frame f = Build(spec, 20000);
    const uint32_t hdr = v6 ? 14 + 40 + 20 : 14 + 20 + 20;
    Batch b;
    b.Push(Carrier(f, 1000, hdr + 777, {1, 3001, 2, 999, 5000}));
    ASSERT_EQ(b.pkts[0]->nfrags, 6u);
    Run(b);
    ASSERT_EQ(b.n, 1u);
    CheckTrain(b.pkts[0], f, 1000);
    // Segment 0 is cut from the linear part and the 1-byte fragment and the
    // first 222 bytes of the 3001-byte one.
    EXPECT_EQ(b.pkts[0]->segs->nfrags, 3u);
    PacketFree(b.pkts[0]);
    ExpectPoolsFull();
  }
}

TEST_F(GsoSegmentTest, HeadersOnlyInLinearPart) {
  wire::InnerSpec spec;
  Frame f = Build(spec, 5000);
  SegmentAndCheck(Carrier(f, 1448, 14 + 20 + 20, {2500}), f, 1448);
  ExpectPoolsFull();
}

TEST_F(GsoSegmentTest, PayloadOfExactlyOneOrManyFullSegments) {
  wire::InnerSpec spec;
  for (uint32_t payload : {1448u, 1448u * 3}) {
    Frame f = Build(spec, payload);
    SegmentAndCheck(Carrier(f, 1448), f, 1448);
  }
  ExpectPoolsFull();
}

TEST_F(GsoSegmentTest, PoolExhaustionDropsTheWholeCarrier) {
  small_ = PacketPool::Create({"small", 10, 2048}).value();
  wire::InnerSpec spec;
  Frame f = Build(spec, 65400);
  Batch b;
  b.Push(Carrier(f, 1448));
  Run(b);
  EXPECT_EQ(b.n, 0u);
  EXPECT_EQ(counters_.drops[GsoSegment::kNoBuffer], 1u);
  EXPECT_EQ(counters_.out, 0u);
  ExpectPoolsFull();
}

TEST_F(GsoSegmentTest, HeaderPoolBuffersTooSmall) {
  small_ = PacketPool::Create({"tiny", 8, kHeadroom + 64}).value();
  wire::InnerSpec spec;
  spec.src_ip = V6(1);
  spec.dst_ip = V6(2);  // 74 bytes of headers > 64 bytes of room
  Frame f = Build(spec, 3000);
  Batch b;
  b.Push(Carrier(f, 1400));
  Run(b);
  EXPECT_EQ(b.n, 0u);
  EXPECT_EQ(counters_.drops[GsoSegment::kNoBuffer], 1u);
  ExpectPoolsFull();
}

TEST_F(GsoSegmentTest, NonGsoFramesAndTrainsPassUnchanged) {
  wire::InnerSpec spec;
  const Frame f = Build(spec, 1000);
  Frame big = Build(spec, 4000);
  Batch b;
  Packet* plain = Carrier(f, 0);
  Packet* super = Carrier(big, 1448);
  Packet* plain2 = Carrier(f, 0);
  b.Push(plain);
  b.Push(super);
  b.Push(plain2);
  Run(b);
  ASSERT_EQ(b.n, 3u);
  EXPECT_EQ(b.pkts[0], plain);
  EXPECT_EQ(b.pkts[1], super);
  EXPECT_EQ(b.pkts[2], plain2);
  EXPECT_FALSE(plain->is_train());
  ASSERT_EQ(plain->len, f.size());
  EXPECT_EQ(std::memcmp(plain->data, f.data(), f.size()), 0);
  EXPECT_EQ(counters_.out, 1u + 3u + 1u);
  // A second pass leaves the train as it is.
  Packet* first_seg = super->segs;
  Run(b);
  EXPECT_EQ(b.n, 3u);
  EXPECT_EQ(super->segs, first_seg);
  EXPECT_EQ(super->nsegs, 3u);
  for (uint32_t i = 0; i < b.n; ++i) PacketFree(b.pkts[i]);
  ExpectPoolsFull();
}

// USO: a container's UDP_SEGMENT send (gso_size = the datagram size) leaves
// as the datagrams it was made of, over IPv4 and IPv6, linear or not.
TEST_F(GsoSegmentTest, UdpSuperFrameBecomesItsDatagrams) {
  for (bool v6 : {false, true}) {
    for (bool frags : {false, true}) {
      SCOPED_TRACE(std::string(v6 ? "ipv6" : "ipv4") + (frags ? ", fragments" : ", linear"));
      wire::InnerSpec spec = v6 ? testing::Udp6() : testing::Udp4();
      spec.ip_id = 0xfffe;          // the IDs wrap inside the train
      Frame f = Build(spec, 20003);  // 14 datagrams of 1400 and one of 403
      MakeChecksumPartial(f);
      const uint32_t hdr = v6 ? 14 + 40 + 8 : 14 + 20 + 8;
      // CheckTrain counts the segments: 15.
      SegmentAndCheck(frags ? Carrier(f, 1400, hdr + 333, {1, 7001, 4000}) : Carrier(f, 1400), f,
                      1400);
      ExpectPoolsFull();
    }
  }
}

// A segment whose UDP sum is 0 carries 0xffff: 0 would say "no checksum".
TEST_F(GsoSegmentTest, UdpChecksumOfZeroIsSentAsAllOnes) {
  wire::InnerSpec spec = testing::Udp4();
  Frame f = Build(spec, 2);
  wire::FrameLayout l;
  ASSERT_EQ(wire::ParseFrame(f.data(), static_cast<uint32_t>(f.size()), &l), wire::ParseResult::kOk);
  // Pick the two payload bytes so that the whole datagram sums to 0xffff
  // (checksum field 0): then its checksum comes out as 0 before the fix-up.
  f[l.payload_off()] = 0;
  f[l.payload_off() + 1] = 0;
  std::memset(f.data() + l.l4_off + 6, 0, 2);
  wire::Ipv4Header ip;
  std::memcpy(&ip, f.data() + l.l3_off, sizeof(ip));
  const uint32_t sum = wire::ChecksumPartial(f.data() + l.l4_off, l.l3_end - l.l4_off,
                                             wire::PseudoHeaderSumV4(&ip, wire::kIpProtoUdp, 10));
  // sum + fill = 0xffff; the sums are over raw (memory order) words.
  const uint16_t fill = static_cast<uint16_t>(~wire::ChecksumFold(sum));
  std::memcpy(f.data() + l.payload_off(), &fill, 2);
  Batch b;
  b.Push(Carrier(f, 2));
  Run(b);
  ASSERT_EQ(b.n, 1u);
  const Packet* s = b.pkts[0]->segs;
  ASSERT_NE(s, nullptr);
  wire::UdpHeader uh;
  std::memcpy(&uh, s->data + l.l4_off, sizeof(uh));
  EXPECT_EQ(uh.checksum.host(), 0xffff);
  PacketFree(b.pkts[0]);
  ExpectPoolsFull();
}

TEST_F(GsoSegmentTest, NotTcpOrUdp) {
  wire::InnerSpec icmp;
  icmp.l4_proto = 1;
  Frame arp(60, 0);
  arp[12] = 0x08;
  arp[13] = 0x06;
  Batch b;
  b.Push(Carrier(Build(icmp, 3000), 1448));
  b.Push(Carrier(arp, 1448));
  Run(b);
  EXPECT_EQ(b.n, 0u);
  EXPECT_EQ(counters_.drops[GsoSegment::kNotTcpUdp], 2u);
  ExpectPoolsFull();
}

TEST_F(GsoSegmentTest, BadHeaders) {
  wire::InnerSpec spec;
  Frame f = Build(spec, 3000);
  f.resize(f.size() - 10);  // IP total length now beyond the frame
  Frame runt(10, 0);
  Batch b;
  b.Push(Carrier(f, 1448));
  b.Push(Carrier(runt, 1448));
  Run(b);
  EXPECT_EQ(b.n, 0u);
  EXPECT_EQ(counters_.drops[GsoSegment::kBadHeaders], 2u);
  ExpectPoolsFull();
}

TEST_F(GsoSegmentTest, BadGsoSize) {
  wire::InnerSpec spec;
  Batch b;
  b.Push(Carrier(Build(spec, 1000), 1448));  // payload smaller than one segment
  Run(b);
  EXPECT_EQ(counters_.drops[GsoSegment::kBadGsoSize], 1u);
  // 20 + 20 + 1448 = 1488 > 1450: the segments could not be encapsulated.
  Make(1450);
  b.Clear();
  b.Push(Carrier(Build(spec, 5000), 1448));
  Run(b);
  EXPECT_EQ(b.n, 0u);
  EXPECT_EQ(counters_.drops[GsoSegment::kBadGsoSize], 2u);
  b.Push(Carrier(Build(spec, 5000), 1410));  // 1450 exactly fits
  Run(b);
  EXPECT_EQ(b.n, 1u);
  PacketFree(b.pkts[0]);
  // mtu 0 (the default) leaves the MTU to the encapsulator.
  Make(0);
  b.Clear();
  b.Push(Carrier(Build(spec, 5000), 9000 - 40));
  Run(b);
  EXPECT_EQ(b.n, 0u);  // still: payload smaller than one segment
  b.Push(Carrier(Build(spec, 20000), 9000 - 40));
  Run(b);
  EXPECT_EQ(b.n, 1u);
  EXPECT_EQ(b.pkts[0]->nsegs, 3u);
  PacketFree(b.pkts[0]);
  EXPECT_EQ(counters_.drops[GsoSegment::kBadGsoSize], 3u);
  ExpectPoolsFull();
}

TEST_F(GsoSegmentTest, TooManyFragments) {
  // Segment 0 would be 1 linear byte + 47 two-byte fragments + 5 bytes of
  // the last fragment: 49 pieces, one more than a packet has slots for.
  wire::InnerSpec spec;
  Frame f = Build(spec, 120);
  const uint32_t hdr = 14 + 20 + 20;
  Batch b;
  b.Push(Carrier(f, 100, hdr + 1, std::vector<uint32_t>(kMaxFrags - 1, 2)));
  ASSERT_EQ(b.pkts[0]->nfrags, kMaxFrags);
  Run(b);
  EXPECT_EQ(b.n, 0u);
  EXPECT_EQ(counters_.drops[GsoSegment::kTooManyFrags], 1u);
  ExpectPoolsFull();
}

TEST(GsoSegmentCreateTest, RejectsBadMtu) {
  EXPECT_FALSE(GsoSegment::Create({10}).ok());
  EXPECT_FALSE(GsoSegment::Create({70000}).ok());
  EXPECT_TRUE(GsoSegment::Create({0}).ok());
  EXPECT_TRUE(GsoSegment::Create({}).ok());
}

TEST(GsoSegmentCreateTest, DropNamesMatchTheEnum) {
  auto s = GsoSegment::Create({}).value();
  ASSERT_EQ(s->drop_reasons().size(), GsoSegment::kNumDrops);
  EXPECT_EQ(s->drop_reasons()[GsoSegment::kNoBuffer], "no_buffer");
  EXPECT_EQ(s->name(), "gso_segment");
}

}  // namespace
}  // namespace mflow
