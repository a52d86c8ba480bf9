#include "stage/vxlan_encap.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <string>

#include "wire/checksum.h"
#include "wire/ipv4.h"
#include "wire/ipv6.h"
#include "wire/parse.h"
#include "wire/udp.h"

namespace mflow {
namespace {

constexpr std::array<std::string_view, VxlanEncap::kNumDrops> kDropNames = {
    "runt", "no_remote", "family_mismatch", "bad_vni", "too_big", "no_headroom",
};

constexpr uint32_t kEth = sizeof(wire::EthernetHeader);
constexpr uint32_t kVlan = sizeof(wire::VlanTag);
constexpr uint32_t kUdpVxlan = sizeof(wire::UdpHeader) + sizeof(wire::VxlanHeader);

uint16_t ReadBe16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }

// The inner flow hash, as the split point computes it. ClassifyInner checks
// the IP length against the bytes it is given, so a frame with fragments (a
// TSO segment: headers linear, payload in fragments) is classified from a
// zero-padded copy of its linear part, told the whole frame length; the
// classifier reads headers only (at most 98 bytes in), never payload.
uint32_t InnerFlowHash(const Packet* p, uint32_t vni) {
  constexpr uint32_t kView = 160;
  uint8_t copy[kView];
  const uint8_t* data = p->data;
  if (p->nfrags != 0) {
    std::memset(copy, 0, kView);
    std::memcpy(copy, p->data, std::min(p->len, kView));
    data = copy;
  }
  wire::FlowKey key;
  if (!wire::ClassifyInner(data, p->frame_len(), vni, &key)) return 1;
  return wire::FlowHash(key);
}

}  // namespace

StatusOr<std::unique_ptr<VxlanEncap>> VxlanEncap::Create(const VxlanEncapConfig& cfg) {
  const uint8_t fam = cfg.local_ip.family;
  if (fam != 4 && fam != 6)
    return Status::Error("vxlan_encap: local_ip must be an IPv4 or IPv6 address");
  if (cfg.default_remote.family != 0 && cfg.default_remote.family != fam)
    return Status::Error("vxlan_encap: default_remote " + cfg.default_remote.ToString() +
                         " is not of the same family as local_ip " + cfg.local_ip.ToString());
  if (cfg.vni > wire::kMaxVni)
    return Status::Error("vxlan_encap: VNI " + std::to_string(cfg.vni) + " exceeds 24 bits");
  if (cfg.dst_port == 0) return Status::Error("vxlan_encap: dst_port must not be 0");
  if (cfg.src_port_min == 0 || cfg.src_port_min > cfg.src_port_max)
    return Status::Error("vxlan_encap: source port range " + std::to_string(cfg.src_port_min) +
                         ".." + std::to_string(cfg.src_port_max) + " is empty or starts at 0");
  if (cfg.ttl == 0) return Status::Error("vxlan_encap: ttl must be at least 1");
  // The largest inner frame (MTU + Ethernet + 802.1Q) plus UDP + VXLAN (+ the
  // IPv4 header, which IPv4's total length counts) must fit the 16-bit
  // length field of the outer IP header.
  const uint32_t outer_fixed = kUdpVxlan + kEth + kVlan + (fam == 4 ? 20 : 0);
  if (cfg.inner_mtu < 68 || cfg.inner_mtu > 65535 - outer_fixed)
    return Status::Error("vxlan_encap: inner_mtu must be 68.." +
                         std::to_string(65535 - outer_fixed) + ", got " +
                         std::to_string(cfg.inner_mtu));
  return std::unique_ptr<VxlanEncap>(new VxlanEncap(cfg));
}

std::span<const std::string_view> VxlanEncap::drop_reasons() const { return kDropNames; }

int VxlanEncap::Handle(Packet* p, StageContext&) noexcept {
  // Hairpin: a destination on another local port is delivered as it is by
  // the port layer, never encapsulated.
  if (p->out_port != kPortNone && p->out_port != kPortFlood) return kNext;
  if (MFLOW_LIKELY(!p->is_train())) return Encap(p);
  // The carrier is not sent; its segments are the frames.
  for (Packet* s = p->segs; s != nullptr; s = s->seg_next) {
    const int edge = Encap(s);
    if (edge != kNext) return edge;
  }
  return kNext;
}

int VxlanEncap::Encap(Packet* p) const noexcept {
  if (p->len < kEth) return kRunt;
  uint32_t l2 = kEth;
  if (ReadBe16(p->data + 12) == wire::kEtherTypeVlan) {
    if (p->len < kEth + kVlan) return kRunt;
    l2 += kVlan;
  }
  const uint32_t vni = p->vni != 0 ? p->vni : cfg_.vni;
  if (cfg_.vxlan_only) {
    if (vni > wire::kMaxVni) return kBadVni;
    if (p->frame_len() > cfg_.inner_mtu + l2) return kTooBig;
    uint8_t* o = p->Prepend(sizeof(wire::VxlanHeader));
    if (o == nullptr) return kNoHeadroom;
    wire::VxlanHeader vx{};
    vx.flags = wire::kVxlanFlagI;
    vx.set_vni(vni);
    std::memcpy(o, &vx, sizeof(vx));
    if (p->l3_off != 0) p->l3_off = static_cast<uint8_t>(p->l3_off + sizeof(vx));
    if (p->l4_off != 0) p->l4_off = static_cast<uint8_t>(p->l4_off + sizeof(vx));
    return kNext;
  }
  const wire::IpAddr& remote = p->remote.family != 0 ? p->remote : cfg_.default_remote;
  if (remote.family == 0) return kNoRemote;
  if (remote.family != cfg_.local_ip.family) return kFamilyMismatch;
  if (vni > wire::kMaxVni) return kBadVni;
  const uint32_t inner_len = p->frame_len();
  if (inner_len > cfg_.inner_mtu + l2) return kTooBig;
  if (p->flow_hash == 0) p->flow_hash = InnerFlowHash(p, vni);
  const uint32_t hash = p->flow_hash;

  const bool v6 = cfg_.local_ip.is_v6();
  const uint32_t ip_len = v6 ? sizeof(wire::Ipv6Header) : sizeof(wire::Ipv4Header);
  const uint32_t hdr_len = kEth + ip_len + kUdpVxlan;
  uint8_t* o = p->Prepend(hdr_len);
  if (o == nullptr) return kNoHeadroom;
  uint8_t* l4 = o + kEth + ip_len;
  const uint32_t udp_len = kUdpVxlan + inner_len;

  wire::EthernetHeader eth{};
  eth.dst = cfg_.dst_mac;
  eth.src = cfg_.src_mac;
  eth.ether_type.set(v6 ? wire::kEtherTypeIpv6 : wire::kEtherTypeIpv4);
  std::memcpy(o, &eth, sizeof(eth));

  // Linux udp_flow_src_port: scale the 32-bit hash into the range with a
  // multiply-shift (no modulo bias worth the name, no division). The range
  // here is inclusive of src_port_max.
  const uint32_t range = uint32_t{cfg_.src_port_max} - cfg_.src_port_min + 1;
  const auto sport =
      static_cast<uint16_t>(cfg_.src_port_min + ((uint64_t{hash} * range) >> 32));
  wire::UdpHeader udp{};
  udp.src_port.set(sport);
  udp.dst_port.set(cfg_.dst_port);
  udp.length.set(static_cast<uint16_t>(udp_len));
  std::memcpy(l4, &udp, sizeof(udp));
  wire::VxlanHeader vx{};
  vx.flags = wire::kVxlanFlagI;
  vx.set_vni(vni);
  std::memcpy(l4 + sizeof(udp), &vx, sizeof(vx));

  uint32_t pseudo;
  bool udp_csum;
  if (v6) {
    wire::Ipv6Header ip{};
    ip.ver_tc_flow.set((6u << 28) | (hash & 0xfffffu));
    ip.payload_length.set(static_cast<uint16_t>(udp_len));
    ip.next_header = wire::kIpProtoUdp;
    ip.hop_limit = cfg_.ttl;
    std::memcpy(ip.src.data(), cfg_.local_ip.bytes, 16);
    std::memcpy(ip.dst.data(), remote.bytes, 16);
    std::memcpy(o + kEth, &ip, sizeof(ip));
    pseudo = wire::PseudoHeaderSumV6(&ip, wire::kIpProtoUdp, udp_len);
    udp_csum = true;
  } else {
    wire::Ipv4Header ip{};
    ip.version_ihl = 0x45;
    ip.total_length.set(static_cast<uint16_t>(ip_len + udp_len));
    ip.frag_off.set(wire::kIpv4DontFragment);
    ip.ttl = cfg_.ttl;
    ip.protocol = wire::kIpProtoUdp;
    ip.src.set(cfg_.local_ip.v4_host());
    ip.dst.set(remote.v4_host());
    ip.checksum = wire::Be16::FromRaw(wire::ChecksumFinish(wire::ChecksumPartial(&ip, sizeof(ip))));
    std::memcpy(o + kEth, &ip, sizeof(ip));
    pseudo = wire::PseudoHeaderSumV4(&ip, wire::kIpProtoUdp, udp_len);
    udp_csum = cfg_.udp_checksum;
  }

  if (udp_csum) {
    // UDP + VXLAN + the inner frame's linear part are contiguous; then the
    // inner fragments (a TSO segment's payload).
    std::array<wire::ChecksumPiece, 1 + kMaxFrags> pieces;
    pieces[0] = {l4, p->len - kEth - ip_len};
    for (uint16_t f = 0; f < p->nfrags; ++f) pieces[1u + f] = {p->frags[f].data, p->frags[f].len};
    uint16_t c = wire::ChecksumFinish(wire::ChecksumSg(pieces.data(), 1u + p->nfrags, pseudo));
    if (c == 0) c = 0xffff;  // RFC 768: 0 means "no checksum"; send all ones
    udp.checksum = wire::Be16::FromRaw(c);
    std::memcpy(l4, &udp, sizeof(udp));
  }

  // Keep l3_off/l4_off meaning "inner offset from data". Inner offsets are
  // at most 18 + 60 and hdr_len at most 70, so they fit in 8 bits.
  if (p->l3_off != 0) p->l3_off = static_cast<uint8_t>(p->l3_off + hdr_len);
  if (p->l4_off != 0) p->l4_off = static_cast<uint8_t>(p->l4_off + hdr_len);
  return kNext;
}

}  // namespace mflow
