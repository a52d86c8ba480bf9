// The daemon's store mode (docs/STORE.md): the StoreAgent's changes
// programmed into the data path, and the store's control requests.
//
// What a change of the remote hosts programs, all derived from their
// subnet records (no per-container record exists):
//   - the UDP port's peers: the hosts' underlay addresses (with
//     underlay.peers), the only VXLAN sources accepted and destinations
//     sent to;
//   - the remote subnets: fdb_forward_tx sends a container MAC 0a:58:<IPv4>
//     of a remote subnet to its host's VTEP, and neigh_proxy answers ARP and
//     neighbour solicitations for its addresses;
//   - a flush of learned forwarding entries when a host left or moved, so
//     no entry keeps pointing at the old VTEP (they are relearned or
//     derived again at the next packet).
#include <algorithm>
#include <cstring>

#include "daemon/daemon.h"
#include "daemon/log.h"

namespace mflow::daemon {

Status Daemon::InitStore() {
  if (!cfg_.store.enabled()) return Status::Ok();
  if (std::find(cfg_.vnis.begin(), cfg_.vnis.end(), 0u) != cfg_.vnis.end())
    return Status::Error("overlay.vnis: 0 is not a VNI");
  store_family_ = cfg_.local.family;  // a reload may move the address, never its family
  StoreAgentOptions o;
  o.store = cfg_.store;
  o.local = cfg_.local;
  o.port = cfg_.port;
  o.mode = std::string(SteeringModeName(cfg_.mode));
  o.version = "0.1.0";
  auto agent = StoreAgent::Create(
      o, [this](const StoreView& view, const store::NetworkConfig& network, bool flush) {
        ApplyStorePeers(view, network, flush);
      });
  if (!agent.ok()) return agent.status();
  store_ = std::move(agent).value();
  return Status::Ok();
}

Status Daemon::SetUdpPeersLocked() {
  // store_peers_ is unique already (ApplyStorePeers), so each is checked
  // against the few static peers only: a search of the growing list made
  // this quadratic, 75 % of mflowd's CPU with 20,000 hosts in the store.
  std::vector<wire::IpAddr> all = static_peers_;
  all.reserve(static_peers_.size() + store_peers_.size());
  for (const wire::IpAddr& a : store_peers_)
    if (std::find(static_peers_.begin(), static_peers_.end(), a) == static_peers_.end())
      all.push_back(a);
  return udp_->SetPeers(all);
}

void Daemon::RestoreStaticPeers(const std::vector<wire::IpAddr>& plain) {
  std::lock_guard<std::mutex> lock(peers_mu_);
  static_peers_ = plain;
  (void)SetUdpPeersLocked();
}

void Daemon::ApplyStorePeers(const StoreView& view, const store::NetworkConfig& network,
                             bool removed_or_moved) {
  const uint32_t vni = network.vni;
  // cfg_.vnis never changes after start (a restart-only setting).
  if (std::find(cfg_.vnis.begin(), cfg_.vnis.end(), vni) == cfg_.vnis.end() && vni != store_bad_vni_) {
    LogError("store: the network's VNI is not in overlay.vnis: its containers cannot be reached",
             {{"vni", vni}});
    store_bad_vni_ = vni;
  }
  std::vector<wire::IpAddr> vteps;
  std::vector<RemoteSubnet> subnets;
  subnets.reserve(view.peers.size());
  for (const auto& [net, peer] : view.peers) {
    if (!view.Remote(net, peer)) continue;
    // The first underlay address of our family is the host's VTEP.
    const auto it = std::find_if(peer.record.underlay.begin(), peer.record.underlay.end(),
                                 [this](const wire::IpAddr& a) { return a.family == store_family_; });
    if (it == peer.record.underlay.end() || !net.addr.is_v4()) continue;
    vteps.push_back(*it);
    subnets.push_back({net.addr.v4_host(), net.len, *it});
  }
  // Sorted and unique: compared with the last set, so that an event that
  // changes no address (a record rewritten, a refusal) costs the port nothing.
  auto less = [](const wire::IpAddr& a, const wire::IpAddr& b) {
    return std::memcmp(&a, &b, sizeof(wire::IpAddr)) < 0;
  };
  std::sort(vteps.begin(), vteps.end(), less);
  vteps.erase(std::unique(vteps.begin(), vteps.end()), vteps.end());
  {
    std::lock_guard<std::mutex> lock(peers_mu_);
    const bool same = vteps == store_peers_;
    store_peers_ = std::move(vteps);
    Status s = Status::Ok();
    if (store_peers_.size() + static_peers_.size() > UdpPort::kMaxPeerSlots)
      s = Status::Error("underlay: " + std::to_string(store_peers_.size()) + " hosts in the store, more than the " +
                        std::to_string(UdpPort::kMaxPeerSlots) + " peers the UDP port takes");
    else if (!same || !store_peer_error_.empty())
      s = SetUdpPeersLocked();
    if (!s.ok()) {
      // The port keeps its previous peers; the subnets still change, so a
      // host beyond the port's limit is known but not reachable.
      if (s.message() != store_peer_error_)
        LogError("store: the UDP port refused the peers", {{"error", s.message()}});
      store_peer_error_ = s.message();
    } else {
      store_peer_error_.clear();
    }
  }
  // Removed hosts: the subnets go first, then the learned entries, so no
  // packet derives an entry for a host that is gone after the flush.
  remote_subnets_->Set(vni, std::move(subnets),
                       {network.network.addr.v4_host(), network.network.len, wire::IpAddr{}});
  if (removed_or_moved) fdb_->Flush();
}

nlohmann::json Daemon::StoreRequest(const std::string& cmd) {
  using nlohmann::json;
  if (!store_)
    return {{"ok", false}, {"code", "not_found"},
            {"error", cmd + ": mflowd runs without a store (no --etcd-endpoints)"}};
  if (cmd == "subnet") {
    const auto subnet = store_->subnet();
    if (!subnet)
      return {{"ok", false}, {"code", "busy"},
              {"error", "subnet: not claimed yet (etcd unreachable?); see mflowctl store"}};
    return {{"ok", true}, {"subnet", *subnet}, {"network", store_->network().value_or("")}};
  }
  json j = store_->Json(cmd == "store");
  {
    std::lock_guard<std::mutex> lock(peers_mu_);
    j["udp_peers"] = store_peers_.size();
    j["udp_peer_error"] = store_peer_error_;
  }
  j["remote_subnets"] = remote_subnets_->size();
  if (cmd == "store") j["ok"] = true;
  return j;
}

}  // namespace mflow::daemon
