// SubnetRecord: what one host publishes under <prefix>subnets/<a.b.c.d-len>,
// attached to its lease:
//
//   {"host_id": "node-7", "subnet": "198.19.7.0/24", "underlay": ["198.18.0.7"],
//    "vtep_mac": "02:00:c6:13:07:00", "port": 4789, "version": "0.1.0", "mode": "microflow"}
//
// host_id is stable across restarts (machine-id or the operator's name): a
// restarted host finds its own record by it. vtep_mac is the host's stable
// VTEP MAC, so peers never keep a stale one after a reboot. Unknown fields
// are ignored (a newer mflow may add some).
//
// Records come from the store, i.e. from any host or an operator's etcdctl:
// ParseSubnetRecord checks each field and says which one is wrong.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "store/ip_net.h"
#include "store/network_config.h"
#include "wire/ethernet.h"
#include "wire/ip_addr.h"

namespace mflow::store {

struct SubnetRecord {
  std::string host_id;
  IpNet subnet;
  std::vector<wire::IpAddr> underlay;  // 1..4 unicast addresses
  wire::MacAddr vtep_mac;
  uint16_t port = 4789;
  std::string version;
  std::string mode;  // flow | stage | microflow

  bool operator==(const SubnetRecord&) const = default;
  std::string ToJson() const;
};

// A host id: 1..128 characters of [A-Za-z0-9._:-].
bool ValidHostId(std::string_view id);

// Parses the JSON value and checks it on its own (types, ranges, a unicast
// non-zero MAC, unicast underlay addresses).
StatusOr<SubnetRecord> ParseSubnetRecord(std::string_view json_text);

// Checks a parsed record against the network and the key it was found
// under: the key's subnet is IPv4, inside the overlay, at least as long as
// the network's prefix, equal to the record's; the underlay addresses are
// inside config.underlay when that is set.
Status CheckRecordFits(const SubnetRecord& r, const IpNet& key_subnet, const NetworkConfig& config);

}  // namespace mflow::store
