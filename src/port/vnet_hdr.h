// VnetHdr: the virtio-net header that a TAP opened with IFF_VNET_HDR puts in
// front of every frame, and its conversion to and from Packet metadata.
//
// With the header, the kernel hands us TCP super-frames (TSO, up to 64 KiB)
// and frames whose checksum is left to us (CHECKSUM_PARTIAL), and accepts the
// same from us, so a container's bulk stream crosses the TAP as a few large
// frames instead of many MTU-sized ones.
//
// The layout is struct virtio_net_hdr_mrg_rxbuf (12 bytes, set with
// TUNSETVNETHDRSZ), defined here rather than taken from <linux/virtio_net.h>
// so that the constants do not depend on how new the installed kernel
// headers are. Fields are in host byte order: tun uses little-endian unless
// TUNSETVNETBE is set, which we never do, and mflow runs on little-endian
// hosts only (checked below).
//
// Thread-safety: plain data and pure functions.
#pragma once

#include <bit>
#include <cstdint>

#include "packet/packet.h"

namespace mflow {

static_assert(std::endian::native == std::endian::little,
              "the vnet header is read in host order: little-endian hosts only");

struct VnetHdr {
  uint8_t flags = 0;         // kVnetF*
  uint8_t gso_type = 0;      // kVnetGso*
  uint16_t hdr_len = 0;      // bytes of L2..L4 headers of a GSO frame
  uint16_t gso_size = 0;     // payload bytes per segment
  uint16_t csum_start = 0;   // NEEDS_CSUM: sum from here to the end...
  uint16_t csum_offset = 0;  // ...and store it at csum_start + csum_offset
  uint16_t num_buffers = 0;  // mergeable rx buffers; unused by tun
};
static_assert(sizeof(VnetHdr) == 12);
inline constexpr uint32_t kVnetHdrLen = sizeof(VnetHdr);

// flags
inline constexpr uint8_t kVnetFNeedsCsum = 1;  // L4 checksum left to the reader
inline constexpr uint8_t kVnetFDataValid = 2;  // L4 checksum already verified
// gso_type
inline constexpr uint8_t kVnetGsoNone = 0;
inline constexpr uint8_t kVnetGsoTcpv4 = 1;
inline constexpr uint8_t kVnetGsoUdp = 3;  // UFO: IP fragmentation
inline constexpr uint8_t kVnetGsoTcpv6 = 4;
inline constexpr uint8_t kVnetGsoUdpL4 = 5;   // USO
inline constexpr uint8_t kVnetGsoEcn = 0x80;  // ORed in: CWR set, only on the first segment

// TUNSETOFFLOAD bits: what the reader of the TAP can take.
inline constexpr unsigned kTunFCsum = 0x01;
inline constexpr unsigned kTunFTso4 = 0x02;
inline constexpr unsigned kTunFTso6 = 0x04;
inline constexpr unsigned kTunFTsoEcn = 0x08;
inline constexpr unsigned kTunFUfo = 0x10;
inline constexpr unsigned kTunFUso4 = 0x20;
inline constexpr unsigned kTunFUso6 = 0x40;

// --- container -> mflow ---
enum class VnetRx : uint8_t {
  kOk,
  kUnsupportedGso,  // UFO/ECN or an unknown gso_type (never enabled by us)
  kBadGso,          // GSO whose frame is not TCP of that IP version (TCPV4/6) or UDP (UDP_L4)
  kBadCsumOffsets,  // NEEDS_CSUM with csum_start/csum_offset outside the frame
};

// Applies the header read in front of the linear frame p[data, data + len):
//   - TCPV4/TCPV6 on TCP, UDP_L4 (USO) on UDP of either IP version:
//     p->gso_size = hdr.gso_size, p->gso_segs = segments; the partial
//     checksum is left in place (gso_segment rewrites every segment's
//     checksum; a TCP super-frame may also go on to a TAP with NEEDS_CSUM);
//   - NONE + NEEDS_CSUM: the checksum is completed here in software and
//     kPktFlagL4CsumOk set;
//   - DATA_VALID: kPktFlagL4CsumOk set.
// An IP frame that parses (wire::ParseFrame) gets l3_off, l4_off, l4_proto
// and kPktFlagIpv6, so that stages and TapDevice::Write can use them.
VnetRx ApplyVnetHdr(const VnetHdr& h, Packet* p) noexcept;

// --- mflow -> container ---
// The header for writing frame p (not a train carrier: write its segments):
//   - gso_size > 0 (a GRO super-frame or a TAP super-frame) on TCP:
//     GSO_TCPV4/TCPV6, gso_size, hdr_len = l4_off + TCP header length,
//     NEEDS_CSUM at csum_start = l4_off, csum_offset = 16 (the checksum
//     field holds the pseudo-header sum: the CHECKSUM_PARTIAL convention);
//   - kPktFlagL4CsumOk: DATA_VALID (the container's stack skips the check);
//   - otherwise no flags (the container's stack verifies).
// False when gso_size > 0 but l4_off/l4_proto do not describe a TCP header
// in the linear part.
bool BuildVnetHdr(const Packet& p, VnetHdr* h) noexcept;

// Both are defined in tap_device.cc.

}  // namespace mflow
