// RemoteSubnets: which remote VTEP serves an overlay IPv4 address, from the
// hosts' subnets in the store (docs/STORE.md, "FDB and proxy").
//
// Every host of a store-driven overlay owns one IPv4 subnet, and a
// container's MAC defaults to 0a:58:<its IPv4> (daemon/config.h). So a
// remote container's MAC and VTEP both follow from its address and the
// subnet table, with no per-container record: the tx forwarding stage
// derives the VTEP of an unknown 0a:58 MAC here, and the neighbour proxy
// answers ARP and IPv6 neighbour solicitations here.
//
// The table is an immutable sorted vector published as a whole: Set()
// builds a new one and swaps it in (std::atomic<std::shared_ptr>), so a
// reader sees the old table or the new one, never half of each.
//
// Thread-safety: Set from the control path (one writer at a time); Lookup
// from any number of data-path threads. A Lookup takes the shared_ptr's
// internal spin bit for a few instructions; it runs only on a forwarding
// miss or an ARP/ND request, never per packet of an established flow.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "wire/ethernet.h"
#include "wire/ip_addr.h"

namespace mflow {

struct RemoteSubnet {
  uint32_t network = 0;  // IPv4, host order, host bits zero
  uint8_t len = 0;       // 0..32
  wire::IpAddr vtep;     // the owner's underlay address

  bool Contains(uint32_t a) const {
    const uint32_t mask = len == 0 ? 0 : ~uint32_t{0} << (32 - len);
    return (a & mask) == network;
  }
};

class RemoteSubnets {
 public:
  // vni: the overlay's VNI (store config); lookups in other VNIs miss.
  explicit RemoteSubnets(uint32_t vni = 0);

  // Replaces the table. Subnets must not overlap (the store's peer table
  // guarantees it); they are sorted here. overlay: the whole network
  // (network.vtep unused), in which an address no remote subnet holds is
  // local or nobody's.
  void Set(uint32_t vni, std::vector<RemoteSubnet> subnets, RemoteSubnet overlay = {});
  // The VTEP of the subnet holding ipv4 (host order) in vni.
  bool Lookup(uint32_t vni, uint32_t ipv4, wire::IpAddr* vtep) const noexcept;
  size_t size() const;
  // Whether ipv4 is in the overlay network of vni (false before a Set with one).
  bool InOverlay(uint32_t vni, uint32_t ipv4) const noexcept;

  // The container MAC convention: 0a:58:<IPv4>.
  static wire::MacAddr MacFor(uint32_t ipv4);
  // The IPv4 a 0a:58 MAC stands for, or false for any other MAC.
  static bool Ipv4OfMac(const wire::MacAddr& mac, uint32_t* ipv4);

 private:
  struct Table {
    uint32_t vni = 0;
    std::vector<RemoteSubnet> subnets;  // sorted by network
    RemoteSubnet overlay;
    bool has_overlay = false;
  };
  std::atomic<std::shared_ptr<const Table>> table_;
};

}  // namespace mflow
