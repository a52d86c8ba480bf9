// Frame builder: writes valid Ethernet/IP/TCP/UDP and VXLAN frames.
//
// Used by tests (golden and random frames) and by mflow-bench's traffic
// source (frames built once, then recycled). Not on the data path.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "wire/ethernet.h"
#include "wire/ip_addr.h"

namespace mflow::wire {

struct InnerSpec {
  MacAddr src_mac{{0x02, 0, 0, 0, 0, 0x01}};
  MacAddr dst_mac{{0x02, 0, 0, 0, 0, 0x02}};
  std::optional<uint16_t> vlan;  // 802.1Q VID
  IpAddr src_ip = IpAddr::V4(0xC6120101);  // 198.18.1.1
  IpAddr dst_ip = IpAddr::V4(0xC6120102);  // 198.18.1.2 (family picks IPv4/IPv6)
  uint8_t l4_proto = 6;                    // 6 TCP, 17 UDP
  uint16_t sport = 40000;
  uint16_t dport = 5201;
  uint32_t tcp_seq = 1;
  uint32_t tcp_ack = 1;
  uint8_t tcp_flags = 0x18;  // PSH|ACK
  uint16_t ip_id = 0;
  uint8_t ttl = 64;
};

struct OuterSpec {
  MacAddr src_mac{{0x02, 0xaa, 0, 0, 0, 0x01}};
  MacAddr dst_mac{{0x02, 0xaa, 0, 0, 0, 0x02}};
  IpAddr src_ip = IpAddr::V4(0xC6120001);  // 198.18.0.1
  IpAddr dst_ip = IpAddr::V4(0xC6120002);  // 198.18.0.2
  uint16_t sport = 49152;
  uint16_t dport = 4789;
  uint32_t vni = 42;
  bool udp_checksum = false;  // Linux VXLAN sends 0 over IPv4 by default
};

// Writes Ethernet [+VLAN] + IP + TCP/UDP + payload into out[0..cap) with
// valid IPv4 header and L4 checksums. Returns the frame length, or 0 when it
// does not fit.
// IP version follows spec.dst_ip.family; an l4_proto other than TCP/UDP
// gets no L4 header (the payload follows the IP header). Inner IPv4 has DF set.
uint32_t BuildInnerFrame(const InnerSpec& spec, std::span<const uint8_t> payload, uint8_t* out,
                         uint32_t cap);

// Writes outer Ethernet + IPv4/IPv6 + UDP + VXLAN followed by the inner frame.
// Returns the total length, or 0 when it does not fit.
uint32_t BuildVxlanFrame(const OuterSpec& outer, std::span<const uint8_t> inner, uint8_t* out,
                         uint32_t cap);

}  // namespace mflow::wire
