// GsoSegment: software TSO and USO for the inner TCP and UDP streams, moving
// headers, not payload.
//
// Input (tx direction, after FdbForward): data at the inner Ethernet frame.
// A frame with gso_size > 0 is a super-frame from a TAP opened with
// IFF_VNET_HDR (TCP: TSO; UDP: USO, a UDP_SEGMENT send) or a GRO head:
// linear, or with fragments; its headers must be in the linear part. Its L4
// checksum field is not trusted (it usually holds only the pseudo-header sum,
// the CHECKSUM_PARTIAL convention): every segment's checksum is computed from
// scratch.
//
// Output: the super-frame becomes the *carrier* of a *train* (packet.h): for
// each gso_size chunk of payload one header packet from ctx.pool, with
//   - data at kHeadroom (so encapsulation can prepend in place) and a copy of
//     the carrier's L2..L4 headers;
//   - IPv4 total length, ID = first ID + i, header checksum (or the IPv6
//     payload length) for that segment, as Linux's GSO does for both;
//   - TCP: seq = first seq + offset; CWR only on the first segment, FIN and
//     PSH only on the last (as Linux tcp_gso_segment); full TCP checksum;
//   - UDP: length = 8 + the chunk; full UDP checksum (0xffff for a sum of 0:
//     0 means "none"), so each segment is a datagram of its own, as
//     __udp_gso_segment makes them;
//   - fragments pointing into the carrier's payload (one, or more when the
//     chunk spans carrier fragments);
//   - seq, flow_hash, vni, in_port, out_port, remote, l3_off, l4_off,
//     l4_proto and kPktFlagIpv6 set from the carrier; gso_size 0.
// The segments hang off carrier->segs in order (nsegs of them) and are freed
// with it; carrier->gso_segs = nsegs and carrier->flow_hash is filled in when
// it was 0. The carrier stays in the batch. Either every segment is built or
// the carrier is dropped with all of them: never half a train.
// Frames with gso_size 0, and carriers that already have a train, pass
// unchanged. Counters: in = packets, out = frames (a train counts nsegs).
//
// Drops: not_tcp_udp (gso_size > 0 on a frame that is not TCP or UDP over
// IP), bad_headers (headers do not parse or are not all in the linear part),
// bad_gso_size (payload smaller than gso_size, or a full segment larger than
// mtu), no_buffer (ctx.pool empty, or its buffers too small for the headers),
// too_many_frags (a segment would need more than kMaxFrags fragments).
//
// Thread-safety: stateless (config is read-only after Create).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "common/status.h"
#include "stage/stage.h"

namespace mflow {

struct GsoSegmentConfig {
  // Inner IP MTU: the IP length of a full segment (IP + L4 headers +
  // gso_size) must not exceed it, else bad_gso_size. 0 = no check here; the
  // MTU is then enforced per segment by VxlanEncap (too_big). Set it to the
  // encapsulator's inner_mtu to name the fault where it arises.
  uint32_t mtu = 0;
};

class GsoSegment final : public Stage {
 public:
  enum Drop : uint32_t {
    kNotTcpUdp,
    kBadHeaders,
    kBadGsoSize,
    kNoBuffer,
    kTooManyFrags,
    kNumDrops,
  };

  static StatusOr<std::unique_ptr<GsoSegment>> Create(const GsoSegmentConfig& cfg);

  std::string_view name() const override { return "gso_segment"; }
  std::span<const std::string_view> drop_reasons() const override;
  // Not a PerPacketStage: "out" counts frames, i.e. segments of a train.
  void Process(Batch& b, StageContext& ctx) noexcept override;

 private:
  explicit GsoSegment(uint32_t mtu) : mtu_(mtu) {}
  // kNext with the train built, or a drop reason.
  int Segment(Packet* p, StageContext& ctx) const noexcept;

  uint32_t mtu_;
};

}  // namespace mflow
