// Malformed packets through the whole chains (BuildRxChain, BuildTxChain):
// each bad frame ends on exactly one named, counted drop edge
// ("<stage>_<reason>") and nothing else happens — its good neighbours pass
// in order, no other counter moves, every buffer returns to its pool. The
// inputs an L2 overlay must forward (inner fragments, inner IPv6 extension
// headers, inner IPv4 options, inner TTL 0, zero-length payloads) pass
// untouched instead. docs/MALFORMED.md tabulates the outcomes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "packet/pool.h"
#include "stage/datapath.h"
#include "wire/checksum.h"
#include "wire/frame_builder.h"
#include "wire/tcp.h"
#include "wire/test_frames.h"

namespace mflow {
namespace {

using Frame = std::vector<uint8_t>;
using Drops = std::map<std::string, uint64_t>;

// Outer IPv4 layout (BuildVxlanFrame): Ethernet 14, IP 20, UDP 8, VXLAN 8.
constexpr uint32_t kOuterIp = 14;
constexpr uint32_t kOuterUdp = 34;
constexpr uint32_t kVx = 42;
// Inner layout (BuildInnerFrame, no VLAN): IP at 14, L4 at 34 (IPv4) or 54 (IPv6).
constexpr uint32_t kIp = 14;
constexpr uint32_t kL4v4 = 34;
constexpr uint32_t kL4v6 = 54;
constexpr uint32_t kMtu = 1500;
constexpr uint32_t kPoolSize = 256;

const wire::IpAddr kPeer = wire::IpAddr::V4(0xC6120001);

wire::MacAddr Mac(uint8_t last) { return wire::MacAddr{{0x02, 0, 0, 0, 0, last}}; }

void SetBe16(Frame& f, uint32_t off, uint32_t v) {
  f[off] = static_cast<uint8_t>(v >> 8);
  f[off + 1] = static_cast<uint8_t>(v);
}
uint16_t GetBe16(const Frame& f, uint32_t off) {
  return static_cast<uint16_t>((f[off] << 8) | f[off + 1]);
}
void FixIpv4Checksum(Frame& f, uint32_t l3) {
  const uint32_t hl = uint32_t{f[l3] & 0x0fu} * 4;
  f[l3 + 10] = 0;
  f[l3 + 11] = 0;
  const uint16_t c = wire::ChecksumFinish(wire::ChecksumPartial(&f[l3], hl));
  std::memcpy(&f[l3 + 10], &c, 2);
}
// Inserts 4 bytes of IPv4 options (NOP NOP NOP EOL) after the header at l3.
void AddIpv4Options(Frame& f, uint32_t l3) {
  const uint32_t hl = uint32_t{f[l3] & 0x0fu} * 4;
  const uint8_t opts[4] = {1, 1, 1, 0};
  f.insert(f.begin() + l3 + hl, opts, opts + 4);
  f[l3] = static_cast<uint8_t>(f[l3] + 1);
  SetBe16(f, l3 + 2, GetBe16(f, l3 + 2) + 4u);
  FixIpv4Checksum(f, l3);
}
// Inserts an 8-byte Hop-by-Hop Options header (PadN) after the IPv6 header
// at l3. The upper-layer checksum does not change (RFC 8200 §8.1).
void AddHopByHop(Frame& f, uint32_t l3) {
  const uint8_t hbh[8] = {f[l3 + 6], 0, 1, 4, 0, 0, 0, 0};
  f.insert(f.begin() + l3 + 40, hbh, hbh + 8);
  f[l3 + 6] = 0;
  SetBe16(f, l3 + 4, GetBe16(f, l3 + 4) + 8u);
}

using testing::Icmp4;
using testing::Outer6;
using testing::Tcp4;
using testing::Tcp6;
using testing::Udp4;
using testing::Udp6;
using testing::V6;

Frame Inner(const wire::InnerSpec& spec = Tcp4(), uint32_t payload_len = 100,
            uint32_t stream_pos = 0) {
  Frame out = testing::BuildInner(spec, testing::StreamPayload(payload_len, stream_pos));
  EXPECT_FALSE(out.empty());
  return out;
}
Frame Vxlan(const Frame& inner, const wire::OuterSpec& outer = wire::OuterSpec{}) {
  Frame out = testing::BuildVxlan(inner, outer);
  EXPECT_FALSE(out.empty());
  return out;
}
// Cuts an outer IPv4 VXLAN frame to `udp_bytes` of UDP datagram, keeping
// the IP and UDP lengths consistent (a truncation the outer checks accept).
Frame CutUdp(Frame f, uint32_t udp_bytes) {
  f.resize(kOuterUdp + udp_bytes);
  SetBe16(f, kOuterIp + 2, 20 + udp_bytes);
  if (udp_bytes >= 6) SetBe16(f, kOuterUdp + 4, udp_bytes);
  FixIpv4Checksum(f, kOuterIp);
  return f;
}
// Cuts an inner frame to l4_bytes past the IP header at l3, with a
// consistent IP length (so the IP header itself is sound).
Frame CutL4(Frame f, bool v6, uint32_t l4_bytes) {
  const uint32_t l4 = v6 ? kL4v6 : kL4v4;
  f.resize(l4 + l4_bytes);
  if (v6) {
    SetBe16(f, kIp + 4, l4_bytes);
  } else {
    SetBe16(f, kIp + 2, 20 + l4_bytes);
    FixIpv4Checksum(f, kIp);
  }
  return f;
}

std::string DropsString(const Drops& d) {
  std::string s;
  for (const auto& [name, n] : d) s += name + "=" + std::to_string(n) + " ";
  return s.empty() ? "(none)" : s;
}

class MalformedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    PacketPoolConfig pc;
    pc.count = kPoolSize;
    pc.buf_size = kHeadroom + 16384;
    pool_ = std::move(PacketPool::Create(pc)).value();
    pc.name = "headers";
    pc.buf_size = kHeadroom + 256;
    hdr_pool_ = std::move(PacketPool::Create(pc)).value();
    rx_fdb_ = std::move(Fdb::Create(FdbConfig{})).value();
    tx_fdb_ = std::move(Fdb::Create(FdbConfig{})).value();
    // rx: 02::02 is a local container, 02::03 sits behind another VTEP.
    rx_fdb_->Learn(42, Mac(2), FdbValue::Local(1), 0);
    rx_fdb_->Learn(42, Mac(3), FdbValue::Remote(wire::IpAddr::V4(0xC6120009)), 0);
    // tx: 02::02 sits behind the peer VTEP, 02::03 on our ingress port 0.
    tx_fdb_->Learn(42, Mac(2), FdbValue::Remote(kPeer), 0);
    tx_fdb_->Learn(42, Mac(3), FdbValue::Local(0), 0);
    DataPathConfig dp;
    dp.peers = {kPeer, V6(1)};
    dp.inner_mtu = kMtu;
    dp.fdb = rx_fdb_.get();
    rx_ = std::move(BuildRxChain(dp)).value();
    dp.fdb = tx_fdb_.get();
    tx_ = std::move(BuildTxChain(dp)).value();
  }
  void TearDown() override {
    FreeOut();
    EXPECT_EQ(pool_->available(), kPoolSize);
    EXPECT_EQ(hdr_pool_->available(), kPoolSize);
  }

  struct TxFrame {
    Frame frame;
    uint16_t gso_size = 0;
  };

  // Runs frames through a chain as one batch; returns the survivors' tags
  // (input positions) and fills drops_ with every non-zero drop counter.
  std::vector<uint64_t> RunChain(StageChain& chain, const std::vector<TxFrame>& frames, bool tx) {
    FreeOut();
    Batch b;
    for (size_t i = 0; i < frames.size(); ++i) {
      Packet* p = pool_->Alloc();
      EXPECT_NE(p, nullptr);
      EXPECT_LE(frames[i].frame.size(), p->tailroom());
      std::memcpy(p->data, frames[i].frame.data(), frames[i].frame.size());
      p->len = static_cast<uint32_t>(frames[i].frame.size());
      p->seq = i;
      if (tx) {
        p->vni = 42;
        p->in_port = 0;
        p->gso_size = frames[i].gso_size;
      }
      b.Push(p);
    }
    std::vector<StageCounters> counters(chain.size());
    StageContext ctx;
    ctx.pool = hdr_pool_.get();
    chain.Run(b, ctx, counters.data(), 0, chain.size());
    drops_.clear();
    for (uint32_t s = 0; s < chain.size(); ++s) {
      const auto names = chain.at(s).drop_reasons();
      for (uint32_t r = 0; r < kMaxDropReasons; ++r) {
        if (counters[s].drops[r] == 0) continue;
        EXPECT_LT(r, names.size()) << "drop on an unnamed edge of " << chain.at(s).name();
        const std::string reason = r < names.size() ? std::string(names[r]) : "?";
        drops_[std::string(chain.at(s).name()) + "_" + reason] += counters[s].drops[r];
      }
    }
    std::vector<uint64_t> tags;
    for (Packet* p : b) {
      tags.push_back(p->seq);
      out_.push_back(p);
    }
    return tags;
  }
  std::vector<uint64_t> RunRx(const std::vector<Frame>& frames) {
    std::vector<TxFrame> in;
    for (const Frame& f : frames) in.push_back({f, 0});
    return RunChain(*rx_, in, false);
  }
  std::vector<uint64_t> RunTx(const std::vector<TxFrame>& frames) {
    return RunChain(*tx_, frames, true);
  }
  Frame Flat(const Packet* p) {
    Frame f(p->frame_len());
    EXPECT_EQ(p->Flatten(f.data(), static_cast<uint32_t>(f.size())), f.size());
    return f;
  }
  void FreeOut() {
    for (Packet* p : out_) PacketFree(p);
    out_.clear();
  }

  std::unique_ptr<PacketPool> pool_;
  std::unique_ptr<PacketPool> hdr_pool_;
  std::unique_ptr<Fdb> rx_fdb_;
  std::unique_ptr<Fdb> tx_fdb_;
  std::unique_ptr<StageChain> rx_;
  std::unique_ptr<StageChain> tx_;
  std::vector<Packet*> out_;
  Drops drops_;
};

// One bad input and the single drop edge it must end on ("" = it must pass).
struct RxCase {
  std::string name;
  std::function<Frame()> make;
  std::string drop;
};

std::vector<RxCase> RxCases() {
  const Frame tcp4 = Inner();
  const Frame tcp6 = Inner(Tcp6());
  const Frame udp4 = Inner(Udp4());
  const Frame udp6 = Inner(Udp6());
  const Frame good = Vxlan(tcp4);
  // Outer mutation / inner mutation of the golden frames.
  auto outer = [good](std::function<void(Frame&)> m) {
    return [good, m] {
      Frame f = good;
      m(f);
      return f;
    };
  };
  auto inner = [](Frame in, std::function<void(Frame&)> m) {
    return [in, m] {
      Frame f = in;
      m(f);
      return Vxlan(f);
    };
  };
  return {
      // --- truncated headers, layer by layer
      {"outer_ethernet_truncated", outer([](Frame& f) { f.resize(13); }),
       "outer_validate_truncated"},
      {"outer_vlan_truncated", outer([](Frame& f) {
         f.resize(16);
         SetBe16(f, 12, 0x8100);
       }),
       "outer_validate_truncated"},
      {"outer_ipv4_truncated", outer([](Frame& f) { f.resize(kOuterIp + 19); }),
       "outer_validate_truncated"},
      {"outer_ipv6_truncated",
       [udp6] {
         Frame f = Vxlan(udp6, Outer6());
         f.resize(14 + 39);
         return f;
       },
       "outer_validate_truncated"},
      {"udp_truncated", [good] { return CutUdp(good, 7); }, "outer_validate_truncated"},
      {"vxlan_truncated", [good] { return CutUdp(good, 8 + 7); }, "vxlan_decap_truncated"},
      {"inner_ethernet_truncated", [good] { return CutUdp(good, 16 + 13); },
       "vxlan_decap_inner_truncated"},
      {"inner_vlan_truncated",
       inner(tcp4,
             [](Frame& f) {
               f.resize(16);
               SetBe16(f, 12, 0x8100);
             }),
       "inner_checksum_truncated_ethernet"},
      {"inner_ipv4_truncated", inner(tcp4, [](Frame& f) { f.resize(kIp + 19); }),
       "inner_checksum_truncated_ip"},
      {"inner_ipv6_truncated", inner(tcp6, [](Frame& f) { f.resize(kIp + 39); }),
       "inner_checksum_truncated_ip"},
      {"inner_tcp_truncated", inner(tcp4, [](Frame& f) { f = CutL4(f, false, 19); }),
       "inner_checksum_bad_l4_header"},
      {"inner_tcp6_truncated", inner(tcp6, [](Frame& f) { f = CutL4(f, true, 12); }),
       "inner_checksum_bad_l4_header"},
      {"inner_udp_truncated", inner(udp4, [](Frame& f) { f = CutL4(f, false, 7); }),
       "inner_checksum_bad_l4_header"},
      {"inner_tcp_data_offset_beyond",
       inner(tcp4,
             [](Frame& f) {
               f = CutL4(f, false, 40);
               f[kL4v4 + 12] = 0xf0;
             }),
       "inner_checksum_bad_l4_header"},
      // --- IP lengths that disagree with the frame
      {"outer_total_length_beyond_frame", outer([](Frame& f) {
         SetBe16(f, kOuterIp + 2, GetBe16(f, kOuterIp + 2) + 1u);
         FixIpv4Checksum(f, kOuterIp);
       }),
       "outer_validate_bad_ip_total_length"},
      {"outer_total_length_short_of_frame",  // the tail would be padding; UDP says otherwise
       outer([](Frame& f) {
         SetBe16(f, kOuterIp + 2, GetBe16(f, kOuterIp + 2) - 10u);
         FixIpv4Checksum(f, kOuterIp);
       }),
       "outer_validate_bad_udp_length"},
      {"outer_total_length_below_header", outer([](Frame& f) {
         SetBe16(f, kOuterIp + 2, 19);
         FixIpv4Checksum(f, kOuterIp);
       }),
       "outer_validate_bad_ip_total_length"},
      {"outer_datagram_cut_in_inner_frame",
       [good] { return CutUdp(good, static_cast<uint32_t>(good.size()) - kOuterUdp - 10); },
       "inner_checksum_bad_ip_total_length"},
      {"inner_total_length_beyond_frame",
       inner(tcp4,
             [](Frame& f) {
               SetBe16(f, kIp + 2, GetBe16(f, kIp + 2) + 1u);
               FixIpv4Checksum(f, kIp);
             }),
       "inner_checksum_bad_ip_total_length"},
      {"inner_total_length_short_of_frame",  // tail taken as padding: TCP checksum fails
       inner(tcp4,
             [](Frame& f) {
               SetBe16(f, kIp + 2, GetBe16(f, kIp + 2) - 4u);
               FixIpv4Checksum(f, kIp);
             }),
       "inner_checksum_bad_tcp_checksum"},
      {"inner_v6_payload_length_beyond_frame",
       inner(tcp6, [](Frame& f) { SetBe16(f, kIp + 4, GetBe16(f, kIp + 4) + 1u); }),
       "inner_checksum_bad_ip_total_length"},
      {"udp_length_disagrees",
       outer([](Frame& f) { SetBe16(f, kOuterUdp + 4, GetBe16(f, kOuterUdp + 4) - 1u); }),
       "outer_validate_bad_udp_length"},
      // --- checksums
      {"outer_ipv4_checksum", outer([](Frame& f) { f[kOuterIp + 10] ^= 0x40; }),
       "outer_validate_bad_ip_checksum"},
      {"outer_udp_checksum",
       [tcp4] {
         wire::OuterSpec o;
         o.udp_checksum = true;
         Frame f = Vxlan(tcp4, o);
         f.back() ^= 1;
         return f;
       },
       "outer_validate_bad_udp_checksum"},
      {"outer_v6_zero_udp_checksum",
       [tcp4] {
         Frame f = Vxlan(tcp4, Outer6());
         f[54 + 6] = 0;
         f[54 + 7] = 0;
         return f;
       },
       "outer_validate_zero_udp_checksum_v6"},
      {"inner_ipv4_checksum", inner(tcp4, [](Frame& f) { f[kIp + 10] ^= 0x01; }),
       "inner_checksum_bad_ip_checksum"},
      {"inner_tcp_checksum", inner(tcp4, [](Frame& f) { f.back() ^= 0x80; }),
       "inner_checksum_bad_tcp_checksum"},
      {"inner_tcp6_checksum", inner(tcp6, [](Frame& f) { f[kL4v6 + 16] ^= 0x01; }),
       "inner_checksum_bad_tcp_checksum"},
      {"inner_udp_checksum", inner(udp4, [](Frame& f) { f.back() ^= 0x01; }),
       "inner_checksum_bad_udp_checksum"},
      {"inner_udp6_zero_checksum",
       inner(udp6,
             [](Frame& f) {
               f[kL4v6 + 6] = 0;
               f[kL4v6 + 7] = 0;
             }),
       "inner_checksum_bad_udp_checksum"},
      // --- VXLAN header
      {"vxlan_flag_i_clear", outer([](Frame& f) { f[kVx] = 0; }), "vxlan_decap_flag_i_clear"},
      {"vxlan_reserved_flag_bits", outer([](Frame& f) { f[kVx] |= 0x80; }),
       "vxlan_decap_reserved_bits"},
      {"vxlan_reserved_field", outer([](Frame& f) { f[kVx + 3] = 1; }),
       "vxlan_decap_reserved_bits"},
      {"vxlan_reserved_last_byte", outer([](Frame& f) { f[kVx + 7] = 1; }),
       "vxlan_decap_reserved_bits"},
      {"vxlan_unknown_vni", outer([](Frame& f) { f[kVx + 6] = 43; }), "vxlan_decap_unknown_vni"},
      // The limit is the frame: MTU + Ethernet + one 802.1Q tag (18 bytes).
      {"inner_frame_above_mtu", [] { return Vxlan(Inner(Tcp4(), kMtu - 40 + 4 + 1)); },
       "vxlan_decap_inner_too_big"},
      // --- outer IP features we refuse
      {"outer_ipv6_hop_by_hop",
       [tcp4] {
         Frame f = Vxlan(tcp4, Outer6());
         AddHopByHop(f, kOuterIp);
         return f;
       },
       "outer_validate_ipv6_extension_header"},
      // RFC 3692's experimental values are extension headers too (wire/ipv6.h).
      {"outer_ipv6_experimental_253",
       [tcp4] {
         Frame f = Vxlan(tcp4, Outer6());
         f[kOuterIp + 6] = 253;
         return f;
       },
       "outer_validate_ipv6_extension_header"},
      // ESP is not: nothing behind it is readable, so it is just not UDP.
      {"outer_ipv6_esp",
       [tcp4] {
         Frame f = Vxlan(tcp4, Outer6());
         f[kOuterIp + 6] = 50;
         return f;
       },
       "outer_validate_not_udp"},
      {"outer_ipv4_fragment", outer([](Frame& f) {
         SetBe16(f, kOuterIp + 6, 0x2000);
         FixIpv4Checksum(f, kOuterIp);
       }),
       "outer_validate_fragment"},
      {"outer_ipv4_fragment_offset", outer([](Frame& f) {
         SetBe16(f, kOuterIp + 6, 0x00b9);
         FixIpv4Checksum(f, kOuterIp);
       }),
       "outer_validate_fragment"},
      {"outer_ipv6_fragment",
       [tcp4] {
         Frame f = Vxlan(tcp4, Outer6());
         f[kOuterIp + 6] = 44;
         return f;
       },
       "outer_validate_fragment"},
      {"outer_ttl_zero", outer([](Frame& f) {
         f[kOuterIp + 8] = 0;
         FixIpv4Checksum(f, kOuterIp);
       }),
       "outer_validate_ttl_zero"},
      {"outer_hop_limit_zero",
       [tcp4] {
         Frame f = Vxlan(tcp4, Outer6());
         f[kOuterIp + 7] = 0;
         return f;
       },
       "outer_validate_ttl_zero"},
      // --- not ours
      {"outer_not_ip", outer([](Frame& f) { SetBe16(f, 12, 0x0806); }), "outer_validate_not_ip"},
      {"outer_not_udp", outer([](Frame& f) {
         f[kOuterIp + 9] = 6;
         FixIpv4Checksum(f, kOuterIp);
       }),
       "outer_validate_not_udp"},
      {"outer_wrong_port", outer([](Frame& f) { SetBe16(f, kOuterUdp + 2, 4790); }),
       "outer_validate_wrong_port"},
      {"outer_unknown_peer",
       [tcp4] {
         wire::OuterSpec o;
         o.src_ip = wire::IpAddr::V4(0x0a000001);
         return Vxlan(tcp4, o);
       },
       "outer_validate_unknown_peer"},
      {"inner_multicast_source_mac", inner(tcp4, [](Frame& f) { f[6] = 0x03; }),
       "fdb_forward_rx_bad_src_mac"},
      {"inner_to_remote_vtep", inner(tcp4, [](Frame& f) { f[5] = 0x03; }),
       "fdb_forward_rx_split_horizon"},
      // --- accepted: what a receiver takes or an L2 overlay forwards untouched
      {"outer_ipv4_options", outer([](Frame& f) { AddIpv4Options(f, kOuterIp); }), ""},
      {"outer_ipv6", [tcp4] { return Vxlan(tcp4, Outer6()); }, ""},
      {"inner_ipv4_options", inner(tcp4, [](Frame& f) { AddIpv4Options(f, kIp); }), ""},
      {"inner_ipv6_hop_by_hop", inner(tcp6, [](Frame& f) { AddHopByHop(f, kIp); }), ""},
      {"inner_ipv6_esp", inner(tcp6, [](Frame& f) { f[kIp + 6] = 50; }), ""},
      {"inner_ipv4_fragment",
       inner(tcp4,
             [](Frame& f) {
               SetBe16(f, kIp + 6, 0x2000);
               FixIpv4Checksum(f, kIp);
             }),
       ""},
      {"inner_ipv6_fragment", inner(tcp6, [](Frame& f) { f[kIp + 6] = 44; }), ""},
      {"inner_ttl_zero",
       inner(tcp4,
             [](Frame& f) {
               f[kIp + 8] = 0;
               FixIpv4Checksum(f, kIp);
             }),
       ""},
      {"inner_hop_limit_zero", inner(tcp6, [](Frame& f) { f[kIp + 7] = 0; }), ""},
      {"inner_tcp_no_payload", [] { return Vxlan(Inner(Tcp4(), 0)); }, ""},
      {"inner_udp_no_payload", [] { return Vxlan(Inner(Udp4(), 0)); }, ""},
      {"inner_udp6_no_payload", [] { return Vxlan(Inner(Udp6(), 0)); }, ""},
      {"inner_udp_no_checksum",
       inner(udp4,
             [](Frame& f) {
               f[kL4v4 + 6] = 0;
               f[kL4v4 + 7] = 0;
             }),
       ""},
      {"inner_not_ip", inner(tcp4, [](Frame& f) { SetBe16(f, 12, 0x88b5); }), ""},
      {"inner_frame_at_mtu", [] { return Vxlan(Inner(Tcp4(), kMtu - 40)); }, ""},
  };
}

// Each bad frame between two good ones (of other flows, so nothing merges):
// the good ones pass in order, the bad one ends on its edge, nothing else
// is counted, and every buffer comes back.
TEST_F(MalformedTest, RxEachBadFrameEndsOnItsOwnEdge) {
  const Frame before = Vxlan(Inner(Tcp4(41000)));
  const Frame after = Vxlan(Inner(Tcp4(42000)));
  for (const RxCase& c : RxCases()) {
    SCOPED_TRACE(c.name);
    const Frame bad = c.make();
    const std::vector<uint64_t> tags = RunRx({before, bad, after});
    if (c.drop.empty()) {
      EXPECT_EQ(tags, (std::vector<uint64_t>{0, 1, 2}));
      EXPECT_TRUE(drops_.empty()) << DropsString(drops_);
      // Forwarded as it came: the inner frame (the end of the VXLAN frame)
      // comes out unchanged.
      if (tags.size() == 3) {
        const Frame got = Flat(out_[1]);
        ASSERT_LE(got.size(), bad.size());
        EXPECT_TRUE(std::equal(got.begin(), got.end(),
                               bad.end() - static_cast<std::ptrdiff_t>(got.size())));
      }
    } else {
      EXPECT_EQ(tags, (std::vector<uint64_t>{0, 2}));
      EXPECT_EQ(drops_, (Drops{{c.drop, 1}})) << DropsString(drops_);
    }
    FreeOut();
    EXPECT_EQ(pool_->available(), kPoolSize);
  }
}

// All of them in one batch, each after a good segment of one running flow:
// the flow arrives whole and in order (and still coalesces across the
// gaps the dropped packets leave), every bad frame is counted once.
TEST_F(MalformedTest, RxMixedBatchKeepsTheGoodFlowWhole) {
  const auto cases = RxCases();
  std::vector<Frame> frames;
  Drops want;
  uint32_t passing = 0;
  constexpr uint32_t kMss = 200;
  uint32_t good_segments = 0;
  for (const RxCase& c : cases) {
    wire::InnerSpec s = Tcp4(45000);
    s.tcp_seq = 1 + good_segments * kMss;
    s.tcp_flags = wire::kTcpAck;
    frames.push_back(Vxlan(Inner(s, kMss, good_segments * kMss)));
    ++good_segments;
    frames.push_back(c.make());
    if (c.drop.empty()) {
      ++passing;
    } else {
      want[c.drop]++;
    }
  }
  const std::vector<uint64_t> tags = RunRx(frames);
  EXPECT_EQ(drops_, want) << DropsString(drops_);
  // The good flow's bytes, in order, across however many frames it took.
  uint32_t next_seq = 1;
  uint32_t segments = 0;
  uint32_t others = 0;
  for (const Packet* p : out_) {
    const Frame f = Flat(p);
    if (f.size() < kL4v4 + 20 || f[12] != 0x08 || f[13] != 0x00 || f[kIp + 9] != 6 ||
        GetBe16(f, kL4v4) != 45000) {
      ++others;
      continue;
    }
    const uint32_t seq = (uint32_t{f[kL4v4 + 4]} << 24) | (uint32_t{f[kL4v4 + 5]} << 16) |
                         (uint32_t{f[kL4v4 + 6]} << 8) | f[kL4v4 + 7];
    EXPECT_EQ(seq, next_seq);
    const uint32_t payload = static_cast<uint32_t>(f.size()) - kL4v4 - 20;
    EXPECT_EQ(payload % kMss, 0u);
    for (uint32_t i = 0; i < payload; ++i)
      ASSERT_EQ(f[kL4v4 + 20 + i], static_cast<uint8_t>(((next_seq - 1 + i) * 7) % 251));
    next_seq += payload;
    segments += p->gso_segs > 1 ? p->gso_segs : 1;
  }
  EXPECT_EQ(segments, good_segments);
  EXPECT_EQ(next_seq, 1 + good_segments * kMss);
  EXPECT_EQ(others, passing);
  EXPECT_LT(out_.size(), good_segments + passing);  // some of the flow was coalesced
  EXPECT_EQ(tags.size(), out_.size());
}

// A segment that overlaps the one before it (a retransmission that re-cuts
// the stream) is neither merged nor dropped: it goes on as its own frame and
// the receiver's TCP sorts it out; the segment after it may merge with it.
TEST_F(MalformedTest, RxOverlappingSegmentPassesUnmerged) {
  auto seg = [](uint32_t seq, uint32_t len) {
    wire::InnerSpec s = Tcp4();
    s.tcp_seq = seq;
    s.tcp_flags = wire::kTcpAck;
    return Vxlan(Inner(s, len, seq - 1));
  };
  const std::vector<uint64_t> tags =
      RunRx({seg(1, 1000), seg(501, 1000), seg(1501, 1000), seg(1501, 1000), seg(2001, 500)});
  EXPECT_TRUE(drops_.empty()) << DropsString(drops_);
  // [1,1001) alone; [501,1501) + [1501,2501) merge; the duplicate of [1501,2501)
  // heads its own run, and [2001,2501) (overlapping it) stays alone again.
  ASSERT_EQ(tags, (std::vector<uint64_t>{0, 1, 3, 4}));
  EXPECT_EQ(out_[0]->gso_segs, 0u);
  EXPECT_EQ(out_[1]->gso_segs, 2u);
  EXPECT_EQ(out_[1]->frame_len(), kL4v4 + 20 + 2000);
  EXPECT_EQ(out_[2]->gso_segs, 0u);
  EXPECT_EQ(out_[3]->gso_segs, 0u);
}

struct TxCase {
  std::string name;
  std::function<Frame()> make;
  uint16_t gso_size;
  std::string drop;
};

std::vector<TxCase> TxCases() {
  const Frame super = Inner(Tcp4(), 10 * 1448);
  auto mut = [](Frame in, std::function<void(Frame&)> m) {
    return [in, m] {
      Frame f = in;
      m(f);
      return f;
    };
  };
  auto same = [](Frame in) { return [in] { return in; }; };
  return {
      {"runt", mut(Inner(), [](Frame& f) { f.resize(13); }), 0, "fdb_forward_tx_truncated"},
      {"multicast_source_mac", mut(Inner(), [](Frame& f) { f[6] = 0x01; }), 0,
       "fdb_forward_tx_bad_src_mac"},
      {"to_own_ingress_port", mut(Inner(), [](Frame& f) { f[5] = 0x03; }), 0,
       "fdb_forward_tx_same_port"},
      {"unknown_destination", mut(Inner(), [](Frame& f) { f[5] = 0x77; }), 0,
       "vxlan_encap_no_remote"},
      {"frame_above_mtu", same(Inner(Tcp4(), kMtu - 40 + 1)), 0, "vxlan_encap_too_big"},
      {"super_frame_gso_size_0", same(super), 0, "vxlan_encap_too_big"},
      {"gso_size_above_mtu", same(super), static_cast<uint16_t>(kMtu - 40 + 1),
       "gso_segment_bad_gso_size"},
      {"gso_size_above_payload", same(Inner(Tcp4(), 1000)), 1448, "gso_segment_bad_gso_size"},
      {"gso_on_icmp", same(Inner(Icmp4(), 3000)), 1000, "gso_segment_not_tcp_udp"},
      {"gso_on_non_ip", mut(super, [](Frame& f) { SetBe16(f, 12, 0x88b5); }), 1448,
       "gso_segment_not_tcp_udp"},
      {"gso_on_truncated_tcp", same(CutL4(Inner(), false, 12)), 1448, "gso_segment_bad_headers"},
      {"gso_on_fragment",
       mut(super,
           [](Frame& f) {
             SetBe16(f, kIp + 6, 0x2000);
             FixIpv4Checksum(f, kIp);
           }),
       1448, "gso_segment_bad_headers"},
      {"gso_ip_length_beyond_frame",
       mut(super, [](Frame& f) { SetBe16(f, kIp + 2, GetBe16(f, kIp + 2) + 1u); }), 1448,
       "gso_segment_bad_headers"},
      // 16000 one-byte segments: more than any real sender would ask for.
      {"gso_too_many_segments", same(Inner(Tcp4(), 16000)), 1, "gso_segment_bad_gso_size"},
      {"gso_on_ipv6_hop_by_hop", mut(Inner(Tcp6(), 5000), [](Frame& f) { AddHopByHop(f, kIp); }),
       1400, "gso_segment_bad_headers"},
      {"gso_on_ipv4_options", mut(super, [](Frame& f) { AddIpv4Options(f, kIp); }), 1448, ""},
      {"good_super_frame", same(super), 1448, ""},
      {"good_super_frame_ipv6", same(Inner(Tcp6(), 5000)), 1400, ""},
      {"plain_ipv6_hop_by_hop", mut(Inner(Tcp6()), [](Frame& f) { AddHopByHop(f, kIp); }), 0, ""},
      {"plain_ipv4_fragment",
       mut(Inner(),
           [](Frame& f) {
             SetBe16(f, kIp + 6, 0x2000);
             FixIpv4Checksum(f, kIp);
           }),
       0, ""},
      {"plain_ttl_zero",
       mut(Inner(),
           [](Frame& f) {
             f[kIp + 8] = 0;
             FixIpv4Checksum(f, kIp);
           }),
       0, ""},
      {"good_zero_payload", same(Inner(Tcp4(), 0)), 0, ""},
      {"good_udp", same(Inner(Udp4(), 0)), 0, ""},
  };
}

TEST_F(MalformedTest, TxEachBadFrameEndsOnItsOwnEdge) {
  const TxFrame before{Inner(Tcp4(41000)), 0};
  const TxFrame after{Inner(Tcp4(42000)), 0};
  for (const TxCase& c : TxCases()) {
    SCOPED_TRACE(c.name);
    const Frame bad = c.make();
    const std::vector<uint64_t> tags = RunTx({before, {bad, c.gso_size}, after});
    if (c.drop.empty()) {
      EXPECT_EQ(tags, (std::vector<uint64_t>{0, 1, 2}));
      EXPECT_TRUE(drops_.empty()) << DropsString(drops_);
      // A super-frame leaves as a train of segments, a plain frame as itself.
      if (tags.size() == 3) {
        EXPECT_EQ(out_[1]->is_train(), c.gso_size != 0);
      }
    } else {
      EXPECT_EQ(tags, (std::vector<uint64_t>{0, 2}));
      EXPECT_EQ(drops_, (Drops{{c.drop, 1}})) << DropsString(drops_);
    }
    FreeOut();
    EXPECT_EQ(pool_->available(), kPoolSize);
    EXPECT_EQ(hdr_pool_->available(), kPoolSize);
  }
}

}  // namespace
}  // namespace mflow
