// OuterValidate: first RX stage; checks the underlay headers of a VXLAN frame
// and strips them.
//
// Input: data at the outer Ethernet header of a linear frame (nfrags == 0;
// only the linear part is parsed). Parses Ethernet [+ one 802.1Q tag] +
// IPv4 (options skipped) or IPv6 (no extension headers) + UDP, checking every
// length before reading and every checksum present. On the next edge:
//   - Ethernet padding is trimmed (len ends with the IP datagram);
//   - p->remote = outer source address (the sending VTEP);
//   - outer Ethernet/IP/UDP are removed: data points at the VXLAN header.
// The UDP checksum is verified when non-zero (RFC 768); a zero checksum over
// IPv6 is refused unless allowed (RFC 8200 §8.1; RFC 6935/6936 permit it for
// tunnels, Linux calls that udp6zerocsumrx).
//
// Thread-safety: stateless (config is read-only after Create).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "stage/stage.h"
#include "wire/ip_addr.h"
#include "wire/vxlan.h"

namespace mflow {

struct OuterValidateConfig {
  uint16_t port = wire::kVxlanPort;     // UDP destination port of VXLAN
  std::vector<wire::IpAddr> peers;      // accepted outer sources; empty = any
  bool allow_zero_udp_checksum_v6 = false;
};

class OuterValidate final : public PerPacketStage<OuterValidate> {
 public:
  enum Drop : uint32_t {
    kTruncated,            // a header (Ethernet, VLAN, IP, UDP) cut short
    kNotIp,                // ether type neither IPv4 nor IPv6
    kBadIpVersion,         // version nibble disagrees with the ether type
    kBadIpHeaderLength,    // IPv4 IHL < 5 or beyond the frame
    kBadIpTotalLength,     // IP length beyond the frame or below the header
    kBadIpChecksum,        // IPv4 header checksum
    kFragment,             // IPv4 MF/offset or IPv6 fragment header
    kIpv6ExtensionHeader,  // IPv6 extension headers are not walked
    kTtlZero,              // TTL / hop limit 0
    kNotUdp,
    kWrongPort,            // UDP destination port != config.port
    kBadUdpLength,         // UDP length != IP payload length, or < 8
    kBadUdpChecksum,
    kZeroUdpChecksumV6,    // IPv6 without UDP checksum, not allowed by config
    kUnknownPeer,          // outer source not in config.peers
    kNumDrops,
  };

  static StatusOr<std::unique_ptr<OuterValidate>> Create(const OuterValidateConfig& cfg);

  std::string_view name() const override { return "outer_validate"; }
  std::span<const std::string_view> drop_reasons() const override;

  int Handle(Packet* p, StageContext& ctx) noexcept;

 private:
  explicit OuterValidate(const OuterValidateConfig& cfg) : cfg_(cfg) {}
  bool KnownPeer(const wire::IpAddr& a) const noexcept;

  OuterValidateConfig cfg_;
};

}  // namespace mflow
