#include "wire/frame_builder.h"

#include <cstring>

#include "wire/checksum.h"
#include "wire/ipv4.h"
#include "wire/ipv6.h"
#include "wire/tcp.h"
#include "wire/udp.h"
#include "wire/vxlan.h"

namespace mflow::wire {
namespace {

// Headers are assembled as local structs and copied out, so the output buffer
// is only ever written as bytes (no type punning of the caller's memory).
template <typename T>
void Put(uint8_t* out, const T& v) {
  std::memcpy(out, &v, sizeof(T));
}

// Writes Ethernet [+802.1Q]; returns its length.
uint32_t PutEthernet(uint8_t* out, const MacAddr& dst, const MacAddr& src,
                     std::optional<uint16_t> vlan, uint16_t ether_type) {
  EthernetHeader eth{};
  eth.dst = dst;
  eth.src = src;
  if (!vlan) {
    eth.ether_type.set(ether_type);
    Put(out, eth);
    return sizeof(EthernetHeader);
  }
  eth.ether_type.set(kEtherTypeVlan);
  Put(out, eth);
  VlanTag tag{};
  tag.tci.set(static_cast<uint16_t>(*vlan & 0x0fff));
  tag.ether_type.set(ether_type);
  Put(out + sizeof(EthernetHeader), tag);
  return sizeof(EthernetHeader) + sizeof(VlanTag);
}

Ipv4Header MakeIpv4(const IpAddr& src, const IpAddr& dst, uint8_t proto, uint32_t total_len,
                    uint16_t id, uint8_t ttl) {
  Ipv4Header ip{};
  ip.version_ihl = 0x45;
  ip.total_length.set(static_cast<uint16_t>(total_len));
  ip.id.set(id);
  ip.frag_off.set(kIpv4DontFragment);
  ip.ttl = ttl;
  ip.protocol = proto;
  ip.src.set(src.v4_host());
  ip.dst.set(dst.v4_host());
  ip.checksum = Be16::FromRaw(ComputeIpv4Checksum(&ip));
  return ip;
}

Ipv6Header MakeIpv6(const IpAddr& src, const IpAddr& dst, uint8_t next, uint32_t payload_len,
                    uint8_t hop_limit) {
  Ipv6Header ip{};
  ip.ver_tc_flow.set(6u << 28);
  ip.payload_length.set(static_cast<uint16_t>(payload_len));
  ip.next_header = next;
  ip.hop_limit = hop_limit;
  std::memcpy(ip.src.data(), src.bytes, 16);
  std::memcpy(ip.dst.data(), dst.bytes, 16);
  return ip;
}

// The L4 checksum over pseudo-header + segment, with its field still zero.
uint16_t L4Checksum(uint32_t pseudo, const uint8_t* segment, uint32_t len, bool udp) {
  const uint16_t c = ChecksumFinish(ChecksumPartial(segment, len, pseudo));
  // RFC 768: a computed 0 is sent as all ones (0 means "no checksum").
  return udp && c == 0 ? uint16_t{0xffff} : c;
}

}  // namespace

uint32_t BuildInnerFrame(const InnerSpec& spec, std::span<const uint8_t> payload, uint8_t* out,
                         uint32_t cap) {
  const bool v6 = spec.dst_ip.is_v6();
  const uint32_t l2 = spec.vlan ? 18 : 14;
  const uint32_t l3 = v6 ? sizeof(Ipv6Header) : sizeof(Ipv4Header);
  const uint32_t l4 = spec.l4_proto == kIpProtoTcp   ? sizeof(TcpHeader)
                      : spec.l4_proto == kIpProtoUdp ? sizeof(UdpHeader)
                                                     : 0;  // other protocols: bare payload
  if (payload.size() > 65535) return 0;
  const uint32_t seg_len = l4 + static_cast<uint32_t>(payload.size());
  // IPv4 total length and IPv6 payload length are 16-bit fields.
  if ((v6 ? seg_len : l3 + seg_len) > 65535) return 0;
  const uint64_t total = uint64_t{l2} + l3 + seg_len;
  if (total > cap) return 0;

  PutEthernet(out, spec.dst_mac, spec.src_mac, spec.vlan, v6 ? kEtherTypeIpv6 : kEtherTypeIpv4);
  uint8_t* seg = out + l2 + l3;
  if (!payload.empty()) std::memcpy(seg + l4, payload.data(), payload.size());

  uint32_t pseudo;
  if (v6) {
    const Ipv6Header ip = MakeIpv6(spec.src_ip, spec.dst_ip, spec.l4_proto, seg_len, spec.ttl);
    Put(out + l2, ip);
    pseudo = PseudoHeaderSumV6(&ip, spec.l4_proto, seg_len);
  } else {
    const Ipv4Header ip =
        MakeIpv4(spec.src_ip, spec.dst_ip, spec.l4_proto, l3 + seg_len, spec.ip_id, spec.ttl);
    Put(out + l2, ip);
    pseudo = PseudoHeaderSumV4(&ip, spec.l4_proto, seg_len);
  }

  if (spec.l4_proto == kIpProtoTcp) {
    TcpHeader tcp{};
    tcp.src_port.set(spec.sport);
    tcp.dst_port.set(spec.dport);
    tcp.seq.set(spec.tcp_seq);
    tcp.ack.set(spec.tcp_ack);
    tcp.data_off = 5 << 4;
    tcp.flags = spec.tcp_flags;
    tcp.window.set(0xffff);
    Put(seg, tcp);
    tcp.checksum = Be16::FromRaw(L4Checksum(pseudo, seg, seg_len, false));
    Put(seg, tcp);
  } else if (spec.l4_proto == kIpProtoUdp) {
    UdpHeader udp{};
    udp.src_port.set(spec.sport);
    udp.dst_port.set(spec.dport);
    udp.length.set(static_cast<uint16_t>(seg_len));
    Put(seg, udp);
    udp.checksum = Be16::FromRaw(L4Checksum(pseudo, seg, seg_len, true));
    Put(seg, udp);
  }
  return static_cast<uint32_t>(total);
}

uint32_t BuildVxlanFrame(const OuterSpec& outer, std::span<const uint8_t> inner, uint8_t* out,
                         uint32_t cap) {
  const bool v6 = outer.src_ip.is_v6();
  const uint32_t l3 = v6 ? sizeof(Ipv6Header) : sizeof(Ipv4Header);
  const uint32_t udp_len = sizeof(UdpHeader) + sizeof(VxlanHeader) + static_cast<uint32_t>(inner.size());
  if (inner.size() > 65535 || (v6 ? udp_len : l3 + udp_len) > 65535) return 0;
  const uint64_t total = uint64_t{sizeof(EthernetHeader)} + l3 + udp_len;
  if (total > cap) return 0;

  const uint32_t l2 = PutEthernet(out, outer.dst_mac, outer.src_mac, std::nullopt,
                                  v6 ? kEtherTypeIpv6 : kEtherTypeIpv4);
  uint32_t pseudo;
  if (v6) {
    const Ipv6Header ip = MakeIpv6(outer.src_ip, outer.dst_ip, kIpProtoUdp, udp_len, 64);
    Put(out + l2, ip);
    pseudo = PseudoHeaderSumV6(&ip, kIpProtoUdp, udp_len);
  } else {
    const Ipv4Header ip = MakeIpv4(outer.src_ip, outer.dst_ip, kIpProtoUdp, l3 + udp_len, 0, 64);
    Put(out + l2, ip);
    pseudo = PseudoHeaderSumV4(&ip, kIpProtoUdp, udp_len);
  }

  uint8_t* seg = out + l2 + l3;
  UdpHeader udp{};
  udp.src_port.set(outer.sport);
  udp.dst_port.set(outer.dport);
  udp.length.set(static_cast<uint16_t>(udp_len));
  Put(seg, udp);
  VxlanHeader vx{};
  vx.flags = kVxlanFlagI;
  vx.set_vni(outer.vni & kMaxVni);
  Put(seg + sizeof(UdpHeader), vx);
  if (!inner.empty()) std::memcpy(seg + sizeof(UdpHeader) + sizeof(VxlanHeader), inner.data(), inner.size());

  // RFC 8200 §8.1: IPv6 UDP must carry a checksum (RFC 6935's zero-checksum
  // exception for tunnels is not taken here).
  if (v6 || outer.udp_checksum) {
    udp.checksum = Be16::FromRaw(L4Checksum(pseudo, seg, udp_len, true));
    Put(seg, udp);
  }
  return static_cast<uint32_t>(total);
}

}  // namespace mflow::wire
