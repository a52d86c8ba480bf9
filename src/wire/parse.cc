#include "wire/parse.h"

#include <cstring>

#include "wire/ipv4.h"
#include "wire/ipv6.h"
#include "wire/tcp.h"
#include "wire/udp.h"
#include "wire/vxlan.h"

#if defined(__SSE4_2__)
#include <nmmintrin.h>
#endif

namespace mflow::wire {
namespace {

// Every read below is preceded by a length check against the bytes present;
// headers are copied out with memcpy so any offset is safe.
template <typename T>
T Read(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

inline uint16_t ReadBe16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }

}  // namespace

std::string_view ParseResultName(ParseResult r) {
  switch (r) {
    case ParseResult::kOk: return "ok";
    case ParseResult::kTruncatedEthernet: return "truncated_ethernet";
    case ParseResult::kTruncatedVlan: return "truncated_vlan";
    case ParseResult::kNotIp: return "not_ip";
    case ParseResult::kTruncatedIp: return "truncated_ip";
    case ParseResult::kBadIpVersion: return "bad_ip_version";
    case ParseResult::kBadIpHeaderLength: return "bad_ip_header_length";
    case ParseResult::kBadIpTotalLength: return "bad_ip_total_length";
    case ParseResult::kFragment: return "fragment";
    case ParseResult::kIpv6ExtensionHeader: return "ipv6_extension_header";
    case ParseResult::kNotTcpUdp: return "not_tcp_udp";
    case ParseResult::kTruncatedL4: return "truncated_l4";
    case ParseResult::kBadUdpLength: return "bad_udp_length";
  }
  return "unknown";
}

ParseResult ParseFrame(const uint8_t* p, uint32_t len, FrameLayout* out) {
  *out = FrameLayout{};
  if (len < sizeof(EthernetHeader)) return ParseResult::kTruncatedEthernet;
  uint32_t off = sizeof(EthernetHeader);
  uint16_t ether_type = ReadBe16(p + 12);
  if (ether_type == kEtherTypeVlan) {
    if (len < off + sizeof(VlanTag)) return ParseResult::kTruncatedVlan;
    ether_type = ReadBe16(p + off + 2);
    off += sizeof(VlanTag);
  }
  out->ether_type = ether_type;
  out->l3_off = static_cast<uint16_t>(off);

  const uint32_t avail = len - off;  // bytes from the IP header to the end of the frame
  uint32_t l4_avail;                 // IP payload bytes (excluding Ethernet padding)
  uint8_t proto;
  if (ether_type == kEtherTypeIpv4) {
    if (avail < sizeof(Ipv4Header)) return ParseResult::kTruncatedIp;
    const auto ip = Read<Ipv4Header>(p + off);
    if (ip.version() != 4) return ParseResult::kBadIpVersion;
    const uint32_t hl = ip.header_len();
    if (hl < sizeof(Ipv4Header) || hl > avail) return ParseResult::kBadIpHeaderLength;
    const uint32_t total = ip.total_length.host();
    if (total > avail || total < hl) return ParseResult::kBadIpTotalLength;
    out->l3_end = off + total;
    proto = ip.protocol;
    out->l4_proto = proto;
    out->l4_off = static_cast<uint16_t>(off + hl);
    if (ip.IsFragment()) return ParseResult::kFragment;
    l4_avail = total - hl;
  } else if (ether_type == kEtherTypeIpv6) {
    out->ipv6 = true;
    if (avail < sizeof(Ipv6Header)) return ParseResult::kTruncatedIp;
    const auto ip = Read<Ipv6Header>(p + off);
    if (ip.version() != 6) return ParseResult::kBadIpVersion;
    const uint32_t plen = ip.payload_length.host();
    if (plen > avail - sizeof(Ipv6Header)) return ParseResult::kBadIpTotalLength;
    out->l3_end = off + static_cast<uint32_t>(sizeof(Ipv6Header)) + plen;
    proto = ip.next_header;
    out->l4_proto = proto;
    out->l4_off = static_cast<uint16_t>(off + sizeof(Ipv6Header));
    if (proto == kIpv6NextHeaderFragment) return ParseResult::kFragment;
    if (IsIpv6ExtensionHeader(proto)) return ParseResult::kIpv6ExtensionHeader;
    l4_avail = plen;
  } else {
    return ParseResult::kNotIp;
  }

  const uint8_t* l4 = p + out->l4_off;
  if (proto == kIpProtoTcp) {
    if (l4_avail < sizeof(TcpHeader)) return ParseResult::kTruncatedL4;
    const uint32_t doff = Read<TcpHeader>(l4).header_len();
    if (doff < sizeof(TcpHeader) || doff > l4_avail) return ParseResult::kTruncatedL4;
    out->l4_hdr_len = static_cast<uint16_t>(doff);
  } else if (proto == kIpProtoUdp) {
    if (l4_avail < sizeof(UdpHeader)) return ParseResult::kTruncatedL4;
    // Stricter than RFC 768 (which only bounds it): a UDP length that
    // disagrees with IP means one of the two was tampered with or mangled.
    if (Read<UdpHeader>(l4).length.host() != l4_avail) return ParseResult::kBadUdpLength;
    out->l4_hdr_len = sizeof(UdpHeader);
  } else {
    return ParseResult::kNotTcpUdp;
  }
  return ParseResult::kOk;
}

uint32_t FlowHash(const FlowKey& k) {
  // The key is hashed field by field (never as raw struct bytes: it has
  // padding). Words: the two addresses, then ports/proto/family, then VNI.
  const uint64_t words[6] = {
      Read<uint64_t>(k.src),
      Read<uint64_t>(k.src + 8),
      Read<uint64_t>(k.dst),
      Read<uint64_t>(k.dst + 8),
      uint64_t{k.sport} | (uint64_t{k.dport} << 16) | (uint64_t{k.proto} << 32) |
          (uint64_t{k.family} << 40),
      k.vni,
  };
  uint32_t h;
#if defined(__SSE4_2__)
  // CRC32C: one instruction per word, but it is linear, so the result goes
  // through a multiply/xorshift finalizer below to spread every input bit
  // over the low bits that pick a worker.
  uint64_t c = 0x9e3779b9;
  for (uint64_t w : words) c = _mm_crc32_u64(c, w);
  h = static_cast<uint32_t>(c);
#else
  uint64_t c = 0x9e3779b97f4a7c15ull;
  for (uint64_t w : words) {
    c ^= w;
    c *= 0xff51afd7ed558ccdull;
    c ^= c >> 32;
  }
  h = static_cast<uint32_t>(c ^ (c >> 29));
#endif
  // murmur3 fmix32: full avalanche.
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h != 0 ? h : 1;  // 0 means "unset" to callers
}

bool ClassifyInner(const uint8_t* p, uint32_t len, uint32_t vni, FlowKey* key) {
  if (len < sizeof(EthernetHeader)) return false;
  FlowKey k;
  k.vni = vni;
  FrameLayout l;
  const ParseResult r = ParseFrame(p, len, &l);
  // Once the IP header itself is sound, the flow is keyed on its addresses
  // even if L4 is missing (other protocols, fragments, bad L4): such packets
  // of one host pair stay together. Ports only when TCP/UDP parsed.
  const bool ip_ok = r == ParseResult::kOk || r == ParseResult::kNotTcpUdp ||
                     r == ParseResult::kFragment || r == ParseResult::kIpv6ExtensionHeader ||
                     r == ParseResult::kTruncatedL4 || r == ParseResult::kBadUdpLength;
  if (ip_ok) {
    const uint8_t* ip = p + l.l3_off;
    if (l.ipv6) {
      k.family = 6;
      std::memcpy(k.src, ip + 8, 16);
      std::memcpy(k.dst, ip + 24, 16);
    } else {
      k.family = 4;
      std::memcpy(k.src, ip + 12, 4);
      std::memcpy(k.dst, ip + 16, 4);
    }
    k.proto = l.l4_proto;
    if (r == ParseResult::kOk) {
      k.sport = ReadBe16(p + l.l4_off);
      k.dport = ReadBe16(p + l.l4_off + 2);
    }
  } else {
    // Non-IP (ARP, LLDP...) or a broken IP header: key on the MACs.
    std::memcpy(k.src, p + 6, 6);
    std::memcpy(k.dst, p, 6);
  }
  *key = k;
  return true;
}

namespace {

// Parses the outer headers of a VXLAN frame up to its VXLAN header: true
// with the layout and the VXLAN header's offset, false if it is not VXLAN.
bool FindVxlan(const uint8_t* p, uint32_t len, FrameLayout* l, uint32_t* vx_off) {
  if (ParseFrame(p, len, l) != ParseResult::kOk || l->l4_proto != kIpProtoUdp) return false;
  if (ReadBe16(p + l->l4_off + 2) != kVxlanPort) return false;
  *vx_off = l->payload_off();
  return l->l3_end - *vx_off >= sizeof(VxlanHeader);
}

}  // namespace

bool ClassifyVxlan(const uint8_t* p, uint32_t len, FlowKey* key) {
  FrameLayout l;
  uint32_t vx_off;
  if (!FindVxlan(p, len, &l, &vx_off)) return false;
  const uint32_t vni = Read<VxlanHeader>(p + vx_off).vni();
  const uint32_t inner_off = vx_off + static_cast<uint32_t>(sizeof(VxlanHeader));
  // The inner frame ends where the outer IP datagram does, not at the end of
  // the (possibly padded) outer frame.
  return ClassifyInner(p + inner_off, l.l3_end - inner_off, vni, key);
}

bool ClassifyVxlanOuter(const uint8_t* p, uint32_t len, FlowKey* key) {
  FrameLayout l;
  uint32_t vx_off;
  if (!FindVxlan(p, len, &l, &vx_off)) return false;
  FlowKey k;
  k.vni = Read<VxlanHeader>(p + vx_off).vni();
  k.proto = kIpProtoUdp;
  k.sport = ReadBe16(p + l.l4_off);
  k.dport = kVxlanPort;
  if (l.ipv6) {
    k.family = 6;
    std::memcpy(k.src, p + l.l3_off + 8, 16);
    std::memcpy(k.dst, p + l.l3_off + 24, 16);
  } else {
    k.family = 4;
    std::memcpy(k.src, p + l.l3_off + 12, 4);
    std::memcpy(k.dst, p + l.l3_off + 16, 4);
  }
  *key = k;
  return true;
}

}  // namespace mflow::wire
