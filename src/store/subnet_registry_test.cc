// SubnetRegistry (and PeerTable fed by a real watch) against a real etcd.
#include "store/subnet_registry.h"

#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "store/etcd_test_server.h"
#include "store/etcd_watch.h"

namespace mflow::store {
namespace {

using namespace std::chrono_literals;

const std::string kPrefix = "/mflow/network/";

class SubnetRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (EtcdTestServer::FindBinary().empty()) GTEST_SKIP() << "no etcd binary (Debian: etcd-server)";
    Status s = server_.Start();
    ASSERT_TRUE(s.ok()) << s.message();
    EtcdClientOptions o;
    o.endpoints = {server_.url()};
    o.request_timeout = 3s;
    auto c = EtcdClient::Create(o);
    ASSERT_TRUE(c.ok()) << c.status().message();
    client_ = std::move(c.value());
  }

  void WriteConfig(const std::string& json) {
    ASSERT_TRUE(client_->Put(kPrefix + "config", json).ok());
  }

  static RegistryOptions Options(const std::string& host, int n, int64_t ttl = 3) {
    RegistryOptions o;
    o.prefix = kPrefix;
    o.record.host_id = host;
    o.record.underlay = {wire::IpAddr::V4(0xc6120000u + static_cast<uint32_t>(n))};  // 198.18.0.n
    char mac[18];
    snprintf(mac, sizeof mac, "02:00:c6:12:00:%02x", n & 0xff);
    o.record.vtep_mac = *wire::MacAddr::Parse(mac);
    o.record.port = 0;
    o.record.version = "0.1.0";
    o.record.mode = "microflow";
    o.lease_ttl_seconds = ttl;
    o.retry_interval = 200ms;
    return o;
  }

  std::unique_ptr<SubnetRegistry> Started(const std::string& host, int n, int64_t ttl = 3) {
    auto r = SubnetRegistry::Create(client_.get(), Options(host, n, ttl));
    EXPECT_TRUE(r.ok()) << r.status().message();
    if (!r.ok()) return nullptr;
    Status s = (*r)->Start();
    EXPECT_TRUE(s.ok()) << host << ": " << s.message();
    return s.ok() ? std::move(r.value()) : nullptr;
  }

  std::optional<SubnetRecord> StoredRecord(const IpNet& subnet, int64_t* lease = nullptr) {
    auto r = client_->Range(kPrefix + "subnets/" + subnet.ToKey());
    if (!r.ok() || r->kvs.empty()) return std::nullopt;
    if (lease != nullptr) *lease = r->kvs[0].lease;
    auto rec = ParseSubnetRecord(r->kvs[0].value);
    return rec.ok() ? std::optional(*rec) : std::nullopt;
  }

  EtcdTestServer server_;
  std::unique_ptr<EtcdClient> client_;
};

TEST_F(SubnetRegistryTest, NeedsAValidConfig) {
  auto r = SubnetRegistry::Create(client_.get(), Options("h1", 1));
  ASSERT_TRUE(r.ok());
  Status missing = (*r)->Start();
  EXPECT_EQ(missing.code(), StatusCode::kNotFound) << missing.message();
  WriteConfig(R"({"network":"198.19.0.0/16","vni":0})");
  Status bad = (*r)->Start();
  EXPECT_NE(bad.message().find("config.vni"), std::string::npos) << bad.message();
  // WriteConfigIfAbsent keeps an existing config.
  NetworkConfig cfg = ParseNetworkConfig(R"({"network":"198.19.0.0/16","vni":42})").value();
  EXPECT_EQ((*r)->WriteConfigIfAbsent(cfg).code(), StatusCode::kExists);
  ASSERT_TRUE(client_->Delete(kPrefix + "config").ok());
  ASSERT_TRUE((*r)->WriteConfigIfAbsent(cfg).ok());
  ASSERT_TRUE((*r)->WriteConfigIfAbsent(cfg).ok());  // the same one: fine
  ASSERT_TRUE((*r)->Start().ok());
  EXPECT_EQ((*r)->config(), cfg);
  EXPECT_EQ((*r)->record().port, 4789);  // from the config
  EXPECT_TRUE(cfg.network.Contains((*r)->record().subnet));
  (*r)->Stop(true);
}

TEST_F(SubnetRegistryTest, ConcurrentClaimsGetDistinctSubnets) {
  // Four /30s in a /28: five hosts race for them.
  WriteConfig(R"({"network":"198.19.0.0/28","subnet_len":30,"vni":7})");
  std::vector<std::unique_ptr<SubnetRegistry>> regs;
  std::vector<Status> results(5);
  for (int i = 0; i < 5; ++i) {
    auto r = SubnetRegistry::Create(client_.get(), Options("host" + std::to_string(i), i + 1));
    ASSERT_TRUE(r.ok());
    regs.push_back(std::move(r.value()));
  }
  std::vector<std::thread> threads;
  for (int i = 0; i < 5; ++i) threads.emplace_back([&, i] { results[i] = regs[i]->Start(); });
  for (auto& t : threads) t.join();
  std::set<IpNet> got;
  int failed = 0;
  for (int i = 0; i < 5; ++i) {
    if (!results[i].ok()) {
      ++failed;
      EXPECT_NE(results[i].message().find("no free subnet"), std::string::npos) << results[i].message();
      continue;
    }
    IpNet s = regs[i]->record().subnet;
    EXPECT_TRUE(got.insert(s).second) << "two hosts got " << s.ToString();
    auto stored = StoredRecord(s);
    ASSERT_TRUE(stored.has_value());
    EXPECT_EQ(stored->host_id, "host" + std::to_string(i));
  }
  EXPECT_EQ(got.size(), 4u);
  EXPECT_EQ(failed, 1);
  for (auto& r : regs) r->Stop(true);
  auto left = client_->Range(kPrefix + "subnets/", true);
  ASSERT_TRUE(left.ok());
  EXPECT_TRUE(left->kvs.empty());  // released: the leases took the records
}

TEST_F(SubnetRegistryTest, ARestartedHostGetsItsSubnetBack) {
  WriteConfig(R"({"network":"198.19.0.0/16","vni":42})");
  auto first = Started("node-a", 1);
  ASSERT_NE(first, nullptr);
  const IpNet subnet = first->record().subnet;
  const int64_t old_lease = first->lease();
  first->Stop(false);  // a crash: the record stays until its lease expires
  first.reset();
  auto other = Started("node-b", 2);
  ASSERT_NE(other, nullptr);
  EXPECT_NE(other->record().subnet, subnet);
  auto again = Started("node-a", 1);
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->record().subnet, subnet);
  EXPECT_EQ(again->record().vtep_mac, Options("node-a", 1).record.vtep_mac);
  int64_t lease = 0;
  ASSERT_TRUE(StoredRecord(subnet, &lease).has_value());
  EXPECT_EQ(lease, again->lease());
  EXPECT_NE(lease, old_lease);
  // The old lease was revoked, not left to expire.
  EXPECT_EQ(client_->LeaseKeepAliveOnce(old_lease).status().code(), StatusCode::kNotFound);
  again->Stop(true);
  other->Stop(true);
}

TEST_F(SubnetRegistryTest, RenewalKeepsTheRecordAndALostLeaseIsRepaired) {
  WriteConfig(R"({"network":"198.19.0.0/16","vni":42})");
  auto reg = Started("node-r", 3, /*ttl=*/2);
  ASSERT_NE(reg, nullptr);
  const IpNet subnet = reg->record().subnet;
  // Two TTLs pass; renewal (every TTL/3) keeps it.
  std::this_thread::sleep_for(4500ms);
  EXPECT_TRUE(StoredRecord(subnet).has_value());
  EXPECT_GE(reg->health().renewals, 3u);
  // The lease disappears behind our back (as after a long etcd outage).
  ASSERT_TRUE(client_->LeaseRevoke(reg->lease()).ok());
  EXPECT_FALSE(StoredRecord(subnet).has_value());
  bool back = false;
  for (int i = 0; i < 50 && !back; ++i) {  // bounded: 10 s
    std::this_thread::sleep_for(200ms);
    back = StoredRecord(subnet).has_value();
  }
  EXPECT_TRUE(back);
  EXPECT_GE(reg->health().lease_lost, 1u);
  EXPECT_EQ(reg->health().subnet_changes, 0u);
  EXPECT_EQ(reg->record().subnet, subnet);
  // Stopped without release: the record expires with the lease.
  reg->Stop(false);
  bool expired = false;
  for (int i = 0; i < 50 && !expired; ++i) {
    std::this_thread::sleep_for(200ms);
    expired = !StoredRecord(subnet).has_value();
  }
  EXPECT_TRUE(expired);
}

// mflowd's reload of underlay.local: the record in etcd follows, under the
// same lease and subnet, without waiting for the next renewal.
TEST_F(SubnetRegistryTest, ANewUnderlayIsPublishedUnderTheSameLease) {
  WriteConfig(R"({"network":"198.19.0.0/16","vni":42})");
  auto reg = Started("node-u", 4, /*ttl=*/30);  // renewals every 10 s: not what publishes it
  ASSERT_NE(reg, nullptr);
  const IpNet subnet = reg->record().subnet;
  const int64_t lease = reg->lease();
  const wire::IpAddr moved = wire::IpAddr::V4(0xc6120063);  // 198.18.0.99
  reg->SetUnderlay({moved});
  std::optional<SubnetRecord> rec;
  for (int i = 0; i < 50; ++i) {  // bounded: 5 s
    rec = StoredRecord(subnet);
    if (rec && rec->underlay == std::vector<wire::IpAddr>{moved}) break;
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(rec.has_value());
  EXPECT_EQ(rec->underlay, std::vector<wire::IpAddr>{moved});
  EXPECT_EQ(rec->host_id, "node-u");
  int64_t stored_lease = 0;
  ASSERT_TRUE(StoredRecord(subnet, &stored_lease).has_value());
  EXPECT_EQ(stored_lease, lease);
  EXPECT_EQ(reg->record().underlay, std::vector<wire::IpAddr>{moved});
  EXPECT_TRUE(reg->health().last_error.empty()) << reg->health().last_error;
  reg->Stop(true);
}

TEST_F(SubnetRegistryTest, PeerTableFollowsTheWatch) {
  WriteConfig(R"({"network":"198.19.0.0/16","vni":42})");
  auto a = Started("node-a", 1);
  ASSERT_NE(a, nullptr);
  auto list = a->ListSubnets();
  ASSERT_TRUE(list.ok());
  PeerTable table(kPrefix, a->config());
  table.Reconcile(list->kvs, list->revision);
  EXPECT_EQ(table.peers().size(), 1u);

  std::mutex mu;
  std::condition_variable cv;
  std::vector<PeerDiff> diffs;
  WatchCallbacks cb;
  cb.on_events = [&](const std::vector<WatchEvent>& evs, int64_t) {
    std::lock_guard l(mu);
    for (const auto& e : evs) diffs.push_back(table.Apply(e));
    cv.notify_all();
  };
  auto w = EtcdWatch::Start(client_.get(), kPrefix, true, list->revision + 1, cb);
  ASSERT_TRUE(w.ok());
  auto wait_for = [&](auto pred) {
    std::unique_lock l(mu);
    return cv.wait_for(l, 10s, pred);
  };
  auto b = Started("node-b", 2);
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(wait_for([&] { return table.peers().size() == 2; }));
  // A malformed record written by hand: refused, nothing removed.
  ASSERT_TRUE(client_->Put(kPrefix + "subnets/198.19.250.0-24", "{oops").ok());
  // (b's own key turned bad, still on b's lease.)
  ASSERT_TRUE(client_->Put(kPrefix + "subnets/" + b->record().subnet.ToKey(), R"({"host_id":7})", b->lease()).ok());
  ASSERT_TRUE(wait_for([&] { return table.refused_total() >= 2; }));
  EXPECT_EQ(table.peers().size(), 2u);
  // b leaves (its key is deleted): removed.
  b->Stop(true);
  ASSERT_TRUE(wait_for([&] { return table.peers().size() == 1; }));
  std::lock_guard l(mu);
  EXPECT_EQ(table.peers().begin()->second.record.host_id, "node-a");
  a->Stop(true);
}

}  // namespace
}  // namespace mflow::store
