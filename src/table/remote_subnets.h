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
// builds a new one and swaps the pointer, so a reader sees the old table or
// the new one, never half of each. Reclamation is a reader count: a Lookup
// counts itself in (seq_cst) before it loads the pointer and out after its
// last access; Set exchanges the pointer (seq_cst) and then frees the
// replaced tables only when it sees the count at zero. A reader that still
// holds the old pointer must have counted itself in before the exchange, so
// it is in the count until it is done; one that counts in later loads the
// new pointer. Tables that cannot be freed yet wait for the next Set (or the
// destructor). (std::atomic<std::shared_ptr> would do the same job, but
// libstdc++ 12 guards it with a lock bit that ThreadSanitizer cannot see.)
//
// Thread-safety: Set from the control path (one writer at a time); Lookup
// and InOverlay from any number of data-path threads, without locks. They
// run only on a forwarding miss or an ARP/ND request, never per packet of
// an established flow (the shared count is a written cache line).
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
  ~RemoteSubnets();
  RemoteSubnets(const RemoteSubnets&) = delete;
  RemoteSubnets& operator=(const RemoteSubnets&) = delete;

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
  // Counts the caller in for the life of the returned pointer (Release).
  const Table* Acquire() const noexcept;
  void Release() const noexcept { readers_.fetch_sub(1, std::memory_order_seq_cst); }

  std::atomic<const Table*> table_;
  mutable std::atomic<uint64_t> readers_{0};
  std::vector<const Table*> retired_;  // Set's thread only
};

}  // namespace mflow
