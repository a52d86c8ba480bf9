// mflowd's [store] settings: the etcd control plane of a multi-host overlay
// (docs/STORE.md). Off unless endpoints are given.
//
//   [store]
//   endpoints = ["http://198.18.0.254:2379"]   # --etcd-endpoints a,b,c
//   cafile = ""  certfile = ""  keyfile = ""   # --etcd-cafile/--etcd-certfile/--etcd-keyfile
//   prefix = "/mflow/network/"                 # --etcd-prefix
//   host_id = ""                               # --host-id; "" = /etc/machine-id
//   lease_ttl_s = 30                           # --subnet-lease-ttl
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "wire/ethernet.h"

namespace mflow::daemon {

struct StoreConfig {
  std::vector<std::string> endpoints;  // empty = no store (peers from underlay.peers only)
  std::string cafile, certfile, keyfile;
  std::string prefix = "/mflow/network/";
  std::string host_id;  // "" = the machine id
  uint32_t lease_ttl_s = 30;

  bool enabled() const { return !endpoints.empty(); }
  bool operator==(const StoreConfig&) const = default;
};

// Cross-field checks: endpoints look like URLs, the prefix is absolute and
// ends in '/', the host id is valid, certfile and keyfile come together.
Status ValidateStore(const StoreConfig& s);
// The host id to publish: s.host_id, else /etc/machine-id's first line.
StatusOr<std::string> ResolveHostId(const StoreConfig& s);
// The VTEP MAC published for a host id: locally administered unicast
// (02:...) from a hash of the id, so it is the same after every restart.
wire::MacAddr VtepMacFor(std::string_view host_id);

}  // namespace mflow::daemon
