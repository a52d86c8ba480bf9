#include "stage/neigh_proxy.h"

#include <array>
#include <cstring>

#include "wire/checksum.h"
#include "wire/ethernet.h"
#include "wire/ipv6.h"

namespace mflow {
namespace {

constexpr std::array<std::string_view, NeighProxy::kNumEvents> kEventNames = {
    "arp_answered", "nd_answered", "kept_local"};
static_assert(NeighProxy::kNumEvents <= kMaxEvents);

// Offsets in an untagged Ethernet frame.
constexpr uint32_t kEth = 14;
// ARP for Ethernet/IPv4 (RFC 826): htype, ptype, hlen, plen, oper, sha,
// spa, tha, tpa.
constexpr uint32_t kArpOper = kEth + 6, kArpSha = kEth + 8, kArpSpa = kEth + 14,
                   kArpTha = kEth + 18, kArpTpa = kEth + 24, kArpEnd = kEth + 28;
// IPv6 header, then ICMPv6 neighbour solicitation/advertisement (RFC 4861 4.3, 4.4).
constexpr uint32_t kIp6 = kEth, kIcmp6 = kIp6 + 40;
constexpr uint32_t kNdTarget = kIcmp6 + 8, kNdOptions = kNdTarget + 16;
constexpr uint32_t kNaLen = 32;  // header, target, one link-layer address option
constexpr uint8_t kIcmp6Proto = 58, kNsType = 135, kNaType = 136;

uint16_t Get16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t Get32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}
void Put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}

}  // namespace

StatusOr<std::unique_ptr<NeighProxy>> NeighProxy::Create(const NeighProxyConfig& cfg) {
  if (cfg.subnets == nullptr) return Status::Error("neigh_proxy: no subnet table given");
  return std::unique_ptr<NeighProxy>(new NeighProxy(cfg.subnets));
}

std::span<const std::string_view> NeighProxy::event_names() const { return kEventNames; }

int NeighProxy::Handle(Packet* p, StageContext& ctx) noexcept {
  // Requests are floods from a local port; small, linear frames.
  if (p->out_port != kPortFlood || p->in_port == kPortNone || p->nfrags != 0 || p->is_train() ||
      p->len < kEth)
    return kNext;
  const uint16_t type = Get16(p->data + 12);
  const bool arp = type == wire::kEtherTypeArp;
  if (!arp && type != wire::kEtherTypeIpv6) return kNext;
  const Outcome o = arp ? AnswerArp(p) : AnswerNs(p);
  if (o == Outcome::kAnswered) {
    ctx.counters->events[arp ? kArpAnswered : kNdAnswered]++;
  } else if (o == Outcome::kLocal) {
    p->flags |= kPktFlagLocalFlood;
    ctx.counters->events[kKeptLocal]++;
  }
  return kNext;
}

NeighProxy::Outcome NeighProxy::Resolve(uint32_t vni, uint32_t ipv4, wire::IpAddr* vtep) const noexcept {
  if (subnets_->Lookup(vni, ipv4, vtep)) return Outcome::kAnswered;
  return subnets_->InOverlay(vni, ipv4) ? Outcome::kLocal : Outcome::kOther;
}

NeighProxy::Outcome NeighProxy::AnswerArp(Packet* p) noexcept {
  uint8_t* d = p->data;
  if (p->len < kArpEnd) return Outcome::kOther;
  // Ethernet (1), IPv4, 6-byte MACs, 4-byte addresses, a request.
  if (Get16(d + kEth) != 1 || Get16(d + kEth + 2) != wire::kEtherTypeIpv4 || d[kEth + 4] != 6 ||
      d[kEth + 5] != 4 || Get16(d + kArpOper) != 1)
    return Outcome::kOther;
  const uint32_t target = Get32(d + kArpTpa);
  // Gratuitous ARP announces the sender: the local ports may want it.
  if (target == Get32(d + kArpSpa)) return Outcome::kOther;
  wire::IpAddr vtep;
  if (const Outcome o = Resolve(p->vni, target, &vtep); o != Outcome::kAnswered) return o;
  const wire::MacAddr mac = RemoteSubnets::MacFor(target);
  uint8_t requester_mac[6], requester_ip[4];
  std::memcpy(requester_mac, d + kArpSha, 6);
  std::memcpy(requester_ip, d + kArpSpa, 4);
  std::memcpy(d, requester_mac, 6);      // eth dst
  std::memcpy(d + 6, mac.b.data(), 6);   // eth src
  Put16(d + kArpOper, 2);                // reply
  std::memcpy(d + kArpSha, mac.b.data(), 6);
  std::memcpy(d + kArpSpa, d + kArpTpa, 4);
  std::memcpy(d + kArpTha, requester_mac, 6);
  std::memcpy(d + kArpTpa, requester_ip, 4);
  p->out_port = p->in_port;
  return Outcome::kAnswered;
}

NeighProxy::Outcome NeighProxy::AnswerNs(Packet* p) noexcept {
  uint8_t* d = p->data;
  if (p->len < kNdOptions) return Outcome::kOther;
  if ((d[kIp6] >> 4) != 6 || d[kIp6 + 6] != kIcmp6Proto || d[kIp6 + 7] != 255) return Outcome::kOther;
  if (Get16(d + kIp6 + 4) < 24 || d[kIcmp6] != kNsType || d[kIcmp6 + 1] != 0) return Outcome::kOther;
  static constexpr uint8_t kUnspecified[16] = {};
  // Duplicate address detection must reach every local port, and the low
  // 32 bits of an IPv6 target only stand for an IPv4 of the overlay by
  // convention: neither is kept local.
  if (std::memcmp(d + kIp6 + 8, kUnspecified, 16) == 0) return Outcome::kOther;
  const uint32_t target4 = Get32(d + kNdTarget + 12);
  wire::IpAddr vtep;
  if (!subnets_->Lookup(p->vni, target4, &vtep)) return Outcome::kOther;
  if (p->headroom() + kIcmp6 + kNaLen > p->buf_size) return Outcome::kOther;
  const wire::MacAddr mac = RemoteSubnets::MacFor(target4);

  uint8_t requester_mac[6], requester_ip[16], target[16];
  std::memcpy(requester_mac, d + 6, 6);
  std::memcpy(requester_ip, d + kIp6 + 8, 16);
  std::memcpy(target, d + kNdTarget, 16);
  std::memcpy(d, requester_mac, 6);
  std::memcpy(d + 6, mac.b.data(), 6);
  // IPv6: version 6, no traffic class or flow label; from the target to
  // the soliciting address (RFC 4861 7.2.4).
  d[kIp6] = 0x60;
  d[kIp6 + 1] = d[kIp6 + 2] = d[kIp6 + 3] = 0;
  Put16(d + kIp6 + 4, kNaLen);
  d[kIp6 + 6] = kIcmp6Proto;
  d[kIp6 + 7] = 255;
  std::memcpy(d + kIp6 + 8, target, 16);
  std::memcpy(d + kIp6 + 24, requester_ip, 16);
  uint8_t* icmp = d + kIcmp6;
  icmp[0] = kNaType;
  icmp[1] = 0;
  icmp[2] = icmp[3] = 0;
  icmp[4] = 0x60;  // Solicited, Override
  icmp[5] = icmp[6] = icmp[7] = 0;
  std::memcpy(icmp + 8, target, 16);
  icmp[24] = 2;  // target link-layer address
  icmp[25] = 1;  // 8 bytes
  std::memcpy(icmp + 26, mac.b.data(), 6);
  wire::Ipv6Header h;
  std::memcpy(&h, d + kIp6, sizeof(h));
  const uint32_t sum = wire::ChecksumPartial(icmp, kNaLen, wire::PseudoHeaderSumV6(&h, kIcmp6Proto, kNaLen));
  const uint16_t csum = wire::ChecksumFinish(sum);  // raw memory order (checksum.h)
  std::memcpy(icmp + 2, &csum, 2);
  p->len = kIcmp6 + kNaLen;
  p->flags = 0;
  p->gso_size = 0;
  p->gso_segs = 0;
  p->l3_off = 0;
  p->l4_off = 0;
  p->out_port = p->in_port;
  return Outcome::kAnswered;
}

}  // namespace mflow
