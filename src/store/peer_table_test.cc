// PeerTable: listings reconciled, watch events applied, bad records refused
// without losing working peers.
#include "store/peer_table.h"

#include <gtest/gtest.h>

namespace mflow::store {
namespace {

const std::string kPrefix = "/mflow/network/";

NetworkConfig Config() {
  return ParseNetworkConfig(R"({"network":"198.19.0.0/16","vni":42,"underlay":["198.18.0.0/15"]})").value();
}

std::string Record(const std::string& host, const std::string& subnet, const std::string& ip,
                   const std::string& mac = "02:00:00:00:00:01") {
  return R"({"host_id":")" + host + R"(","subnet":")" + subnet + R"(","underlay":[")" + ip +
         R"("],"vtep_mac":")" + mac + R"(","port":4789,"version":"0.1.0","mode":"microflow"})";
}

KeyValue Kv(const std::string& subnet_key, std::string value, int64_t create, int64_t mod) {
  return KeyValue{kPrefix + "subnets/" + subnet_key, std::move(value), create, mod, 1, 0};
}

WatchEvent Put(KeyValue kv) { return WatchEvent{WatchEvent::Type::kPut, std::move(kv)}; }
WatchEvent Del(const std::string& subnet_key, int64_t rev) {
  return WatchEvent{WatchEvent::Type::kDelete, KeyValue{kPrefix + "subnets/" + subnet_key, "", 0, rev, 0, 0}};
}

IpNet Net(const char* s) { return *IpNet::Parse(s); }

int Count(const PeerDiff& d, PeerChange::Kind k) {
  int n = 0;
  for (const auto& c : d.changes) n += c.kind == k;
  return n;
}

TEST(PeerTable, ReconcileAddsUpdatesRemoves) {
  PeerTable t(kPrefix, Config());
  auto d1 = t.Reconcile({Kv("198.19.1.0-24", Record("a", "198.19.1.0/24", "198.18.0.1"), 2, 2),
                         Kv("198.19.2.0-24", Record("b", "198.19.2.0/24", "198.18.0.2"), 3, 3),
                         KeyValue{kPrefix + "config", "{}", 1, 1, 1, 0}},
                        3);
  EXPECT_EQ(Count(d1, PeerChange::Kind::kAdd), 2);
  EXPECT_TRUE(d1.refused.empty());
  EXPECT_TRUE(d1.config_changed);
  EXPECT_EQ(t.peers().size(), 2u);
  EXPECT_EQ(t.revision(), 3);

  // b moved to another underlay address, a left, c joined.
  auto d2 = t.Reconcile({Kv("198.19.2.0-24", Record("b", "198.19.2.0/24", "198.18.0.22"), 3, 5),
                         Kv("198.19.3.0-24", Record("c", "198.19.3.0/24", "198.18.0.3"), 6, 6)},
                        6);
  EXPECT_EQ(Count(d2, PeerChange::Kind::kAdd), 1);
  EXPECT_EQ(Count(d2, PeerChange::Kind::kUpdate), 1);
  EXPECT_EQ(Count(d2, PeerChange::Kind::kRemove), 1);
  EXPECT_EQ(t.peers().at(Net("198.19.2.0/24")).record.underlay[0].ToString(), "198.18.0.22");
  EXPECT_FALSE(t.peers().contains(Net("198.19.1.0/24")));

  // The same listing again: nothing to do.
  auto d3 = t.Reconcile({Kv("198.19.2.0-24", Record("b", "198.19.2.0/24", "198.18.0.22"), 3, 5),
                         Kv("198.19.3.0-24", Record("c", "198.19.3.0/24", "198.18.0.3"), 6, 6)},
                        6);
  EXPECT_TRUE(d3.changes.empty());
}

TEST(PeerTable, BadRecordsAreRefusedWithAReason) {
  PeerTable t(kPrefix, Config());
  auto d = t.Reconcile(
      {
          Kv("198.19.1.0-24", "not json", 2, 2),
          Kv("198.19.2.0-24", Record("b", "198.19.9.0/24", "198.18.0.2"), 3, 3),  // not its key
          Kv("10.0.0.0-24", Record("c", "10.0.0.0/24", "198.18.0.3"), 4, 4),      // outside the overlay
          Kv("fd00::-64", Record("d", "fd00::/64", "198.18.0.4"), 5, 5),           // wrong family
          Kv("198.19.5.0-24", Record("e", "198.19.5.0/24", "10.1.1.1"), 6, 6),     // underlay outside
          Kv("garbage", Record("f", "198.19.6.0/24", "198.18.0.6"), 7, 7),         // key
          Kv("198.19.7.0-24", Record("g", "198.19.7.0/24", "198.18.0.7"), 8, 8),   // good
      },
      8);
  EXPECT_EQ(d.refused.size(), 6u);
  EXPECT_EQ(t.refused_total(), 6u);
  EXPECT_EQ(t.peers().size(), 1u);
  for (const auto& r : d.refused) EXPECT_FALSE(r.reason.empty()) << r.key;
  EXPECT_NE(d.refused[0].reason.find("not JSON"), std::string::npos);
  EXPECT_NE(d.refused[1].reason.find("does not match its key"), std::string::npos);
  EXPECT_NE(d.refused[3].reason.find("wrong family"), std::string::npos);
}

TEST(PeerTable, OverlapsGoToTheOlderClaim) {
  PeerTable t(kPrefix, Config());
  // Listed out of order; the /23 was created later and loses to the /24 in it.
  auto d = t.Reconcile({Kv("198.19.2.0-23", Record("late", "198.19.2.0/23", "198.18.0.9"), 9, 9),
                        Kv("198.19.3.0-24", Record("early", "198.19.3.0/24", "198.18.0.3"), 4, 4)},
                       9);
  ASSERT_EQ(d.refused.size(), 1u);
  EXPECT_NE(d.refused[0].reason.find("overlaps 198.19.3.0/24 of host early"), std::string::npos)
      << d.refused[0].reason;
  EXPECT_TRUE(t.peers().contains(Net("198.19.3.0/24")));
  // And through the watch.
  auto e = t.Apply(Put(Kv("198.19.0.0-22", Record("x", "198.19.0.0/22", "198.18.0.10"), 10, 10)));
  EXPECT_EQ(e.refused.size(), 1u);
  EXPECT_EQ(t.peers().size(), 1u);
}

TEST(PeerTable, MalformedRecordsNeverRemoveWorkingState) {
  PeerTable t(kPrefix, Config());
  t.Reconcile({Kv("198.19.1.0-24", Record("a", "198.19.1.0/24", "198.18.0.1"), 2, 2)}, 2);
  const Peer before = t.peers().at(Net("198.19.1.0/24"));
  // Over the watch: the record turns to garbage.
  auto d = t.Apply(Put(Kv("198.19.1.0-24", "{\"host_id\":", 2, 3)));
  EXPECT_EQ(d.refused.size(), 1u);
  EXPECT_TRUE(d.changes.empty());
  EXPECT_EQ(t.peers().at(Net("198.19.1.0/24")), before);
  // In a re-listing too.
  auto r = t.Reconcile({Kv("198.19.1.0-24", "[]", 2, 3)}, 4);
  EXPECT_EQ(r.refused.size(), 1u);
  EXPECT_TRUE(r.changes.empty());
  EXPECT_EQ(t.peers().at(Net("198.19.1.0/24")), before);
  // A delete does remove it (the lease expired, the host left).
  auto del = t.Apply(Del("198.19.1.0-24", 5));
  EXPECT_EQ(Count(del, PeerChange::Kind::kRemove), 1);
  EXPECT_TRUE(t.peers().empty());
}

TEST(PeerTable, ApplyFollowsTheWatch) {
  PeerTable t(kPrefix, Config());
  t.Reconcile({}, 10);
  // An event the listing already had is skipped.
  EXPECT_TRUE(t.Apply(Put(Kv("198.19.1.0-24", Record("a", "198.19.1.0/24", "198.18.0.1"), 9, 9))).changes.empty());
  auto add = t.Apply(Put(Kv("198.19.1.0-24", Record("a", "198.19.1.0/24", "198.18.0.1"), 11, 11)));
  EXPECT_EQ(Count(add, PeerChange::Kind::kAdd), 1);
  // Two keys in one transaction share a revision: both apply.
  EXPECT_EQ(Count(t.Apply(Put(Kv("198.19.2.0-24", Record("b", "198.19.2.0/24", "198.18.0.2"), 12, 12))),
                  PeerChange::Kind::kAdd), 1);
  EXPECT_EQ(Count(t.Apply(Put(Kv("198.19.3.0-24", Record("c", "198.19.3.0/24", "198.18.0.3"), 12, 12))),
                  PeerChange::Kind::kAdd), 1);
  auto mac = t.Apply(Put(Kv("198.19.1.0-24", Record("a", "198.19.1.0/24", "198.18.0.1", "02:00:00:00:00:aa"), 11, 13)));
  EXPECT_EQ(Count(mac, PeerChange::Kind::kUpdate), 1);
  auto same = t.Apply(Put(Kv("198.19.1.0-24", Record("a", "198.19.1.0/24", "198.18.0.1", "02:00:00:00:00:aa"), 11, 14)));
  EXPECT_TRUE(same.changes.empty());  // only the lease was refreshed
  EXPECT_TRUE(t.Apply(Del("198.19.9.0-24", 15)).changes.empty());  // never known
  EXPECT_TRUE(t.Apply(Del("junk", 16)).refused.empty());
  WatchEvent cfg{WatchEvent::Type::kPut, KeyValue{kPrefix + "config", "{}", 1, 17, 2, 0}};
  EXPECT_TRUE(t.Apply(cfg).config_changed);
  WatchEvent other{WatchEvent::Type::kPut, KeyValue{kPrefix + "other/x", "{}", 18, 18, 1, 0}};
  auto o = t.Apply(other);
  EXPECT_TRUE(o.changes.empty() && o.refused.empty());
  auto snap = t.Snapshot();
  EXPECT_EQ(snap->size(), 3u);
  EXPECT_EQ(t.revision(), 18);
}

// The ordered overlap check against a scan of the whole table: random
// subnets of every length under 198.19.0.0/16, put and deleted; a put is
// refused exactly when some other peer overlaps it, and the table never
// holds two overlapping subnets.
TEST(PeerTable, OverlapLookupMatchesAScan) {
  PeerTable t(kPrefix, Config());
  uint32_t seed = 12345;
  auto next = [&seed] { return seed = seed * 1103515245u + 12345u; };
  for (int64_t rev = 2; rev < 3000; ++rev) {
    const int len = 17 + static_cast<int>(next() % 14);  // /17../30
    const uint32_t mask = ~uint32_t{0} << (32 - len);
    const uint32_t a = (0xC6130000u | (next() & 0xffffu)) & mask;
    const IpNet net{wire::IpAddr::V4(a), static_cast<uint8_t>(len)};
    const std::string key = net.ToKey();
    if (next() % 4 == 0) {
      t.Apply(Del(key, rev));
      continue;
    }
    bool overlaps = false;
    for (const auto& [n, p] : t.peers()) overlaps |= !(n == net) && n.Overlaps(net);
    const PeerDiff d = t.Apply(Put(Kv(key, Record("h" + std::to_string(rev), net.ToString(), "198.18.0.1"), rev, rev)));
    ASSERT_EQ(d.refused.size(), overlaps ? 1u : 0u) << net.ToString() << " at " << rev;
  }
  for (auto i = t.peers().begin(); i != t.peers().end(); ++i)
    for (auto j = std::next(i); j != t.peers().end(); ++j) ASSERT_FALSE(i->first.Overlaps(j->first));
}

}  // namespace
}  // namespace mflow::store
