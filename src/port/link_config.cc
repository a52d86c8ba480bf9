#include "port/link_config.h"

#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/nexthop.h>
#include <netlink/route/route.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "common/errno_text.h"

namespace mflow {
namespace {

// libnl turns the kernel's errno into its own codes; the usual ones read as
// the errno text a user knows from `ip` ("File exists"), the rest as libnl's.
std::string NlErrorText(int err) {
  switch (err < 0 ? -err : err) {
    case NLE_EXIST: return ErrnoText(EEXIST);
    case NLE_INVAL: return ErrnoText(EINVAL);
    case NLE_RANGE: return ErrnoText(ERANGE);
    case NLE_OBJ_NOTFOUND: return ErrnoText(ENODEV);
    case NLE_NODEV: return ErrnoText(ENODEV);
    case NLE_NOADDR: return ErrnoText(EADDRNOTAVAIL);
    case NLE_PERM: return ErrnoText(EPERM);
    case NLE_NOACCESS: return ErrnoText(EACCES);
    case NLE_BUSY: return ErrnoText(EBUSY);
    case NLE_OPNOTSUPP: return ErrnoText(EOPNOTSUPP);
    case NLE_AF_NOSUPPORT: return ErrnoText(EAFNOSUPPORT);
    default: return nl_geterror(err);
  }
}

// The kernel's errno of the last error acknowledgement, kept by an error
// callback on the socket: libnl's own codes merge several errnos into one
// ("Unspecific failure" for ENETUNREACH), the user should see the kernel's.
int KeepKernelErrno(sockaddr_nl*, nlmsgerr* e, void* arg) {
  *static_cast<int*>(arg) = e->error < 0 ? -e->error : e->error;
  return NL_STOP;  // libnl then returns its code for it, as without the callback
}

StatusCode CodeOfErrno(int e) {
  switch (e) {
    case EEXIST: return StatusCode::kExists;
    case ENODEV: return StatusCode::kNotFound;
    case EINVAL:
    case ERANGE: return StatusCode::kInvalid;
    default: return StatusCode::kFailed;
  }
}

}  // namespace

Status LinkConfig::Error(const std::string& step, int err) const {
  if (*kernel_errno_ != 0)
    return Status::Error(CodeOfErrno(*kernel_errno_), step + ": " + ErrnoText(*kernel_errno_));
  const int e = err < 0 ? -err : err;
  const StatusCode code = e == NLE_EXIST                              ? StatusCode::kExists
                          : e == NLE_OBJ_NOTFOUND || e == NLE_NODEV ? StatusCode::kNotFound
                          : e == NLE_INVAL || e == NLE_RANGE          ? StatusCode::kInvalid
                                                                      : StatusCode::kFailed;
  return Status::Error(code, step + ": " + NlErrorText(err));
}

namespace {

// Owners of libnl's reference-counted objects.
struct AddrPut {
  void operator()(nl_addr* a) const { nl_addr_put(a); }
};
struct LinkPut {
  void operator()(rtnl_link* l) const { rtnl_link_put(l); }
};
struct RtAddrPut {
  void operator()(rtnl_addr* a) const { rtnl_addr_put(a); }
};
struct RoutePut {
  void operator()(rtnl_route* r) const { rtnl_route_put(r); }
};
struct MsgFree {
  void operator()(nl_msg* m) const { nlmsg_free(m); }
};
using NlAddr = std::unique_ptr<nl_addr, AddrPut>;
using Link = std::unique_ptr<rtnl_link, LinkPut>;

int Af(const wire::IpAddr& a) { return a.is_v4() ? AF_INET : AF_INET6; }

NlAddr BuildAddr(const wire::IpAddr& a, unsigned prefix_len) {
  NlAddr n(nl_addr_build(Af(a), a.bytes, a.is_v4() ? 4 : 16));
  if (n) nl_addr_set_prefixlen(n.get(), static_cast<int>(prefix_len));
  return n;
}

}  // namespace

void LinkConfig::SockDeleter::operator()(nl_sock* s) const { nl_socket_free(s); }

LinkConfig::LinkConfig(nl_sock* s) : sock_(s), kernel_errno_(std::make_unique<int>(0)) {}

LinkConfig::~LinkConfig() = default;

StatusOr<LinkConfig> LinkConfig::Open() {
  nl_sock* s = nl_socket_alloc();
  if (s == nullptr) return Status::Error("netlink: cannot allocate a socket");
  LinkConfig lc(s);
  // Connect creates the socket, in this thread's network namespace.
  if (const int err = nl_connect(s, NETLINK_ROUTE); err < 0) return lc.Error("netlink connect", err);
  if (const int err = nl_socket_modify_err_cb(s, NL_CB_CUSTOM, KeepKernelErrno, lc.kernel_errno_.get());
      err < 0)
    return lc.Error("netlink error callback", err);
  return lc;
}

StatusOr<int> LinkConfig::IfIndex(const std::string& name) {
  *kernel_errno_ = 0;
  rtnl_link* raw = nullptr;
  const int err = rtnl_link_get_kernel(sock_.get(), 0, name.c_str(), &raw);
  Link link(raw);
  if (err < 0) return Error("device " + name, err);
  return rtnl_link_get_ifindex(link.get());
}

StatusOr<bool> LinkConfig::Exists(const std::string& name) {
  auto idx = IfIndex(name);
  if (idx.ok()) return true;
  if (idx.status().code() == StatusCode::kNotFound) return false;
  return idx.status();
}

Status LinkConfig::ChangeLink(int ifindex, const std::string& step,
                              const std::function<void(rtnl_link*)>& fill) {
  Link orig(rtnl_link_alloc());
  Link change(rtnl_link_alloc());
  if (!orig || !change) return Status::Error(step + ": out of memory");
  rtnl_link_set_ifindex(orig.get(), ifindex);
  fill(change.get());
  *kernel_errno_ = 0;
  if (const int err = rtnl_link_change(sock_.get(), orig.get(), change.get(), 0); err < 0)
    return Error(step, err);
  return Status::Ok();
}

Status LinkConfig::SetMac(int ifindex, const wire::MacAddr& mac) {
  NlAddr a(nl_addr_build(AF_LLC, mac.b.data(), mac.b.size()));
  if (!a) return Status::Error("mac " + mac.ToString() + ": out of memory");
  return ChangeLink(ifindex, "mac " + mac.ToString(),
                    [&](rtnl_link* l) { rtnl_link_set_addr(l, a.get()); });
}

Status LinkConfig::SetMtu(int ifindex, uint32_t mtu) {
  return ChangeLink(ifindex, "mtu " + std::to_string(mtu),
                    [&](rtnl_link* l) { rtnl_link_set_mtu(l, mtu); });
}

Status LinkConfig::SetTxQueueLen(int ifindex, uint32_t len) {
  return ChangeLink(ifindex, "txqueuelen " + std::to_string(len),
                    [&](rtnl_link* l) { rtnl_link_set_txqlen(l, len); });
}

Status LinkConfig::SetUp(int ifindex) {
  return ChangeLink(ifindex, "up", [](rtnl_link* l) { rtnl_link_set_flags(l, IFF_UP); });
}

Status LinkConfig::SetGsoMaxSize(int ifindex, uint32_t size) {
  const std::string step = "gso_max_size " + std::to_string(size);
  std::unique_ptr<nl_msg, MsgFree> msg(nlmsg_alloc_simple(RTM_NEWLINK, 0));
  if (!msg) return Status::Error(step + ": out of memory");
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  ifi.ifi_index = ifindex;
  if (nlmsg_append(msg.get(), &ifi, sizeof(ifi), NLMSG_ALIGNTO) < 0 ||
      nla_put_u32(msg.get(), IFLA_GSO_MAX_SIZE, size) < 0)
    return Status::Error(step + ": message too large");
  // nl_send_sync sends, waits for the acknowledgement and frees the message.
  *kernel_errno_ = 0;
  const int err = nl_send_sync(sock_.get(), msg.release());
  if (err < 0) return Error(step, err);
  return Status::Ok();
}

Status LinkConfig::AddAddress(int ifindex, const IpPrefix& addr) {
  const std::string step = "address " + addr.ToString();
  *kernel_errno_ = 0;
  std::unique_ptr<rtnl_addr, RtAddrPut> a(rtnl_addr_alloc());
  NlAddr local = BuildAddr(addr.addr, addr.len);
  if (!a || !local) return Status::Error(step + ": out of memory");
  rtnl_addr_set_ifindex(a.get(), ifindex);
  if (const int err = rtnl_addr_set_local(a.get(), local.get()); err < 0) return Error(step, err);
  NlAddr brd;
  if (addr.addr.is_v4() && addr.len < 31) {
    // The prefix's broadcast address (the host part all ones), as `ip addr
    // add ... brd +` sets it and the SIOCSIFNETMASK ioctl used before did.
    const uint32_t host_mask = addr.len == 0 ? ~0u : ~0u >> addr.len;
    brd = BuildAddr(wire::IpAddr::V4(addr.addr.v4_host() | host_mask), 32);
    if (!brd) return Status::Error(step + ": out of memory");
    if (const int err = rtnl_addr_set_broadcast(a.get(), brd.get()); err < 0)
      return Error(step, err);
  }
  if (addr.addr.is_v6()) {
    // No duplicate address detection: a DAD address stays "tentative" for
    // about a second (and longer while mflowd learns where the peers are),
    // and a tentative address can neither send nor receive, so the
    // container's first connect or ping after the port appears would fail.
    // The address is unique by construction (IPAM or the operator), as with
    // the IPv4 address, which has no DAD either.
    rtnl_addr_set_flags(a.get(), IFA_F_NODAD);
  }
  // NLM_F_EXCL: an address that is already there is an error, not a no-op.
  *kernel_errno_ = 0;
  if (const int err = rtnl_addr_add(sock_.get(), a.get(), NLM_F_EXCL); err < 0)
    return Error(step, err);
  return Status::Ok();
}

Status LinkConfig::AddRoute(int ifindex, const IpPrefix& dst, const std::optional<wire::IpAddr>& gw) {
  const std::string step =
      "route " + dst.ToString() + (gw ? " via " + gw->ToString() : std::string(" on-link"));
  *kernel_errno_ = 0;
  if (gw && gw->family != dst.addr.family)
    return Status::Error(StatusCode::kInvalid, step + ": gateway of another address family");
  std::unique_ptr<rtnl_route, RoutePut> r(rtnl_route_alloc());
  NlAddr d = BuildAddr(dst.Network().addr, dst.len);
  if (!r || !d) return Status::Error(step + ": out of memory");
  rtnl_route_set_family(r.get(), static_cast<uint8_t>(Af(dst.addr)));
  if (const int err = rtnl_route_set_dst(r.get(), d.get()); err < 0) return Error(step, err);
  rtnl_route_set_table(r.get(), RT_TABLE_MAIN);
  rtnl_route_set_protocol(r.get(), RTPROT_BOOT);
  rtnl_route_set_type(r.get(), RTN_UNICAST);
  rtnl_route_set_scope(r.get(), gw ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK);
  rtnl_nexthop* nh = rtnl_route_nh_alloc();
  if (nh == nullptr) return Status::Error(step + ": out of memory");
  rtnl_route_nh_set_ifindex(nh, ifindex);
  NlAddr g;
  if (gw) {
    g = BuildAddr(*gw, gw->is_v4() ? 32 : 128);
    if (!g) {
      rtnl_route_nh_free(nh);
      return Status::Error(step + ": out of memory");
    }
    rtnl_route_nh_set_gateway(nh, g.get());  // takes its own reference
  }
  rtnl_route_add_nexthop(r.get(), nh);  // the route owns nh from here
  // NLM_F_CREATE (libnl's default) without NLM_F_EXCL, as SIOCADDRT did: the
  // same route twice is an error ("File exists"), but a default route of a
  // second port in the same namespace (another device) is added beside the
  // first one instead of being refused.
  *kernel_errno_ = 0;
  if (const int err = rtnl_route_add(sock_.get(), r.get(), 0); err < 0)
    return Error(step, err);
  return Status::Ok();
}

}  // namespace mflow
