#include "store/peer_table.h"

#include <algorithm>

namespace mflow::store {

PeerTable::PeerTable(std::string prefix, NetworkConfig config)
    : prefix_(std::move(prefix)), subnets_prefix_(prefix_ + "subnets/"), config_(std::move(config)) {}

StatusOr<IpNet> PeerTable::KeySubnet(const std::string& key) const {
  if (!key.starts_with(subnets_prefix_)) return Status::Error(StatusCode::kInvalid, "key: not under " + subnets_prefix_);
  auto n = IpNet::ParseKey(std::string_view(key).substr(subnets_prefix_.size()));
  if (!n) return Status::Error(StatusCode::kInvalid, "key: not <address>-<length> with the host bits zero");
  return *n;
}

StatusOr<Peer> PeerTable::ParsePeer(const KeyValue& kv, const IpNet& subnet) const {
  auto r = ParseSubnetRecord(kv.value);
  if (!r.ok()) return r.status();
  MFLOW_RETURN_IF_ERROR(CheckRecordFits(*r, subnet, config_));
  return Peer{std::move(*r), kv.create_revision, kv.mod_revision, kv.lease};
}

const Peer* PeerTable::Overlapping(const PeerMap& map, const IpNet& subnet) {
  // The map is ordered by (family, address, length) and its subnets never
  // overlap each other (every way in checks this first), so two places
  // hold all candidates, at O(log n) instead of a scan of the table (which
  // made a listing of 10,000 hosts quadratic):
  //   - subnets starting inside `subnet`: the first at or after its address;
  //   - a subnet starting before it that contains its address: only the
  //     nearest one can (an earlier one containing it would contain the
  //     nearest one too, an overlap the table cannot hold).
  const IpNet from{subnet.addr, 0};
  auto it = map.lower_bound(from);
  for (auto at = it; at != map.end(); ++at) {
    if (at->first == subnet) continue;  // itself (being replaced)
    if (at->first.addr.family == subnet.addr.family && subnet.Contains(at->first.addr)) return &at->second;
    break;
  }
  if (it != map.begin()) {
    auto prev = std::prev(it);
    if (!(prev->first == subnet) && prev->first.Overlaps(subnet)) return &prev->second;
  }
  return nullptr;
}

PeerDiff PeerTable::Reconcile(const std::vector<KeyValue>& kvs, int64_t revision) {
  PeerDiff diff;
  // Oldest claim first, so that it wins an overlap.
  std::vector<const KeyValue*> order;
  for (const auto& kv : kvs) {
    if (kv.key == prefix_ + "config") diff.config_changed = true;
    if (kv.key.starts_with(subnets_prefix_)) order.push_back(&kv);
  }
  std::stable_sort(order.begin(), order.end(), [](const KeyValue* a, const KeyValue* b) {
    return a->create_revision < b->create_revision;
  });
  PeerMap next;
  for (const KeyValue* kv : order) {
    auto subnet = KeySubnet(kv->key);
    if (!subnet.ok()) {
      diff.refused.push_back({kv->key, subnet.status().message()});
      continue;
    }
    auto peer = ParsePeer(*kv, *subnet);
    if (peer.ok()) {
      if (const Peer* other = Overlapping(next, *subnet)) {
        diff.refused.push_back({kv->key, "subnet overlaps " + other->record.subnet.ToString() + " of host " +
                                             other->record.host_id});
        continue;
      }
      next[*subnet] = std::move(*peer);
      continue;
    }
    diff.refused.push_back({kv->key, peer.status().message()});
    // A bad record does not take a working peer away.
    if (auto old = peers_.find(*subnet); old != peers_.end() && Overlapping(next, *subnet) == nullptr)
      next[*subnet] = old->second;
  }
  for (const auto& [net, peer] : peers_)
    if (!next.contains(net)) diff.changes.push_back({PeerChange::Kind::kRemove, peer});
  for (const auto& [net, peer] : next) {
    auto old = peers_.find(net);
    if (old == peers_.end()) diff.changes.push_back({PeerChange::Kind::kAdd, peer});
    else if (!(old->second.record == peer.record)) diff.changes.push_back({PeerChange::Kind::kUpdate, peer});
  }
  peers_ = std::move(next);
  revision_ = std::max(revision_, revision);
  listed_revision_ = std::max(listed_revision_, revision);
  refused_total_ += diff.refused.size();
  return diff;
}

PeerDiff PeerTable::Apply(const WatchEvent& event) {
  PeerDiff diff;
  const KeyValue& kv = event.kv;
  // An event the last listing already included: nothing to do. (Not
  // revision_: several events of one transaction share a revision.)
  if (kv.mod_revision != 0 && kv.mod_revision <= listed_revision_) return diff;
  revision_ = std::max(revision_, kv.mod_revision);
  if (kv.key == prefix_ + "config") {
    diff.config_changed = true;
    return diff;
  }
  if (!kv.key.starts_with(subnets_prefix_)) return diff;  // another part of the layout
  auto subnet = KeySubnet(kv.key);
  if (!subnet.ok()) {
    // A bad key is refused when written; deleting one changes nothing.
    if (event.type == WatchEvent::Type::kPut) {
      diff.refused.push_back({kv.key, subnet.status().message()});
      ++refused_total_;
    }
    return diff;
  }
  auto old = peers_.find(*subnet);
  if (event.type == WatchEvent::Type::kDelete) {
    if (old != peers_.end()) {
      diff.changes.push_back({PeerChange::Kind::kRemove, old->second});
      peers_.erase(old);
    }
    return diff;
  }
  auto peer = ParsePeer(kv, *subnet);
  if (!peer.ok()) {
    diff.refused.push_back({kv.key, peer.status().message()});
    ++refused_total_;
    return diff;  // the old entry, if any, stays
  }
  if (const Peer* other = Overlapping(peers_, *subnet)) {
    diff.refused.push_back({kv.key, "subnet overlaps " + other->record.subnet.ToString() + " of host " +
                                        other->record.host_id});
    ++refused_total_;
    return diff;
  }
  if (old == peers_.end()) {
    diff.changes.push_back({PeerChange::Kind::kAdd, *peer});
    peers_.emplace(*subnet, std::move(*peer));
  } else {
    bool changed = !(old->second.record == peer->record);
    old->second = std::move(*peer);
    if (changed) diff.changes.push_back({PeerChange::Kind::kUpdate, old->second});
  }
  return diff;
}

}  // namespace mflow::store
