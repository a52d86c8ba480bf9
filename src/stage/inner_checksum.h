// InnerChecksum: parses the inner frame and verifies its IP and TCP/UDP
// checksums (the checks a NIC's RX checksum offload would have done).
//
// Input: data at an Ethernet frame. For an IPv4/IPv6 TCP/UDP frame, on the
// next edge:
//   - p->l3_off, p->l4_off, p->l4_proto are set, kPktFlagIpv6 for IPv6;
//   - kPktFlagL3CsumOk (IPv4 header checksum verified; IPv6 has none);
//   - kPktFlagL4CsumOk: the TCP/UDP checksum verified (a UDP/IPv4 zero
//     checksum means "none" by RFC 768 and also counts as ok);
//   - Ethernet padding is trimmed (len ends with the IP datagram).
// Verification is skipped (trusted) when kPktFlagL4CsumOk is already set or
// p->gso_size > 0 (a super-frame whose checksum is partial by convention).
// The L4 check is one pass over pseudo-header + segment, the stage's main
// per-byte cost.
// Frames that are not IP, or IP but not TCP/UDP, IP fragments and IPv6 with
// extension headers pass unchanged (metadata untouched): an L2 overlay
// forwards them without looking inside. So do frames with fragments
// (nfrags > 0), whose layout was built by an earlier stage.
//
// Thread-safety: stateless.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "common/status.h"
#include "stage/stage.h"

namespace mflow {

struct InnerChecksumConfig {
  // false: parse and set offsets only, trusting L4 checksums (for
  // measurements of the checksum's cost; not for production).
  bool verify_l4 = true;
};

class InnerChecksum final : public PerPacketStage<InnerChecksum> {
 public:
  enum Drop : uint32_t {
    kTruncatedEthernet,  // shorter than Ethernet [+ 802.1Q]
    kTruncatedIp,        // shorter than the fixed IP header
    kBadIpHeader,        // version disagrees with ether type, or IPv4 IHL bad
    kBadIpTotalLength,   // IP length beyond the frame or below the header
    kBadIpChecksum,      // IPv4 header checksum
    kBadL4Header,        // TCP/UDP header cut short, TCP data offset or UDP length bad
    kBadTcpChecksum,
    kBadUdpChecksum,     // includes a zero checksum over IPv6 (RFC 8200 §8.1)
    kNumDrops,
  };

  static StatusOr<std::unique_ptr<InnerChecksum>> Create(const InnerChecksumConfig& cfg);

  std::string_view name() const override { return "inner_checksum"; }
  std::span<const std::string_view> drop_reasons() const override;

  int Handle(Packet* p, StageContext& ctx) noexcept;

 private:
  explicit InnerChecksum(const InnerChecksumConfig& cfg) : verify_l4_(cfg.verify_l4) {}

  bool verify_l4_;
};

}  // namespace mflow
