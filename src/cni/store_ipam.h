// The host-local range from the host's subnet in the store (docs/CNI.md,
// "Many hosts"): with mflowd on etcd, each host owns one subnet of the
// overlay, and its containers must take their addresses from it. A conflist
// whose ipam is host-local without "ranges" or "subnet" gets them filled
// from mflowd's "subnet" reply:
//
//   "ranges": [[{"subnet": NETWORK, "rangeStart": SUBNET.2,
//                "rangeEnd": SUBNET.last-1, "gateway": SUBNET.1}]]
//
// The address's prefix is the whole overlay network (198.19.0.0/16), so
// every other host's containers are on-link: their ARP and neighbour
// requests are answered by mflowd's proxy, and no route or gateway is
// needed to reach them. The allocation stays inside the host's subnet.
// Everything else in the conflist is handed to host-local unchanged.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "cni/cni_error.h"

namespace mflow::cni {

// Whether the network config's ipam is host-local with no range of its own.
bool WantsStoreRange(std::string_view stdin_text);

// stdin_text with ipam.ranges filled from subnet ("198.19.7.0/24") inside
// network ("198.19.0.0/16"); code 7 (invalid) when they are not IPv4 CIDRs,
// the subnet is not inside the network, or it is longer than /30.
CniOr<std::string> WithStoreRange(std::string_view stdin_text, const std::string& subnet,
                                  const std::string& network);

}  // namespace mflow::cni
