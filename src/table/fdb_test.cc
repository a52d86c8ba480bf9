// Fdb: lookup/learn semantics, aging, the capacity bound under a flood of new
// MACs, and lock-free concurrent use (meant to run under ThreadSanitizer too).
#include "table/fdb.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <random>
#include <thread>
#include <vector>

namespace mflow {
namespace {

using LR = Fdb::LearnResult;

wire::MacAddr Mac(uint64_t v) {
  wire::MacAddr m;
  for (int i = 0; i < 6; ++i) m.b[i] = static_cast<uint8_t>(v >> (8 * (5 - i)));
  m.b[0] &= 0xfe;  // unicast
  return m;
}

std::unique_ptr<Fdb> MakeFdb(uint32_t capacity, uint64_t age_ms) {
  FdbConfig cfg;
  cfg.capacity = capacity;
  cfg.age_ms = age_ms;
  auto f = Fdb::Create(cfg);
  EXPECT_TRUE(f.ok()) << f.status().message();
  return std::move(f).value();
}

const wire::IpAddr kVtepA = wire::IpAddr::V4(0xC6120001);
const wire::IpAddr kVtepB = wire::IpAddr::V4(0xC6120002);

TEST(Fdb, RejectsBadConfig) {
  FdbConfig cfg;
  cfg.capacity = 1000;
  EXPECT_FALSE(Fdb::Create(cfg).ok());
  cfg.capacity = 4;  // smaller than the probe window
  EXPECT_FALSE(Fdb::Create(cfg).ok());
  cfg.capacity = 1024;
  cfg.age_ms = 0;
  EXPECT_FALSE(Fdb::Create(cfg).ok());
}

TEST(Fdb, InsertAndLookup) {
  auto fdb = MakeFdb(1024, 300000);
  FdbValue v;
  EXPECT_FALSE(fdb->Lookup(42, Mac(1), 0, &v));
  EXPECT_EQ(fdb->Learn(42, Mac(1), FdbValue::Local(3), 0), LR::kInserted);
  EXPECT_EQ(fdb->Learn(42, Mac(2), FdbValue::Remote(kVtepA), 0), LR::kInserted);
  ASSERT_TRUE(fdb->Lookup(42, Mac(1), 10, &v));
  EXPECT_EQ(v, FdbValue::Local(3));
  ASSERT_TRUE(fdb->Lookup(42, Mac(2), 10, &v));
  EXPECT_EQ(v, FdbValue::Remote(kVtepA));
  // The same MAC in another VNI is another key.
  EXPECT_FALSE(fdb->Lookup(43, Mac(1), 10, &v));
  EXPECT_EQ(fdb->Size(10), 2u);
}

TEST(Fdb, SameValueRefreshesMovedMacUpdates) {
  auto fdb = MakeFdb(1024, 300000);
  EXPECT_EQ(fdb->Learn(1, Mac(7), FdbValue::Remote(kVtepA), 0), LR::kInserted);
  EXPECT_EQ(fdb->Learn(1, Mac(7), FdbValue::Remote(kVtepA), 5), LR::kRefreshed);
  // The MAC moves behind another VTEP, then to a local port.
  EXPECT_EQ(fdb->Learn(1, Mac(7), FdbValue::Remote(kVtepB), 6), LR::kUpdated);
  FdbValue v;
  ASSERT_TRUE(fdb->Lookup(1, Mac(7), 6, &v));
  EXPECT_EQ(v, FdbValue::Remote(kVtepB));
  EXPECT_EQ(fdb->Learn(1, Mac(7), FdbValue::Local(2), 7), LR::kUpdated);
  ASSERT_TRUE(fdb->Lookup(1, Mac(7), 7, &v));
  EXPECT_EQ(v, FdbValue::Local(2));
  EXPECT_EQ(fdb->Size(7), 1u);  // updated in place, no duplicate
}

TEST(Fdb, EntriesAgeOutAndRefreshKeepsThem) {
  auto fdb = MakeFdb(1024, 1000);  // touch granularity min(1000, 1000/8) = 125
  fdb->Learn(1, Mac(1), FdbValue::Local(1), 0);
  fdb->Learn(1, Mac(2), FdbValue::Local(2), 0);
  FdbValue v;
  EXPECT_TRUE(fdb->Lookup(1, Mac(1), 1000, &v));  // exactly age_ms old: live
  // Refreshing Mac(2) at 900 moves its time; a refresh by less than the
  // granularity (at 950) need not, and aging stays within it.
  EXPECT_EQ(fdb->Learn(1, Mac(2), FdbValue::Local(2), 900), LR::kRefreshed);
  EXPECT_EQ(fdb->Learn(1, Mac(2), FdbValue::Local(2), 950), LR::kRefreshed);
  EXPECT_FALSE(fdb->Lookup(1, Mac(1), 1001, &v));
  EXPECT_TRUE(fdb->Lookup(1, Mac(2), 1900, &v));
  EXPECT_FALSE(fdb->Lookup(1, Mac(2), 1901, &v));
  EXPECT_EQ(fdb->Size(1500), 1u);
  // An expired entry learned again is live again.
  EXPECT_EQ(fdb->Learn(1, Mac(1), FdbValue::Local(1), 5000), LR::kUpdated);
  EXPECT_TRUE(fdb->Lookup(1, Mac(1), 5000, &v));
}

TEST(Fdb, FullProbeWindowRefusesNewKeysUntilOneExpires) {
  // Capacity == probe window: every key competes for the same 8 slots.
  auto fdb = MakeFdb(Fdb::kProbe, 1000);
  for (uint32_t i = 0; i < Fdb::kProbe; ++i)
    ASSERT_EQ(fdb->Learn(1, Mac(100 + i), FdbValue::Local(static_cast<uint16_t>(i)), 0),
              LR::kInserted);
  EXPECT_EQ(fdb->Learn(1, Mac(999), FdbValue::Local(9), 10), LR::kFull);
  FdbValue v;
  EXPECT_FALSE(fdb->Lookup(1, Mac(999), 10, &v));
  // Keep all but Mac(103) fresh; once it expires its slot is reused.
  for (uint32_t i = 0; i < Fdb::kProbe; ++i)
    if (i != 3) fdb->Learn(1, Mac(100 + i), FdbValue::Local(static_cast<uint16_t>(i)), 800);
  EXPECT_EQ(fdb->Learn(1, Mac(999), FdbValue::Local(9), 1500), LR::kInserted);
  EXPECT_TRUE(fdb->Lookup(1, Mac(999), 1500, &v));
  EXPECT_FALSE(fdb->Lookup(1, Mac(103), 1500, &v));
  for (uint32_t i = 0; i < Fdb::kProbe; ++i) {
    if (i != 3) {
      EXPECT_TRUE(fdb->Lookup(1, Mac(100 + i), 1500, &v)) << i;
    }
  }
}

TEST(Fdb, FloodOfNewMacsDoesNotEvictEstablished) {
  constexpr uint32_t kCap = 1024;
  constexpr uint64_t kAge = 10000;
  auto fdb = MakeFdb(kCap, kAge);
  std::vector<wire::MacAddr> established;
  for (uint64_t i = 0; i < 200; ++i) {
    established.push_back(Mac(0x5000 + i));
    ASSERT_EQ(fdb->Learn(7, established.back(), FdbValue::Remote(kVtepA), 0), LR::kInserted);
  }
  std::mt19937_64 rng(1234);
  uint64_t full = 0;
  uint64_t now = 0;
  for (uint32_t i = 0; i < 10 * kCap; ++i) {
    now = i * 3;  // 30 s in all: the first flood entries age out and are replaced
    if (fdb->Learn(7, Mac(rng()), FdbValue::Remote(kVtepB), now) == LR::kFull) ++full;
    if (i % 500 == 0)  // the established hosts keep talking
      for (const auto& m : established) fdb->Learn(7, m, FdbValue::Remote(kVtepA), now);
  }
  EXPECT_GT(full, 0u);
  EXPECT_LE(fdb->Size(now), kCap);
  FdbValue v;
  for (const auto& m : established) {
    ASSERT_TRUE(fdb->Lookup(7, m, now, &v));
    EXPECT_EQ(v, FdbValue::Remote(kVtepA));
  }
}

TEST(Fdb, SnapshotAndFlush) {
  auto fdb = MakeFdb(64, 1000);
  fdb->Learn(5, Mac(1), FdbValue::Local(1), 0);
  fdb->Learn(6, Mac(2), FdbValue::Remote(kVtepB), 0);
  fdb->Learn(6, Mac(3), FdbValue::Remote(kVtepB), 0);
  auto snap = fdb->Snapshot(10);
  ASSERT_EQ(snap.size(), 3u);
  bool saw_local = false;
  for (const auto& e : snap) {
    if (e.mac == Mac(1)) {
      saw_local = true;
      EXPECT_EQ(e.vni, 5u);
      EXPECT_EQ(e.value, FdbValue::Local(1));
    } else {
      EXPECT_EQ(e.vni, 6u);
      EXPECT_EQ(e.value, FdbValue::Remote(kVtepB));
    }
  }
  EXPECT_TRUE(saw_local);
  EXPECT_EQ(fdb->Snapshot(2000).size(), 0u);  // all aged out by then
  fdb->Flush();
  EXPECT_EQ(fdb->Size(10), 0u);
  FdbValue v;
  EXPECT_FALSE(fdb->Lookup(5, Mac(1), 10, &v));
  EXPECT_EQ(fdb->Learn(5, Mac(1), FdbValue::Local(1), 10), LR::kInserted);
}

// A value that encodes its key and a version: a reader that ever gets a value
// whose key part differs from what it looked up saw a torn or misplaced entry.
FdbValue Encode(uint32_t vni, uint64_t mac, uint8_t version) {
  uint8_t b[16] = {};
  std::memcpy(b, &mac, 8);
  std::memcpy(b + 8, &vni, 4);
  b[12] = version;
  b[13] = static_cast<uint8_t>(~version);
  FdbValue v = FdbValue::Remote(wire::IpAddr::V6(b));
  v.port = static_cast<uint16_t>(mac * 31 + vni);
  return v;
}

bool Consistent(uint32_t vni, uint64_t mac, const FdbValue& v) {
  if (v.kind != FdbValue::Kind::kRemote || !v.vtep.is_v6()) return false;
  uint64_t m;
  uint32_t n;
  std::memcpy(&m, v.vtep.bytes, 8);
  std::memcpy(&n, v.vtep.bytes + 8, 4);
  return m == mac && n == vni && v.vtep.bytes[13] == static_cast<uint8_t>(~v.vtep.bytes[12]) &&
         v.port == static_cast<uint16_t>(mac * 31 + vni);
}

TEST(Fdb, ConcurrentLearnAndLookupNeverTear) {
  // A key space larger than the table: slots are claimed, updated (versions),
  // refused (full) and reused (aging) while others read them.
  auto fdb = MakeFdb(256, 20);
  constexpr int kThreads = 4;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> clock_ms{0};
  std::atomic<uint64_t> torn{0};
  std::atomic<uint64_t> hits{0};
  std::atomic<uint64_t> learns{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(static_cast<uint64_t>(t) + 1);
      uint64_t local_hits = 0;
      uint64_t local_learns = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        const uint64_t mac = (rng() % 512) << 1;  // unicast: low bit of byte 0 clear
        const uint32_t vni = static_cast<uint32_t>(rng() % 3);
        const uint64_t now = clock_ms.load(std::memory_order_relaxed);
        wire::MacAddr m;
        std::memcpy(m.b.data(), &mac, 6);
        if (rng() % 4 == 0) {
          fdb->Learn(vni, m, Encode(vni, mac, static_cast<uint8_t>(rng() % 4)), now);
          ++local_learns;
        } else {
          FdbValue v;
          if (fdb->Lookup(vni, m, now, &v)) {
            ++local_hits;
            if (!Consistent(vni, mac, v)) torn.fetch_add(1, std::memory_order_relaxed);
          }
        }
      }
      hits.fetch_add(local_hits);
      learns.fetch_add(local_learns);
    });
  }
  // The control path reads along: every entry it sees must be consistent.
  const auto start = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - start < std::chrono::milliseconds(200)) {
    const auto elapsed = std::chrono::steady_clock::now() - start;
    const uint64_t now = static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count());
    clock_ms.store(now, std::memory_order_relaxed);
    for (const auto& e : fdb->Snapshot(now)) {
      uint64_t mac = 0;
      std::memcpy(&mac, e.mac.b.data(), 6);
      if (!Consistent(e.vni, mac, e.value)) torn.fetch_add(1, std::memory_order_relaxed);
    }
    EXPECT_LE(fdb->Size(now), fdb->capacity());
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  stop.store(true);
  for (auto& th : threads) th.join();
  EXPECT_EQ(torn.load(), 0u);
  EXPECT_GT(hits.load(), 0u);
  EXPECT_GT(learns.load(), 0u);
}

}  // namespace
}  // namespace mflow
