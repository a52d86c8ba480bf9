#include "port/tap_device.h"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <random>
#include <utility>

#include "port/link_config.h"
#include "port/netns.h"
#include "port/vnet_hdr.h"
#include "wire/checksum.h"
#include "wire/ip_addr.h"
#include "wire/parse.h"
#include "wire/tcp.h"

namespace mflow {
namespace {

constexpr std::array<std::string_view, kTapNumDrops> kDropNames = {
    "rx_short", "rx_truncated", "rx_unsupported_gso", "rx_bad_gso", "rx_bad_csum_offsets",
    "rx_error", "tx_bad_gso",   "tx_error",
};

// Bad frames skipped by one Read call before it gives the caller its turn
// back (a flood of garbage must not pin the RX role on one port).
constexpr int kMaxSkipsPerRead = 8;

constexpr uint32_t kEthernetLen = 14;
constexpr uint32_t kTcpChecksumOffset = 16;  // within the TCP header

// Closes a descriptor unless released: setup has many early returns.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      if (fd_ >= 0) close(fd_);
      fd_ = o.release();
    }
    return *this;
  }
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

wire::MacAddr RandomMac() {
  std::random_device rd;
  wire::MacAddr m;
  for (auto& b : m.b) b = static_cast<uint8_t>(rd());
  // Locally administered (bit 1), unicast (bit 0 clear).
  m.b[0] = static_cast<uint8_t>((m.b[0] & 0xfe) | 0x02);
  return m;
}

// 0a:58 and the IPv4 address, as the CNI bridge plugin and OVN derive it: a
// port that comes back (mflowd restarted) keeps its MAC, so the ARP caches
// of its peers stay right. Without IPv4, the last 4 bytes of the IPv6
// address (the part that differs between containers of one prefix), for
// the same reason (neighbour caches). Locally administered, unicast.
wire::MacAddr MacFromAddress(const wire::IpAddr& a) {
  wire::MacAddr m;
  m.b[0] = 0x0a;
  m.b[1] = 0x58;
  std::memcpy(&m.b[2], a.is_v4() ? a.bytes : a.bytes + 12, 4);
  return m;
}

void SetIfName(ifreq* ifr, const std::string& name) {
  // Length checked by Create (at most IFNAMSIZ - 1); ifr is zeroed.
  std::memcpy(ifr->ifr_name, name.data(), name.size());
}

}  // namespace

std::span<const std::string_view> TapDropNames() { return kDropNames; }

std::string OffloadsString(unsigned offloads) {
  static constexpr std::pair<unsigned, const char*> kNames[] = {
      {kTunFCsum, "csum"}, {kTunFTso4, "tso4"}, {kTunFTso6, "tso6"}, {kTunFTsoEcn, "tso_ecn"},
      {kTunFUfo, "ufo"},   {kTunFUso4, "uso4"}, {kTunFUso6, "uso6"},
  };
  std::string s;
  for (const auto& [bit, name] : kNames) {
    if ((offloads & bit) == 0) continue;
    if (!s.empty()) s += ',';
    s += name;
  }
  return s.empty() ? "none" : s;
}

// --- vnet header conversions (declared in vnet_hdr.h) ---

VnetRx ApplyVnetHdr(const VnetHdr& h, Packet* p) noexcept {
  // Computes into locals and commits only on success, so a dropped frame
  // leaves p's metadata as it was (Read reuses p for the next frame).
  if (h.gso_type != kVnetGsoNone && h.gso_type != kVnetGsoTcpv4 && h.gso_type != kVnetGsoTcpv6 &&
      h.gso_type != kVnetGsoUdpL4)
    return VnetRx::kUnsupportedGso;  // UFO, and TCP with the ECN bit: we never offer them

  wire::FrameLayout lay;
  const bool parsed = wire::ParseFrame(p->data, p->len, &lay) == wire::ParseResult::kOk;
  uint8_t flags = p->flags;
  uint16_t gso_size = 0;
  uint16_t gso_segs = 0;

  if (h.gso_type != kVnetGsoNone) {
    // The L4 checksum field holds the pseudo-header sum (NEEDS_CSUM is
    // always set by the kernel for GSO): left alone, see vnet_hdr.h. USO
    // (UDP_L4) is one type for both IP versions.
    const bool fits = h.gso_type == kVnetGsoUdpL4
                          ? lay.l4_proto == wire::kIpProtoUdp
                          : lay.l4_proto == wire::kIpProtoTcp &&
                                lay.ipv6 == (h.gso_type == kVnetGsoTcpv6);
    if (!parsed || !fits || h.gso_size == 0) return VnetRx::kBadGso;
    gso_size = h.gso_size;
    const uint32_t segs = (lay.payload_len() + gso_size - 1) / gso_size;
    gso_segs = static_cast<uint16_t>(std::min<uint32_t>(segs, 0xffff));
  } else if ((h.flags & kVnetFNeedsCsum) != 0) {
    // The stack left the checksum to the "hardware": the field holds the
    // pseudo-header sum; summing from csum_start to the end over it gives
    // the checksum (as skb_checksum_help does).
    const uint32_t start = h.csum_start;
    const uint32_t field = start + h.csum_offset;
    if (start >= p->len || field + 2 > p->len) return VnetRx::kBadCsumOffsets;
    uint16_t c = wire::ChecksumFinish(wire::ChecksumPartial(p->data + start, p->len - start));
    // 0 and 0xffff are the same in one's complement, but 0 means "no
    // checksum" for UDP over IPv4 (RFC 768): always store 0xffff.
    if (c == 0) c = 0xffff;
    std::memcpy(p->data + field, &c, 2);
    flags |= kPktFlagL4CsumOk;
  } else if ((h.flags & kVnetFDataValid) != 0) {
    flags |= kPktFlagL4CsumOk;
  }

  if (parsed) {
    p->l3_off = static_cast<uint8_t>(lay.l3_off);
    p->l4_off = static_cast<uint8_t>(lay.l4_off);
    p->l4_proto = lay.l4_proto;
    if (lay.ipv6) flags |= kPktFlagIpv6;
  }
  p->flags = flags;
  p->gso_size = gso_size;
  p->gso_segs = gso_segs;
  return VnetRx::kOk;
}

bool BuildVnetHdr(const Packet& p, VnetHdr* h) noexcept {
  *h = VnetHdr{};
  if (p.gso_size > 0) {
    const uint32_t l4 = p.l4_off;
    if (p.l4_proto != wire::kIpProtoTcp || p.l3_off == 0 || l4 <= p.l3_off ||
        l4 + sizeof(wire::TcpHeader) > p.len)
      return false;
    const uint32_t thl = (uint32_t{p.data[l4 + 12]} >> 4) * 4;  // TCP data offset
    if (thl < sizeof(wire::TcpHeader) || l4 + thl > p.len) return false;
    h->flags = kVnetFNeedsCsum;
    h->gso_type = (p.flags & kPktFlagIpv6) != 0 ? kVnetGsoTcpv6 : kVnetGsoTcpv4;
    h->gso_size = p.gso_size;
    h->hdr_len = static_cast<uint16_t>(l4 + thl);
    h->csum_start = static_cast<uint16_t>(l4);
    h->csum_offset = kTcpChecksumOffset;
    return true;
  }
  if ((p.flags & kPktFlagL4CsumOk) != 0) h->flags = kVnetFDataValid;
  return true;
}

// --- TapDevice ---

namespace {

// Opens /dev/net/tun and attaches a new TAP with vnet headers and the
// offloads we can take. Runs in the target namespace.
Status OpenTap(const std::string& want_name, bool offload, Fd* out, std::string* name,
               unsigned* offloads) {
  Fd tun(open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC));
  if (tun.get() < 0) return Status::Error("open /dev/net/tun: " + ErrnoText(errno));
  ifreq ifr{};
  SetIfName(&ifr, want_name);
  // Not persistent: closing the descriptor removes the device.
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
  if (ioctl(tun.get(), TUNSETIFF, &ifr) != 0)
    return Status::Error("TUNSETIFF: " + ErrnoText(errno));
  name->assign(ifr.ifr_name, strnlen(ifr.ifr_name, IFNAMSIZ));
  int hdr_len = static_cast<int>(kVnetHdrLen);
  if (ioctl(tun.get(), TUNSETVNETHDRSZ, &hdr_len) != 0)
    return Status::Error("TUNSETVNETHDRSZ " + std::to_string(hdr_len) + ": " + ErrnoText(errno));
  *offloads = 0;
  if (offload) {
    // Best first: USO needs Linux 6.2; a kernel that refuses TSO may still
    // take checksums. TUNSETOFFLOAD takes the bits as the argument itself,
    // not a pointer.
    constexpr unsigned kTso = kTunFCsum | kTunFTso4 | kTunFTso6;
    for (unsigned want : {kTso | kTunFUso4 | kTunFUso6, kTso, kTunFCsum, 0u}) {
      if (ioctl(tun.get(), TUNSETOFFLOAD, static_cast<unsigned long>(want)) == 0) {
        *offloads = want;
        break;
      }
    }
  }
  *out = std::move(tun);
  return Status::Ok();
}

// The settings of a new device, in an order the kernel accepts: the MAC
// while the device is down (a TAP refuses it when up), the MTU and
// gso_max_size, up (a route through a device that is down is refused with
// ENETDOWN), the addresses (their prefix routes come with them, which a
// route via a gateway needs), then the default and extra routes. Runs in
// the target namespace, with a netlink socket opened there. The txqueuelen
// comes with the MTU: the ring it sizes is empty before the device is up.
struct LinkPlan {
  wire::MacAddr mac;
  uint32_t mtu = 0;
  uint32_t gso_max_size = 0;  // 0 = leave the kernel's
  uint32_t tx_queue_len = 0;  // 0 = leave the kernel's
  std::vector<IpPrefix> addresses;
  struct Route {
    IpPrefix dst;
    std::optional<wire::IpAddr> gw;
  };
  std::vector<Route> routes;
};

Status ConfigureLink(LinkConfig& nl, int ifindex, const LinkPlan& plan) {
  MFLOW_RETURN_IF_ERROR(nl.SetMac(ifindex, plan.mac));
  MFLOW_RETURN_IF_ERROR(nl.SetMtu(ifindex, plan.mtu));
  if (plan.gso_max_size != 0) MFLOW_RETURN_IF_ERROR(nl.SetGsoMaxSize(ifindex, plan.gso_max_size));
  // Before up, while nothing is queued: tun reallocates its ring.
  if (plan.tx_queue_len != 0) MFLOW_RETURN_IF_ERROR(nl.SetTxQueueLen(ifindex, plan.tx_queue_len));
  MFLOW_RETURN_IF_ERROR(nl.SetUp(ifindex));
  for (const IpPrefix& a : plan.addresses) MFLOW_RETURN_IF_ERROR(nl.AddAddress(ifindex, a));
  for (const LinkPlan::Route& r : plan.routes) MFLOW_RETURN_IF_ERROR(nl.AddRoute(ifindex, r.dst, r.gw));
  return Status::Ok();
}

}  // namespace

StatusOr<std::unique_ptr<TapDevice>> TapDevice::Create(const TapConfig& cfg) {
  auto who = [](const std::string& name) {
    return "tap " + (name.empty() ? std::string("(unnamed)") : name) + ": ";
  };
  auto invalid = [&](const std::string& what) {
    return Status::Error(StatusCode::kInvalid, who(cfg.ifname) + what);
  };
  if (cfg.ifname.size() >= IFNAMSIZ)
    return invalid("name must be at most " + std::to_string(IFNAMSIZ - 1) + " bytes");

  LinkPlan plan;
  plan.mtu = cfg.mtu;
  plan.tx_queue_len = cfg.tx_queue_len;
  const wire::IpAddr* first_v4 = nullptr;
  const wire::IpAddr* first_v6 = nullptr;
  plan.addresses.reserve(cfg.addresses.size());
  for (const std::string& text : cfg.addresses) {
    const auto a = IpPrefix::Parse(text);
    if (!a) return invalid("address '" + text + "': expected a.b.c.d[/len] or x:y::z[/len]");
    plan.addresses.push_back(*a);
  }
  for (const IpPrefix& a : plan.addresses) {
    if (a.addr.is_v4() && first_v4 == nullptr) first_v4 = &a.addr;
    if (a.addr.is_v6() && first_v6 == nullptr) first_v6 = &a.addr;
  }
  // Default routes first, then the extra ones.
  if (cfg.gateway.empty()) {
    for (const auto* a : {first_v4, first_v6})
      if (a != nullptr) plan.routes.push_back({IpPrefix{wire::IpAddr{a->family, {}}, 0}, {}});
  } else if (cfg.gateway != "none") {
    const auto gw = wire::IpAddr::Parse(cfg.gateway);
    if (!gw) return invalid("gateway '" + cfg.gateway + "': expected an IPv4 or IPv6 address or 'none'");
    plan.routes.push_back({IpPrefix{wire::IpAddr{gw->family, {}}, 0}, *gw});
  }
  for (size_t i = 0; i < cfg.routes.size(); ++i) {
    const IpRoute& r = cfg.routes[i];
    if (auto e = RouteError(r)) return invalid("routes[" + std::to_string(i) + "]: " + *e);
    plan.routes.push_back({*IpPrefix::Parse(r.dst),
                           r.gw.empty() ? std::nullopt : wire::IpAddr::Parse(r.gw)});
  }

  std::unique_ptr<TapDevice> dev(new TapDevice());
  dev->netns_ = cfg.netns;
  dev->mac_ = !cfg.mac.IsZero()    ? cfg.mac
              : first_v4 != nullptr ? MacFromAddress(*first_v4)
              : first_v6 != nullptr ? MacFromAddress(*first_v6)
                                    : RandomMac();
  plan.mac = dev->mac_;
  dev->mtu_ = cfg.mtu;
  dev->tx_queue_len_ = cfg.tx_queue_len;
  for (const IpPrefix& a : plan.addresses) dev->addresses_.push_back(a.ToString());
  for (const LinkPlan::Route& r : plan.routes)
    dev->routes_.push_back({r.dst.Network().ToString(), r.gw ? r.gw->ToString() : ""});

  // Everything runs inside the namespace: /dev/net/tun creates the device in
  // the namespace of the opener, and the netlink socket must see it.
  Status st = RunInNetns(cfg.netns, [&]() -> Status {
    auto nl = LinkConfig::Open();
    if (!nl.ok()) return nl.status();
    if (!cfg.ifname.empty()) {
      // TUNSETIFF on the name of an existing TAP would attach to that
      // device, and on any other device fail only after we asked: look
      // first, so a taken name changes nothing in the namespace.
      auto exists = nl->Exists(cfg.ifname);
      if (!exists.ok()) return exists.status();
      if (*exists)
        return Status::Error(StatusCode::kExists,
                             "a device named " + cfg.ifname + " exists in the namespace");
    }
    Fd tun(-1);
    MFLOW_RETURN_IF_ERROR(OpenTap(cfg.ifname, cfg.offload, &tun, &dev->name_, &dev->offloads_));
    auto index = nl->IfIndex(dev->name_);
    if (!index.ok()) return index.status();
    dev->ifindex_ = *index;
    if (cfg.gso_max_size != 0 && (dev->offloads_ & (kTunFTso4 | kTunFTso6)) != 0)
      plan.gso_max_size = cfg.gso_max_size;
    MFLOW_RETURN_IF_ERROR(ConfigureLink(*nl, dev->ifindex_, plan));
    dev->fd_ = tun.release();
    return Status::Ok();
  });
  // The kernel's name when it picked one; on failure the device is gone
  // again (its descriptor closed), the message says how far we got.
  if (!st.ok()) return st.Prefixed(who(dev->name_.empty() ? cfg.ifname : dev->name_));
  return dev;
}

TapDevice::~TapDevice() {
  if (fd_ >= 0) close(fd_);
}

std::string TapDevice::offloads_string() const { return OffloadsString(offloads_); }

uint32_t TapDevice::rx_buf_size() const {
  if ((offloads_ & (kTunFTso4 | kTunFTso6)) != 0) return kTapRxBufSize;
  return kHeadroom + mtu_ + kEthernetLen + 4;
}

int TapDevice::Read(Packet* p) noexcept {
  const uint32_t cap = p->buf_size - p->headroom();
  for (int skip = 0; skip < kMaxSkipsPerRead; ++skip) {
    VnetHdr h;
    // One guard byte after the buffer: tun copies what fits and reports
    // only that, so a frame that reaches the guard did not fit.
    uint8_t guard;
    iovec iov[3] = {{&h, kVnetHdrLen}, {p->data, cap}, {&guard, 1}};
    const ssize_t n = readv(fd_, iov, 3);
    if (n < 0) {
      const int err = errno;
      if (err == EAGAIN || err == EWOULDBLOCK) return 0;
      if (err == EINTR) continue;
      CountDrop(kTapRxError);
      return -err;
    }
    const auto got = static_cast<uint64_t>(n);
    if (got < kVnetHdrLen + kEthernetLen) {
      CountDrop(kTapRxShort);
      continue;
    }
    if (got - kVnetHdrLen > cap) {  // the rest of the frame is lost
      CountDrop(kTapRxTruncated);
      continue;
    }
    p->len = static_cast<uint32_t>(got - kVnetHdrLen);
    switch (ApplyVnetHdr(h, p)) {
      case VnetRx::kOk:
        counters_.rx_frames.fetch_add(1, std::memory_order_relaxed);
        counters_.rx_bytes.fetch_add(p->len, std::memory_order_relaxed);
        return 1;
      case VnetRx::kUnsupportedGso:
        CountDrop(kTapRxUnsupportedGso);
        break;
      case VnetRx::kBadGso:
        CountDrop(kTapRxBadGso);
        break;
      case VnetRx::kBadCsumOffsets:
        CountDrop(kTapRxBadCsumOffsets);
        break;
    }
    p->len = 0;
  }
  return 0;
}

bool TapDevice::Write(const Packet* p) noexcept {
  if (p->segs == nullptr) return WriteFrame(p);
  // A TSO train: the carrier is not a frame, its segments are.
  bool ok = true;
  for (const Packet* s = p->segs; s != nullptr; s = s->seg_next) ok = WriteFrame(s) && ok;
  return ok;
}

bool TapDevice::WriteFrame(const Packet* p) noexcept {
  VnetHdr h;
  if (!BuildVnetHdr(*p, &h)) {
    CountDrop(kTapTxBadGso);
    return false;
  }
  iovec iov[2 + kMaxFrags];
  iov[0] = {&h, kVnetHdrLen};
  iov[1] = {p->data, p->len};
  int cnt = 2;
  for (uint16_t i = 0; i < p->nfrags; ++i)
    iov[cnt++] = {const_cast<uint8_t*>(p->frags[i].data), p->frags[i].len};
  // Non-blocking: a full queue is a drop, never a stall of the engine.
  if (writev(fd_, iov, cnt) < 0) {
    CountDrop(kTapTxError);
    return false;
  }
  counters_.tx_frames.fetch_add(1, std::memory_order_relaxed);
  counters_.tx_bytes.fetch_add(p->frame_len(), std::memory_order_relaxed);
  return true;
}

}  // namespace mflow
