// UdpPort: the underlay port of mflowd, a UDP socket on the VXLAN port.
//
// The kernel owns the outer headers: it checks and strips outer IP/UDP on
// receive and writes them on send, so packets cross this port starting at
// the VXLAN header (the rx chain starts at vxlan_decap; the tx chain's
// vxlan_encap runs in vxlan_only mode).
//
// Receive (RxPort): recvmmsg, batched; p->remote = the datagram's source,
// which must be a configured peer (else the drop rx_not_peer: VXLAN from
// strangers is never processed).
//   - Without UDP_GRO, one datagram per pool buffer.
//   - With UDP_GRO (probed), the kernel hands over a super-datagram of up to
//     64 KiB (a GSO send that crossed the underlay whole, or datagrams the
//     underlay device coalesced) with its segment size. It lands in a large
//     carrier buffer and is cut into *views*: packets whose data points
//     into the carrier, each holding a reference on it (Packet::parent), so
//     no payload is copied. A lone datagram is copied into a pool buffer
//     instead, so that small packets never pin 64 KiB carriers (the port's
//     one payload copy: rx_copied_bytes, copy_stats.h), until datagrams
//     have kept arriving one by one (kDirectAfter calls): then each is
//     received into a pool buffer first, with a carrier behind it for what
//     does not fit, and a lone datagram is not copied at all; a
//     super-datagram received that way is made whole in its carrier (one
//     copy, counted) and the port goes back to carriers first.
//
// Send (TxPort): one sendmmsg per burst.
//   - A TSO train (packet.h) leaves as one UDP_SEGMENT (GSO) send per up to
//     64 segments: each segment's headers and payload fragment become
//     iovecs, so payload is never copied in user space; the kernel (or the
//     underlay device) cuts the super-datagram at the segment size.
//   - A destination behind a remote VTEP (p->remote) must be a configured
//     peer (else tx_not_peer): no received packet can make us send anywhere
//     else.
//   - A flood (out_port == kPortFlood) is replicated head-end to every peer
//     (unless kPktFlagLocalFlood) and then, without its VXLAN header, to the
//     local ports of its VNI;
//     each container port may flood flood_pps frames a second (else the drop
//     flood_limited), so one container cannot make every host of the
//     overlay carry its storm.
//   - A hairpin (out_port = a local port) goes to the local port set as is.
// A full socket buffer blocks the sender (back-pressure, as for any UDP
// sender); other send errors are counted drops.
//
// Run-time changes (mflowd's reload): SetPeers replaces the peer list and
// Rebind moves the socket to a new local address, both while traffic flows.
// A peer's slot keeps its address for the life of the port (a removed peer
// is only marked dead, and comes back to the same slot), so the data path
// reads peers without a lock and never sees an address half written.
//
// Thread-safety: RxBurst, WaitFds and AfterWait from the engine's RX role
// holder; TxBurst from several workers at once (the socket is shared;
// counters are relaxed atomics);
// Interrupt, Snapshot, SetPeers and Rebind from any thread (the last two
// serialized by a mutex).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "common/relaxed.h"
#include "common/status.h"
#include "engine/port.h"
#include "port/flood_limiter.h"
#include "packet/pool.h"
#include "port/peer_slots.h"
#include "wire/ip_addr.h"

namespace mflow {

struct UdpPortConfig {
  wire::IpAddr local;                // address to bind (our VTEP); required
  uint16_t port = 4789;              // IANA VXLAN port (RFC 7348)
  std::vector<wire::IpAddr> peers;   // the only accepted sources and destinations
  bool gso = true;                   // UDP_SEGMENT for TSO trains (probed)
  bool gro = true;                   // UDP_GRO super-datagrams on receive (probed)
  uint32_t socket_buffer = 8 << 20;  // SO_RCVBUF/SO_SNDBUF bytes (best effort)
  // Floods (broadcast, multicast, unknown unicast) one container port may
  // send per second, and in one burst; 0 = no limit (flood_limiter.h).
  uint32_t flood_pps = 1000;
  uint32_t flood_burst = 100;
};

struct UdpPeerInfo {
  std::string address;
  uint64_t tx_datagrams = 0, tx_bytes = 0, rx_datagrams = 0, rx_bytes = 0;
};

struct UdpPortInfo {
  std::vector<UdpPeerInfo> peers;
  std::vector<std::pair<std::string, uint64_t>> drops;  // by reason, all reasons
  uint64_t gso_sends = 0;  // super-datagrams sent with UDP_SEGMENT
  uint64_t gro_receives = 0;  // super-datagrams received (cut into views)
  bool gso = false;        // UDP_SEGMENT in use (asked for and accepted)
  bool gro = false;        // UDP_GRO in use
  // Bytes received and sent since the port opened, over every peer it ever
  // had (removed ones included, unlike `peers`), so they never go back: the
  // kernel crossings of copy_stats.h.
  uint64_t rx_bytes = 0, tx_bytes = 0;
  // Bytes of lone datagrams copied out of a UDP_GRO carrier into a small
  // buffer (the port's one payload copy in user space).
  uint64_t rx_copied_bytes = 0;
};

class UdpPort final : public RxPort, public TxPort {
 public:
  // rx_pool: buffers for received datagrams (at least kHeadroom + the
  // underlay MTU). local: where hairpin and flooded frames go (the TAP set);
  // may be null (they are then dropped as no_local).
  static StatusOr<std::unique_ptr<UdpPort>> Open(const UdpPortConfig& cfg, PacketPool* rx_pool,
                                                 TxPort* local);
  ~UdpPort() override;
  UdpPort(const UdpPort&) = delete;
  UdpPort& operator=(const UdpPort&) = delete;

  uint32_t RxBurst(Packet** pkts, uint32_t n) noexcept override;
  uint32_t WaitFds(pollfd* fds) noexcept override;
  void AfterWait(const pollfd* fds) noexcept override;
  uint32_t InputFds(pollfd* fds) noexcept override {
    fds[0] = {fd_, POLLIN, 0};
    return 1;
  }
  bool Pending() const noexcept override { return npending_ != 0; }
  void Interrupt() noexcept override;
  void TxBurst(Packet** pkts, uint32_t n) noexcept override;

  UdpPortInfo Snapshot() const;
  // The per-container-port flood budget, for a tx stage that replicates a
  // flood before this port sees it (esp_encrypt's copies for encrypted
  // peers): it charges the flood here and marks it kPktFlagFloodAdmitted.
  FloodLimiter* flood_limiter() { return flood_limit_.get(); }

  // Replaces the accepted peers. Datagrams from a removed peer are dropped
  // as rx_not_peer from now on; packets still addressed to it as
  // tx_not_peer. Fails (changing nothing) on a family other than the local
  // address's, or when more than kMaxPeerSlots distinct addresses would have
  // been peers since the start.
  Status SetPeers(const std::vector<wire::IpAddr>& peers);
  // Binds a new socket to `local` (same port and options) and puts it in
  // place of the old one under the running data path (dup3). Datagrams
  // queued in the old socket are lost. The family cannot change.
  Status Rebind(const wire::IpAddr& local);
  // False when the local address was not an address of this host at bind
  // time: the socket is bound anyway (IP_FREEBIND) and works once it is.
  bool local_present() const { return local_present_.load(std::memory_order_relaxed); }

  // The TSO super-frame size (a TAP's gso_max_size) whose segments, at an
  // inner MTU of inner_mtu, always fit one UDP GSO send: a 64 KiB frame of
  // 1450-byte segments would leave as a send of 44 and a send of 2, and the
  // second costs the receiver as much as the first.
  static uint32_t OneSendFrameSize(uint32_t inner_mtu);

  bool gso() const { return gso_; }
  bool gro() const { return gro_; }
  int fd() const { return fd_; }

  enum Drop : uint32_t {
    kRxNotPeer,    // datagram from an address that is not a configured peer
    kRxTruncated,  // datagram larger than a buffer
    kRxError,      // recvmmsg failed (other than EAGAIN)
    kTxNotPeer,    // destination is not a configured peer
    kTxNoRemote,   // unicast packet without a destination
    kTxError,      // sendmmsg refused a datagram
    kNoLocal,      // hairpin/flood with no local port set
    kRxNoBuffer,   // a received datagram found no small buffer or view left
    kFloodLimited, // a container port flooded faster than flood_pps
    kNumDrops,
  };

  // Distinct peer addresses over the life of the port (see SetPeers).
  static constexpr uint32_t kMaxPeerSlots = PeerSlots::kCapacity;

  // With UDP_GRO: receive calls in a row that brought only lone datagrams
  // before they are received into pool buffers first (no copy; header).
  static constexpr uint32_t kDirectAfter = 8;

 private:
  class SendBatch;

  UdpPort(const UdpPortConfig& cfg, PacketPool* rx_pool, TxPort* local);
  Status Init();
  // A socket bound to `local` with this port's options; sets local_present_.
  // probe: the first socket, which finds out which offloads the kernel
  // takes; otherwise a replacement (Rebind), which must get the same ones.
  StatusOr<int> OpenSocket(const wire::IpAddr& local, bool probe);
  uint32_t RxPlain(Packet** pkts, uint32_t n) noexcept;
  uint32_t RxGro(Packet** pkts, uint32_t n) noexcept;
  // Accepts one received datagram from src (a peer index, or -1): counts it.
  bool Accept(int peer, uint32_t bytes) noexcept;
  int FindPeer(const wire::IpAddr& a) const noexcept;
  void Count(Drop d, uint64_t n = 1) noexcept { drops_[d].fetch_add(n, std::memory_order_relaxed); }

  UdpPortConfig cfg_;
  PacketPool* rx_pool_;
  TxPort* local_;
  int fd_ = -1;
  int event_fd_ = -1;
  bool gso_ = false;
  bool gro_ = false;
  std::unique_ptr<PacketPool> carriers_;  // UDP_GRO: 64 KiB receive buffers
  std::unique_ptr<PacketPool> views_;     // UDP_GRO: packets pointing into them
  // Views cut but not yet returned (a super-datagram can hold more
  // datagrams than the caller asked for).
  static constexpr uint32_t kMaxPending = 8192;  // kGroBatch super-datagrams of 128 segments
  Packet* pending_[kMaxPending] = {};
  uint32_t npending_ = 0, pending_head_ = 0;
  std::atomic<uint64_t> gro_receives_{0};
  Relaxed<uint64_t> rx_copied_bytes_{0};  // RX role only (one writer at a time)
  static constexpr uint32_t kGroBatch = 64;  // datagrams per recvmmsg (RxGro)
  bool lone_only_ = true;  // the last datagrams received were not coalesced
  // Receive calls in a row without a coalesced datagram, up to
  // kDirectAfter; from there RxGro receives into pool buffers first
  // ("direct", udp_port.cc). Uses stash_ for those buffers.
  uint32_t lone_calls_ = 0;
  Packet* carrier_stash_[kGroBatch] = {};   // empty carriers kept between calls (RX role only)
  uint32_t ncarriers_ = 0;
  PeerSlots peers_;
  std::mutex change_mu_;  // SetPeers, Rebind
  std::atomic<bool> local_present_{true};
  std::atomic<uint64_t> drops_[kNumDrops] = {};
  std::atomic<uint64_t> gso_sends_{0};
  std::unique_ptr<FloodLimiter> flood_limit_;
  // Empty buffers kept between RxBurst calls (RX role only).
  static constexpr uint32_t kRxStash = 64;
  Packet* stash_[kRxStash] = {};
  uint32_t nstash_ = 0;
};

}  // namespace mflow
