// LinkConfig: configures network devices through rtnetlink (libnl-route-3):
// MAC, MTU, up, gso_max_size, IPv4 and IPv6 addresses and routes, the
// way `ip link/addr/route` would, for both address families alike.
//
// A netlink socket talks to the network namespace of the thread that
// opened it, so a LinkConfig is opened inside RunInNetns (netns.h), on the
// thread that joined the container's namespace, and used only there.
//
// Every error names its step and the object: "address fd00::5/64: File
// exists", "mtu 1400: Invalid argument". A missing device is kNotFound.
//
// Thread-safety: one thread at a time per LinkConfig (one socket, one
// sequence of requests and acknowledgements).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/status.h"
#include "port/ip_prefix.h"
#include "wire/ethernet.h"
#include "wire/ip_addr.h"

struct nl_sock;
struct rtnl_link;

namespace mflow {

class LinkConfig {
 public:
  // Opens and connects a NETLINK_ROUTE socket in the calling thread's
  // network namespace.
  static StatusOr<LinkConfig> Open();
  LinkConfig(LinkConfig&&) noexcept = default;
  LinkConfig& operator=(LinkConfig&&) noexcept = default;
  ~LinkConfig();

  // The index of the device called name; kNotFound when there is none.
  StatusOr<int> IfIndex(const std::string& name);
  // Whether a device of that name (or alternative name) exists.
  StatusOr<bool> Exists(const std::string& name);

  Status SetMac(int ifindex, const wire::MacAddr& mac);
  Status SetMtu(int ifindex, uint32_t mtu);
  Status SetUp(int ifindex);
  // The device's transmit queue length (IFLA_TXQLEN). For a TAP it is the
  // size of tun's ring of frames waiting for the reader: tun resizes the
  // ring when it changes.
  Status SetTxQueueLen(int ifindex, uint32_t len);
  // The largest GSO super-frame the stack hands the device (IFLA_GSO_MAX_SIZE;
  // there is no ioctl for it, and libnl has no setter: one RTM_NEWLINK built
  // with libnl's message helpers).
  Status SetGsoMaxSize(int ifindex, uint32_t size);
  // Adds addr with its prefix length (the kernel adds the prefix route).
  // IPv4: with the broadcast address of the prefix, as `ip addr add ... brd +`.
  // IPv6: without duplicate address detection (see link_config.cc).
  Status AddAddress(int ifindex, const IpPrefix& addr);
  // Adds dst "dev" the device (on-link) or via gw, in the main table;
  // gw, if any, of dst's family. The same route on the same device twice is
  // an error; the same destination on another device is not.
  Status AddRoute(int ifindex, const IpPrefix& dst, const std::optional<wire::IpAddr>& gw);

 private:
  struct SockDeleter {
    void operator()(nl_sock* s) const;
  };
  explicit LinkConfig(nl_sock* s);
  // step + the kernel's errno text if it sent one, else libnl's error text.
  Status Error(const std::string& step, int err) const;
  // One RTM_NEWLINK on the device with the changes fill sets.
  Status ChangeLink(int ifindex, const std::string& step,
                    const std::function<void(rtnl_link*)>& fill);

  std::unique_ptr<nl_sock, SockDeleter> sock_;
  // Set by the socket's error callback (a stable address: LinkConfig moves).
  std::unique_ptr<int> kernel_errno_;
};

}  // namespace mflow
