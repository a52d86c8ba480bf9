// SubnetRegistry: this host's place in the overlay, the flannel model.
//
// Under a prefix (default "/mflow/network/"):
//   <prefix>config                  NetworkConfig JSON (network_config.h)
//   <prefix>subnets/<a.b.c.d-len>   SubnetRecord JSON (subnet_record.h), on the owner's lease
//
// Start():
//   1. reads and validates config;
//   2. lists subnets/; if a record carries this host's id, keeps that subnet:
//      a new lease, and the record rewritten under it in a transaction that
//      holds only if the key was not modified since the listing;
//   3. otherwise claims a free subnet: a transaction "create_revision(key)
//      == 0 -> put(key, record, lease)", so of two hosts racing for one
//      subnet exactly one wins and the other tries the next. The search
//      starts at a place derived from the host id, which spreads hosts that
//      start together;
//   4. starts the renewal thread: a keepalive every renew_interval (TTL/3
//      by default), retried every retry_interval on failure (etcd away: the
//      subnet stays ours while the lease lives); if the lease is gone, a new
//      lease and the record put back (or, if another host took the subnet
//      meanwhile, a new claim; subnet_changes counts it).
// Stop(release): ends renewal; release revokes the lease, which deletes the
// record at once (a clean leave); without it the record expires after the
// TTL, or a restart with the same host id takes it back first.
//
// Thread-safety: Start and Stop from one thread; the getters from any.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "store/etcd_client.h"
#include "store/network_config.h"
#include "store/peer_table.h"
#include "store/subnet_record.h"

namespace mflow::store {

struct RegistryOptions {
  std::string prefix = "/mflow/network/";
  // The record to publish; subnet is filled in by the claim, port 0 = the
  // config's port.
  SubnetRecord record;
  int64_t lease_ttl_seconds = 30;
  std::chrono::milliseconds renew_interval{0};  // 0 = TTL / 3
  std::chrono::milliseconds retry_interval{500};
  int max_claim_rounds = 8;  // listings before giving up on a full network
};

struct RegistryHealth {
  uint64_t renewals = 0;
  uint64_t renew_failures = 0;
  uint64_t lease_lost = 0;      // the lease was gone and was replaced
  uint64_t subnet_changes = 0;  // ... and the subnet had been taken
  std::string last_error;
};

class SubnetRegistry {
 public:
  static StatusOr<std::unique_ptr<SubnetRegistry>> Create(EtcdClient* client, RegistryOptions options);
  ~SubnetRegistry();
  SubnetRegistry(const SubnetRegistry&) = delete;
  SubnetRegistry& operator=(const SubnetRegistry&) = delete;

  Status Start();
  void Stop(bool release);
  // The underlay addresses to publish from now on (mflowd's reload of
  // underlay.local). The renewer rewrites the record at once, under the same
  // lease and only while the subnet is still ours, and retries at each
  // renewal until etcd took it; a claim made later publishes them anyway.
  void SetUnderlay(std::vector<wire::IpAddr> underlay);

  // Reads <prefix>config (kNotFound if absent).
  StatusOr<NetworkConfig> ReadConfig();
  // Writes <prefix>config if it is absent (an operator's or a test's step);
  // kExists if another config is there.
  Status WriteConfigIfAbsent(const NetworkConfig& config);
  // Lists subnets/ for PeerTable::Reconcile.
  StatusOr<RangeResult> ListSubnets();

  NetworkConfig config() const;
  SubnetRecord record() const;  // with the subnet claimed
  int64_t lease() const;
  RegistryHealth health() const;
  const std::string& prefix() const { return options_.prefix; }
  std::string KeyFor(const IpNet& subnet) const { return options_.prefix + "subnets/" + subnet.ToKey(); }

 private:
  SubnetRegistry(EtcdClient* client, RegistryOptions options);
  // Takes back this host's subnet or claims a free one, on a new lease.
  Status Claim();
  // Tries to keep subnet (held before under mod_revision, 0 = key absent).
  StatusOr<bool> Keep(const IpNet& subnet, int64_t mod_revision, int64_t lease);
  StatusOr<bool> TryClaim(const IpNet& subnet, int64_t lease);
  size_t SubnetKeyStart() const { return options_.prefix.size() + 8; }  // after "subnets/"
  void RenewLoop();
  void RenewOnce();
  // Rewrites our record with record_'s fields (SetUnderlay).
  Status Republish();

  EtcdClient* client_;
  RegistryOptions options_;
  mutable std::mutex mu_;
  NetworkConfig config_;   // guarded by mu_
  SubnetRecord record_;    // guarded by mu_
  int64_t lease_ = 0;      // guarded by mu_
  RegistryHealth health_;  // guarded by mu_
  std::chrono::milliseconds renew_interval_{0};
  bool stop_ = false;  // guarded by mu_
  bool republish_ = false;  // guarded by mu_: SetUnderlay's change not in etcd yet
  bool wake_ = false;       // guarded by mu_: SetUnderlay asks the renewer to run now
  std::condition_variable cv_;
  std::thread renewer_;
};

}  // namespace mflow::store
