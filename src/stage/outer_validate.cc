#include "stage/outer_validate.h"

#include <array>
#include <cstring>

#include "wire/checksum.h"
#include "wire/ethernet.h"
#include "wire/ipv4.h"
#include "wire/ipv6.h"
#include "wire/udp.h"

namespace mflow {
namespace {

constexpr std::array<std::string_view, OuterValidate::kNumDrops> kDropNames = {
    "truncated",        "not_ip",           "bad_ip_version",       "bad_ip_header_length",
    "bad_ip_total_length", "bad_ip_checksum", "fragment",           "ipv6_extension_header",
    "ttl_zero",         "not_udp",          "wrong_port",           "bad_udp_length",
    "bad_udp_checksum", "zero_udp_checksum_v6", "unknown_peer",
};
static_assert(OuterValidate::kNumDrops <= kMaxDropReasons);

template <typename T>
T Read(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

uint16_t ReadBe16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }

bool ChecksumOk(uint32_t sum) { return wire::ChecksumFold(sum) == 0xffff; }

}  // namespace

StatusOr<std::unique_ptr<OuterValidate>> OuterValidate::Create(const OuterValidateConfig& cfg) {
  if (cfg.port == 0) return Status::Error("outer_validate: UDP port must be non-zero");
  for (const auto& peer : cfg.peers)
    if (!peer.is_v4() && !peer.is_v6())
      return Status::Error("outer_validate: peer addresses must be IPv4 or IPv6");
  return std::unique_ptr<OuterValidate>(new OuterValidate(cfg));
}

std::span<const std::string_view> OuterValidate::drop_reasons() const { return kDropNames; }

bool OuterValidate::KnownPeer(const wire::IpAddr& a) const noexcept {
  // A handful of peers: a linear scan beats hashing.
  for (const auto& peer : cfg_.peers)
    if (peer == a) return true;
  return false;
}

int OuterValidate::Handle(Packet* p, StageContext&) noexcept {
  const uint8_t* f = p->data;
  const uint32_t len = p->len;
  if (len < sizeof(wire::EthernetHeader)) return kTruncated;
  uint32_t l3 = sizeof(wire::EthernetHeader);
  uint16_t ether_type = ReadBe16(f + 12);
  if (ether_type == wire::kEtherTypeVlan) {
    if (len < l3 + sizeof(wire::VlanTag)) return kTruncated;
    ether_type = ReadBe16(f + l3 + 2);
    l3 += sizeof(wire::VlanTag);
  }
  const uint32_t avail = len - l3;  // IP header to the end of the frame

  uint32_t l4;        // UDP header offset
  uint32_t udp_len;   // IP payload length
  uint32_t pseudo;    // pseudo-header sum for the UDP checksum
  bool v6 = false;
  wire::IpAddr src;
  if (ether_type == wire::kEtherTypeIpv4) {
    if (avail < sizeof(wire::Ipv4Header)) return kTruncated;
    const auto ip = Read<wire::Ipv4Header>(f + l3);
    if (ip.version() != 4) return kBadIpVersion;
    const uint32_t hl = ip.header_len();
    if (hl < sizeof(wire::Ipv4Header) || hl > avail) return kBadIpHeaderLength;
    const uint32_t total = ip.total_length.host();
    // Shorter than the frame is Ethernet padding (trimmed below), not an error.
    if (total < hl || total > avail) return kBadIpTotalLength;
    // Over the whole header, options included.
    if (!ChecksumOk(wire::ChecksumPartial(f + l3, hl))) return kBadIpChecksum;
    if (ip.IsFragment()) return kFragment;
    if (ip.ttl == 0) return kTtlZero;
    if (ip.protocol != wire::kIpProtoUdp) return kNotUdp;
    l4 = l3 + hl;
    udp_len = total - hl;
    pseudo = wire::PseudoHeaderSumV4(&ip, wire::kIpProtoUdp, udp_len);
    src = wire::IpAddr::V4(ip.src.host());
  } else if (ether_type == wire::kEtherTypeIpv6) {
    if (avail < sizeof(wire::Ipv6Header)) return kTruncated;
    const auto ip = Read<wire::Ipv6Header>(f + l3);
    if (ip.version() != 6) return kBadIpVersion;
    udp_len = ip.payload_length.host();
    if (udp_len > avail - sizeof(wire::Ipv6Header)) return kBadIpTotalLength;
    if (ip.next_header == wire::kIpv6NextHeaderFragment) return kFragment;
    if (wire::IsIpv6ExtensionHeader(ip.next_header)) return kIpv6ExtensionHeader;
    if (ip.hop_limit == 0) return kTtlZero;
    if (ip.next_header != wire::kIpProtoUdp) return kNotUdp;
    l4 = l3 + static_cast<uint32_t>(sizeof(wire::Ipv6Header));
    pseudo = wire::PseudoHeaderSumV6(&ip, wire::kIpProtoUdp, udp_len);
    src.family = 6;
    std::memcpy(src.bytes, ip.src.data(), 16);
    v6 = true;
  } else {
    return kNotIp;
  }

  if (udp_len < sizeof(wire::UdpHeader)) return kTruncated;
  const auto udp = Read<wire::UdpHeader>(f + l4);
  if (udp.dst_port.host() != cfg_.port) return kWrongPort;
  // Stricter than RFC 768, like Linux for encapsulation sockets: bytes
  // between the UDP end and the IP end would be smuggled past the checksum.
  if (udp.length.host() != udp_len) return kBadUdpLength;
  // Before the checksum: do not spend a pass over the payload on a sender
  // we would refuse anyway.
  if (!cfg_.peers.empty() && !KnownPeer(src)) return kUnknownPeer;
  if (udp.checksum.raw() != 0) {
    if (!ChecksumOk(wire::ChecksumPartial(f + l4, udp_len, pseudo))) return kBadUdpChecksum;
  } else if (v6 && !cfg_.allow_zero_udp_checksum_v6) {
    return kZeroUdpChecksumV6;
  }

  p->remote = src;
  p->len = l4 + udp_len;  // drop Ethernet padding
  p->Adj(l4 + static_cast<uint32_t>(sizeof(wire::UdpHeader)));
  return kNext;
}

}  // namespace mflow
