// CopyStats: how many times mflowd copies each byte it delivers, per path.
//
// Every payload byte that crosses mflowd is copied by the kernel at each
// system call that moves it between kernel and user memory (readv from a
// TAP, recvmmsg from the UDP socket: kernel -> user; writev to a TAP,
// sendmmsg on the socket: user -> kernel), and by mflowd itself wherever it
// memcpys payload (today one place: a lone datagram copied out of a UDP_GRO
// carrier, udp_port.h). These are the bytes a copy floor is built from:
// copies per byte delivered, divided by the machine's memcpy rate, is the
// CPU time per byte no copying design can go below (docs/COPIES.md).
//
// Nothing here counts on the data path: the totals are made from the ports'
// own byte counters (TapSet::ByteTotals, the UDP ports' byte totals and
// rx_copied_bytes) when asked for, so counting costs the workers nothing
// beyond what the ports counted already.
//
// The paths are mflowd's engine paths:
//   rx (underlay -> containers): kernel = bytes received on the UDP sockets
//      + bytes written to the TAPs; user = bytes mflowd copied on the way;
//      delivered = bytes written to the TAPs.
//   tx (containers -> underlay): kernel = bytes read from the TAPs + bytes
//      sent on the UDP sockets (a UDP_SEGMENT send counts its bytes once,
//      as they are handed over once); user = bytes mflowd copied on the
//      way; delivered = bytes sent on the UDP sockets.
// A frame written to a TAP is counted on the rx path whichever way it came
// (a hairpin or a local flood from another container too): the TAP write
// is where the kernel copies it.
//
// Not counted: copies of headers (< 200 bytes per packet: a TSO segment's
// headers, the classifier's and segmenter's zero-padded header views), the
// virtio-net header beside each TAP frame, and the ESP stages' pass over the
// payload (AES-GCM reads and writes every byte; docs/COPIES.md).
//
// Thread-safety: pure functions of snapshots.
#pragma once

#include <cstdint>
#include <initializer_list>

#include "port/tap_set.h"
#include "port/udp_port.h"

namespace mflow {

struct PathCopies {
  uint64_t kernel_bytes = 0;     // bytes the kernel copied at the ports' system calls
  uint64_t user_bytes = 0;       // bytes mflowd copied itself (memcpy of payload)
  uint64_t delivered_bytes = 0;  // bytes this path handed to its far side
  // (kernel + user) / delivered; 0 while nothing was delivered.
  double per_byte() const;
};

struct CopyStats {
  PathCopies rx;  // underlay -> containers
  PathCopies tx;  // containers -> underlay
};

// The copies of a daemon from its TAP set's totals and its UDP ports'
// snapshots (the VXLAN socket, and the ESP one where there is one; null
// entries are skipped).
CopyStats CountCopies(const TapByteTotals& taps, std::initializer_list<const UdpPortInfo*> udp);

}  // namespace mflow
