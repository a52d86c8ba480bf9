#include "wire/parse.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <random>
#include <set>
#include <vector>

#include "wire/checksum.h"
#include "wire/frame_builder.h"
#include "wire/ipv4.h"
#include "wire/ipv6.h"
#include "wire/vxlan.h"

namespace mflow::wire {
namespace {

using Frame = std::vector<uint8_t>;

// ARP who-has 192.168.0.199 tell 192.168.0.1, padded to the 60-byte minimum.
const Frame kGoldenArp = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x08, 0x06,  // eth
    0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01,                                      // arp
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0xc0, 0xa8, 0x00, 0x01,                          // sha spa
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0xa8, 0x00, 0xc7,                          // tha tpa
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};                               // pad

// 192.168.0.1:4660 -> 192.168.0.199:53 UDP "abcd", padded to 60 bytes. The
// checksums were computed independently (by hand/script), not by this code.
const Frame kGoldenUdp = {
    0x00, 0x00, 0x5e, 0x00, 0x53, 0x01, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x08, 0x00,  // eth
    0x45, 0x00, 0x00, 0x20, 0x00, 0x01, 0x00, 0x00, 0x40, 0x11, 0xf8, 0xb3,              // ipv4
    0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,                                      //
    0x12, 0x34, 0x00, 0x35, 0x00, 0x0c, 0xa6, 0x8d,                                      // udp
    'a',  'b',  'c',  'd',                                                               // data
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};                                           // pad

const uint8_t kV6A[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xa};
const uint8_t kV6B[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xb};

Frame Build(const InnerSpec& spec, size_t payload_len = 40) {
  Frame payload(payload_len, 0x5a);
  Frame f(2048);
  const uint32_t n = BuildInnerFrame(spec, payload, f.data(), static_cast<uint32_t>(f.size()));
  f.resize(n);
  return f;
}

InnerSpec Udp4() {
  InnerSpec s;
  s.l4_proto = kIpProtoUdp;
  return s;
}

InnerSpec Tcp6() {
  InnerSpec s;
  s.src_ip = IpAddr::V6(kV6A);
  s.dst_ip = IpAddr::V6(kV6B);
  return s;
}

Frame Vxlan(const Frame& inner, const OuterSpec& o = OuterSpec{}) {
  Frame f(4096);
  const uint32_t n = BuildVxlanFrame(o, inner, f.data(), static_cast<uint32_t>(f.size()));
  f.resize(n);
  return f;
}

ParseResult Parse(const Frame& f, FrameLayout* l) {
  return ParseFrame(f.data(), static_cast<uint32_t>(f.size()), l);
}

void FixIpv4Checksum(Frame& f, uint32_t l3) {
  auto* ip = reinterpret_cast<Ipv4Header*>(f.data() + l3);
  ip->checksum = Be16::FromRaw(ComputeIpv4Checksum(ip));
}

TEST(Parse, GoldenArpIsNotIpAndKeysOnMacs) {
  FrameLayout l;
  EXPECT_EQ(Parse(kGoldenArp, &l), ParseResult::kNotIp);
  EXPECT_EQ(l.ether_type, kEtherTypeArp);
  EXPECT_EQ(l.l3_off, 14);

  FlowKey k;
  ASSERT_TRUE(ClassifyInner(kGoldenArp.data(), static_cast<uint32_t>(kGoldenArp.size()), 9, &k));
  EXPECT_EQ(k.family, 0);
  EXPECT_EQ(k.vni, 9u);
  EXPECT_EQ(k.proto, 0);
  EXPECT_EQ(k.sport, 0);
  const uint8_t src[16] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55};
  const uint8_t dst[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  EXPECT_EQ(0, std::memcmp(k.src, src, 16));
  EXPECT_EQ(0, std::memcmp(k.dst, dst, 16));
}

TEST(Parse, GoldenIpv4UdpWithEthernetPadding) {
  FrameLayout l;
  ASSERT_EQ(Parse(kGoldenUdp, &l), ParseResult::kOk);
  EXPECT_EQ(l.ether_type, kEtherTypeIpv4);
  EXPECT_EQ(l.l3_off, 14);
  EXPECT_EQ(l.l4_off, 34);
  EXPECT_EQ(l.l4_hdr_len, 8);
  EXPECT_EQ(l.l4_proto, kIpProtoUdp);
  EXPECT_FALSE(l.ipv6);
  EXPECT_EQ(l.l3_end, 46u);  // padding excluded
  EXPECT_EQ(l.payload_off(), 42u);
  EXPECT_EQ(l.payload_len(), 4u);
  EXPECT_EQ(0, std::memcmp(kGoldenUdp.data() + l.payload_off(), "abcd", 4));

  const auto* ip = reinterpret_cast<const Ipv4Header*>(kGoldenUdp.data() + 14);
  EXPECT_TRUE(VerifyIpv4Checksum(ip));
  EXPECT_EQ(Be16::FromRaw(ComputeIpv4Checksum(ip)).host(), 0xf8b3);
  const uint32_t pseudo = PseudoHeaderSumV4(ip, kIpProtoUdp, 12);
  EXPECT_EQ(ChecksumFold(ChecksumPartial(kGoldenUdp.data() + 34, 12, pseudo)), 0xffff);

  FlowKey k;
  ASSERT_TRUE(ClassifyInner(kGoldenUdp.data(), static_cast<uint32_t>(kGoldenUdp.size()), 0, &k));
  EXPECT_EQ(k.family, 4);
  EXPECT_EQ(k.proto, kIpProtoUdp);
  EXPECT_EQ(k.sport, 0x1234);
  EXPECT_EQ(k.dport, 53);
  const uint8_t src[16] = {0xc0, 0xa8, 0x00, 0x01};
  const uint8_t dst[16] = {0xc0, 0xa8, 0x00, 0xc7};
  EXPECT_EQ(0, std::memcmp(k.src, src, 16));
  EXPECT_EQ(0, std::memcmp(k.dst, dst, 16));
}

TEST(Parse, BuiltVxlanTcpFrame) {
  const Frame inner = Build(InnerSpec{}, 100);
  OuterSpec o;
  o.vni = 0xabcdef;
  const Frame f = Vxlan(inner, o);
  FrameLayout l;
  ASSERT_EQ(Parse(f, &l), ParseResult::kOk);
  EXPECT_EQ(l.l4_proto, kIpProtoUdp);
  EXPECT_EQ(l.l4_off, 34);
  EXPECT_EQ(l.payload_off(), 42u);
  EXPECT_EQ(l.payload_len(), 8u + inner.size());

  FlowKey k;
  ASSERT_TRUE(ClassifyVxlan(f.data(), static_cast<uint32_t>(f.size()), &k));
  EXPECT_EQ(k.vni, 0xabcdefu);
  EXPECT_EQ(k.family, 4);
  EXPECT_EQ(k.proto, kIpProtoTcp);
  EXPECT_EQ(k.sport, 40000);
  EXPECT_EQ(k.dport, 5201);
  const uint8_t src[16] = {198, 18, 1, 1};
  const uint8_t dst[16] = {198, 18, 1, 2};
  EXPECT_EQ(0, std::memcmp(k.src, src, 16));
  EXPECT_EQ(0, std::memcmp(k.dst, dst, 16));

  // The split point and a container-side classifier agree on the flow.
  FlowKey direct;
  ASSERT_TRUE(ClassifyInner(inner.data(), static_cast<uint32_t>(inner.size()), 0xabcdef, &direct));
  EXPECT_EQ(k, direct);
}

// Every prefix of a valid frame, copied to a heap buffer of exactly that size
// so that ASan flags any read past the end.
void CheckAllTruncations(const Frame& f) {
  FrameLayout full;
  const ParseResult full_r = Parse(f, &full);
  for (uint32_t cut = 0; cut < f.size(); ++cut) {
    std::unique_ptr<uint8_t[]> buf(new uint8_t[cut]);
    if (cut > 0) std::memcpy(buf.get(), f.data(), cut);
    FrameLayout l;
    const ParseResult r = ParseFrame(buf.get(), cut, &l);
    if (full_r == ParseResult::kOk && cut < full.l3_end) {
      EXPECT_NE(r, ParseResult::kOk) << "cut=" << cut;
    }
    if (cut < 14) {
      EXPECT_EQ(r, ParseResult::kTruncatedEthernet) << "cut=" << cut;
    }
    if (r == ParseResult::kOk) {
      EXPECT_LE(l.l3_end, cut);
      EXPECT_LE(l.payload_off(), l.l3_end);
      EXPECT_EQ(l.l3_end, full.l3_end);  // only Ethernet padding may be cut
    }
    FlowKey k;
    ClassifyVxlan(buf.get(), cut, &k);
    EXPECT_EQ(ClassifyInner(buf.get(), cut, 1, &k), cut >= 14);
  }
}

TEST(Parse, EveryTruncationIsRejectedWithoutOverread) {
  InnerSpec vlan = Udp4();
  vlan.vlan = 3;
  const Frame frames[] = {
      kGoldenArp, kGoldenUdp, Build(InnerSpec{}), Build(Tcp6()), Build(vlan),
      Vxlan(Build(InnerSpec{})), Vxlan(Build(Tcp6()), [] {
        OuterSpec o;
        o.src_ip = IpAddr::V6(kV6A);
        o.dst_ip = IpAddr::V6(kV6B);
        return o;
      }()),
  };
  for (const Frame& f : frames) {
    SCOPED_TRACE(testing::Message() << "frame len " << f.size());
    CheckAllTruncations(f);
  }
}

TEST(Parse, Ipv4OptionsAreSkipped) {
  const Frame base = Build(Udp4());
  // Insert one 4-byte option word (NOP NOP NOP EOL) after the fixed header.
  Frame f(base.begin(), base.begin() + 34);
  f.insert(f.end(), {0x01, 0x01, 0x01, 0x00});
  f.insert(f.end(), base.begin() + 34, base.end());
  auto* ip = reinterpret_cast<Ipv4Header*>(f.data() + 14);
  ip->version_ihl = 0x46;
  ip->total_length.set(static_cast<uint16_t>(ip->total_length.host() + 4));
  FixIpv4Checksum(f, 14);
  FrameLayout l;
  ASSERT_EQ(Parse(f, &l), ParseResult::kOk);
  EXPECT_EQ(l.l4_off, 14 + 24);
  EXPECT_EQ(l.l3_end, f.size());
  CheckAllTruncations(f);

  ip->version_ihl = 0x44;  // IHL < 5
  EXPECT_EQ(Parse(f, &l), ParseResult::kBadIpHeaderLength);

  // The golden frame: 60 bytes, IP total length 32, 46 bytes from the IP header.
  Frame g = kGoldenUdp;
  g[14] = 0x49;  // 36-byte header: present in the frame, but beyond total length
  EXPECT_EQ(Parse(g, &l), ParseResult::kBadIpTotalLength);
  g[14] = 0x4f;  // 60-byte header: beyond the frame
  EXPECT_EQ(Parse(g, &l), ParseResult::kBadIpHeaderLength);
}

TEST(Parse, BadIpVersion) {
  Frame f = Build(InnerSpec{});
  f[14] = 0x65;
  FrameLayout l;
  EXPECT_EQ(Parse(f, &l), ParseResult::kBadIpVersion);
  Frame g = Build(Tcp6());
  g[14] = 0x45;
  EXPECT_EQ(Parse(g, &l), ParseResult::kBadIpVersion);
}

TEST(Parse, Ipv6Tcp) {
  const Frame f = Build(Tcp6(), 77);
  FrameLayout l;
  ASSERT_EQ(Parse(f, &l), ParseResult::kOk);
  EXPECT_TRUE(l.ipv6);
  EXPECT_EQ(l.ether_type, kEtherTypeIpv6);
  EXPECT_EQ(l.l4_off, 54);
  EXPECT_EQ(l.l4_hdr_len, 20);
  EXPECT_EQ(l.payload_len(), 77u);

  FlowKey k;
  ASSERT_TRUE(ClassifyInner(f.data(), static_cast<uint32_t>(f.size()), 5, &k));
  EXPECT_EQ(k.family, 6);
  EXPECT_EQ(0, std::memcmp(k.src, kV6A, 16));
  EXPECT_EQ(0, std::memcmp(k.dst, kV6B, 16));
  EXPECT_EQ(k.sport, 40000);
}

TEST(Parse, VlanTagged) {
  InnerSpec s = Udp4();
  s.vlan = 4000;
  const Frame f = Build(s);
  FrameLayout l;
  ASSERT_EQ(Parse(f, &l), ParseResult::kOk);
  EXPECT_EQ(l.ether_type, kEtherTypeIpv4);
  EXPECT_EQ(l.l3_off, 18);
  EXPECT_EQ(l.l4_off, 38);
  for (uint32_t cut = 14; cut < 18; ++cut) {
    EXPECT_EQ(ParseFrame(f.data(), cut, &l), ParseResult::kTruncatedVlan) << cut;
  }
}

TEST(Parse, Ipv4Fragments) {
  for (uint16_t frag : {uint16_t{0x2000}, uint16_t{0x0001}, uint16_t{0x20b9}}) {
    Frame f = Build(InnerSpec{});
    reinterpret_cast<Ipv4Header*>(f.data() + 14)->frag_off.set(frag);
    FixIpv4Checksum(f, 14);
    FrameLayout l;
    EXPECT_EQ(Parse(f, &l), ParseResult::kFragment) << frag;
    EXPECT_EQ(l.l4_proto, kIpProtoTcp);
    // A fragment keys on addresses + protocol only, so all its pieces match.
    FlowKey k;
    ASSERT_TRUE(ClassifyInner(f.data(), static_cast<uint32_t>(f.size()), 0, &k));
    EXPECT_EQ(k.family, 4);
    EXPECT_EQ(k.sport, 0);
    EXPECT_EQ(k.dport, 0);
  }
  Frame df = Build(InnerSpec{});
  reinterpret_cast<Ipv4Header*>(df.data() + 14)->frag_off.set(kIpv4DontFragment);
  FrameLayout l;
  EXPECT_EQ(Parse(df, &l), ParseResult::kOk);
}

// The extension-header list of ipv6.h, which ParseFrame and OuterValidate
// share: every member by value, and every other value of the byte is not one.
TEST(Ipv6ExtensionHeader, ExactlyTheRegistryWithoutEsp) {
  const std::set<int> members = {0, 43, 44, 51, 60, 135, 139, 140, 253, 254};
  for (int nh = 0; nh < 256; ++nh)
    EXPECT_EQ(IsIpv6ExtensionHeader(static_cast<uint8_t>(nh)), members.count(nh) == 1) << nh;
  // The non-members most easily mistaken for one, spelled out: ESP (left out
  // on purpose, see ipv6.h), No Next Header, ICMPv6, IPv6-in-IPv6, TCP, UDP.
  for (int nh : {50, 59, 58, 41, 6, 17})
    EXPECT_FALSE(IsIpv6ExtensionHeader(static_cast<uint8_t>(nh))) << nh;
}

TEST(Parse, Ipv6FragmentAndExtensionHeaders) {
  FrameLayout l;
  Frame f = Build(Tcp6());
  f[14 + 6] = 44;
  EXPECT_EQ(Parse(f, &l), ParseResult::kFragment);
  for (int nh : {0, 43, 60, 51, 135, 139, 140, 253, 254}) {
    f[14 + 6] = static_cast<uint8_t>(nh);
    EXPECT_EQ(Parse(f, &l), ParseResult::kIpv6ExtensionHeader) << nh;
  }
  // ESP: nothing behind it is readable, so it is an upper-layer protocol
  // that is not TCP/UDP, as in IPv4.
  f[14 + 6] = 50;
  EXPECT_EQ(Parse(f, &l), ParseResult::kNotTcpUdp);
  EXPECT_EQ(l.l4_proto, 50);
  f[14 + 6] = 58;  // ICMPv6
  EXPECT_EQ(Parse(f, &l), ParseResult::kNotTcpUdp);
  EXPECT_EQ(l.l4_off, 54);
  EXPECT_EQ(l.l4_proto, 58);
  FlowKey k;
  ASSERT_TRUE(ClassifyInner(f.data(), static_cast<uint32_t>(f.size()), 0, &k));
  EXPECT_EQ(k.family, 6);
  EXPECT_EQ(k.proto, 58);
  EXPECT_EQ(k.sport, 0);
}

TEST(Parse, Ipv4OtherProtocol) {
  Frame f = Build(InnerSpec{});
  f[14 + 9] = 1;  // ICMP
  FixIpv4Checksum(f, 14);
  FrameLayout l;
  EXPECT_EQ(Parse(f, &l), ParseResult::kNotTcpUdp);
  EXPECT_EQ(l.l4_off, 34);
  EXPECT_EQ(l.l3_end, f.size());
  FlowKey k;
  ASSERT_TRUE(ClassifyInner(f.data(), static_cast<uint32_t>(f.size()), 0, &k));
  EXPECT_EQ(k.family, 4);
  EXPECT_EQ(k.proto, 1);
  EXPECT_EQ(k.sport, 0);
  EXPECT_EQ(k.dport, 0);
}

TEST(Parse, TotalLengthLargerOrSmallerThanFrame) {
  FrameLayout l;
  Frame f = Build(InnerSpec{});
  auto* ip = reinterpret_cast<Ipv4Header*>(f.data() + 14);
  const uint16_t total = ip->total_length.host();
  ip->total_length.set(static_cast<uint16_t>(total + 1));
  EXPECT_EQ(Parse(f, &l), ParseResult::kBadIpTotalLength);
  ip->total_length.set(19);
  EXPECT_EQ(Parse(f, &l), ParseResult::kBadIpTotalLength);
  ip->total_length.set(0);
  EXPECT_EQ(Parse(f, &l), ParseResult::kBadIpTotalLength);
  // Smaller than the frame but still >= header: the rest is Ethernet padding
  // and TCP, which has no length of its own, still parses.
  ip->total_length.set(static_cast<uint16_t>(total - 10));
  ASSERT_EQ(Parse(f, &l), ParseResult::kOk);
  EXPECT_EQ(l.l3_end, f.size() - 10);

  Frame g = Build(Tcp6());
  auto* ip6 = reinterpret_cast<Ipv6Header*>(g.data() + 14);
  ip6->payload_length.set(static_cast<uint16_t>(ip6->payload_length.host() + 1));
  EXPECT_EQ(Parse(g, &l), ParseResult::kBadIpTotalLength);
  ip6->payload_length.set(19);  // shorter than the TCP header
  EXPECT_EQ(Parse(g, &l), ParseResult::kTruncatedL4);
}

TEST(Parse, BadUdpLength) {
  FrameLayout l;
  Frame f = kGoldenUdp;
  f[38 + 1] = 0x0d;  // 13 > 12 of IP payload
  EXPECT_EQ(Parse(f, &l), ParseResult::kBadUdpLength);
  f[38 + 1] = 0x0b;
  EXPECT_EQ(Parse(f, &l), ParseResult::kBadUdpLength);
  f[38 + 1] = 0x00;
  EXPECT_EQ(Parse(f, &l), ParseResult::kBadUdpLength);
  // A UDP header that does not fit in the IP payload.
  Frame g = kGoldenUdp;
  g[16] = 0x00;
  g[17] = 20 + 7;
  FixIpv4Checksum(g, 14);
  EXPECT_EQ(Parse(g, &l), ParseResult::kTruncatedL4);
}

TEST(Parse, TcpDataOffset) {
  FrameLayout l;
  Frame f = Build(InnerSpec{}, 12);
  f[34 + 12] = 4 << 4;
  EXPECT_EQ(Parse(f, &l), ParseResult::kTruncatedL4);
  f[34 + 12] = 0;
  EXPECT_EQ(Parse(f, &l), ParseResult::kTruncatedL4);
  f[34 + 12] = 8 << 4;  // 32 bytes: 20 + 12 of options fit exactly
  ASSERT_EQ(Parse(f, &l), ParseResult::kOk);
  EXPECT_EQ(l.l4_hdr_len, 32);
  EXPECT_EQ(l.payload_len(), 0u);
  f[34 + 12] = 9 << 4;  // 36 bytes: beyond the IP payload
  EXPECT_EQ(Parse(f, &l), ParseResult::kTruncatedL4);
}

TEST(Parse, ResultNamesAreDistinctSnakeCase) {
  std::set<std::string_view> names;
  for (int r = 0; r <= static_cast<int>(ParseResult::kBadUdpLength); ++r) {
    const std::string_view n = ParseResultName(static_cast<ParseResult>(r));
    EXPECT_TRUE(names.insert(n).second) << n;
    for (char c : n) EXPECT_TRUE((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_') << n;
  }
  EXPECT_EQ(ParseResultName(ParseResult::kTruncatedEthernet), "truncated_ethernet");
  EXPECT_EQ(ParseResultName(ParseResult::kBadUdpLength), "bad_udp_length");
}

TEST(Classify, VxlanInnerVariants) {
  OuterSpec o6;
  o6.src_ip = IpAddr::V6(kV6A);
  o6.dst_ip = IpAddr::V6(kV6B);
  o6.vni = 77;
  FlowKey k;
  // IPv6 outer, IPv6 inner.
  Frame f = Vxlan(Build(Tcp6()), o6);
  ASSERT_TRUE(ClassifyVxlan(f.data(), static_cast<uint32_t>(f.size()), &k));
  EXPECT_EQ(k.vni, 77u);
  EXPECT_EQ(k.family, 6);
  EXPECT_EQ(0, std::memcmp(k.src, kV6A, 16));
  // ARP inside VXLAN keys on the inner MACs.
  f = Vxlan(kGoldenArp);
  ASSERT_TRUE(ClassifyVxlan(f.data(), static_cast<uint32_t>(f.size()), &k));
  EXPECT_EQ(k.family, 0);
  EXPECT_EQ(k.vni, 42u);
  EXPECT_EQ(k.src[5], 0x55);
  EXPECT_EQ(k.dst[0], 0xff);
  // Outer Ethernet padding is not part of the inner frame.
  Frame padded = Vxlan(Build(Udp4()));
  padded.resize(padded.size() + 6, 0xee);
  ASSERT_TRUE(ClassifyVxlan(padded.data(), static_cast<uint32_t>(padded.size()), &k));
  EXPECT_EQ(k.proto, kIpProtoUdp);
}

TEST(Classify, VxlanRejectsNonVxlanAndLeavesKeyUntouched) {
  FlowKey k;
  k.vni = 0xdead;
  const FlowKey before = k;
  OuterSpec other_port;
  other_port.dport = 4790;
  Frame f = Vxlan(Build(InnerSpec{}), other_port);
  EXPECT_FALSE(ClassifyVxlan(f.data(), static_cast<uint32_t>(f.size()), &k));
  // Plain TCP, not UDP.
  f = Build(InnerSpec{});
  EXPECT_FALSE(ClassifyVxlan(f.data(), static_cast<uint32_t>(f.size()), &k));
  // UDP to 4789 with fewer than 8 bytes of VXLAN header.
  InnerSpec short_vx = Udp4();
  short_vx.dport = kVxlanPort;
  f = Build(short_vx, 7);
  EXPECT_FALSE(ClassifyVxlan(f.data(), static_cast<uint32_t>(f.size()), &k));
  // Outer fragment.
  f = Vxlan(Build(InnerSpec{}));
  reinterpret_cast<Ipv4Header*>(f.data() + 14)->frag_off.set(0x2000);
  EXPECT_FALSE(ClassifyVxlan(f.data(), static_cast<uint32_t>(f.size()), &k));
  EXPECT_EQ(k, before);
  EXPECT_FALSE(ClassifyInner(kGoldenArp.data(), 13, 0, &k));
  EXPECT_EQ(k, before);
}

TEST(FlowHash, DiffersByFieldAndIsNeverZero) {
  FlowKey a;
  a.family = 4;
  a.proto = kIpProtoTcp;
  a.src[0] = 10;
  a.dst[0] = 11;
  a.sport = 1000;
  a.dport = 80;
  a.vni = 1;
  const uint32_t h = FlowHash(a);
  EXPECT_NE(h, 0u);
  FlowKey b = a;
  b.sport = 1001;
  EXPECT_NE(FlowHash(b), h);
  b = a;
  b.dport = 81;
  EXPECT_NE(FlowHash(b), h);
  b = a;
  b.vni = 2;
  EXPECT_NE(FlowHash(b), h);
  b = a;
  b.dst[15] = 1;
  EXPECT_NE(FlowHash(b), h);
  b = a;
  b.family = 6;
  EXPECT_NE(FlowHash(b), h);
  EXPECT_EQ(FlowHash(a), h);  // deterministic

  std::mt19937 rng(32);
  for (int i = 0; i < 100000; ++i) {
    FlowKey k;
    for (auto& x : k.src) x = static_cast<uint8_t>(rng());
    for (auto& x : k.dst) x = static_cast<uint8_t>(rng());
    k.sport = static_cast<uint16_t>(rng());
    k.dport = static_cast<uint16_t>(rng());
    k.proto = static_cast<uint8_t>(rng());
    k.family = static_cast<uint8_t>(rng());
    k.vni = rng() & kMaxVni;
    ASSERT_NE(FlowHash(k), 0u);
  }
  // All-zero key included: 0 is reserved for "unset".
  EXPECT_NE(FlowHash(FlowKey{}), 0u);
}

TEST(FlowHash, SpreadsSequentialPortsOverWorkers) {
  // Steering takes hash % workers; flows that differ only in the source port
  // must still spread evenly.
  constexpr int kWorkers = 8;
  constexpr int kFlows = 8000;
  int buckets[kWorkers] = {};
  FlowKey k;
  k.family = 4;
  k.proto = kIpProtoTcp;
  k.dport = 5201;
  for (int i = 0; i < kFlows; ++i) {
    k.sport = static_cast<uint16_t>(40000 + i);
    ++buckets[FlowHash(k) % kWorkers];
  }
  for (int b : buckets) {
    EXPECT_GT(b, kFlows / kWorkers * 9 / 10);
    EXPECT_LT(b, kFlows / kWorkers * 11 / 10);
  }
}

TEST(MacAddrTest, ParseAndToStringRoundTrip) {
  const auto m = MacAddr::Parse("02:AA:00:0f:10:ff");
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->b, (std::array<uint8_t, 6>{0x02, 0xaa, 0x00, 0x0f, 0x10, 0xff}));
  EXPECT_EQ(m->ToString(), "02:aa:00:0f:10:ff");
  for (const char* bad : {"", "02:aa:00:0f:10", "02:aa:00:0f:10:ff:", "02-aa-00-0f-10-ff",
                          "02:aa:00:0f:10:fg", "2:aa:00:0f:10:ff0"})
    EXPECT_FALSE(MacAddr::Parse(bad).has_value()) << bad;
}

}  // namespace
}  // namespace mflow::wire
