#include "port/peer_slots.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace mflow {
namespace {

wire::IpAddr V6(uint32_t i) {
  wire::IpAddr a;
  a.family = 6;
  a.bytes[0] = 0xfd;
  for (int k = 0; k < 4; ++k) a.bytes[12 + k] = static_cast<uint8_t>(i >> (24 - 8 * k));
  return a;
}

TEST(PeerSlots, FindsEveryAddressBeforeAndPastTheScan) {
  PeerSlots s;
  EXPECT_EQ(s.Find(wire::IpAddr::V4(0x0a000001)), -1);
  // 10,000 hosts of a /16-per-host overlay's underlay, then IPv6 ones.
  for (uint32_t i = 0; i < 10000; ++i) {
    ASSERT_EQ(s.Append(wire::IpAddr::V4(0x0a000000 + i)), static_cast<int>(i));
    if (i == PeerSlots::kScanMax - 1 || i == PeerSlots::kScanMax || i == 9999) {
      for (uint32_t k = 0; k <= i; ++k)
        ASSERT_EQ(s.Find(wire::IpAddr::V4(0x0a000000 + k)), static_cast<int>(k)) << k << "/" << i;
    }
  }
  for (uint32_t i = 0; i < 100; ++i) ASSERT_EQ(s.Append(V6(i)), static_cast<int>(10000 + i));
  EXPECT_EQ(s.size(), 10100u);
  for (uint32_t i = 0; i < 100; ++i) EXPECT_EQ(s.Find(V6(i)), static_cast<int>(10000 + i));
  // Absent: another address, and the same four bytes as IPv6.
  EXPECT_EQ(s.Find(wire::IpAddr::V4(0x0b000000)), -1);
  wire::IpAddr same_bytes = wire::IpAddr::V4(0x0a000001);
  same_bytes.family = 6;
  EXPECT_EQ(s.Find(same_bytes), -1);
  EXPECT_EQ(s[5].addr, wire::IpAddr::V4(0x0a000005));
  EXPECT_FALSE(s[5].live.load());
}

TEST(PeerSlots, RefusesPastItsCapacity) {
  PeerSlots s;
  for (uint32_t i = 0; i < PeerSlots::kCapacity; ++i)
    ASSERT_EQ(s.Append(wire::IpAddr::V4(0xc6120000 + i)), static_cast<int>(i));
  EXPECT_EQ(s.Append(wire::IpAddr::V4(0x01020304)), -1);
  EXPECT_EQ(s.size(), PeerSlots::kCapacity);
  // Full: every address is still found (the index is half empty), absent ones end.
  EXPECT_EQ(s.Find(wire::IpAddr::V4(0xc6120000 + PeerSlots::kCapacity - 1)),
            static_cast<int>(PeerSlots::kCapacity - 1));
  EXPECT_EQ(s.Find(wire::IpAddr::V4(0x01020304)), -1);
}

TEST(PeerSlots, ReadersLookUpWhileTheControlPathAppends) {
  // The data path's view (run under ThreadSanitizer in the test command):
  // a found slot always holds the address looked for, and once the writer
  // is done every address is found.
  PeerSlots s;
  constexpr uint32_t kN = 5000;
  std::atomic<bool> done{false};
  std::atomic<uint64_t> found{0}, wrong{0};
  std::thread reader([&] {
    uint32_t i = 0;
    while (!done.load(std::memory_order_acquire)) {
      const wire::IpAddr a = wire::IpAddr::V4(0x0a000000 + (i++ % kN));
      const int k = s.Find(a);
      if (k < 0) continue;
      found.fetch_add(1, std::memory_order_relaxed);
      if (!(s[static_cast<uint32_t>(k)].addr == a)) wrong.fetch_add(1, std::memory_order_relaxed);
      s[static_cast<uint32_t>(k)].rx_datagrams.fetch_add(1, std::memory_order_relaxed);
    }
  });
  for (uint32_t i = 0; i < kN; ++i) ASSERT_GE(s.Append(wire::IpAddr::V4(0x0a000000 + i)), 0);
  done.store(true, std::memory_order_release);
  reader.join();
  EXPECT_EQ(wrong.load(), 0u);
  for (uint32_t i = 0; i < kN; ++i) ASSERT_EQ(s.Find(wire::IpAddr::V4(0x0a000000 + i)), static_cast<int>(i));
}

}  // namespace
}  // namespace mflow
