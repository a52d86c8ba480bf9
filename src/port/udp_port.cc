#include "port/udp_port.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <unordered_set>

#include "common/clock.h"
#include "packet/batch.h"
#include "port/netns.h"
#include "port/wake_event.h"
#include "wire/vxlan.h"

namespace mflow {
namespace {

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

// UDP_GRO receive: carriers of the largest super-datagram, how many
// recvmmsg fills at once, and the small buffers of the views.
constexpr uint32_t kCarrierSize = kHeadroom + 65536;
constexpr uint32_t kCarriers = 256;
// Segments of one super-datagram: the kernel's UDP_MAX_SEGMENTS (64, 128
// since Linux 6.10).
constexpr uint32_t kMaxViewsPerDatagram = 128;
constexpr uint32_t kViews = 16384;

// The kernel's UDP_MAX_SEGMENTS was 64 for years (newer kernels allow
// more; 64 is safe everywhere), and one super-datagram's payload must fit
// the 16-bit IP length.
constexpr uint32_t kMaxGsoSegs = 64;
constexpr uint32_t kMaxGsoBytes = 65535 - 40 - 8;  // worst case: IPv6 header

constexpr std::array<const char*, UdpPort::kNumDrops> kDropNames = {
    "rx_not_peer", "rx_truncated", "rx_error", "tx_not_peer", "tx_no_remote", "tx_error", "no_local",
    "rx_no_buffer", "flood_limited",
};

socklen_t ToSockaddr(const wire::IpAddr& a, uint16_t port, sockaddr_storage* ss) {
  std::memset(ss, 0, sizeof(*ss));
  if (a.is_v4()) {
    auto* s4 = reinterpret_cast<sockaddr_in*>(ss);
    s4->sin_family = AF_INET;
    s4->sin_port = htons(port);
    std::memcpy(&s4->sin_addr, a.bytes, 4);
    return sizeof(sockaddr_in);
  }
  auto* s6 = reinterpret_cast<sockaddr_in6*>(ss);
  s6->sin6_family = AF_INET6;
  s6->sin6_port = htons(port);
  std::memcpy(&s6->sin6_addr, a.bytes, 16);
  return sizeof(sockaddr_in6);
}

wire::IpAddr FromSockaddr(const sockaddr_storage& ss) {
  wire::IpAddr a;
  if (ss.ss_family == AF_INET) {
    a.family = 4;
    std::memcpy(a.bytes, &reinterpret_cast<const sockaddr_in*>(&ss)->sin_addr, 4);
  } else if (ss.ss_family == AF_INET6) {
    a.family = 6;
    std::memcpy(a.bytes, &reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_addr, 16);
  }
  return a;
}

}  // namespace

// The messages of one TxBurst: fixed arrays on the sending thread's stack,
// flushed with one sendmmsg when full and at the end of the burst.
class UdpPort::SendBatch {
 public:
  explicit SendBatch(UdpPort* port) : port_(port) {}

  // Starts a message to peer index `peer`; false when the arrays are full
  // (flush and retry).
  bool Begin(int peer, uint32_t max_iov) {
    if (nmsg_ == kMaxMsgs || niov_ + max_iov > kMaxIov) return false;
    Msg& m = msgs_[nmsg_];
    m.peer = peer;
    m.iov_begin = niov_;
    m.bytes = 0;
    m.gso_size = 0;
    m.segs = 0;
    return true;
  }
  void AddPiece(const uint8_t* data, uint32_t len) {
    iov_[niov_++] = iovec{const_cast<uint8_t*>(data), len};
    msgs_[nmsg_].bytes += len;
  }
  // Ends the current message; gso_size > 0 makes it a super-datagram of
  // `segs` datagrams.
  void End(uint16_t gso_size, uint32_t segs) {
    msgs_[nmsg_].gso_size = gso_size;
    msgs_[nmsg_].segs = segs;
    ++nmsg_;
  }
  uint32_t iov_room() const { return kMaxIov - niov_; }

  void Flush() {
    if (nmsg_ == 0) return;
    for (uint32_t i = 0; i < nmsg_; ++i) {
      Msg& m = msgs_[i];
      msghdr& h = hdrs_[i].msg_hdr;
      std::memset(&h, 0, sizeof(h));
      h.msg_name = &names_[i];
      h.msg_namelen = ToSockaddr(port_->peers_[m.peer].addr, port_->cfg_.port, &names_[i]);
      h.msg_iov = &iov_[m.iov_begin];
      h.msg_iovlen = (i + 1 < nmsg_ ? msgs_[i + 1].iov_begin : niov_) - m.iov_begin;
      if (m.gso_size != 0) {
        h.msg_control = ctrl_[i].buf;
        h.msg_controllen = CMSG_SPACE(sizeof(uint16_t));
        cmsghdr* c = CMSG_FIRSTHDR(&h);
        c->cmsg_level = SOL_UDP;
        c->cmsg_type = UDP_SEGMENT;
        c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
        std::memcpy(CMSG_DATA(c), &m.gso_size, sizeof(uint16_t));
      }
    }
    uint32_t done = 0;
    while (done < nmsg_) {
      const int r = sendmmsg(port_->fd_, &hdrs_[done], nmsg_ - done, 0);
      if (r > 0) {
        for (uint32_t i = done; i < done + static_cast<uint32_t>(r); ++i) Sent(msgs_[i]);
        done += static_cast<uint32_t>(r);
        continue;
      }
      if (r < 0 && errno == EINTR) continue;
      // The first unsent message was refused (too big, no route, no
      // buffer): count it and go on with the rest.
      port_->Count(kTxError, msgs_[done].segs != 0 ? msgs_[done].segs : 1);
      ++done;
    }
    nmsg_ = 0;
    niov_ = 0;
  }

 private:
  static constexpr uint32_t kMaxMsgs = 64;
  static constexpr uint32_t kMaxIov = 1024;
  struct Msg {
    int peer;
    uint32_t iov_begin;
    uint32_t bytes;
    uint16_t gso_size;
    uint32_t segs;
  };
  // Aligned as a cmsghdr (not a union with one: its flexible array member
  // makes an array of such unions an extension that clang refuses).
  struct alignas(cmsghdr) Ctrl {
    char buf[CMSG_SPACE(sizeof(uint16_t))];
  };

  void Sent(const Msg& m) {
    PeerSlots::Slot& p = port_->peers_[m.peer];
    p.tx_datagrams.fetch_add(m.segs != 0 ? m.segs : 1, std::memory_order_relaxed);
    p.tx_bytes.fetch_add(m.bytes, std::memory_order_relaxed);
    if (m.gso_size != 0) port_->gso_sends_.fetch_add(1, std::memory_order_relaxed);
  }

  UdpPort* port_;
  uint32_t nmsg_ = 0;
  uint32_t niov_ = 0;
  std::array<Msg, kMaxMsgs> msgs_;
  std::array<mmsghdr, kMaxMsgs> hdrs_;
  std::array<sockaddr_storage, kMaxMsgs> names_;
  std::array<Ctrl, kMaxMsgs> ctrl_;
  std::array<iovec, kMaxIov> iov_;
};

UdpPort::UdpPort(const UdpPortConfig& cfg, PacketPool* rx_pool, TxPort* local)
    : cfg_(cfg), rx_pool_(rx_pool), local_(local) {}

UdpPort::~UdpPort() {
  PacketFreeBurst(stash_, nstash_);
  PacketFreeBurst(pending_ + pending_head_, npending_);
  PacketFreeBurst(carrier_stash_, ncarriers_);
  if (fd_ >= 0) close(fd_);
  if (event_fd_ >= 0) close(event_fd_);
}

uint32_t UdpPort::OneSendFrameSize(uint32_t inner_mtu) {
  // Each segment is VXLAN + Ethernet + a full inner packet; its TCP payload
  // at least inner_mtu - 72 (IPv6 + TCP with timestamps), so a frame of that
  // many payload bytes per segment never needs more segments than one send
  // carries. (The kernel keeps the payload a little further below.)
  const uint32_t segs = std::min(kMaxGsoSegs, kMaxGsoBytes / (inner_mtu + 14 + 8));
  return segs * (inner_mtu - 72);
}

StatusOr<std::unique_ptr<UdpPort>> UdpPort::Open(const UdpPortConfig& cfg, PacketPool* rx_pool,
                                                 TxPort* local) {
  if (cfg.local.family != 4 && cfg.local.family != 6)
    return Status::Error("underlay: local address is not set");
  if (rx_pool == nullptr) return Status::Error("underlay: no receive pool");
  if (rx_pool->buf_size() < kHeadroom + 1500)
    return Status::Error("underlay: receive buffers must hold kHeadroom + 1500 bytes");
  std::unique_ptr<UdpPort> port(new UdpPort(cfg, rx_pool, local));
  if (Status s = port->Init(); !s.ok()) return s;
  return port;
}

Status UdpPort::Init() {
  auto fd = OpenSocket(cfg_.local, /*probe=*/true);
  if (!fd.ok()) return fd.status();
  fd_ = *fd;
  if (gro_) {
    auto carriers = PacketPool::Create({"underlay-gro", kCarriers, kCarrierSize});
    auto views = PacketPool::Create({"underlay-views", kViews, kHeadroom + 64});
    if (!carriers.ok()) return carriers.status();
    if (!views.ok()) return views.status();
    carriers_ = std::move(carriers).value();
    views_ = std::move(views).value();
  }
  const std::string where = "underlay " + cfg_.local.ToString() + ":" + std::to_string(cfg_.port);
  event_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (event_fd_ < 0) return Status::Error(where + ": eventfd: " + ErrnoText(errno));
  flood_limit_ = std::make_unique<FloodLimiter>(cfg_.flood_pps, cfg_.flood_burst);
  return SetPeers(cfg_.peers);
}

StatusOr<int> UdpPort::OpenSocket(const wire::IpAddr& local, bool probe) {
  const std::string where = "underlay " + local.ToString() + ":" + std::to_string(cfg_.port);
  const int fd = socket(local.is_v4() ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::Error(where + ": socket: " + ErrnoText(errno));
  auto fail = [&](const std::string& what) {
    const int e = errno;
    close(fd);
    return Status::Error(where + ": " + what + ": " + ErrnoText(e));
  };
  const int one = 1;
  if (local.is_v6()) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  // Bigger socket buffers absorb bursts of 64 KiB super-frames; FORCE
  // (root) goes past net.core.{r,w}mem_max, the plain option is the fallback.
  const int sz = static_cast<int>(cfg_.socket_buffer);
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) != 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) != 0)
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
  sockaddr_storage ss;
  const socklen_t len = ToSockaddr(local, cfg_.port, &ss);
  bool present = true;
  int r = bind(fd, reinterpret_cast<sockaddr*>(&ss), len);
  // A rebind back to an address we had a moment ago: a worker may still be
  // in poll() on that old socket, which keeps it bound until the Interrupt
  // reaches it.
  for (int tries = 0; r != 0 && errno == EADDRINUSE && !probe && tries < 100; ++tries) {
    Interrupt();
    usleep(2000);
    r = bind(fd, reinterpret_cast<sockaddr*>(&ss), len);
  }
  if (r != 0) {
    // The address is not on this host (yet): at boot, or while the underlay
    // is being renumbered. Bind anyway; sends fail (counted tx_error) and
    // nothing arrives until the address is configured.
    if (errno != EADDRNOTAVAIL) return fail("bind");
    if (setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one)) != 0) return fail("IP_FREEBIND");
    if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) return fail("bind");
    present = false;
  }
  // Offloads: probed on the first socket (a kernel without them refuses the
  // option); a later socket must get what the data path already relies on.
  const int zero = 0;
  if (probe) {
    gso_ = cfg_.gso && setsockopt(fd, SOL_UDP, UDP_SEGMENT, &zero, sizeof(zero)) == 0;
    gro_ = cfg_.gro && setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof(one)) == 0;
  } else {
    if (gso_ && setsockopt(fd, SOL_UDP, UDP_SEGMENT, &zero, sizeof(zero)) != 0) return fail("UDP_SEGMENT");
    if (gro_ && setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof(one)) != 0) return fail("UDP_GRO");
  }
  local_present_.store(present, std::memory_order_relaxed);
  return fd;
}

Status UdpPort::SetPeers(const std::vector<wire::IpAddr>& peers) {
  std::lock_guard<std::mutex> lock(change_mu_);
  // The distinct addresses, and how many have no slot yet: checked before
  // anything changes. A hash set, since the store may pass thousands.
  struct AddrHash {
    size_t operator()(const wire::IpAddr& a) const noexcept { return PeerSlots::Hash(a); }
  };
  std::unordered_set<wire::IpAddr, AddrHash> want;
  want.reserve(peers.size());
  uint32_t fresh = 0;
  for (const wire::IpAddr& a : peers) {
    if (a.family != cfg_.local.family)
      return Status::Error("underlay: peer " + a.ToString() + " is not of the family of local " +
                           cfg_.local.ToString());
    if (want.insert(a).second && peers_.Find(a) < 0) ++fresh;
  }
  const uint32_t n = peers_.size();
  if (n + fresh > kMaxPeerSlots)
    return Status::Error("underlay: more than " + std::to_string(kMaxPeerSlots) +
                         " distinct peers since the start; restart mflowd to take more");
  for (uint32_t k = 0; k < n; ++k)
    peers_[k].live.store(want.count(peers_[k].addr) != 0, std::memory_order_relaxed);
  for (const wire::IpAddr& a : peers) {
    if (peers_.Find(a) >= 0) continue;  // live above, or appended for a duplicate
    const int k = peers_.Append(a);
    peers_[static_cast<uint32_t>(k)].live.store(true, std::memory_order_relaxed);
  }
  return Status::Ok();
}

Status UdpPort::Rebind(const wire::IpAddr& local) {
  std::lock_guard<std::mutex> lock(change_mu_);
  if (local.family != cfg_.local.family)
    return Status::Error("underlay.local: " + local.ToString() +
                         " is of another address family; that needs a restart");
  auto fd = OpenSocket(local, /*probe=*/false);
  if (!fd.ok()) return fd.status();
  // dup3 swaps the file behind fd_ in one step: a worker's system call runs
  // on either the old socket or the new one, never on a closed descriptor.
  const int r = dup3(*fd, fd_, O_CLOEXEC);
  const int e = errno;
  close(*fd);
  if (r < 0) return Status::Error("underlay.local: dup3: " + ErrnoText(e));
  cfg_.local = local;
  Interrupt();  // a worker polling the old socket polls the new one
  return Status::Ok();
}

int UdpPort::FindPeer(const wire::IpAddr& a) const noexcept {
  const int k = peers_.Find(a);
  return k >= 0 && peers_[static_cast<uint32_t>(k)].live.load(std::memory_order_relaxed) ? k : -1;
}

bool UdpPort::Accept(int peer, uint32_t bytes) noexcept {
  if (peer < 0) {
    Count(kRxNotPeer);
    return false;
  }
  peers_[peer].rx_datagrams.fetch_add(1, std::memory_order_relaxed);
  peers_[peer].rx_bytes.fetch_add(bytes, std::memory_order_relaxed);
  return true;
}

uint32_t UdpPort::RxBurst(Packet** pkts, uint32_t n) noexcept {
  return gro_ ? RxGro(pkts, n) : RxPlain(pkts, n);
}

uint32_t UdpPort::RxGro(Packet** pkts, uint32_t n) noexcept {
  uint32_t out = 0;
  auto drain = [&] {
    const uint32_t k = std::min(n - out, npending_);
    std::memcpy(pkts + out, pending_ + pending_head_, k * sizeof(Packet*));
    out += k;
    pending_head_ += k;
    npending_ -= k;
    if (npending_ == 0) pending_head_ = 0;
  };
  drain();
  if (out == n || npending_ != 0) return out;

  // Receive up to kGroBatch super-datagrams; each becomes up to
  // kMaxViewsPerDatagram views.
  // Carriers not filled by the last call wait in their stash, as in
  // RxPlain: an idle poll costs the system call only.
  // How many: while datagrams arrive one by one (an underlay that does not
  // coalesce, as a physical wire with GRO off), a carrier holds one datagram
  // and many per call save system calls (16 -> 64: +11 % TCP with offloads
  // off); while they arrive coalesced, 16 super-datagrams (~1 MiB) are
  // plenty and more only lengthen the bursts (-3 % with offloads on).
  // (Room for every call to be all super-datagrams: no view is ever short.)
  static_assert(kGroBatch * kMaxViewsPerDatagram <= kMaxPending);
  static_assert(kRxStash >= kGroBatch);
  const uint32_t want = lone_only_ ? kGroBatch : kGroBatch / 4;
  if (ncarriers_ < want) ncarriers_ += carriers_->AllocBurst(carrier_stash_ + ncarriers_, want - ncarriers_);
  uint32_t nc = std::min(ncarriers_, want);
  Packet** c = carrier_stash_;
  // No carrier free: every one is still referenced by views in flight. Not a
  // drop: the datagrams wait in the socket until views are released.
  if (nc == 0) return out;
  // Direct receive: once datagrams have kept arriving one by one (an
  // underlay that does not coalesce), each is received into a pool buffer
  // (the first iovec) with its carrier behind it (the second) for whatever
  // does not fit, so a lone datagram lands where the chain wants it and is
  // never copied. Not from the first lone call: a straggler between
  // super-datagrams must not switch, because a super-datagram received this
  // way is made whole in its carrier by one copy (below).
  const bool direct = lone_calls_ >= kDirectAfter;
  uint32_t nh = 0;
  if (direct) {
    if (nstash_ < nc) nstash_ += rx_pool_->AllocBurst(stash_ + nstash_, nc - nstash_);
    nh = std::min(nstash_, nc);
    if (nh != 0) nc = nh;  // one pool buffer per datagram; none: receive as before
  }
  Packet** heads = stash_ + (nstash_ - nh);  // the top nh of the stash
  mmsghdr hdrs[kGroBatch];
  iovec iov[kGroBatch][2];
  uint32_t cap0[kGroBatch];
  sockaddr_storage names[kGroBatch];
  struct alignas(cmsghdr) {
    char buf[CMSG_SPACE(sizeof(int))];
  } ctrl[kGroBatch];
  constexpr uint32_t kCarrierCap = kCarrierSize - kHeadroom;
  for (uint32_t i = 0; i < nc; ++i) {
    std::memset(&hdrs[i], 0, sizeof(hdrs[i]));
    msghdr& h = hdrs[i].msg_hdr;
    if (nh != 0) {
      // Together never more than one carrier, so that a datagram that
      // spills can be made whole in its carrier.
      cap0[i] = std::min(heads[i]->buf_size - kHeadroom, kCarrierCap / 2);
      iov[i][0] = iovec{heads[i]->data, cap0[i]};
      iov[i][1] = iovec{c[i]->data, kCarrierCap - cap0[i]};
      h.msg_iovlen = 2;
    } else {
      iov[i][0] = iovec{c[i]->data, kCarrierCap};
      h.msg_iovlen = 1;
    }
    h.msg_iov = iov[i];
    h.msg_name = &names[i];
    h.msg_namelen = sizeof(names[i]);
    h.msg_control = ctrl[i].buf;
    h.msg_controllen = sizeof(ctrl[i].buf);
  }
  const int r = recvmmsg(fd_, hdrs, nc, MSG_DONTWAIT, nullptr);
  const uint32_t got = r > 0 ? static_cast<uint32_t>(r) : 0;
  if (r < 0 && errno != EAGAIN && errno != EINTR) Count(kRxError);
  bool coalesced = false;
  uint64_t copied = 0;  // counted once per call, not per datagram
  bool carrier_kept[kGroBatch];  // untouched: stays in the stash
  for (uint32_t i = 0; i < got; ++i) {
    Packet* carrier = c[i];
    Packet* head = nh != 0 ? heads[i] : nullptr;
    carrier_kept[i] = false;
    const msghdr& h = hdrs[i].msg_hdr;
    const uint32_t len = hdrs[i].msg_len;
    uint32_t seg = len;
    for (cmsghdr* cm = CMSG_FIRSTHDR(const_cast<msghdr*>(&h)); cm != nullptr;
         cm = CMSG_NXTHDR(const_cast<msghdr*>(&h), cm))
      if (cm->cmsg_level == SOL_UDP && cm->cmsg_type == UDP_GRO) {
        int v;
        std::memcpy(&v, CMSG_DATA(cm), sizeof(v));
        if (v > 0) seg = static_cast<uint32_t>(v);
      }
    const wire::IpAddr src = FromSockaddr(names[i]);
    const int peer = FindPeer(src);
    if ((h.msg_flags & MSG_TRUNC) != 0) {
      Count(kRxTruncated);
      if (head != nullptr) PacketFree(head);
      PacketFree(carrier);
      continue;
    }
    if (head != nullptr && seg >= len && len <= cap0[i]) {
      // Direct: the datagram is in its pool buffer; the carrier was not used.
      carrier_kept[i] = true;
      if (Accept(peer, len)) {
        head->len = len;
        head->remote = src;
        pending_[npending_++] = head;
      } else {
        PacketFree(head);
      }
      continue;
    }
    if (head != nullptr) {
      // Direct, but a super-datagram (or a lone one too big for a pool
      // buffer): made whole in the carrier, its one copy, then as below.
      if (len > cap0[i]) std::memmove(carrier->data + cap0[i], carrier->data, len - cap0[i]);
      std::memcpy(carrier->data, head->data, std::min(len, cap0[i]));
      copied += len;
      PacketFree(head);
    }
    if (seg >= len) {
      // A lone datagram: copy it out and reuse the carrier at once.
      Packet* p = nullptr;
      if (Accept(peer, len)) {
        if (rx_pool_->AllocBurst(&p, 1) == 1 && len <= p->buf_size - kHeadroom) {
          std::memcpy(p->data, carrier->data, len);
          copied += len;
          p->len = len;
          p->remote = src;
          pending_[npending_++] = p;
        } else {
          if (p != nullptr) PacketFree(p);
          Count(kRxNoBuffer);
        }
      }
      PacketFree(carrier);
      continue;
    }
    gro_receives_.fetch_add(1, std::memory_order_relaxed);
    coalesced = true;
    const uint32_t nsegs = (len + seg - 1) / seg;
    if (peer < 0) {
      Count(kRxNotPeer, nsegs);
      PacketFree(carrier);
      continue;
    }
    // One allocation for all the views of this super-datagram. The segment
    // count comes from the wire (a peer chooses the segment size): views
    // beyond what fits are counted drops, never an overflow.
    Packet* views[kMaxViewsPerDatagram];
    const uint32_t room = std::min(kMaxViewsPerDatagram, kMaxPending - npending_);
    const uint32_t nv = views_->AllocBurst(views, std::min(nsegs, room));
    if (nv < nsegs) Count(kRxNoBuffer, nsegs - nv);
    for (uint32_t k = 0, off = 0; k < nv; ++k, off += seg) {
      const uint32_t l = std::min(seg, len - off);
      Accept(peer, l);
      Packet* v = views[k];
      v->data = carrier->data + off;
      v->len = l;
      v->remote = src;
      v->parent = carrier;
      carrier->refs.fetch_add(1, std::memory_order_relaxed);
      pending_[npending_++] = v;
    }
    PacketFree(carrier);  // our own reference; the views hold theirs
  }
  if (copied != 0) rx_copied_bytes_ += copied;
  // The filled carriers now belong to their views (or went back to the
  // pool); the untouched ones and the rest stay stashed, in order.
  uint32_t kept = 0;
  for (uint32_t i = 0; i < ncarriers_; ++i)
    if (i >= got || carrier_kept[i]) c[kept++] = c[i];
  ncarriers_ = kept;
  // The pool buffers of the received datagrams left the stash (queued or
  // freed above); the others stay for the next call.
  if (nh != 0) {
    std::memmove(heads, heads + got, (nh - got) * sizeof(Packet*));
    nstash_ -= got;
  }
  if (got != 0) {
    lone_only_ = !coalesced;
    lone_calls_ = coalesced ? 0 : std::min(lone_calls_ + 1, kDirectAfter);
  }
  drain();
  return out;
}

uint32_t UdpPort::RxPlain(Packet** pkts, uint32_t n) noexcept {
  n = std::min(n, kRxStash);
  // Buffers not filled by the last call stay in the stash: an idle poll
  // costs one system call, not an allocation and a free of a burst.
  if (nstash_ < n) nstash_ += rx_pool_->AllocBurst(stash_ + nstash_, n - nstash_);
  n = std::min(n, nstash_);
  if (n == 0) return 0;  // pool empty: packets in flight will come back
  static constexpr uint32_t kMax = kRxStash;
  Packet** got = stash_ + (nstash_ - n);  // the top n of the stash
  mmsghdr hdrs[kMax];
  iovec iov[kMax];
  sockaddr_storage names[kMax];
  for (uint32_t i = 0; i < n; ++i) {
    iov[i] = iovec{got[i]->data, got[i]->buf_size - kHeadroom};
    std::memset(&hdrs[i], 0, sizeof(hdrs[i]));
    hdrs[i].msg_hdr.msg_name = &names[i];
    hdrs[i].msg_hdr.msg_namelen = sizeof(names[i]);
    hdrs[i].msg_hdr.msg_iov = &iov[i];
    hdrs[i].msg_hdr.msg_iovlen = 1;
  }
  const int r = recvmmsg(fd_, hdrs, n, MSG_DONTWAIT, nullptr);
  if (r <= 0) {
    if (r < 0 && errno != EAGAIN && errno != EINTR) Count(kRxError);
    return 0;
  }
  uint32_t kept = 0;
  Packet* dropped[kMax];
  uint32_t ndropped = 0;
  for (uint32_t i = 0; i < static_cast<uint32_t>(r); ++i) {
    Packet* p = got[i];
    const msghdr& h = hdrs[i].msg_hdr;
    const wire::IpAddr src = FromSockaddr(names[i]);
    const int peer = FindPeer(src);
    if ((h.msg_flags & MSG_TRUNC) != 0) {
      Count(kRxTruncated);
      dropped[ndropped++] = p;
      continue;
    }
    if (!Accept(peer, hdrs[i].msg_len)) {
      dropped[ndropped++] = p;
      continue;
    }
    p->len = hdrs[i].msg_len;
    p->remote = src;
    pkts[kept++] = p;
  }
  // The filled buffers leave the stash. (got[] is the stash's top; a
  // dropped packet's buffer simply goes back to the pool.)
  const uint32_t filled = static_cast<uint32_t>(r);
  std::memmove(got, got + filled, (n - filled) * sizeof(Packet*));
  nstash_ -= filled;
  if (ndropped != 0) PacketFreeBurst(dropped, ndropped);
  return kept;
}

// The socket's descriptor number survives a Rebind (dup3), so a poll set
// built before it still names the current socket; Rebind interrupts a wait
// that began on the old one.
uint32_t UdpPort::WaitFds(pollfd* fds) noexcept { return WaitOnInputAndEvent(fds, fd_, event_fd_); }

void UdpPort::AfterWait(const pollfd* fds) noexcept { DrainEvent(fds); }

void UdpPort::Interrupt() noexcept { SignalEvent(event_fd_); }

void UdpPort::TxBurst(Packet** pkts, uint32_t n) noexcept {
  for (; n > kMaxBatch; pkts += kMaxBatch, n -= kMaxBatch) TxBurst(pkts, kMaxBatch);
  SendBatch batch(this);
  Packet* local[kMaxBatch];
  uint32_t nlocal = 0;
  Packet* done[kMaxBatch];
  uint32_t ndone = 0;

  // Adds one message (a frame, or up to kMaxGsoSegs segments of a train
  // starting at *seg) for peer; flushes when the batch is full.
  auto add_plain = [&](Packet* f, int peer) {
    if (!batch.Begin(peer, 1u + f->nfrags)) {
      batch.Flush();
      (void)batch.Begin(peer, 1u + f->nfrags);
    }
    batch.AddPiece(f->data, f->len);
    for (uint16_t i = 0; i < f->nfrags; ++i) batch.AddPiece(f->frags[i].data, f->frags[i].len);
    batch.End(0, 0);
  };
  auto add_train = [&](Packet* carrier, int peer) {
    Packet* s = carrier->segs;
    while (s != nullptr) {
      if (!gso_ || s->seg_next == nullptr) {
        add_plain(s, peer);
        s = s->seg_next;
        continue;
      }
      // One super-datagram: segments of equal size (the last may be
      // shorter), within the kernel's limits.
      const uint32_t size = s->frame_len();
      const uint32_t max_segs = std::min(kMaxGsoSegs, kMaxGsoBytes / size);
      if (!batch.Begin(peer, 1u + kMaxFrags)) {
        batch.Flush();
        (void)batch.Begin(peer, 1u + kMaxFrags);
      }
      uint32_t segs = 0;
      while (s != nullptr && segs < max_segs) {
        const uint32_t len = s->frame_len();
        if (segs != 0 && (len > size || batch.iov_room() < 1u + s->nfrags)) break;
        batch.AddPiece(s->data, s->len);
        for (uint16_t i = 0; i < s->nfrags; ++i) batch.AddPiece(s->frags[i].data, s->frags[i].len);
        ++segs;
        s = s->seg_next;
        if (len < size) break;  // a short segment ends a super-datagram
      }
      batch.End(segs > 1 ? static_cast<uint16_t>(size) : 0, segs);
    }
  };
  auto add = [&](Packet* p, int peer) {
    if (p->is_train())
      add_train(p, peer);
    else
      add_plain(p, peer);
  };

  uint64_t now_ns = 0;  // read once per burst, and only if something floods
  for (uint32_t i = 0; i < n; ++i) {
    Packet* p = pkts[i];
    const uint16_t out = p->out_port;
    if (out == kPortFlood) {
      if (now_ns == 0) now_ns = MonotonicNs();
      if (p->in_port != kPortNone && (p->flags & kPktFlagFloodAdmitted) == 0 &&
          !flood_limit_->Allow(p->in_port, now_ns)) {
        Count(kFloodLimited);
        done[ndone++] = p;
        continue;
      }
      // Head-end replication: the same buffers go to every peer (the
      // kernel copies them), then to the local ports.
      const uint32_t nslots = (p->flags & kPktFlagLocalFlood) != 0 ? 0 : peers_.size();
      for (uint32_t k = 0; k < nslots; ++k)
        if (peers_[k].live.load(std::memory_order_relaxed)) add(p, static_cast<int>(k));
      local[nlocal++] = p;
      continue;
    }
    if (out != kPortNone) {  // hairpin
      local[nlocal++] = p;
      continue;
    }
    if (p->remote.family == 0) {
      Count(kTxNoRemote);
      done[ndone++] = p;
      continue;
    }
    const int peer = FindPeer(p->remote);
    if (peer < 0) {
      Count(kTxNotPeer);
    } else {
      add(p, peer);
    }
    done[ndone++] = p;
  }
  batch.Flush();
  if (ndone != 0) PacketFreeBurst(done, ndone);
  if (nlocal == 0) return;
  if (local_ == nullptr) {
    Count(kNoLocal, nlocal);
    PacketFreeBurst(local, nlocal);
    return;
  }
  // Flooded frames were encapsulated for the peers: the local ports get the
  // inner frame.
  for (uint32_t i = 0; i < nlocal; ++i) {
    Packet* p = local[i];
    if (p->out_port != kPortFlood) continue;
    auto strip = [](Packet* f) {
      f->Adj(sizeof(wire::VxlanHeader));
      if (f->l3_off != 0) f->l3_off = static_cast<uint8_t>(f->l3_off - sizeof(wire::VxlanHeader));
      if (f->l4_off != 0) f->l4_off = static_cast<uint8_t>(f->l4_off - sizeof(wire::VxlanHeader));
    };
    if (p->is_train()) {
      for (Packet* s = p->segs; s != nullptr; s = s->seg_next) strip(s);
    } else {
      strip(p);
    }
  }
  local_->TxBurst(local, nlocal);
}

UdpPortInfo UdpPort::Snapshot() const {
  UdpPortInfo info;
  info.gso = gso_;
  info.gso_sends = gso_sends_.load(std::memory_order_relaxed);
  info.gro = gro_;
  info.gro_receives = gro_receives_.load(std::memory_order_relaxed);
  info.rx_copied_bytes = rx_copied_bytes_.load();
  const uint32_t n = peers_.size();
  for (uint32_t i = 0; i < n; ++i) {
    const PeerSlots::Slot& p = peers_[i];
    info.rx_bytes += p.rx_bytes.load(std::memory_order_relaxed);
    info.tx_bytes += p.tx_bytes.load(std::memory_order_relaxed);
    if (!p.live.load(std::memory_order_relaxed)) continue;
    info.peers.push_back({p.addr.ToString(), p.tx_datagrams.load(std::memory_order_relaxed),
                          p.tx_bytes.load(std::memory_order_relaxed),
                          p.rx_datagrams.load(std::memory_order_relaxed),
                          p.rx_bytes.load(std::memory_order_relaxed)});
  }
  for (uint32_t d = 0; d < kNumDrops; ++d)
    info.drops.emplace_back(kDropNames[d], drops_[d].load(std::memory_order_relaxed));
  return info;
}

}  // namespace mflow
