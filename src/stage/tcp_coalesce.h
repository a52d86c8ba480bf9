// TcpCoalesce: software GRO for the inner TCP stream, moving headers, not
// payload.
//
// Runs after InnerChecksum (uses l3_off/l4_off/l4_proto and the checksum
// flags). Within one batch it merges runs of *consecutive* packets that are
// in-order segments of one TCP connection into a super-frame, under the rules
// of Linux's tcp_gro_receive:
//   - same VNI, identical L2 header, same IP version/addresses, ports;
//     IPv4: same TOS, TTL and DF, no IP options; IPv6: same traffic class,
//     flow label, hop limit;
//   - each next.seq == prev.seq + prev.payload; equal ACK number, window, data
//     offset and TCP option bytes (e.g. timestamps must be identical);
//   - flags ACK, optionally PSH; PSH ends a run (after joining it); SYN, FIN,
//     RST, URG, CWR, ECE never merge; payload never empty;
//   - every payload as large as the first one (the MSS, gso_size); a smaller
//     one joins and ends the run;
//   - each L4 checksum verified (kPktFlagL4CsumOk), linear frames only;
//   - IP length <= max_ip_len (65535 at most) and at most max_segs segments.
// Packets of other flows in between end a run (order is kept exactly: a
// batch usually holds one flow, and merging across others would reorder).
//
// The result, for a run of n >= 2 packets:
//   - the first packet is the head: its linear part keeps its headers and its
//     own payload; each later packet's payload is appended as a fragment
//     pointing into that packet's buffer, and the packet is put on
//     head->chain, so it returns to the pool with the head;
//   - IPv4 total length and header checksum (or IPv6 payload length) cover
//     the whole super-frame; PSH is set if the last segment had it;
//   - the TCP checksum field holds the folded, NOT complemented, pseudo-header
//     sum over the new TCP length (raw memory order, Be16::FromRaw(
//     ChecksumFold(PseudoHeaderSum(...)))) — the CHECKSUM_PARTIAL convention
//     of Linux tcp_gro_complete and of virtio-net VIRTIO_NET_HDR_F_NEEDS_CSUM
//     (csum_start = l4_off, csum_offset = 16): whoever emits the frame
//     completes it by summing from the TCP header to the end;
//   - head->gso_size = first payload size, head->gso_segs = n;
//     kPktFlagL4CsumOk stays set.
// Packets that cannot merge pass unchanged. Counters: in = packets, out =
// frames. No drop edges.
//
// Thread-safety: stateless (run state lives on the stack of Process()).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "common/status.h"
#include "stage/stage.h"

namespace mflow {

struct TcpCoalesceConfig {
  uint32_t max_ip_len = 65535;     // bytes of IP datagram in a super-frame
  uint32_t max_segs = kMaxFrags + 1;  // head's own payload + kMaxFrags fragments
};

class TcpCoalesce final : public Stage {
 public:
  static StatusOr<std::unique_ptr<TcpCoalesce>> Create(const TcpCoalesceConfig& cfg);

  std::string_view name() const override { return "tcp_coalesce"; }
  std::span<const std::string_view> drop_reasons() const override { return {}; }
  void Process(Batch& b, StageContext& ctx) noexcept override;

 private:
  struct Seg;
  struct Run;
  TcpCoalesce(uint32_t max_ip_len, uint32_t max_segs)
      : max_ip_len_(max_ip_len), max_segs_(max_segs) {}
  static bool Describe(const Packet* p, Seg* s) noexcept;
  bool CanJoin(const Run& run, const Packet* p, const Seg& s) const noexcept;
  static void Finish(Run& run) noexcept;

  uint32_t max_ip_len_;
  uint32_t max_segs_;
};

}  // namespace mflow
