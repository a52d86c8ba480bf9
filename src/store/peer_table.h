// PeerTable: the hosts of the overlay as the store describes them, one
// Peer per valid record under <prefix>subnets/, and the changes that keep a
// data plane in step with it.
//
// Two ways in, both returning what changed:
//   Reconcile(kvs, revision): a full listing (start-up, or after the watch
//     reported compaction): adds, updates and removes to make the table
//     equal to the listing;
//   Apply(event): one watch event.
//
// Refusals: a record that does not parse or does not fit (bad JSON, wrong
// family, subnet outside the overlay or not matching its key, a subnet that
// overlaps another host's) is refused with its reason and counted. A refusal
// never removes working state: a host whose record turns bad keeps its last
// good entry until its key is deleted (or its lease expires). Overlaps are
// settled by age: the record created first (lowest create_revision) stays.
//
// Thread-safety: none inside; one owner (the watch thread, or the caller's
// lock). Snapshot() hands out an immutable copy other threads may read.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "store/etcd_types.h"
#include "store/ip_net.h"
#include "store/network_config.h"
#include "store/subnet_record.h"

namespace mflow::store {

struct Peer {
  SubnetRecord record;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t lease = 0;

  bool operator==(const Peer&) const = default;
};

using PeerMap = std::map<IpNet, Peer>;  // by subnet

struct PeerChange {
  enum class Kind { kAdd, kUpdate, kRemove };
  Kind kind = Kind::kAdd;
  Peer peer;  // kRemove: the peer removed
};

struct Refusal {
  std::string key;
  std::string reason;
};

struct PeerDiff {
  std::vector<PeerChange> changes;
  std::vector<Refusal> refused;
  bool config_changed = false;  // an event on <prefix>config: re-read it
};

class PeerTable {
 public:
  // prefix: the layout's root, ending in '/' ("/mflow/network/").
  PeerTable(std::string prefix, NetworkConfig config);

  PeerDiff Reconcile(const std::vector<KeyValue>& kvs, int64_t revision);
  PeerDiff Apply(const WatchEvent& event);

  const PeerMap& peers() const { return peers_; }
  std::shared_ptr<const PeerMap> Snapshot() const { return std::make_shared<const PeerMap>(peers_); }
  int64_t revision() const { return revision_; }
  uint64_t refused_total() const { return refused_total_; }
  const std::string& subnets_prefix() const { return subnets_prefix_; }

 private:
  // The subnet of a key under subnets/, or the reason it is not one.
  StatusOr<IpNet> KeySubnet(const std::string& key) const;
  // Parses and checks kv against the network; overlap is checked by the caller.
  StatusOr<Peer> ParsePeer(const KeyValue& kv, const IpNet& subnet) const;
  // The first peer of map other than subnet itself whose subnet overlaps it.
  static const Peer* Overlapping(const PeerMap& map, const IpNet& subnet);

  std::string prefix_;
  std::string subnets_prefix_;
  NetworkConfig config_;
  PeerMap peers_;
  int64_t revision_ = 0;         // the newest revision applied
  int64_t listed_revision_ = 0;  // the revision of the last Reconcile
  uint64_t refused_total_ = 0;
};

}  // namespace mflow::store
