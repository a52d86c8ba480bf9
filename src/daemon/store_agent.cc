#include "daemon/store_agent.h"

#include <algorithm>

#include "daemon/log.h"

namespace mflow::daemon {
namespace {

using nlohmann::json;

// Above this many changes in one step, one summary line instead of a line each.
constexpr size_t kMaxChangeLines = 32;
// How long the agent lets watch events gather before it programs the data
// path: short against the removal bound (TTL + 2 s), long against the cost
// of one update of a table of thousands of hosts.
constexpr std::chrono::milliseconds kProgramDelay{20};

const char* KindName(store::PeerChange::Kind k) {
  switch (k) {
    case store::PeerChange::Kind::kAdd: return "added";
    case store::PeerChange::Kind::kUpdate: return "updated";
    case store::PeerChange::Kind::kRemove: return "removed";
  }
  return "?";
}

std::string Underlay(const store::SubnetRecord& r) {
  std::string s;
  for (const wire::IpAddr& a : r.underlay) s += (s.empty() ? "" : ",") + a.ToString();
  return s;
}

}  // namespace

StatusOr<std::unique_ptr<StoreAgent>> StoreAgent::Create(StoreAgentOptions options, StoreApplyHook apply) {
  if (Status s = ValidateStore(options.store); !s.ok()) return s;
  if (!options.store.enabled()) return Status::Error("store: no endpoints");
  std::unique_ptr<StoreAgent> a(new StoreAgent(std::move(options), std::move(apply)));
  auto id = ResolveHostId(a->opt_.store);
  if (!id.ok()) return id.status();
  a->host_id_ = *id;

  store::EtcdClientOptions co;
  co.endpoints = a->opt_.store.endpoints;
  co.tls = {a->opt_.store.cafile, a->opt_.store.certfile, a->opt_.store.keyfile};
  auto client = store::EtcdClient::Create(co);
  if (!client.ok()) return client.status().Prefixed("store: ");
  a->client_ = std::move(client).value();

  store::RegistryOptions ro;
  ro.prefix = a->opt_.store.prefix;
  ro.lease_ttl_seconds = a->opt_.store.lease_ttl_s;
  ro.record.host_id = a->host_id_;
  ro.record.underlay = {a->opt_.local};
  ro.record.vtep_mac = VtepMacFor(a->host_id_);
  ro.record.port = a->opt_.port;
  ro.record.version = a->opt_.version;
  ro.record.mode = a->opt_.mode;
  auto reg = store::SubnetRegistry::Create(a->client_.get(), ro);
  if (!reg.ok()) return reg.status().Prefixed("store: ");
  a->registry_ = std::move(reg).value();
  return a;
}

StoreAgent::~StoreAgent() { Stop(); }

void StoreAgent::Start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { Run(); });
}

void StoreAgent::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  // The watch's callbacks take mu_: it is stopped without holding it.
  watch_.reset();
  if (registry_) registry_->Stop(/*release=*/false);
}

void StoreAgent::Wait(std::chrono::milliseconds d) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, d, [this] { return stop_; });
}

void StoreAgent::SetError(const std::string& step, const Status& s) {
  std::lock_guard lock(mu_);
  last_error_ = step + ": " + s.message();
  last_error_at_ = std::chrono::system_clock::now();
}

void StoreAgent::Run() {
  std::chrono::milliseconds backoff = opt_.retry_min;
  auto fail = [&](const char* step, const Status& s) {
    SetError(step, s);
    LogWarn("store: etcd step failed; forwarding goes on with the last known peers, retrying",
            {{"step", step}, {"error", s.message()}, {"retry_ms", static_cast<int64_t>(backoff.count())}});
    Wait(backoff);
    backoff = std::min(backoff * 2, opt_.retry_max);
  };
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stop_) return;
    }
    bool claimed;
    {
      std::lock_guard lock(mu_);
      claimed = claimed_;
    }
    if (!claimed) {
      {
        std::lock_guard lock(mu_);
        state_ = "claiming";
      }
      if (Status s = registry_->Start(); !s.ok()) {
        fail("claim", s);
        continue;
      }
      const store::SubnetRecord r = registry_->record();
      const store::NetworkConfig c = registry_->config();
      LogInfo("store: subnet claimed", {{"subnet", r.subnet.ToString()},
                                        {"host_id", r.host_id},
                                        {"vtep_mac", r.vtep_mac.ToString()},
                                        {"lease", registry_->lease()},
                                        {"ttl_s", opt_.store.lease_ttl_s},
                                        {"vni", c.vni}});
      if (c.port != opt_.port)
        LogWarn("store: the network's VXLAN port differs from underlay.port; peers are sent to "
                "the port they publish",
                {{"config_port", c.port}, {"port", opt_.port}});
      std::lock_guard lock(mu_);
      claimed_ = true;
      relist_ = true;
    }
    bool relist;
    {
      std::lock_guard lock(mu_);
      relist = relist_;
    }
    if (relist) {
      if (Status s = ListAndWatch(); !s.ok()) {
        fail("list", s);
        continue;
      }
      backoff = opt_.retry_min;
    }
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stop_ || relist_ || dirty_; });
    if (stop_) return;
    if (relist_) {
      // Stop the old watch outside the lock (its callbacks take mu_).
      lock.unlock();
      watch_.reset();
      continue;
    }
    if (dirty_) {
      // Let a burst of events land in the table first, then program it once.
      cv_.wait_for(lock, kProgramDelay, [this] { return stop_; });
      ProgramLocked();
    }
  }
}

Status StoreAgent::ListAndWatch() {
  auto cfg = registry_->ReadConfig();
  if (!cfg.ok()) return cfg.status().Prefixed("config: ");
  auto listing = registry_->ListSubnets();
  if (!listing.ok()) return listing.status().Prefixed("list: ");
  uint64_t generation;
  {
    std::lock_guard lock(mu_);
    const bool new_config = !table_ || !(*cfg == table_config_);
    if (new_config) {
      // The table's checks depend on the network: a new table, and the
      // hook gets the whole new state (config_changed forces the publish).
      if (table_) LogWarn("store: the network config changed; re-listing", {{"vni", cfg->vni}});
      table_ = std::make_unique<store::PeerTable>(opt_.store.prefix, *cfg);
      table_config_ = *cfg;
    }
    vni_ = cfg->vni;
    store::PeerDiff diff = table_->Reconcile(listing->kvs, listing->revision);
    diff.config_changed = new_config;
    ++relists_;
    state_ = "listed";
    PublishLocked(diff);
    ProgramLocked();
    relist_ = false;
    generation = ++generation_;
  }
  store::WatchCallbacks cb;
  cb.on_events = [this, generation](const std::vector<store::WatchEvent>& ev, int64_t rev) {
    OnEvents(generation, ev, rev);
  };
  cb.on_compacted = [this, generation](int64_t compact_revision) {
    std::lock_guard lock(mu_);
    if (generation != generation_) return;
    LogWarn("store: watch history compacted; re-listing", {{"compact_revision", compact_revision}});
    relist_ = true;
    cv_.notify_all();
  };
  cb.on_error = [this](const Status& s) {
    {
      std::lock_guard lock(mu_);
      ++watch_errors_;
      state_ = "reconnecting";
    }
    SetError("watch", s);
    LogWarn("store: watch broken; forwarding goes on, resuming", {{"error", s.message()}});
  };
  auto w = store::EtcdWatch::Start(client_.get(), opt_.store.prefix, /*prefix=*/true,
                                   listing->revision + 1, std::move(cb));
  if (!w.ok()) {
    std::lock_guard lock(mu_);
    relist_ = true;
    return w.status().Prefixed("watch: ");
  }
  watch_ = std::move(w).value();
  std::lock_guard lock(mu_);
  if (state_ == "listed") state_ = "watching";
  return Status::Ok();
}

void StoreAgent::OnEvents(uint64_t generation, const std::vector<store::WatchEvent>& events, int64_t revision) {
  (void)revision;
  std::lock_guard lock(mu_);
  if (generation != generation_ || !table_) return;
  state_ = "watching";
  store::PeerDiff all;
  for (const store::WatchEvent& e : events) {
    store::PeerDiff d = table_->Apply(e);
    ++events_;
    for (auto& c : d.changes) all.changes.push_back(std::move(c));
    for (auto& r : d.refused) all.refused.push_back(std::move(r));
    all.config_changed |= d.config_changed;
  }
  PublishLocked(all);
  if (all.config_changed) {
    relist_ = true;
    cv_.notify_all();
  }
}

void StoreAgent::PublishLocked(const store::PeerDiff& diff) {
  for (const store::Refusal& r : diff.refused) {
    ++refused_total_;
    last_refusal_ = r.key + ": " + r.reason;
    LogWarn("store: record refused; working state kept", {{"key", r.key}, {"reason", r.reason}});
  }
  if (diff.changes.empty() && !diff.config_changed) return;
  const store::SubnetRecord mine = registry_->record();
  bool removed_or_moved = diff.config_changed;
  for (const store::PeerChange& c : diff.changes)
    if (c.kind != store::PeerChange::Kind::kAdd) removed_or_moved = true;
  if (diff.changes.size() <= kMaxChangeLines) {
    for (const store::PeerChange& c : diff.changes) {
      if (c.peer.record.subnet == mine.subnet) continue;
      LogInfo(std::string("store: peer ") + KindName(c.kind),
              {{"subnet", c.peer.record.subnet.ToString()},
               {"host_id", c.peer.record.host_id},
               {"underlay", Underlay(c.peer.record)},
               {"vtep_mac", c.peer.record.vtep_mac.ToString()}});
    }
  } else {
    LogInfo("store: peers changed", {{"changes", diff.changes.size()}, {"peers", table_->peers().size()}});
  }
  dirty_ = true;
  pending_flush_ |= removed_or_moved;
  cv_.notify_all();
}

void StoreAgent::SetLocal(const wire::IpAddr& local) {
  {
    std::lock_guard lock(mu_);
    if (opt_.local == local) return;
    opt_.local = local;  // read under mu_ (ProgramLocked)
    dirty_ = true;
    // The watch's connection may be bound to the old address, which no
    // longer routes back: the stream would wait for events that cannot come
    // until keepalive closed it. A fresh listing and watch from the new one.
    relist_ = true;
  }
  registry_->SetUnderlay({local});
  cv_.notify_all();
}

void StoreAgent::ProgramLocked() {
  if (!dirty_ || !table_) return;
  const store::SubnetRecord mine = registry_->record();
  if (apply_) apply_(StoreView{table_->peers(), mine.subnet, opt_.local}, table_config_, pending_flush_);
  dirty_ = false;
  pending_flush_ = false;
}

std::optional<std::string> StoreAgent::subnet() const {
  std::lock_guard lock(mu_);
  if (!claimed_) return std::nullopt;
  return registry_->record().subnet.ToString();
}

std::optional<std::string> StoreAgent::network() const {
  std::lock_guard lock(mu_);
  if (!claimed_) return std::nullopt;
  return registry_->config().network.ToString();
}

json StoreAgent::Json(bool with_peers) const {
  json endpoints = json::array();
  for (const store::EndpointHealth& h : client_->Health())
    endpoints.push_back({{"url", h.url}, {"up", !h.down}, {"failures", h.failures}, {"last_error", h.last_error}});
  const store::RegistryHealth rh = registry_->health();
  std::lock_guard lock(mu_);
  json j = {{"state", state_},
            {"prefix", opt_.store.prefix},
            {"host_id", host_id_},
            {"endpoints", endpoints},
            {"revision", table_ ? table_->revision() : 0},
            {"peers", table_ ? table_->peers().size() : 0},
            {"refused", refused_total_},
            {"last_refusal", last_refusal_},
            {"last_error", last_error_},
            {"relists", relists_},
            {"watch_errors", watch_errors_},
            {"events", events_},
            {"lease_ttl_s", opt_.store.lease_ttl_s},
            {"renewals", rh.renewals},
            {"renew_failures", rh.renew_failures},
            {"lease_lost", rh.lease_lost},
            {"subnet_changes", rh.subnet_changes}};
  if (!last_error_.empty())
    j["last_error_age_s"] =
        std::chrono::duration<double>(std::chrono::system_clock::now() - last_error_at_).count();
  if (claimed_) {
    const store::SubnetRecord r = registry_->record();
    j["subnet"] = r.subnet.ToString();
    j["vtep_mac"] = r.vtep_mac.ToString();
    j["lease"] = registry_->lease();
    j["vni"] = vni_;
  }
  if (with_peers && table_) {
    json list = json::array();
    for (const auto& [subnet, p] : table_->peers()) {
      std::vector<std::string> underlay;
      for (const wire::IpAddr& a : p.record.underlay) underlay.push_back(a.ToString());
      list.push_back({{"subnet", subnet.ToString()},
                      {"host_id", p.record.host_id},
                      {"underlay", underlay},
                      {"vtep_mac", p.record.vtep_mac.ToString()},
                      {"port", p.record.port},
                      {"mode", p.record.mode},
                      {"version", p.record.version},
                      {"lease", p.lease},
                      {"mod_revision", p.mod_revision},
                      {"self", claimed_ && subnet == registry_->record().subnet}});
    }
    j["peer_list"] = list;
  }
  return j;
}

}  // namespace mflow::daemon
