#include "port/tap_device.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <net/route.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <random>
#include <utility>

#include "port/netns.h"
#include "port/vnet_hdr.h"
#include "wire/checksum.h"
#include "wire/ip_addr.h"
#include "wire/ipv4.h"
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

struct Ipv4Prefix {
  in_addr addr{};
  in_addr mask{};
};

// "a.b.c.d" or "a.b.c.d/len".
bool ParsePrefix(const std::string& s, Ipv4Prefix* out) {
  const size_t slash = s.find('/');
  const std::string ip = s.substr(0, slash);
  if (inet_pton(AF_INET, ip.c_str(), &out->addr) != 1) return false;
  unsigned len = 32;
  if (slash != std::string::npos) {
    const std::string l = s.substr(slash + 1);
    if (l.empty() || l.size() > 2 ||
        !std::all_of(l.begin(), l.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return false;
    len = static_cast<unsigned>(std::stoul(l));
    if (len > 32) return false;
  }
  out->mask.s_addr = htonl(len == 0 ? 0u : ~0u << (32 - len));
  return true;
}

sockaddr SockaddrV4(in_addr a) {
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr = a;
  sockaddr sa{};
  static_assert(sizeof(sa) == sizeof(sin));
  std::memcpy(&sa, &sin, sizeof(sin));
  return sa;
}

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
// of its peers stay right. Locally administered, unicast.
wire::MacAddr MacFromIpv4(in_addr a) {
  wire::MacAddr m;
  m.b[0] = 0x0a;
  m.b[1] = 0x58;
  std::memcpy(&m.b[2], &a.s_addr, 4);
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

// One SIOCSIF* ioctl on the interface; fill sets the request's payload.
template <typename Fill>
Status SetIf(int sock, const std::string& name, unsigned long req, const std::string& what,
             Fill fill) {
  ifreq r{};
  SetIfName(&r, name);
  fill(r);
  if (ioctl(sock, req, &r) != 0) return Status::Error(what + ": " + ErrnoText(errno));
  return Status::Ok();
}

// MAC, MTU, IPv4 address, up; the way `ip link/addr` would. Runs in the
// target namespace (the socket must be opened there to see the device).
Status ConfigureLink(int sock, const std::string& name, const wire::MacAddr& mac, uint32_t mtu,
                     const std::string& address, const Ipv4Prefix& prefix) {
  // MAC first: a TAP refuses address changes while it is up.
  Status s = SetIf(sock, name, SIOCSIFHWADDR, "mac " + mac.ToString(), [&](ifreq& r) {
    r.ifr_hwaddr.sa_family = ARPHRD_ETHER;
    std::memcpy(r.ifr_hwaddr.sa_data, mac.b.data(), 6);
  });
  if (!s.ok()) return s;
  s = SetIf(sock, name, SIOCSIFMTU, "mtu " + std::to_string(mtu),
            [&](ifreq& r) { r.ifr_mtu = static_cast<int>(mtu); });
  if (!s.ok()) return s;
  if (!address.empty()) {
    s = SetIf(sock, name, SIOCSIFADDR, "address " + address,
              [&](ifreq& r) { r.ifr_addr = SockaddrV4(prefix.addr); });
    if (!s.ok()) return s;
    s = SetIf(sock, name, SIOCSIFNETMASK, "address " + address + " netmask",
              [&](ifreq& r) { r.ifr_netmask = SockaddrV4(prefix.mask); });
    if (!s.ok()) return s;
  }
  ifreq fr{};
  SetIfName(&fr, name);
  if (ioctl(sock, SIOCGIFFLAGS, &fr) != 0)
    return Status::Error("get flags: " + ErrnoText(errno));
  fr.ifr_flags = static_cast<short>(fr.ifr_flags | IFF_UP);
  if (ioctl(sock, SIOCSIFFLAGS, &fr) != 0) return Status::Error("up: " + ErrnoText(errno));
  return Status::Ok();
}

// 0.0.0.0/0 via gateway, or on-link "dev NAME" when gateway is null.
Status AddDefaultRoute(int sock, const std::string& name, const in_addr* gateway,
                       const std::string& gateway_text) {
  rtentry rt{};
  rt.rt_dst = SockaddrV4(in_addr{});
  rt.rt_genmask = SockaddrV4(in_addr{});
  rt.rt_flags = RTF_UP;
  if (gateway != nullptr) {
    rt.rt_gateway = SockaddrV4(*gateway);
    rt.rt_flags = static_cast<unsigned short>(rt.rt_flags | RTF_GATEWAY);
  }
  char dev_name[IFNAMSIZ] = {};
  std::memcpy(dev_name, name.data(), name.size());
  rt.rt_dev = dev_name;
  if (ioctl(sock, SIOCADDRT, &rt) != 0)
    return Status::Error("default route " +
                         (gateway != nullptr ? "via " + gateway_text : "dev " + name) + ": " +
                         ErrnoText(errno));
  return Status::Ok();
}

// The device's gso_max_size, through rtnetlink (there is no ioctl for it):
// one RTM_NEWLINK with IFLA_GSO_MAX_SIZE, and its acknowledgement.
Status SetGsoMaxSize(const std::string& name, uint32_t size) {
  const unsigned index = if_nametoindex(name.c_str());
  if (index == 0) return Status::Error("gso_max_size: " + ErrnoText(errno));
  Fd nl(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (nl.get() < 0) return Status::Error("gso_max_size: netlink: " + ErrnoText(errno));
  struct {
    nlmsghdr h;
    ifinfomsg ifi;
    rtattr attr;
    uint32_t value;
  } req{};
  req.h.nlmsg_len = sizeof(req);
  req.h.nlmsg_type = RTM_NEWLINK;
  req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  req.h.nlmsg_seq = 1;
  req.ifi.ifi_family = AF_UNSPEC;
  req.ifi.ifi_index = static_cast<int>(index);
  req.attr.rta_type = IFLA_GSO_MAX_SIZE;
  req.attr.rta_len = RTA_LENGTH(sizeof(uint32_t));
  req.value = size;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (sendto(nl.get(), &req, sizeof(req), 0, reinterpret_cast<sockaddr*>(&kernel), sizeof(kernel)) < 0)
    return Status::Error("gso_max_size: netlink send: " + ErrnoText(errno));
  struct {
    nlmsghdr h;
    nlmsgerr err;
  } ack{};
  const ssize_t n = recv(nl.get(), &ack, sizeof(ack), 0);
  if (n < 0) return Status::Error("gso_max_size: netlink recv: " + ErrnoText(errno));
  if (static_cast<size_t>(n) < sizeof(nlmsghdr) + sizeof(int) || ack.h.nlmsg_type != NLMSG_ERROR)
    return Status::Error("gso_max_size: unexpected netlink reply");
  if (ack.err.error != 0) return Status::Error("gso_max_size " + std::to_string(size) + ": " + ErrnoText(-ack.err.error));
  return Status::Ok();
}

}  // namespace

StatusOr<std::unique_ptr<TapDevice>> TapDevice::Create(const TapConfig& cfg) {
  auto who = [](const std::string& name) {
    return "tap " + (name.empty() ? std::string("(unnamed)") : name) + ": ";
  };
  if (cfg.name.size() >= IFNAMSIZ)
    return Status::Error(who(cfg.name) + "name must be at most " + std::to_string(IFNAMSIZ - 1) +
                         " bytes");
  Ipv4Prefix prefix;
  if (!cfg.address.empty() && !ParsePrefix(cfg.address, &prefix))
    return Status::Error(who(cfg.name) + "address '" + cfg.address +
                         "': expected IPv4 a.b.c.d[/len]");
  in_addr gateway{};
  const bool has_gateway = !cfg.gateway.empty() && cfg.gateway != "none";
  if (has_gateway && inet_pton(AF_INET, cfg.gateway.c_str(), &gateway) != 1)
    return Status::Error(who(cfg.name) + "gateway '" + cfg.gateway +
                         "': expected IPv4 a.b.c.d or 'none'");
  const bool default_route = has_gateway || (cfg.gateway.empty() && !cfg.address.empty());

  std::unique_ptr<TapDevice> dev(new TapDevice());
  dev->netns_ = cfg.netns;
  dev->mac_ = !cfg.mac.IsZero()        ? cfg.mac
              : !cfg.address.empty() ? MacFromIpv4(prefix.addr)
                                     : RandomMac();
  dev->mtu_ = cfg.mtu;
  dev->address_ = cfg.address;

  // Everything runs inside the namespace: /dev/net/tun creates the device in
  // the namespace of the opener, and the configuration socket must see it.
  Status st = RunInNetns(cfg.netns, [&]() -> Status {
    Fd tun(-1);
    Status s = OpenTap(cfg.name, cfg.offload, &tun, &dev->name_, &dev->offloads_);
    if (!s.ok()) return s;
    Fd sock(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (sock.get() < 0) return Status::Error("socket: " + ErrnoText(errno));
    s = ConfigureLink(sock.get(), dev->name_, dev->mac_, cfg.mtu, cfg.address, prefix);
    if (!s.ok()) return s;
    if (cfg.gso_max_size != 0 && (dev->offloads_ & (kTunFTso4 | kTunFTso6)) != 0) {
      s = SetGsoMaxSize(dev->name_, cfg.gso_max_size);
      if (!s.ok()) return s;
    }
    if (default_route) {
      s = AddDefaultRoute(sock.get(), dev->name_, has_gateway ? &gateway : nullptr, cfg.gateway);
      if (!s.ok()) return s;
    }
    dev->fd_ = tun.release();
    return Status::Ok();
  });
  // The kernel's name when it picked one; on failure the device is gone
  // again (its descriptor closed), the message says how far we got.
  if (!st.ok())
    return Status::Error(who(dev->name_.empty() ? cfg.name : dev->name_) + st.message());
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
