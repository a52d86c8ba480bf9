#include "store/subnet_registry.h"

#include <set>

namespace mflow::store {
namespace {

// FNV-1a: a stable hash of the host id, the same on every build, so a host
// starts its search at the same place each time.
uint64_t StableHash(std::string_view s) {
  uint64_t h = 14695981039346656037ull;
  for (char c : s) {
    h ^= static_cast<uint8_t>(c);
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace

StatusOr<std::unique_ptr<SubnetRegistry>> SubnetRegistry::Create(EtcdClient* client, RegistryOptions options) {
  if (client == nullptr) return Status::Error(StatusCode::kInvalid, "registry: no etcd client");
  if (options.prefix.empty() || options.prefix.back() != '/')
    return Status::Error(StatusCode::kInvalid, "registry: prefix must end with '/'");
  const SubnetRecord& r = options.record;
  if (!ValidHostId(r.host_id))
    return Status::Error(StatusCode::kInvalid, "registry: host id must be 1..128 characters of [A-Za-z0-9._:-]");
  if (r.underlay.empty() || r.underlay.size() > 4)
    return Status::Error(StatusCode::kInvalid, "registry: want 1..4 underlay addresses");
  if (r.vtep_mac.IsZero() || r.vtep_mac.IsMulticast())
    return Status::Error(StatusCode::kInvalid, "registry: the VTEP MAC must be a non-zero unicast MAC");
  if (r.mode != "flow" && r.mode != "stage" && r.mode != "microflow")
    return Status::Error(StatusCode::kInvalid, "registry: mode must be flow, stage or microflow");
  if (r.version.empty()) return Status::Error(StatusCode::kInvalid, "registry: version is empty");
  if (options.lease_ttl_seconds < 2)
    return Status::Error(StatusCode::kInvalid, "registry: lease TTL must be at least 2 s");
  if (options.retry_interval.count() <= 0)
    return Status::Error(StatusCode::kInvalid, "registry: retry interval must be positive");
  if (options.max_claim_rounds < 1) return Status::Error(StatusCode::kInvalid, "registry: max_claim_rounds < 1");
  return std::unique_ptr<SubnetRegistry>(new SubnetRegistry(client, std::move(options)));
}

SubnetRegistry::SubnetRegistry(EtcdClient* client, RegistryOptions options)
    : client_(client), options_(std::move(options)) {
  auto ttl = std::chrono::milliseconds(options_.lease_ttl_seconds * 1000);
  renew_interval_ = options_.renew_interval.count() > 0 ? options_.renew_interval : ttl / 3;
  // Renewing after the lease expired would be too late by definition.
  if (renew_interval_ >= ttl) renew_interval_ = ttl / 3;
}

SubnetRegistry::~SubnetRegistry() { Stop(false); }

StatusOr<NetworkConfig> SubnetRegistry::ReadConfig() {
  std::string key = options_.prefix + "config";
  auto r = client_->Range(key);
  if (!r.ok()) return r.status();
  if (r->kvs.empty()) return Status::Error(StatusCode::kNotFound, key + ": no network config");
  return ParseNetworkConfig(r->kvs[0].value);
}

Status SubnetRegistry::WriteConfigIfAbsent(const NetworkConfig& config) {
  std::string key = options_.prefix + "config";
  auto r = client_->Txn({TxnCompare{TxnCompare::Target::kCreateRevision, TxnCompare::Op::kEqual, key, 0, {}}},
                        {TxnOp::Put(key, config.ToJson())}, {TxnOp::Range(key)});
  if (!r.ok()) return r.status();
  if (r->succeeded) return Status::Ok();
  if (!r->ranges.empty() && !r->ranges[0].empty()) {
    auto existing = ParseNetworkConfig(r->ranges[0][0].value);
    if (existing.ok() && *existing == config) return Status::Ok();
  }
  return Status::Error(StatusCode::kExists, key + ": another network config is there");
}

StatusOr<RangeResult> SubnetRegistry::ListSubnets() { return client_->Range(options_.prefix + "subnets/", true); }

Status SubnetRegistry::Start() {
  auto cfg = ReadConfig();
  if (!cfg.ok()) return cfg.status().Prefixed("registry: ");
  {
    std::lock_guard lock(mu_);
    config_ = *cfg;
    record_ = options_.record;
    if (record_.port == 0) record_.port = cfg->port;
    stop_ = false;
  }
  MFLOW_RETURN_IF_ERROR(Claim().Prefixed("registry: "));
  renewer_ = std::thread([this] { RenewLoop(); });
  return Status::Ok();
}

void SubnetRegistry::Stop(bool release) {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (renewer_.joinable()) renewer_.join();
  if (release) {
    int64_t lease = this->lease();
    if (lease != 0) {
      Status s = client_->LeaseRevoke(lease);
      std::lock_guard lock(mu_);
      if (!s.ok()) health_.last_error = s.message();
      lease_ = 0;
    }
  }
}

NetworkConfig SubnetRegistry::config() const {
  std::lock_guard lock(mu_);
  return config_;
}
SubnetRecord SubnetRegistry::record() const {
  std::lock_guard lock(mu_);
  return record_;
}
int64_t SubnetRegistry::lease() const {
  std::lock_guard lock(mu_);
  return lease_;
}
RegistryHealth SubnetRegistry::health() const {
  std::lock_guard lock(mu_);
  return health_;
}

StatusOr<bool> SubnetRegistry::Keep(const IpNet& subnet, int64_t mod_revision, int64_t lease) {
  SubnetRecord r = record();
  r.subnet = subnet;
  std::string key = KeyFor(subnet);
  TxnCompare cmp = mod_revision == 0
                       ? TxnCompare{TxnCompare::Target::kCreateRevision, TxnCompare::Op::kEqual, key, 0, {}}
                       : TxnCompare{TxnCompare::Target::kModRevision, TxnCompare::Op::kEqual, key, mod_revision, {}};
  auto t = client_->Txn({cmp}, {TxnOp::Put(key, r.ToJson(), lease)});
  if (!t.ok()) return t.status();
  if (t->succeeded) {
    std::lock_guard lock(mu_);
    record_ = r;
    lease_ = lease;
  }
  return t->succeeded;
}

StatusOr<bool> SubnetRegistry::TryClaim(const IpNet& subnet, int64_t lease) { return Keep(subnet, 0, lease); }

Status SubnetRegistry::Claim() {
  const NetworkConfig cfg = config();
  const std::string host = options_.record.host_id;
  Status last = Status::Error("no claim round ran");
  for (int round = 0; round < options_.max_claim_rounds; ++round) {
    auto list = ListSubnets();
    if (!list.ok()) return list.status();
    auto grant = client_->LeaseGrant(options_.lease_ttl_seconds);
    if (!grant.ok()) return grant.status();
    const int64_t lease = grant->id;

    // 1. Our own record from before a restart: found by host id.
    const KeyValue* mine = nullptr;
    std::set<IpNet> taken;
    std::vector<IpNet> taken_other_len;
    for (const auto& kv : list->kvs) {
      auto subnet = IpNet::ParseKey(std::string_view(kv.key).substr(SubnetKeyStart()));
      if (!subnet) continue;  // not a subnet key: occupies nothing
      if (subnet->len == cfg.subnet_len) taken.insert(*subnet);
      else taken_other_len.push_back(*subnet);
      auto rec = ParseSubnetRecord(kv.value);
      if (rec.ok() && rec->host_id == host && CheckRecordFits(*rec, *subnet, cfg).ok() &&
          subnet->len == cfg.subnet_len && (mine == nullptr || kv.mod_revision > mine->mod_revision))
        mine = &kv;
    }
    if (mine != nullptr) {
      IpNet subnet = *IpNet::ParseKey(std::string_view(mine->key).substr(SubnetKeyStart()));
      auto kept = Keep(subnet, mine->mod_revision, lease);
      if (!kept.ok()) {
        (void)client_->LeaseRevoke(lease);
        return kept.status();
      }
      if (*kept) {
        // The old lease held only this record; it goes now rather than at its TTL.
        if (mine->lease != 0 && mine->lease != lease) (void)client_->LeaseRevoke(mine->lease);
        return Status::Ok();
      }
      (void)client_->LeaseRevoke(lease);
      last = Status::Error(StatusCode::kBusy, KeyFor(subnet) + " changed while being taken back");
      continue;
    }

    // 2. A free subnet, searched from a place of our own.
    const uint64_t count = cfg.SubnetCount();
    const uint64_t start = StableHash(host) % count;
    int lost_races = 0;
    bool relist = false;
    for (uint64_t i = 0; i < count && !relist; ++i) {
      IpNet candidate = cfg.SubnetAt((start + i) % count);
      if (taken.contains(candidate)) continue;
      bool overlaps = false;
      for (const auto& t : taken_other_len) overlaps = overlaps || t.Overlaps(candidate);
      if (overlaps) continue;
      auto won = TryClaim(candidate, lease);
      if (!won.ok()) {
        (void)client_->LeaseRevoke(lease);
        return won.status();
      }
      if (*won) return Status::Ok();
      // Another host was quicker; after a few, our listing is too old.
      relist = ++lost_races >= 8;
    }
    (void)client_->LeaseRevoke(lease);
    last = relist ? Status::Error(StatusCode::kBusy, "lost every race for a free subnet")
                  : Status::Error(StatusCode::kBusy, "no free subnet of /" + std::to_string(cfg.subnet_len) +
                                                         " left in " + cfg.network.ToString());
    if (!relist) return last;
  }
  return last;
}

void SubnetRegistry::RenewLoop() {
  bool failing = false;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, failing ? options_.retry_interval : renew_interval_,
                   [this] { return stop_ || wake_; });
      if (stop_) return;
      wake_ = false;  // once: a failing republish waits for the retry interval
    }
    RenewOnce();
    std::lock_guard lock(mu_);
    failing = !health_.last_error.empty();
  }
}

void SubnetRegistry::SetUnderlay(std::vector<wire::IpAddr> underlay) {
  {
    std::lock_guard lock(mu_);
    options_.record.underlay = underlay;  // for a claim to come
    record_.underlay = std::move(underlay);
    republish_ = true;
    wake_ = true;
  }
  cv_.notify_all();
}

Status SubnetRegistry::Republish() {
  const IpNet subnet = record().subnet;
  const int64_t lease = this->lease();
  if (lease == 0) return Status::Ok();  // not claimed: the claim publishes them
  auto cur = client_->Range(KeyFor(subnet));
  if (!cur.ok()) return cur.status();
  if (cur->kvs.empty()) return Status::Error(StatusCode::kNotFound, "our record is gone");
  auto rec = ParseSubnetRecord(cur->kvs[0].value);
  if (!rec.ok() || rec->host_id != options_.record.host_id)
    return Status::Error("subnet " + subnet.ToString() + " is no longer ours");
  auto kept = Keep(subnet, cur->kvs[0].mod_revision, lease);
  if (!kept.ok()) return kept.status();
  if (!*kept) return Status::Error(StatusCode::kBusy, "our record changed meanwhile");
  return Status::Ok();
}

void SubnetRegistry::RenewOnce() {
  const int64_t lease = this->lease();
  auto ttl = client_->LeaseKeepAliveOnce(lease);
  if (ttl.ok()) {
    bool republish;
    {
      std::lock_guard lock(mu_);
      ++health_.renewals;
      health_.last_error.clear();
      republish = republish_;
    }
    if (!republish) return;
    Status s = Republish();
    std::lock_guard lock(mu_);
    if (s.ok()) {
      republish_ = false;
    } else {
      ++health_.renew_failures;
      health_.last_error = "publishing the new underlay: " + s.message();
    }
    return;
  }
  if (ttl.status().code() != StatusCode::kNotFound) {
    // etcd away or slow: the lease may still live; try again soon.
    std::lock_guard lock(mu_);
    ++health_.renew_failures;
    health_.last_error = ttl.status().message();
    return;
  }
  // The lease is gone (etcd was away longer than the TTL): our record went
  // with it. Put it back under a new lease, or claim anew if it was taken.
  {
    std::lock_guard lock(mu_);
    ++health_.lease_lost;
  }
  const IpNet subnet = record().subnet;
  Status s = [&]() -> Status {
    auto cur = client_->Range(KeyFor(subnet));
    if (!cur.ok()) return cur.status();
    auto grant = client_->LeaseGrant(options_.lease_ttl_seconds);
    if (!grant.ok()) return grant.status();
    int64_t mod = 0;
    if (!cur->kvs.empty()) {
      auto rec = ParseSubnetRecord(cur->kvs[0].value);
      if (rec.ok() && rec->host_id == options_.record.host_id) mod = cur->kvs[0].mod_revision;
      else mod = -1;  // someone else's now
    }
    if (mod >= 0) {
      auto kept = Keep(subnet, mod, grant->id);
      if (!kept.ok()) return kept.status();
      if (*kept) return Status::Ok();
    }
    (void)client_->LeaseRevoke(grant->id);
    MFLOW_RETURN_IF_ERROR(Claim());
    std::lock_guard lock(mu_);
    ++health_.subnet_changes;
    return Status::Ok();
  }();
  std::lock_guard lock(mu_);
  if (s.ok()) health_.last_error.clear();
  else {
    ++health_.renew_failures;
    health_.last_error = "re-claiming after the lease was lost: " + s.message();
  }
}

}  // namespace mflow::store
