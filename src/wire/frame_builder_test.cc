#include "wire/frame_builder.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "wire/checksum.h"
#include "wire/ipv4.h"
#include "wire/ipv6.h"
#include "wire/parse.h"
#include "wire/tcp.h"
#include "wire/udp.h"
#include "wire/vxlan.h"

namespace mflow::wire {
namespace {

template <typename T>
T ReadAt(const uint8_t* p, uint32_t off) {
  T v;
  std::memcpy(&v, p + off, sizeof(T));
  return v;
}

std::vector<uint8_t> Payload(size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i * 7 + 3);
  return v;
}

// fold(pseudo + segment including its checksum field) == 0xffff.
bool L4ChecksumVerifies(const uint8_t* f, const FrameLayout& l) {
  const uint32_t seg_len = l.l3_end - l.l4_off;
  uint32_t pseudo;
  if (l.ipv6) {
    const auto ip = ReadAt<Ipv6Header>(f, l.l3_off);
    pseudo = PseudoHeaderSumV6(&ip, l.l4_proto, seg_len);
  } else {
    const auto ip = ReadAt<Ipv4Header>(f, l.l3_off);
    pseudo = PseudoHeaderSumV4(&ip, l.l4_proto, seg_len);
  }
  return ChecksumFold(ChecksumPartial(f + l.l4_off, seg_len, pseudo)) == 0xffff;
}

TEST(FrameBuilder, Ipv4TcpParsesAndChecksumsVerify) {
  InnerSpec spec;
  spec.tcp_seq = 0x01020304;
  spec.tcp_ack = 0x0a0b0c0d;
  spec.ip_id = 0x4242;
  const auto payload = Payload(101);  // odd length: the L4 sum's odd tail
  uint8_t f[256];
  const uint32_t n = BuildInnerFrame(spec, payload, f, sizeof(f));
  ASSERT_EQ(n, 14u + 20 + 20 + 101);

  FrameLayout l;
  ASSERT_EQ(ParseFrame(f, n, &l), ParseResult::kOk);
  EXPECT_EQ(l.ether_type, kEtherTypeIpv4);
  EXPECT_EQ(l.l3_off, 14);
  EXPECT_EQ(l.l4_off, 34);
  EXPECT_EQ(l.l4_hdr_len, 20);
  EXPECT_EQ(l.l3_end, n);
  EXPECT_EQ(l.payload_len(), 101u);
  EXPECT_EQ(0, std::memcmp(f + l.payload_off(), payload.data(), payload.size()));

  const auto eth = ReadAt<EthernetHeader>(f, 0);
  EXPECT_EQ(eth.src, spec.src_mac);
  EXPECT_EQ(eth.dst, spec.dst_mac);
  const auto ip = ReadAt<Ipv4Header>(f, 14);
  EXPECT_TRUE(VerifyIpv4Checksum(&ip));
  EXPECT_EQ(ip.id.host(), 0x4242);
  EXPECT_EQ(ip.ttl, 64);
  EXPECT_EQ(ip.src.host(), 0xC6120101u);
  EXPECT_EQ(ip.dst.host(), 0xC6120102u);
  EXPECT_FALSE(ip.IsFragment());
  const auto tcp = ReadAt<TcpHeader>(f, 34);
  EXPECT_EQ(tcp.src_port.host(), 40000);
  EXPECT_EQ(tcp.dst_port.host(), 5201);
  EXPECT_EQ(tcp.seq.host(), 0x01020304u);
  EXPECT_EQ(tcp.ack.host(), 0x0a0b0c0du);
  EXPECT_EQ(tcp.flags, 0x18);
  EXPECT_TRUE(L4ChecksumVerifies(f, l));

  f[n - 1] ^= 0x40;  // corrupt the payload: the L4 checksum must notice
  EXPECT_FALSE(L4ChecksumVerifies(f, l));
}

TEST(FrameBuilder, Ipv4UdpWithVlan) {
  InnerSpec spec;
  spec.vlan = 100;
  spec.l4_proto = kIpProtoUdp;
  spec.sport = 1234;
  spec.dport = 53;
  const auto payload = Payload(64);
  uint8_t f[256];
  const uint32_t n = BuildInnerFrame(spec, payload, f, sizeof(f));
  ASSERT_EQ(n, 18u + 20 + 8 + 64);
  FrameLayout l;
  ASSERT_EQ(ParseFrame(f, n, &l), ParseResult::kOk);
  EXPECT_EQ(l.l3_off, 18);
  EXPECT_EQ(ReadAt<VlanTag>(f, 14).vid(), 100);
  const auto udp = ReadAt<UdpHeader>(f, l.l4_off);
  EXPECT_EQ(udp.length.host(), 8 + 64);
  EXPECT_NE(udp.checksum.raw(), 0);
  EXPECT_TRUE(L4ChecksumVerifies(f, l));
  const auto ip = ReadAt<Ipv4Header>(f, 18);
  EXPECT_TRUE(VerifyIpv4Checksum(&ip));
}

TEST(FrameBuilder, Ipv6TcpAndUdp) {
  const uint8_t a[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  const uint8_t b[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
  for (uint8_t proto : {kIpProtoTcp, kIpProtoUdp}) {
    InnerSpec spec;
    spec.src_ip = IpAddr::V6(a);
    spec.dst_ip = IpAddr::V6(b);
    spec.l4_proto = proto;
    spec.ttl = 7;
    const auto payload = Payload(333);
    uint8_t f[512];
    const uint32_t n = BuildInnerFrame(spec, payload, f, sizeof(f));
    const uint32_t l4 = proto == kIpProtoTcp ? 20 : 8;
    ASSERT_EQ(n, 14u + 40 + l4 + 333);
    FrameLayout l;
    ASSERT_EQ(ParseFrame(f, n, &l), ParseResult::kOk);
    EXPECT_TRUE(l.ipv6);
    EXPECT_EQ(l.l4_proto, proto);
    EXPECT_EQ(l.l4_off, 54);
    const auto ip = ReadAt<Ipv6Header>(f, 14);
    EXPECT_EQ(ip.version(), 6);
    EXPECT_EQ(ip.payload_length.host(), l4 + 333);
    EXPECT_EQ(ip.hop_limit, 7);
    EXPECT_EQ(0, std::memcmp(ip.src.data(), a, 16));
    EXPECT_EQ(0, std::memcmp(ip.dst.data(), b, 16));
    EXPECT_TRUE(L4ChecksumVerifies(f, l));
  }
}

TEST(FrameBuilder, VxlanOverIpv4) {
  InnerSpec ispec;
  const auto payload = Payload(200);
  uint8_t inner[512];
  const uint32_t in = BuildInnerFrame(ispec, payload, inner, sizeof(inner));
  ASSERT_GT(in, 0u);

  for (bool udp_csum : {false, true}) {
    OuterSpec o;
    o.vni = 0x123456;
    o.sport = 50000;
    o.udp_checksum = udp_csum;
    uint8_t f[1024];
    const uint32_t n = BuildVxlanFrame(o, {inner, in}, f, sizeof(f));
    ASSERT_EQ(n, kVxlanOverheadV4 + in);
    FrameLayout l;
    ASSERT_EQ(ParseFrame(f, n, &l), ParseResult::kOk);
    EXPECT_EQ(l.l4_proto, kIpProtoUdp);
    const auto ip = ReadAt<Ipv4Header>(f, 14);
    EXPECT_TRUE(VerifyIpv4Checksum(&ip));
    EXPECT_EQ(ip.frag_off.host(), kIpv4DontFragment);
    EXPECT_EQ(ip.id.host(), 0);
    EXPECT_EQ(ip.ttl, 64);
    EXPECT_EQ(ip.protocol, kIpProtoUdp);
    EXPECT_EQ(ip.src.host(), 0xC6120001u);
    EXPECT_EQ(ip.dst.host(), 0xC6120002u);
    const auto udp = ReadAt<UdpHeader>(f, 34);
    EXPECT_EQ(udp.src_port.host(), 50000);
    EXPECT_EQ(udp.dst_port.host(), kVxlanPort);
    EXPECT_EQ(udp.length.host(), 16 + in);
    if (udp_csum) {
      EXPECT_TRUE(L4ChecksumVerifies(f, l));
    } else {
      EXPECT_EQ(udp.checksum.raw(), 0);
    }
    const auto vx = ReadAt<VxlanHeader>(f, 42);
    EXPECT_EQ(vx.flags, kVxlanFlagI);
    EXPECT_EQ(vx.vni(), 0x123456u);
    EXPECT_TRUE(vx.ReservedBitsClear());
    EXPECT_EQ(0, std::memcmp(f + 50, inner, in));
  }
}

TEST(FrameBuilder, VxlanOverIpv6AlwaysHasUdpChecksum) {
  const uint8_t a[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  const uint8_t b[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
  InnerSpec ispec;
  ispec.l4_proto = kIpProtoUdp;
  uint8_t inner[256];
  const uint32_t in = BuildInnerFrame(ispec, Payload(31), inner, sizeof(inner));
  ASSERT_GT(in, 0u);
  OuterSpec o;
  o.src_ip = IpAddr::V6(a);
  o.dst_ip = IpAddr::V6(b);
  o.vni = 7;
  uint8_t f[512];
  const uint32_t n = BuildVxlanFrame(o, {inner, in}, f, sizeof(f));
  ASSERT_EQ(n, kVxlanOverheadV6 + in);
  FrameLayout l;
  ASSERT_EQ(ParseFrame(f, n, &l), ParseResult::kOk);
  EXPECT_TRUE(l.ipv6);
  EXPECT_EQ(l.ether_type, kEtherTypeIpv6);
  const auto udp = ReadAt<UdpHeader>(f, l.l4_off);
  EXPECT_NE(udp.checksum.raw(), 0);
  EXPECT_TRUE(L4ChecksumVerifies(f, l));
  EXPECT_EQ(ReadAt<VxlanHeader>(f, l.payload_off()).vni(), 7u);
  EXPECT_EQ(0, std::memcmp(f + kVxlanOverheadV6, inner, in));
}

TEST(FrameBuilder, CapTooSmallReturnsZero) {
  InnerSpec spec;
  const auto payload = Payload(100);
  std::vector<uint8_t> f(14 + 20 + 20 + 100);
  EXPECT_EQ(BuildInnerFrame(spec, payload, f.data(), static_cast<uint32_t>(f.size())), f.size());
  EXPECT_EQ(BuildInnerFrame(spec, payload, f.data(), static_cast<uint32_t>(f.size() - 1)), 0u);
  EXPECT_EQ(BuildInnerFrame(spec, payload, f.data(), 0), 0u);

  std::vector<uint8_t> v(kVxlanOverheadV4 + f.size());
  EXPECT_EQ(BuildVxlanFrame(OuterSpec{}, f, v.data(), static_cast<uint32_t>(v.size())), v.size());
  EXPECT_EQ(BuildVxlanFrame(OuterSpec{}, f, v.data(), static_cast<uint32_t>(v.size() - 1)), 0u);
}

TEST(FrameBuilder, OversizedIpDatagramIsRefused) {
  // An IPv4 total length must fit in 16 bits.
  std::vector<uint8_t> payload(65535 - 20 - 20 + 1);
  std::vector<uint8_t> f(70000);
  EXPECT_EQ(BuildInnerFrame(InnerSpec{}, payload, f.data(), static_cast<uint32_t>(f.size())), 0u);
  payload.pop_back();
  EXPECT_EQ(BuildInnerFrame(InnerSpec{}, payload, f.data(), static_cast<uint32_t>(f.size())),
            14u + 65535);
}

TEST(IpAddr, ParseAndFormat) {
  const auto v4 = IpAddr::Parse("198.18.0.1");
  ASSERT_TRUE(v4.has_value());
  EXPECT_TRUE(v4->is_v4());
  EXPECT_EQ(v4->v4_host(), 0xC6120001u);
  EXPECT_EQ(v4->ToString(), "198.18.0.1");
  const auto v6 = IpAddr::Parse("2001:db8::1");
  ASSERT_TRUE(v6.has_value());
  EXPECT_TRUE(v6->is_v6());
  EXPECT_EQ(v6->bytes[0], 0x20);
  EXPECT_EQ(v6->bytes[15], 1);
  EXPECT_EQ(v6->ToString(), "2001:db8::1");
  EXPECT_FALSE(IpAddr::Parse("").has_value());
  EXPECT_FALSE(IpAddr::Parse("300.1.1.1").has_value());
  EXPECT_FALSE(IpAddr::Parse("not an address").has_value());
  EXPECT_FALSE(IpAddr::Parse(std::string(100, '1')).has_value());
  // Regression (fuzz_ip_addr): text after an embedded NUL was ignored.
  EXPECT_FALSE(IpAddr::Parse(std::string_view("::\0.01", 6)).has_value());
  EXPECT_FALSE(IpAddr::Parse(std::string_view("198.18.0.1\0x", 12)).has_value());
  EXPECT_EQ(IpAddr{}.ToString(), "unset");
}

}  // namespace
}  // namespace mflow::wire
