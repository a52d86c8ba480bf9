#include "stage/inner_checksum.h"

#include <array>
#include <cstring>

#include "wire/checksum.h"
#include "wire/ipv4.h"
#include "wire/ipv6.h"
#include "wire/parse.h"

namespace mflow {
namespace {

constexpr std::array<std::string_view, InnerChecksum::kNumDrops> kDropNames = {
    "truncated_ethernet",  "truncated_ip",  "bad_ip_header",    "bad_ip_total_length",
    "bad_ip_checksum",     "bad_l4_header", "bad_tcp_checksum", "bad_udp_checksum",
};

bool ChecksumOk(uint32_t sum) { return wire::ChecksumFold(sum) == 0xffff; }

}  // namespace

StatusOr<std::unique_ptr<InnerChecksum>> InnerChecksum::Create(const InnerChecksumConfig& cfg) {
  return std::unique_ptr<InnerChecksum>(new InnerChecksum(cfg));
}

std::span<const std::string_view> InnerChecksum::drop_reasons() const { return kDropNames; }

int InnerChecksum::Handle(Packet* p, StageContext&) noexcept {
  if (p->nfrags != 0) return kNext;
  using wire::ParseResult;
  wire::FrameLayout l;
  const ParseResult r = wire::ParseFrame(p->data, p->len, &l);
  switch (r) {
    case ParseResult::kOk:
    case ParseResult::kTruncatedL4:
    case ParseResult::kBadUdpLength:
      break;  // IP header parsed: check it below
    case ParseResult::kTruncatedEthernet:
    case ParseResult::kTruncatedVlan:
      return kTruncatedEthernet;
    case ParseResult::kTruncatedIp:
      return kTruncatedIp;
    case ParseResult::kBadIpVersion:
    case ParseResult::kBadIpHeaderLength:
      return kBadIpHeader;
    case ParseResult::kBadIpTotalLength:
      return kBadIpTotalLength;
    case ParseResult::kNotIp:
    case ParseResult::kNotTcpUdp:
    case ParseResult::kFragment:
    case ParseResult::kIpv6ExtensionHeader:
      return kNext;  // forwarded as is
  }

  const uint8_t* ip = p->data + l.l3_off;
  if (!l.ipv6 && (p->flags & kPktFlagL3CsumOk) == 0) {
    const uint32_t hl = uint32_t{l.l4_off} - l.l3_off;
    if (!ChecksumOk(wire::ChecksumPartial(ip, hl))) return kBadIpChecksum;
  }
  if (r != ParseResult::kOk) return kBadL4Header;

  p->len = l.l3_end;  // drop Ethernet padding
  p->l3_off = static_cast<uint8_t>(l.l3_off);
  p->l4_off = static_cast<uint8_t>(l.l4_off);
  p->l4_proto = l.l4_proto;
  p->flags |= l.ipv6 ? kPktFlagIpv6 : kPktFlagL3CsumOk;

  if ((p->flags & kPktFlagL4CsumOk) != 0 || p->gso_size > 0 || !verify_l4_) return kNext;
  const bool udp = l.l4_proto == wire::kIpProtoUdp;
  const uint8_t* l4 = p->data + l.l4_off;
  const uint32_t l4_len = l.l3_end - l.l4_off;
  if (udp && l4[6] == 0 && l4[7] == 0) {
    // No checksum: allowed over IPv4 only.
    if (l.ipv6) return kBadUdpChecksum;
    p->flags |= kPktFlagL4CsumOk;
    return kNext;
  }
  uint32_t pseudo;
  if (l.ipv6) {
    wire::Ipv6Header h;
    std::memcpy(&h, ip, sizeof(h));
    pseudo = wire::PseudoHeaderSumV6(&h, l.l4_proto, l4_len);
  } else {
    wire::Ipv4Header h;
    std::memcpy(&h, ip, sizeof(h));
    pseudo = wire::PseudoHeaderSumV4(&h, l.l4_proto, l4_len);
  }
  if (!ChecksumOk(wire::ChecksumPartial(l4, l4_len, pseudo)))
    return udp ? kBadUdpChecksum : kBadTcpChecksum;
  p->flags |= kPktFlagL4CsumOk;
  return kNext;
}

}  // namespace mflow
