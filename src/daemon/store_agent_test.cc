// StoreAgent against a real etcd (started by the test, skipped without the
// binary): two agents see each other; a malformed record is refused and
// counted and removes nothing; etcd stopped removes nothing and its return
// converges; a host that stops without release leaves the other's table
// after its lease; a restart keeps the subnet and the VTEP MAC. And the
// [store] settings (store_config.h).
#include "daemon/store_agent.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <thread>
#include <mutex>
#include <set>

#include "daemon/config.h"
#include "daemon/log.h"
#include "store/etcd_test_server.h"
#include "table/remote_subnets.h"

namespace mflow::daemon {
namespace {

using namespace std::chrono_literals;
const std::string kPrefix = "/mflow/network/";

// What the hook was last given, and a way to wait for a condition on it.
struct Seen {
  std::mutex mu;
  std::condition_variable cv;
  std::set<std::string> subnets;
  int calls = 0;
  int removals = 0;  // calls that dropped a subnet seen before

  void Apply(const store::PeerMap& remote) {
    std::lock_guard lock(mu);
    std::set<std::string> now;
    for (const auto& [net, p] : remote) now.insert(net.ToString());
    for (const std::string& s : subnets)
      if (!now.contains(s)) ++removals;
    subnets = now;
    ++calls;
    cv.notify_all();
  }
  bool WaitFor(size_t n, std::chrono::milliseconds limit = 15s) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, limit, [&] { return subnets.size() == n; });
  }
  size_t size() {
    std::lock_guard lock(mu);
    return subnets.size();
  }
};

class StoreAgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The logger is made once, before the agents' threads (as mflowd's main does).
    ASSERT_TRUE(LogInit("info", "text").ok());
    if (store::EtcdTestServer::FindBinary().empty()) GTEST_SKIP() << "no etcd binary (Debian: etcd-server)";
    Status s = server_.Start();
    ASSERT_TRUE(s.ok()) << s.message();
    store::EtcdClientOptions o;
    o.endpoints = {server_.url()};
    client_ = std::move(store::EtcdClient::Create(o)).value();
    ASSERT_TRUE(client_->Put(kPrefix + "config",
                             R"({"network":"198.19.0.0/16","subnet_len":24,"vni":42,"underlay":["198.18.0.0/15"]})")
                    .ok());
  }
  std::unique_ptr<StoreAgent> Agent(const std::string& host, uint32_t n, Seen* seen) {
    StoreAgentOptions o;
    o.store.endpoints = {server_.url()};
    o.store.host_id = host;
    o.store.lease_ttl_s = 2;
    o.local = wire::IpAddr::V4(0xC6120000u + n);
    o.mode = "microflow";
    o.version = "0.1.0";
    o.retry_min = 100ms;
    o.retry_max = 500ms;
    auto a = StoreAgent::Create(o, [seen](const StoreView& v, const store::NetworkConfig&, bool) {
      store::PeerMap remote;
      for (const auto& [net, p] : v.peers)
        if (v.Remote(net, p)) remote.emplace(net, p);
      seen->Apply(remote);
    });
    EXPECT_TRUE(a.ok()) << a.status().message();
    if (!a.ok()) return nullptr;
    (*a)->Start();
    return std::move(a).value();
  }
  static bool WaitSubnet(StoreAgent& a) {
    for (int i = 0; i < 150; ++i) {
      if (a.subnet()) return true;
      std::this_thread::sleep_for(100ms);
    }
    return false;
  }

  store::EtcdTestServer server_;
  std::unique_ptr<store::EtcdClient> client_;
};

TEST_F(StoreAgentTest, PeersJoinRefuseSurviveOutageAndExpire) {
  Seen sa, sb;
  auto a = Agent("host-a", 1, &sa);
  auto b = Agent("host-b", 2, &sb);
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(WaitSubnet(*a) && WaitSubnet(*b));
  EXPECT_NE(*a->subnet(), *b->subnet());
  ASSERT_TRUE(sa.WaitFor(1));  // b, not itself
  ASSERT_TRUE(sb.WaitFor(1));
  EXPECT_TRUE(sa.subnets.contains(*b->subnet()));

  // Hostile records: not JSON, an underlay outside the network's, a subnet
  // overlapping b's. Refused, counted, nothing removed.
  const std::string b_key = kPrefix + "subnets/" + b->subnet()->substr(0, b->subnet()->find('/')) + "-24";
  ASSERT_TRUE(client_->Put(kPrefix + "subnets/198.19.250.0-24", "{not json").ok());
  ASSERT_TRUE(client_->Put(kPrefix + "subnets/198.19.251.0-24",
                           R"({"host_id":"x","subnet":"198.19.251.0/24","underlay":["10.0.0.1"],"vtep_mac":"02:00:00:00:00:09","port":4789,"version":"0","mode":"flow"})")
                  .ok());
  const std::string b_net = b->subnet()->substr(0, b->subnet()->find('/'));
  ASSERT_TRUE(client_->Put(kPrefix + "subnets/" + b_net + "-23",
                           "{\"host_id\":\"y\",\"subnet\":\"" + b_net + "/23\",\"underlay\":[\"198.18.0.9\"],\"vtep_mac\":\"02:00:00:00:00:0a\",\"port\":4789,\"version\":\"0\",\"mode\":\"flow\"}")
                  .ok());
  for (int i = 0; i < 100 && a->Json(false)["refused"].get<uint64_t>() < 3; ++i) std::this_thread::sleep_for(100ms);
  EXPECT_GE(a->Json(false)["refused"].get<uint64_t>(), 3u);
  EXPECT_EQ(sa.size(), 1u);
  EXPECT_EQ(sa.removals, 0);

  // etcd gone: nothing removed; back: converges (a third host joins).
  server_.Stop();
  std::this_thread::sleep_for(3s);  // longer than the TTL, under which etcd's clock stood still
  EXPECT_EQ(sa.removals, 0);
  EXPECT_FALSE(a->Json(false)["last_error"].get<std::string>().empty());
  ASSERT_TRUE(server_.Restart().ok());
  Seen sc;
  auto c = Agent("host-c", 3, &sc);
  ASSERT_TRUE(c && WaitSubnet(*c));
  ASSERT_TRUE(sa.WaitFor(2));
  EXPECT_EQ(sa.removals, 0);

  // c stops without release: gone from a's table after its lease.
  c->Stop();
  ASSERT_TRUE(sa.WaitFor(1, 15s));
  // b restarts: same subnet.
  const std::string b_subnet = *b->subnet();
  b->Stop();
  b.reset();
  Seen sb2;
  auto b2 = Agent("host-b", 2, &sb2);
  ASSERT_TRUE(b2 && WaitSubnet(*b2));
  EXPECT_EQ(*b2->subnet(), b_subnet);
  EXPECT_EQ(b2->Json(false)["vtep_mac"], VtepMacFor("host-b").ToString());
  (void)b_key;
}

TEST(StoreConfigTest, ParsesAndValidates) {
  auto c = ParseConfig(R"(
[underlay]
peers = []
[store]
endpoints = ["http://127.0.0.1:2379", "https://10.0.0.2:2379"]
prefix = "/x/"
host_id = "node-1"
lease_ttl_s = 5
)", "t");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->store.endpoints.size(), 2u);
  EXPECT_EQ(c->store.prefix, "/x/");
  EXPECT_EQ(c->store.lease_ttl_s, 5u);
  for (const char* bad : {"[store]\nendpoints = [\"127.0.0.1:2379\"]", "[store]\nlease_ttl_s = 1",
                          "[store]\nendpoints = [\"http://a:1\"]\nprefix = \"x\"",
                          "[store]\nendpoints = [\"http://a:1\"]\nhost_id = \"a b\"",
                          "[store]\nendpoints = [\"http://a:1\"]\ncertfile = \"/c\"", "[store]\nfoo = 1"}) {
    auto r = ParseConfig(bad, "t");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("store."), std::string::npos) << r.status().message();
  }
  EXPECT_EQ(VtepMacFor("node-1"), VtepMacFor("node-1"));
  EXPECT_NE(VtepMacFor("node-1"), VtepMacFor("node-2"));
  EXPECT_FALSE(VtepMacFor("node-1").IsMulticast());
}

// The data path reads RemoteSubnets while the agent replaces it: every
// lookup sees one whole table (a subnet's VTEP always matches the table's
// generation, here encoded in the VTEP's last byte). Run under TSan in test.sh.
TEST(RemoteSubnetsConcurrencyTest, ReadersSeeWholeTables) {
  RemoteSubnets t;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> seen{0};
  auto reader = [&] {
    while (!stop.load(std::memory_order_relaxed)) {
      wire::IpAddr a, b;
      const bool fa = t.Lookup(42, 0xC6130105, &a), fb = t.Lookup(42, 0xC6130905, &b);
      if (fa) {
        ASSERT_TRUE(a.is_v4());
        ASSERT_EQ(a.bytes[0], 198);
        seen.fetch_add(1, std::memory_order_relaxed);
      }
      (void)fb;
    }
  };
  std::thread r1(reader), r2(reader);
  for (uint32_t gen = 1; gen <= 2000; ++gen) {
    std::vector<RemoteSubnet> v;
    for (uint32_t k = 0; k < 16; ++k)
      v.push_back({0xC6130000u | (k << 8), 24, wire::IpAddr::V4(0xC6120000u | (gen & 0xff))});
    t.Set(42, std::move(v), {0xC6130000u, 16, {}});
  }
  stop = true;
  r1.join();
  r2.join();
  EXPECT_EQ(t.size(), 16u);
  EXPECT_TRUE(t.InOverlay(42, 0xC61300ff));
}

}  // namespace
}  // namespace mflow::daemon
