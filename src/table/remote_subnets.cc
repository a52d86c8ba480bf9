#include "table/remote_subnets.h"

#include <algorithm>
#include <iterator>

namespace mflow {

RemoteSubnets::RemoteSubnets(uint32_t vni) {
  auto* t = new Table;
  t->vni = vni;
  table_.store(t, std::memory_order_seq_cst);
}

RemoteSubnets::~RemoteSubnets() {
  // No reader may run any more (the owner outlives the data path).
  delete table_.load(std::memory_order_seq_cst);
  for (const Table* t : retired_) delete t;
}

const RemoteSubnets::Table* RemoteSubnets::Acquire() const noexcept {
  readers_.fetch_add(1, std::memory_order_seq_cst);
  return table_.load(std::memory_order_seq_cst);
}

void RemoteSubnets::Set(uint32_t vni, std::vector<RemoteSubnet> subnets, RemoteSubnet overlay) {
  auto* t = new Table;
  t->vni = vni;
  t->overlay = overlay;
  t->has_overlay = overlay.len != 0;
  t->subnets = std::move(subnets);
  std::sort(t->subnets.begin(), t->subnets.end(),
            [](const RemoteSubnet& a, const RemoteSubnet& b) { return a.network < b.network; });
  // seq_cst: a reader that loads the new pointer sees the vector it points
  // to, and the exchange is ordered against the readers' count (banner).
  retired_.push_back(table_.exchange(t, std::memory_order_seq_cst));
  if (readers_.load(std::memory_order_seq_cst) == 0) {
    for (const Table* old : retired_) delete old;
    retired_.clear();
  }
}

bool RemoteSubnets::Lookup(uint32_t vni, uint32_t ipv4, wire::IpAddr* vtep) const noexcept {
  const Table* t = Acquire();
  bool found = false;
  if (t->vni == vni && !t->subnets.empty()) {
    // The last subnet starting at or below the address is the only
    // candidate (subnets do not overlap).
    auto it = std::upper_bound(t->subnets.begin(), t->subnets.end(), ipv4,
                               [](uint32_t a, const RemoteSubnet& s) { return a < s.network; });
    if (it != t->subnets.begin() && std::prev(it)->Contains(ipv4)) {
      *vtep = std::prev(it)->vtep;
      found = true;
    }
  }
  Release();
  return found;
}

bool RemoteSubnets::InOverlay(uint32_t vni, uint32_t ipv4) const noexcept {
  const Table* t = Acquire();
  const bool in = t->vni == vni && t->has_overlay && t->overlay.Contains(ipv4);
  Release();
  return in;
}

size_t RemoteSubnets::size() const {
  const Table* t = Acquire();
  const size_t n = t->subnets.size();
  Release();
  return n;
}

wire::MacAddr RemoteSubnets::MacFor(uint32_t ipv4) {
  return wire::MacAddr{{0x0a, 0x58, static_cast<uint8_t>(ipv4 >> 24), static_cast<uint8_t>(ipv4 >> 16),
                        static_cast<uint8_t>(ipv4 >> 8), static_cast<uint8_t>(ipv4)}};
}

bool RemoteSubnets::Ipv4OfMac(const wire::MacAddr& mac, uint32_t* ipv4) {
  if (mac.b[0] != 0x0a || mac.b[1] != 0x58) return false;
  *ipv4 = uint32_t{mac.b[2]} << 24 | uint32_t{mac.b[3]} << 16 | uint32_t{mac.b[4]} << 8 | mac.b[5];
  return true;
}

}  // namespace mflow
