// VxlanEncap: prepends outer Ethernet + IPv4/IPv6 + UDP + VXLAN (RFC 7348)
// in the packet's headroom; the inner frame is neither copied nor changed.
//
// Input (tx direction, after GsoSegment): data at the inner Ethernet frame
// (its Ethernet header, and 802.1Q tag if any, in the linear part).
//   - Outer destination: p->remote (set by FdbForward); when unset — a flood
//     (out_port == kPortFlood) or an unknown destination — config
//     default_remote, if set; else the packet drops as no_remote.
//   - VNI: p->vni if non-zero, else config vni.
//   - UDP source port: from the inner flow hash (p->flow_hash; computed with
//     ClassifyInner + FlowHash when 0 and stored back), scaled into
//     [src_port_min, src_port_max] as Linux udp_flow_src_port does
//     (RFC 7348 §5: entropy for ECMP, in the dynamic range 49152-65535).
//   - Outer IPv4: TTL, DF set, ID 0 (RFC 6864: an atomic datagram's ID has
//     no meaning), TOS 0, header checksum; UDP checksum 0 unless
//     udp_checksum (RFC 7348 §5 allows 0, Linux sends 0 by default).
//   - Outer IPv6: hop limit = ttl, flow label from the flow hash (RFC 6438),
//     UDP checksum always computed over the whole datagram, fragments
//     included (RFC 8200 §8.1; the RFC 6935 zero-checksum exception is not
//     taken).
//   - ECN is not copied to the outer header: RFC 6040 needs the decapsulator
//     to carry CE back into the inner header, which our decap does not yet
//     do; without that a copied ECT would turn underlay drops into marks
//     nobody sees.
// With vxlan_only only the 8-byte VXLAN header is prepended (a UDP socket
// port: the kernel writes the rest). A packet bound for a local port
// (out_port neither kPortNone nor kPortFlood: hairpin) passes unchanged.
// For a carrier with a TSO train, each segment is encapsulated in its own
// headroom and the carrier itself is left alone (it is not sent); if any
// segment fails, the carrier drops with the whole train, on that reason.
// p->l3_off/l4_off (inner offsets from data) are moved past the new headers.
//
// Drops: runt (linear part shorter than the inner Ethernet header/tag),
// no_remote, family_mismatch (remote's family differs from local_ip's),
// bad_vni (p->vni wider than 24 bits), too_big (inner frame longer than
// inner_mtu + 14, +4 with an 802.1Q tag), no_headroom.
//
// Thread-safety: stateless (config is read-only after Create).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "common/status.h"
#include "stage/stage.h"
#include "wire/ethernet.h"
#include "wire/ip_addr.h"
#include "wire/vxlan.h"

namespace mflow {

struct VxlanEncapConfig {
  wire::IpAddr local_ip;           // our VTEP address (outer source); required
  wire::MacAddr src_mac;           // outer source MAC: our underlay interface
  wire::MacAddr dst_mac;           // outer destination MAC: the next hop
  uint32_t vni = 0;                // when p->vni is 0
  uint16_t dst_port = wire::kVxlanPort;
  uint16_t src_port_min = 49152;
  uint16_t src_port_max = 65535;
  bool udp_checksum = false;       // IPv4 underlay only; IPv6 always has one
  uint8_t ttl = 64;
  uint32_t inner_mtu = 1450;       // largest inner IP packet
  wire::IpAddr default_remote;     // for packets without p->remote; unset = drop
  // Prepend only the VXLAN header: the port is a UDP socket, whose kernel
  // writes outer IP and UDP, and the port sends to p->remote (or to every
  // peer for a flood), so no remote is needed here.
  bool vxlan_only = false;
};

class VxlanEncap final : public PerPacketStage<VxlanEncap> {
 public:
  enum Drop : uint32_t {
    kRunt,
    kNoRemote,
    kFamilyMismatch,
    kBadVni,
    kTooBig,
    kNoHeadroom,
    kNumDrops,
  };

  static StatusOr<std::unique_ptr<VxlanEncap>> Create(const VxlanEncapConfig& cfg);

  std::string_view name() const override { return "vxlan_encap"; }
  std::span<const std::string_view> drop_reasons() const override;

  int Handle(Packet* p, StageContext& ctx) noexcept;

 private:
  explicit VxlanEncap(const VxlanEncapConfig& cfg) : cfg_(cfg) {}
  // Encapsulates one frame (a plain packet or one segment of a train).
  int Encap(Packet* p) const noexcept;

  VxlanEncapConfig cfg_;
};

}  // namespace mflow
