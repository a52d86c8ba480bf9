// StoreAgent: mflowd's side of the etcd control plane (docs/STORE.md), on
// control-path threads of its own; the data path never waits for it.
//
// Its thread:
//   1. claims this host's subnet (SubnetRegistry: taken back by host id
//      after a restart, else a free one by compare-and-swap, on a lease the
//      registry renews), retrying with backoff while etcd is unreachable;
//   2. lists <prefix>subnets/ and reconciles the peer table;
//   3. watches <prefix> from the listing's revision + 1 (EtcdWatch resumes
//      by itself after a disconnect); on compaction or a change of
//      <prefix>config it goes back to 2.
// After every change the remote hosts (the table without our own subnet)
// go to the daemon's hook (from the agent's thread, which batches what
// arrives within kProgramDelay: a burst of events costs one update of the
// data path, not one per event), which programs the UDP port's peers, the remote
// subnets (forwarding and ARP/ND proxy) and flushes learned entries that a
// removed or moved host may have left.
//
// With etcd unreachable nothing is removed: the last applied state stays in
// the data path until etcd says otherwise (a delete, or a listing without
// the host). Refused records are logged with their reason and counted, and
// never remove a working peer (PeerTable).
//
// Thread-safety: Create/Start/Stop from one thread; Json/subnet from any.
// The hook runs on the agent's or the watch's thread, one call at a time.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "daemon/store_config.h"
#include "store/etcd_client.h"
#include "store/etcd_watch.h"
#include "store/peer_table.h"
#include "store/subnet_registry.h"
#include "wire/ip_addr.h"

namespace mflow::daemon {

struct StoreAgentOptions {
  StoreConfig store;
  wire::IpAddr local;      // our underlay address (published)
  uint16_t port = 4789;    // our VXLAN port (published)
  std::string mode;        // steering mode (published)
  std::string version;
  std::chrono::milliseconds retry_min{500}, retry_max{10000};
};

// What the daemon programs: the table's hosts (skip `self`: our own subnet,
// and any record with our underlay address, e.g. a stale one of ours under
// another host id), the network, and whether a host was removed or moved
// (learned entries may be stale). The table is not copied: the hook runs
// under the agent's lock and must not keep the reference.
struct StoreView {
  const store::PeerMap& peers;
  const store::IpNet& self;
  const wire::IpAddr& local;
  bool Remote(const store::IpNet& net, const store::Peer& p) const {
    return !(net == self) && std::find(p.record.underlay.begin(), p.record.underlay.end(), local) ==
                                 p.record.underlay.end();
  }
};
using StoreApplyHook =
    std::function<void(const StoreView& view, const store::NetworkConfig& network, bool removed_or_moved)>;

class StoreAgent {
 public:
  static StatusOr<std::unique_ptr<StoreAgent>> Create(StoreAgentOptions options, StoreApplyHook apply);
  ~StoreAgent();
  StoreAgent(const StoreAgent&) = delete;
  StoreAgent& operator=(const StoreAgent&) = delete;

  void Start();
  // Ends the threads. The lease is not revoked: a restart takes the subnet
  // back, and a host that stays down leaves the peers' tables after the TTL.
  void Stop();
  // underlay.local changed (a reload): our record in etcd is rewritten with
  // it (SubnetRegistry::SetUnderlay), and the data path is reprogrammed so
  // that the host list skips our new address, not the old one. The watch
  // starts over (a fresh listing): its connection was bound to the old one.
  void SetLocal(const wire::IpAddr& local);

  // The claimed subnet ("198.19.7.0/24"), once claimed.
  std::optional<std::string> subnet() const;
  // The overlay network ("198.19.0.0/16"), once claimed.
  std::optional<std::string> network() const;
  // For `mflowctl status` / `mflowctl store`: health per endpoint, revision,
  // last error, refusals, our record; with_peers adds the peer list.
  nlohmann::json Json(bool with_peers) const;

 private:
  StoreAgent(StoreAgentOptions options, StoreApplyHook apply) : opt_(std::move(options)), apply_(std::move(apply)) {}
  void Run();
  // Lists and reconciles; starts a new watch from the listing's revision + 1.
  Status ListAndWatch();
  void OnEvents(uint64_t generation, const std::vector<store::WatchEvent>& events, int64_t revision);
  // Under mu_: logs refusals and changes, marks the data path for an update.
  void PublishLocked(const store::PeerDiff& diff);
  // Under mu_: hands the table to the hook if it changed since the last call.
  void ProgramLocked();
  void SetError(const std::string& step, const Status& s);
  void Wait(std::chrono::milliseconds d);

  StoreAgentOptions opt_;
  StoreApplyHook apply_;
  std::string host_id_;
  std::unique_ptr<store::EtcdClient> client_;
  std::unique_ptr<store::SubnetRegistry> registry_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;              // guarded by mu_
  bool relist_ = false;            // guarded by mu_: compaction or config change
  bool claimed_ = false;           // guarded by mu_
  std::string state_ = "starting"; // guarded by mu_
  std::unique_ptr<store::PeerTable> table_;  // guarded by mu_
  store::NetworkConfig table_config_;        // guarded by mu_: the table's
  std::unique_ptr<store::EtcdWatch> watch_;  // owned by the agent thread
  uint64_t generation_ = 0;        // guarded by mu_: the current watch's number
  uint32_t vni_ = 0;               // guarded by mu_
  uint64_t refused_total_ = 0;     // guarded by mu_
  bool dirty_ = false;             // guarded by mu_: the table changed since the hook saw it
  bool pending_flush_ = false;     // guarded by mu_: ... and a host left or moved
  uint64_t relists_ = 0, watch_errors_ = 0, events_ = 0;  // guarded by mu_
  std::string last_error_;         // guarded by mu_
  std::chrono::system_clock::time_point last_error_at_{};
  std::string last_refusal_;       // guarded by mu_
  std::thread thread_;
};

}  // namespace mflow::daemon
