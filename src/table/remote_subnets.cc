#include "table/remote_subnets.h"

#include <algorithm>

namespace mflow {

RemoteSubnets::RemoteSubnets(uint32_t vni) {
  auto t = std::make_shared<Table>();
  t->vni = vni;
  table_.store(std::move(t), std::memory_order_release);
}

void RemoteSubnets::Set(uint32_t vni, std::vector<RemoteSubnet> subnets, RemoteSubnet overlay) {
  auto t = std::make_shared<Table>();
  t->vni = vni;
  t->overlay = overlay;
  t->has_overlay = overlay.len != 0;
  t->subnets = std::move(subnets);
  std::sort(t->subnets.begin(), t->subnets.end(),
            [](const RemoteSubnet& a, const RemoteSubnet& b) { return a.network < b.network; });
  // Release: a reader that loads the new pointer sees the vector it points to.
  table_.store(std::move(t), std::memory_order_release);
}

bool RemoteSubnets::Lookup(uint32_t vni, uint32_t ipv4, wire::IpAddr* vtep) const noexcept {
  const std::shared_ptr<const Table> t = table_.load(std::memory_order_acquire);
  if (t->vni != vni || t->subnets.empty()) return false;
  // The last subnet starting at or below the address is the only candidate
  // (subnets do not overlap).
  auto it = std::upper_bound(t->subnets.begin(), t->subnets.end(), ipv4,
                             [](uint32_t a, const RemoteSubnet& s) { return a < s.network; });
  if (it == t->subnets.begin()) return false;
  --it;
  if (!it->Contains(ipv4)) return false;
  *vtep = it->vtep;
  return true;
}

bool RemoteSubnets::InOverlay(uint32_t vni, uint32_t ipv4) const noexcept {
  const std::shared_ptr<const Table> t = table_.load(std::memory_order_acquire);
  return t->vni == vni && t->has_overlay && t->overlay.Contains(ipv4);
}

size_t RemoteSubnets::size() const { return table_.load(std::memory_order_acquire)->subnets.size(); }

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
