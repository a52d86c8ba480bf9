// Known-answer tests of the AES-GCM layer.
//
// Vectors: "The Galois/Counter Mode of Operation (GCM)", D. McGrew and
// J. Viega, revised 2005, Appendix B, test cases 1-4 (AES-128) and 13-16
// (AES-256). Typed in from the specification.
#include "esp/aes_gcm.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "esp/esp_test_util.h"

namespace mflow::esp {
namespace {

using testing::Hex;

struct Vector {
  const char* name;
  const char* key;
  const char* iv;
  const char* plaintext;
  const char* aad;
  const char* ciphertext;
  const char* tag;
};

constexpr const char* kP64 =
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
    "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255";
constexpr const char* kP60 =
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
    "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39";
constexpr const char* kA = "feedfacedeadbeeffeedfacedeadbeefabaddad2";
constexpr const char* kK = "feffe9928665731c6d6a8f9467308308";
constexpr const char* kK256 = "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308";
constexpr const char* kIv = "cafebabefacedbaddecaf888";
constexpr const char* kZeroIv = "000000000000000000000000";

const Vector kVectors[] = {
    {"case1", "00000000000000000000000000000000", kZeroIv, "", "", "",
     "58e2fccefa7e3061367f1d57a4e7455a"},
    {"case2", "00000000000000000000000000000000", kZeroIv, "00000000000000000000000000000000", "",
     "0388dace60b6a392f328c2b971b2fe78", "ab6e47d42cec13bdf53a67b21257bddf"},
    {"case3", kK, kIv, kP64, "",
     "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
     "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985",
     "4d5c2af327cd64a62cf35abd2ba6fab4"},
    {"case4", kK, kIv, kP60, kA,
     "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
     "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
     "5bc94fbc3221a5db94fae95ae7121a47"},
    {"case13", "0000000000000000000000000000000000000000000000000000000000000000", kZeroIv, "", "",
     "", "530f8afbc74536b9a963b4f1c4cb738b"},
    {"case14", "0000000000000000000000000000000000000000000000000000000000000000", kZeroIv,
     "00000000000000000000000000000000", "", "cea7403d4d606b6e074ec5d3baf39d18",
     "d0d1c8a799996bf0265b98b5d48ab919"},
    {"case15", kK256, kIv, kP64, "",
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
     "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
     "b094dac5d93471bdec1a502270e3cc6c"},
    {"case16", kK256, kIv, kP60, kA,
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
     "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
     "76fc6ece0f4e1768cddf8853bb2d551b"},
};

class GcmKat : public ::testing::TestWithParam<Vector> {};

TEST_P(GcmKat, SealMatchesTheSpecification) {
  const Vector& v = GetParam();
  auto seal = AesGcm::Create(Hex(v.key), AesGcm::Direction::kSeal);
  ASSERT_TRUE(seal.ok()) << seal.status().message();
  const auto iv = Hex(v.iv), pt = Hex(v.plaintext), aad = Hex(v.aad);
  std::vector<uint8_t> ct(pt.size());
  uint8_t tag[kGcmTagLen];
  // Twice with one context: the second message must not depend on the first.
  for (int round = 0; round < 2; ++round) {
    ASSERT_TRUE(seal->Seal(iv.data(), aad, pt, ct.data(), tag));
    EXPECT_EQ(ct, Hex(v.ciphertext)) << v.name;
    EXPECT_EQ(std::vector<uint8_t>(tag, tag + kGcmTagLen), Hex(v.tag)) << v.name;
  }
}

TEST_P(GcmKat, OpenInPlaceAndInPiecesMatchesTheSpecification) {
  const Vector& v = GetParam();
  auto open = AesGcm::Create(Hex(v.key), AesGcm::Direction::kOpen);
  ASSERT_TRUE(open.ok());
  const auto iv = Hex(v.iv), aad = Hex(v.aad), tag = Hex(v.tag);
  std::vector<uint8_t> buf = Hex(v.ciphertext);
  // Odd piece sizes: the stream must not care where the cuts fall.
  ASSERT_TRUE(open->BeginOpen(iv.data(), tag.data()));
  ASSERT_TRUE(open->Aad(aad.data(), static_cast<uint32_t>(aad.size())));
  size_t off = 0;
  for (uint32_t piece = 1; off < buf.size(); piece += 6) {
    const uint32_t n = static_cast<uint32_t>(std::min<size_t>(piece, buf.size() - off));
    ASSERT_TRUE(open->Update(buf.data() + off, buf.data() + off, n));
    off += n;
  }
  EXPECT_TRUE(open->OpenFinish()) << v.name;
  EXPECT_EQ(buf, Hex(v.plaintext)) << v.name;
}

TEST_P(GcmKat, OpenRefusesAnyFlippedBit) {
  const Vector& v = GetParam();
  auto open = AesGcm::Create(Hex(v.key), AesGcm::Direction::kOpen);
  ASSERT_TRUE(open.ok());
  const auto iv = Hex(v.iv), ct = Hex(v.ciphertext), aad = Hex(v.aad), tag = Hex(v.tag);
  std::vector<uint8_t> out(ct.size());
  // Ciphertext, AAD and tag: one bit in each byte.
  for (size_t i = 0; i < ct.size(); ++i) {
    auto bad = ct;
    bad[i] ^= 0x01;
    EXPECT_FALSE(open->Open(iv.data(), aad, bad, out.data(), tag.data())) << v.name << " ct " << i;
  }
  for (size_t i = 0; i < aad.size(); ++i) {
    auto bad = aad;
    bad[i] ^= 0x80;
    EXPECT_FALSE(open->Open(iv.data(), bad, ct, out.data(), tag.data())) << v.name << " aad " << i;
  }
  for (size_t i = 0; i < tag.size(); ++i) {
    auto bad = tag;
    bad[i] ^= 0x10;
    EXPECT_FALSE(open->Open(iv.data(), aad, ct, out.data(), bad.data())) << v.name << " tag " << i;
  }
  EXPECT_TRUE(open->Open(iv.data(), aad, ct, out.data(), tag.data())) << "context reusable after failures";
}

INSTANTIATE_TEST_SUITE_P(McGrewViega, GcmKat, ::testing::ValuesIn(kVectors),
                         [](const ::testing::TestParamInfo<Vector>& i) { return std::string(i.param.name); });

TEST(AesGcm, RefusesOtherKeyLengths) {
  for (size_t n : {0u, 15u, 24u, 33u}) {
    std::vector<uint8_t> key(n, 1);
    auto g = AesGcm::Create(key, AesGcm::Direction::kSeal);
    ASSERT_FALSE(g.ok());
    EXPECT_NE(g.status().message().find("key"), std::string::npos);
  }
}

TEST(AesGcm, MovedContextKeepsWorking) {
  auto a = AesGcm::Create(Hex(kK), AesGcm::Direction::kSeal);
  ASSERT_TRUE(a.ok());
  AesGcm b = std::move(a.value());
  const auto iv = Hex(kIv), pt = Hex(kP64);
  std::vector<uint8_t> ct(pt.size());
  uint8_t tag[kGcmTagLen];
  ASSERT_TRUE(b.Seal(iv.data(), {}, pt, ct.data(), tag));
  EXPECT_EQ(std::vector<uint8_t>(tag, tag + 16), Hex("4d5c2af327cd64a62cf35abd2ba6fab4"));
}

// Seal loads its nonce without an init call where the process-wide probe
// found that this OpenSSL seals the same bytes that way (Debian 12's 3.0
// does); the known-answer tests above then check that path. If a later
// OpenSSL fails here, sealing still works (through init) but is slower:
// docs/ESP.md, "profile".
TEST(AesGcm, SealsWithoutAnInitCallOnThisOpenSsl) {
  for (const char* k : {kK, kK256}) {
    auto seal = AesGcm::Create(Hex(k), AesGcm::Direction::kSeal);
    auto open = AesGcm::Create(Hex(k), AesGcm::Direction::kOpen);
    ASSERT_TRUE(seal.ok() && open.ok());
    EXPECT_TRUE(seal->seals_by_params()) << k;
    EXPECT_FALSE(open->seals_by_params()) << k;
    // Nonces that change from message to message, sealed by one context and
    // opened by another: each one is taken, not the first one kept.
    auto iv = Hex(kIv);
    const auto pt = Hex(kP64);
    std::vector<uint8_t> ct(pt.size()), out(pt.size()), first;
    uint8_t tag[kGcmTagLen];
    for (uint8_t m = 0; m < 4; ++m) {
      iv[11] = m;
      ASSERT_TRUE(seal->Seal(iv.data(), {}, pt, ct.data(), tag));
      if (m == 0) {
        first = ct;
      } else {
        EXPECT_NE(ct, first) << k << " message " << int{m};
      }
      EXPECT_TRUE(open->Open(iv.data(), {}, ct, out.data(), tag)) << k << " message " << int{m};
      EXPECT_EQ(out, pt);
    }
  }
}

TEST(AesGcm, BeginRefusesTheOtherDirection) {
  for (const char* k : {kK, kK256}) {
    auto seal = AesGcm::Create(Hex(k), AesGcm::Direction::kSeal);
    auto open = AesGcm::Create(Hex(k), AesGcm::Direction::kOpen);
    ASSERT_TRUE(seal.ok() && open.ok());
    const auto iv = Hex(kIv);
    uint8_t tag[kGcmTagLen] = {};
    EXPECT_FALSE(seal->BeginOpen(iv.data(), tag));
    EXPECT_FALSE(open->BeginSeal(iv.data()));
  }
}

// The expected tag is handed to OpenSSL with the nonce: the check in
// OpenFinish uses the bytes as they were at BeginOpen, whatever happens to the
// caller's buffer in between (in ESP it sits right after data decrypted in
// place), for both key sizes, and a wrong one is still refused.
TEST(AesGcm, OpenTakesTheTagAtBegin) {
  for (const char* k : {kK, kK256}) {
    auto seal = AesGcm::Create(Hex(k), AesGcm::Direction::kSeal);
    auto open = AesGcm::Create(Hex(k), AesGcm::Direction::kOpen);
    ASSERT_TRUE(seal.ok() && open.ok());
    const auto iv = Hex(kIv), pt = Hex(kP64);
    std::vector<uint8_t> ct(pt.size()), out(pt.size());
    uint8_t tag[kGcmTagLen];
    ASSERT_TRUE(seal->Seal(iv.data(), {}, pt, ct.data(), tag));

    uint8_t held[kGcmTagLen];
    std::memcpy(held, tag, sizeof(held));
    ASSERT_TRUE(open->BeginOpen(iv.data(), held));
    held[0] ^= 1;  // too late to matter
    ASSERT_TRUE(open->Update(ct.data(), out.data(), static_cast<uint32_t>(ct.size())));
    EXPECT_TRUE(open->OpenFinish()) << k;
    EXPECT_EQ(out, pt);

    ASSERT_TRUE(open->BeginOpen(iv.data(), held));  // the flipped tag now
    ASSERT_TRUE(open->Update(ct.data(), out.data(), static_cast<uint32_t>(ct.size())));
    EXPECT_FALSE(open->OpenFinish()) << k;
    // And the context opens the right tag again right after a refusal.
    EXPECT_TRUE(open->Open(iv.data(), {}, ct, out.data(), tag)) << k;
  }
}

}  // namespace
}  // namespace mflow::esp
