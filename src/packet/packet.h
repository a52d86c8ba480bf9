// Packet: one frame in a pooled buffer, with headroom and a scatter/gather tail.
//
// A frame's bytes are the linear part [data, data + len) followed by the
// fragments frags[0..nfrags). Fragments let coalescing (GRO) and segmentation
// (TSO) move headers, never payload:
//   - GRO keeps the first packet of a run as the super-frame head and appends
//     the payload of the following packets as fragments that point into their
//     buffers; those packets are then owned by the head (chain) and return to
//     the pool with it.
//   - TSO gives every segment a small header packet whose fragment points into
//     the super-frame's payload. The segments hang off the super-frame as a
//     train (segs / seg_next) and are freed with it; on the wire the train's
//     segments are the frames, the super-frame itself is only their carrier.
//     A segment taken off a train must hold a reference on its parent (refs,
//     parent) so the payload outlives the carrier.
// Headroom in front of data lets encapsulation prepend outer headers in place.
//
// Thread-safety: a Packet is owned by one thread at a time and handed between
// threads through rings (which publish with release/acquire). Only `refs` is
// touched concurrently, by segments of one parent freed on different threads.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>

#include "wire/ip_addr.h"

namespace mflow {

class PacketPool;

// Bytes reserved in front of every frame: enough for outer Ethernet + IPv6 +
// UDP + VXLAN (70 bytes) rounded up to keep the inner frame 2-byte misaligned
// the way NIC drivers do (so the inner IP header lands 4-byte aligned).
inline constexpr uint32_t kHeadroom = 128;
// 64 KiB of TCP payload in 1448-byte segments is 46 fragments.
inline constexpr uint32_t kMaxFrags = 48;

struct Frag {
  const uint8_t* data;
  uint32_t len;
};

inline constexpr uint16_t kPortNone = 0xffff;
inline constexpr uint16_t kPortFlood = 0xfffe;  // broadcast/unknown/multicast

struct Packet {
  // --- frame (the fragment array itself is last: see below) ---
  uint8_t* data = nullptr;  // first byte of the frame
  uint32_t len = 0;         // bytes in the linear part
  uint16_t nfrags = 0;

  // --- metadata set by stages ---
  uint64_t seq = 0;        // per-flow number given at the split point
  // ESP: outbound, the first of the sequence numbers reserved at the split
  // point (one per packet on the wire; 0 = none); inbound, the decrypted
  // packet's full sequence number, for the in-order window update.
  uint64_t wire_seq = 0;
  uint32_t flow_hash = 0;  // inner flow hash (RFC 7348 source port, steering)
  uint32_t vni = 0;
  uint16_t in_port = kPortNone;
  uint16_t out_port = kPortNone;
  wire::IpAddr remote;           // outer source (rx) or destination (tx) VTEP
  uint16_t gso_size = 0;   // >0: super-frame of TCP segments this size
  uint16_t gso_segs = 0;   // segments in the super-frame
  uint8_t l3_off = 0;      // inner IP header offset from data (0 = not IP)
  uint8_t l4_off = 0;      // inner TCP/UDP header offset from data
  uint8_t l4_proto = 0;
  uint8_t flags = 0;       // kPktFlag*
  uint8_t esp_slot = 0;    // inbound: 1 + the SA's slot that decrypted it (0 = not ESP)

  // --- ownership ---
  std::atomic<uint32_t> refs{1};
  Packet* chain = nullptr;       // packets whose buffers our frags use (GRO)
  Packet* chain_next = nullptr;  // link inside an owner's chain
  Packet* parent = nullptr;      // detached segment: carrier holding our payload
  Packet* segs = nullptr;        // TSO train: the segments to send instead of us
  Packet* seg_next = nullptr;    // link inside a carrier's train
  uint16_t nsegs = 0;            // segments in the train

  // --- buffer (fixed for the packet's life) ---
  uint8_t* buf = nullptr;
  uint32_t buf_size = 0;
  uint32_t index = 0;  // position in its pool, 0..count-1
  PacketPool* pool = nullptr;

  // Last, so that the fields above share the first cache lines: resetting
  // and reading a plain packet's metadata never touches the 768 bytes of
  // fragment slots, which only coalesced and segmented frames use.
  Frag frags[kMaxFrags];

  uint32_t headroom() const { return static_cast<uint32_t>(data - buf); }
  uint32_t tailroom() const { return buf_size - headroom() - len; }
  uint32_t frag_bytes() const {
    uint32_t n = 0;
    for (uint16_t i = 0; i < nfrags; ++i) n += frags[i].len;
    return n;
  }
  bool is_train() const { return segs != nullptr; }
  // Bytes of the whole frame: linear part plus fragments.
  uint32_t frame_len() const { return len + frag_bytes(); }

  // Prepends n bytes (returns the new start) or returns nullptr when the
  // headroom is too small; the packet is then unchanged.
  uint8_t* Prepend(uint32_t n) {
    if (headroom() < n) return nullptr;
    data -= n;
    len += n;
    return data;
  }
  // Removes n bytes from the front; nullptr when the linear part is shorter.
  uint8_t* Adj(uint32_t n) {
    if (len < n) return nullptr;
    data += n;
    len -= n;
    return data;
  }
  bool AppendFrag(const uint8_t* p, uint32_t n) {
    if (nfrags == kMaxFrags) return false;
    frags[nfrags++] = Frag{p, n};
    return true;
  }
  // Copies the whole frame (linear + fragments) into out; returns bytes written
  // or 0 if it does not fit. For tests and slow paths only.
  uint32_t Flatten(uint8_t* out, uint32_t cap) const {
    uint32_t total = frame_len();
    if (total > cap) return 0;
    std::memcpy(out, data, len);
    uint32_t off = len;
    for (uint16_t i = 0; i < nfrags; ++i) {
      std::memcpy(out + off, frags[i].data, frags[i].len);
      off += frags[i].len;
    }
    return total;
  }
};

inline constexpr uint8_t kPktFlagL4CsumOk = 0x01;  // inner TCP/UDP checksum verified
inline constexpr uint8_t kPktFlagL3CsumOk = 0x02;  // inner IPv4 header checksum verified
inline constexpr uint8_t kPktFlagIpv6 = 0x04;      // inner L3 is IPv6
// ESP in UDP (RFC 3948) on the underlay socket: received on the ESP port, or
// encrypted and to be sent from it.
inline constexpr uint8_t kPktFlagEsp = 0x08;
// A copy a stage made of the packet before it (a flood's encrypted copy for
// an encrypted peer): it carries its original's number, so the engine's
// order check passes over it.
inline constexpr uint8_t kPktFlagCopy = 0x10;
// A flood for the local ports only: an ARP/ND request for an overlay address
// no remote host owns (neigh_proxy), which no peer could answer.
inline constexpr uint8_t kPktFlagLocalFlood = 0x20;
// A flood already charged to its container port's flood limit (by
// esp_encrypt, before it copied the flood to the encrypted peers): the UDP
// port sends it without charging it again.
inline constexpr uint8_t kPktFlagFloodAdmitted = 0x40;

// Returns p (and everything it owns) to its pool once the last reference goes.
void PacketFree(Packet* p) noexcept;
// The same for n packets, returning buffers to their pools in bursts.
void PacketFreeBurst(Packet* const* pkts, uint32_t n) noexcept;

}  // namespace mflow
