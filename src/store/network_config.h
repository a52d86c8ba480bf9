// NetworkConfig: the overlay's one shared setting, the JSON value of
// <prefix>config, written once by the operator (flannel's /coreos.com/network/config):
//
//   {"network": "198.19.0.0/16", "subnet_len": 24, "vni": 42, "port": 4789,
//    "underlay": ["198.18.0.0/15"]}
//
// network: the overlay CIDR (IPv4), cut into one subnet of subnet_len per
// host. vni and port: VXLAN's (RFC 7348). underlay (optional): the ranges a
// host's underlay address must be in; a record outside them is refused.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "store/ip_net.h"

namespace mflow::store {

struct NetworkConfig {
  IpNet network;
  uint8_t subnet_len = 24;
  uint32_t vni = 1;
  uint16_t port = 4789;
  std::vector<IpNet> underlay;  // empty = any

  bool operator==(const NetworkConfig&) const = default;
  // 2^(subnet_len - network.len), capped at 2^24 (the registry's search bound).
  uint64_t SubnetCount() const;
  // The i-th subnet (i < SubnetCount()).
  IpNet SubnetAt(uint64_t i) const;
  std::string ToJson() const;
};

// Parses and validates; the error names the field ("config.subnet_len: 33
// is not in 17..30").
StatusOr<NetworkConfig> ParseNetworkConfig(std::string_view json_text);

}  // namespace mflow::store
