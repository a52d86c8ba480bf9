#include "wire/checksum.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

namespace mflow::wire {
namespace {

uint16_t FastChecksum(const uint8_t* p, size_t len) { return ChecksumFinish(ChecksumPartial(p, len)); }
uint16_t ScalarChecksum(const uint8_t* p, size_t len) {
  return ChecksumFinish(ChecksumPartialScalar(p, len));
}

std::vector<uint8_t> RandomBytes(std::mt19937& rng, size_t n) {
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

TEST(Checksum, PartialMatchesReferenceOnRandomBuffers) {
  std::mt19937 rng(1071);
  std::vector<uint8_t> buf(3000 + 8);
  for (int iter = 0; iter < 5000; ++iter) {
    const size_t len = rng() % 3001;
    const size_t off = rng() % 8;  // misaligned starts
    for (size_t i = 0; i < len; ++i) buf[off + i] = static_cast<uint8_t>(rng());
    const uint16_t want = ReferenceChecksum(buf.data() + off, len);
    ASSERT_EQ(FastChecksum(buf.data() + off, len), want) << "len=" << len << " off=" << off;
    ASSERT_EQ(ScalarChecksum(buf.data() + off, len), want) << "len=" << len << " off=" << off;
  }
}

TEST(Checksum, PartialMatchesReferenceOnAllOnesAndEdges) {
  // All 0xff stresses every carry path of the 64-bit accumulators.
  std::vector<uint8_t> ones(70000, 0xff);
  for (size_t len : {0, 1, 2, 7, 8, 9, 63, 64, 65, 127, 128, 255, 256, 257, 319, 320, 1500,
                     65535, 65536, 70000}) {
    EXPECT_EQ(FastChecksum(ones.data(), len), ReferenceChecksum(ones.data(), len)) << len;
    EXPECT_EQ(ScalarChecksum(ones.data(), len), ReferenceChecksum(ones.data(), len)) << len;
  }
  const std::vector<uint8_t> zeros(100, 0);
  EXPECT_EQ(FastChecksum(zeros.data(), zeros.size()), 0xffff);
  EXPECT_EQ(ReferenceChecksum(zeros.data(), zeros.size()), 0xffff);
}

TEST(Checksum, PartialCarriesInitialSum) {
  std::mt19937 rng(7);
  const auto a = RandomBytes(rng, 600);
  const auto b = RandomBytes(rng, 333);
  std::vector<uint8_t> ab = a;
  ab.insert(ab.end(), b.begin(), b.end());
  // An even-length first piece can be chained through the sum argument,
  // including an initial sum near the top of the 32-bit range.
  EXPECT_EQ(ChecksumFinish(ChecksumPartial(b.data(), b.size(), ChecksumPartial(a.data(), a.size()))),
            ReferenceChecksum(ab.data(), ab.size()));
  const uint32_t big = 0xfffffff0u;
  EXPECT_EQ(ChecksumFold(ChecksumPartial(a.data(), a.size(), big)),
            ChecksumFold(uint32_t{ChecksumFold(ChecksumPartial(a.data(), a.size()))} +
                         ChecksumFold(big)));
}

TEST(Checksum, FoldEndAroundCarry) {
  EXPECT_EQ(ChecksumFold(0), 0);
  EXPECT_EQ(ChecksumFold(0xffff), 0xffff);
  EXPECT_EQ(ChecksumFold(0x10000), 1);
  EXPECT_EQ(ChecksumFold(0x1fffe), 0xffff);
  EXPECT_EQ(ChecksumFold(0xffffffffu), 0xffff);
  EXPECT_EQ(ChecksumFold(0x12345678u), 0x68ac);
}

TEST(Checksum, ScatterGatherWithOddSplitsEqualsOnePiece) {
  std::mt19937 rng(768);
  for (int iter = 0; iter < 2000; ++iter) {
    const auto data = RandomBytes(rng, rng() % 2000);
    std::vector<ChecksumPiece> pieces;
    size_t pos = 0;
    while (pos < data.size()) {
      const size_t n = std::min<size_t>(data.size() - pos, rng() % 97);  // often odd, sometimes 0
      pieces.push_back({data.data() + pos, n});
      pos += n;
    }
    ASSERT_EQ(ChecksumFold(ChecksumSg(pieces.data(), pieces.size())),
              ChecksumFold(ChecksumPartial(data.data(), data.size())))
        << "iter=" << iter << " pieces=" << pieces.size();
    ASSERT_EQ(ChecksumFinish(ChecksumSg(pieces.data(), pieces.size())),
              ReferenceChecksum(data.data(), data.size()));
  }
}

// The classic example header (RFC 1071 tutorials, a real capture):
// 4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7.
constexpr uint8_t kGoldenIpv4[20] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                                     0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};

TEST(Checksum, GoldenIpv4Header) {
  Ipv4Header h;
  std::memcpy(&h, kGoldenIpv4, sizeof(h));
  EXPECT_EQ(h.checksum.host(), 0xb861);
  EXPECT_TRUE(VerifyIpv4Checksum(&h));
  EXPECT_EQ(Be16::FromRaw(ComputeIpv4Checksum(&h)).host(), 0xb861);
  // Compute ignores whatever is in the field.
  h.checksum.set(0x1234);
  EXPECT_EQ(Be16::FromRaw(ComputeIpv4Checksum(&h)).host(), 0xb861);
  EXPECT_FALSE(VerifyIpv4Checksum(&h));
}

TEST(Checksum, VerifyDetectsEveryFlippedBit) {
  for (size_t bit = 0; bit < 20 * 8; ++bit) {
    uint8_t bytes[20];
    std::memcpy(bytes, kGoldenIpv4, sizeof(bytes));
    bytes[bit / 8] = static_cast<uint8_t>(bytes[bit / 8] ^ (1u << (bit % 8)));
    Ipv4Header h;
    std::memcpy(&h, bytes, sizeof(h));
    if (h.header_len() != 20) continue;  // flipping IHL changes the header length
    EXPECT_FALSE(VerifyIpv4Checksum(&h)) << "bit " << bit;
  }
}

TEST(Checksum, Ipv4WithOptions) {
  uint8_t bytes[24];
  std::memcpy(bytes, kGoldenIpv4, 20);
  bytes[0] = 0x46;
  const uint8_t nop_opts[4] = {0x01, 0x01, 0x01, 0x00};
  std::memcpy(bytes + 20, nop_opts, 4);
  const auto* h = reinterpret_cast<const Ipv4Header*>(bytes);
  const uint16_t c = ComputeIpv4Checksum(h);
  std::memcpy(bytes + 10, &c, 2);
  EXPECT_TRUE(VerifyIpv4Checksum(h));
  uint8_t zeroed[24];
  std::memcpy(zeroed, bytes, 24);
  zeroed[10] = zeroed[11] = 0;
  EXPECT_EQ(c, ReferenceChecksum(zeroed, 24));
  bytes[0] = 0x44;  // IHL < 5 never verifies
  EXPECT_FALSE(VerifyIpv4Checksum(h));
}

TEST(Checksum, PseudoHeaderV4MatchesExplicitBytes) {
  Ipv4Header h;
  std::memcpy(&h, kGoldenIpv4, sizeof(h));
  const uint8_t pseudo[12] = {0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7, 0, 17, 0x00, 0x5f};
  EXPECT_EQ(ChecksumFold(PseudoHeaderSumV4(&h, 17, 0x5f)),
            ChecksumFold(ChecksumPartial(pseudo, sizeof(pseudo))));
}

TEST(Checksum, PseudoHeaderV6MatchesExplicitBytes) {
  std::mt19937 rng(8200);
  Ipv6Header h{};
  for (auto& b : h.src) b = static_cast<uint8_t>(rng());
  for (auto& b : h.dst) b = static_cast<uint8_t>(rng());
  const uint32_t len = 0x0001f00d;  // jumbo-sized, exercises the upper 16 bits
  uint8_t pseudo[40] = {};
  std::memcpy(pseudo, h.src.data(), 16);
  std::memcpy(pseudo + 16, h.dst.data(), 16);
  pseudo[32] = 0x00;
  pseudo[33] = 0x01;
  pseudo[34] = 0xf0;
  pseudo[35] = 0x0d;
  pseudo[39] = 6;
  EXPECT_EQ(ChecksumFold(PseudoHeaderSumV6(&h, 6, len)),
            ChecksumFold(ChecksumPartial(pseudo, sizeof(pseudo))));
}

TEST(Checksum, IncrementalUpdateEqualsRecompute) {
  std::mt19937 rng(1624);
  for (int iter = 0; iter < 5000; ++iter) {
    auto data = RandomBytes(rng, 20 + 2 * (rng() % 200));
    const uint16_t before = FastChecksum(data.data(), data.size());
    const bool wide = (iter & 1) != 0;
    const size_t pos = 2 * (rng() % ((data.size() - (wide ? 2 : 0)) / 2));
    uint16_t after;
    if (wide) {
      uint32_t old_w, new_w = static_cast<uint32_t>(rng());
      std::memcpy(&old_w, data.data() + pos, 4);
      std::memcpy(data.data() + pos, &new_w, 4);
      after = ChecksumUpdate32(before, old_w, new_w);
    } else {
      uint16_t old_w, new_w = static_cast<uint16_t>(rng());
      std::memcpy(&old_w, data.data() + pos, 2);
      std::memcpy(data.data() + pos, &new_w, 2);
      after = ChecksumUpdate16(before, old_w, new_w);
    }
    ASSERT_EQ(after, FastChecksum(data.data(), data.size())) << "iter=" << iter;
  }
}

TEST(Checksum, IncrementalUpdateOfTtlKeepsHeaderValid) {
  uint8_t bytes[20];
  std::memcpy(bytes, kGoldenIpv4, 20);
  auto* h = reinterpret_cast<Ipv4Header*>(bytes);
  // TTL shares a 16-bit word with the protocol.
  uint16_t old_word;
  std::memcpy(&old_word, bytes + 8, 2);
  bytes[8] = static_cast<uint8_t>(bytes[8] - 1);
  uint16_t new_word;
  std::memcpy(&new_word, bytes + 8, 2);
  h->checksum = Be16::FromRaw(ChecksumUpdate16(h->checksum.raw(), old_word, new_word));
  EXPECT_TRUE(VerifyIpv4Checksum(h));
  EXPECT_EQ(h->checksum.host(), 0xb961);
}

}  // namespace
}  // namespace mflow::wire
