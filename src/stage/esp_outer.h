// The outer Ethernet + IP header of a full underlay frame, as the ESP stages
// move it: taken off in front of the UDP datagram they encrypt or decrypt,
// and put back with its lengths and checksum fixed. Only the plain headers
// mflow writes and accepts for ESP are handled: Ethernet without VLAN tag,
// IPv4 without options and not a fragment, IPv6 without extension headers,
// protocol UDP. (Socket underlays never see these: the kernel owns them.)
#pragma once

#include <cstdint>
#include <cstring>

#include "packet/packet.h"
#include "wire/checksum.h"
#include "wire/ethernet.h"
#include "wire/ipv4.h"
#include "wire/ipv6.h"
#include "wire/udp.h"

namespace mflow::esp_outer {

inline constexpr uint32_t kEth = sizeof(wire::EthernetHeader);
inline constexpr uint32_t kMax = kEth + sizeof(wire::Ipv6Header);

struct Outer {
  uint32_t len = 0;  // Ethernet + IP
  bool v6 = false;
  uint8_t bytes[kMax];
};

// Reads the outer headers of p (data at Ethernet) into o. False when they are
// not the plain shape above; dst_port (optional) gets the UDP destination.
inline bool Read(const Packet* p, Outer* o, uint16_t* dst_port = nullptr,
                 wire::IpAddr* src = nullptr) {
  if (p->len < kEth + sizeof(wire::Ipv4Header) + sizeof(wire::UdpHeader)) return false;
  const uint16_t et = static_cast<uint16_t>(p->data[12] << 8 | p->data[13]);
  const uint8_t* ip = p->data + kEth;
  if (et == wire::kEtherTypeIpv4) {
    wire::Ipv4Header h;
    std::memcpy(&h, ip, sizeof h);
    if (h.version_ihl != 0x45 || h.protocol != wire::kIpProtoUdp) return false;
    if ((h.frag_off.host() & 0x3fff) != 0) return false;  // a fragment
    o->v6 = false;
    o->len = kEth + sizeof h;
    if (src) *src = wire::IpAddr::V4(h.src.host());
  } else if (et == wire::kEtherTypeIpv6) {
    if (p->len < kMax + sizeof(wire::UdpHeader)) return false;
    wire::Ipv6Header h;
    std::memcpy(&h, ip, sizeof h);
    if (h.next_header != wire::kIpProtoUdp) return false;
    o->v6 = true;
    o->len = kMax;
    if (src) {
      *src = wire::IpAddr{};
      src->family = 6;
      std::memcpy(src->bytes, h.src.data(), 16);
    }
  } else {
    return false;
  }
  std::memcpy(o->bytes, p->data, o->len);
  if (dst_port) *dst_port = static_cast<uint16_t>(p->data[o->len + 2] << 8 | p->data[o->len + 3]);
  return true;
}

// Puts o back in front of p (data at the UDP datagram, linear) with its
// length fields (and the IPv4 checksum) set for the datagram. For IPv6 the
// UDP checksum is computed when `udp_csum_v6` (ESP in UDP over IPv6 needs
// one; the inner VXLAN datagram kept the one its sender wrote). False when
// there is no headroom.
inline bool Write(Packet* p, const Outer& o, bool udp_csum_v6) {
  const uint32_t udp_len = p->len;
  uint8_t* d = p->Prepend(o.len);
  if (d == nullptr) return false;
  std::memcpy(d, o.bytes, o.len);
  if (!o.v6) {
    wire::Ipv4Header h;
    std::memcpy(&h, d + kEth, sizeof h);
    h.total_length.set(static_cast<uint16_t>(sizeof h + udp_len));
    h.checksum = wire::Be16::FromRaw(wire::ComputeIpv4Checksum(&h));
    std::memcpy(d + kEth, &h, sizeof h);
    return true;
  }
  wire::Ipv6Header h;
  std::memcpy(&h, d + kEth, sizeof h);
  h.payload_length.set(static_cast<uint16_t>(udp_len));
  std::memcpy(d + kEth, &h, sizeof h);
  if (udp_csum_v6) {
    uint8_t* udp = d + o.len;
    udp[6] = udp[7] = 0;
    uint16_t c = wire::ChecksumFinish(
        wire::ChecksumPartial(udp, udp_len, wire::PseudoHeaderSumV6(&h, wire::kIpProtoUdp, udp_len)));
    if (c == 0) c = 0xffff;
    std::memcpy(udp + 6, &c, 2);
  }
  return true;
}

}  // namespace mflow::esp_outer
