// The hot path allocates nothing: OpenSSL's allocator is replaced by a
// counting one before its first use (so this binary has its own main), and
// sealing and opening packets with prepared contexts must not call it.
#include <openssl/crypto.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <memory>

#include "esp/esp_codec.h"
#include "esp/esp_endpoint.h"
#include "esp/esp_test_util.h"
#include "packet/pool.h"

namespace {

std::atomic<uint64_t> g_allocs{0};

void* CountingMalloc(size_t n, const char*, int) {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n);
}
void* CountingRealloc(void* p, size_t n, const char*, int) {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  return std::realloc(p, n);
}
void CountingFree(void* p, const char*, int) { std::free(p); }

}  // namespace

namespace mflow::esp {
namespace {

TEST(EspHotPath, SealAndOpenAllocateNothingInOpenSsl) {
  for (const char* alg : {"aes-128-gcm", "aes-256-gcm"}) {
    const bool is128 = alg[4] == '1';
    auto sa = EspSa::FromFields(
        0x77, alg,
        is128 ? "000102030405060708090a0b0c0d0e0f"
              : "000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f",
        "01020304", true);
    ASSERT_TRUE(sa.ok());
    auto seal = AesGcm::Create(sa->key_bytes(), AesGcm::Direction::kSeal);
    auto open = AesGcm::Create(sa->key_bytes(), AesGcm::Direction::kOpen);
    ASSERT_TRUE(seal.ok() && open.ok());
    ASSERT_GT(g_allocs.load(), 0u) << "the counting allocator is in use (contexts are allocated)";
    auto pool = PacketPool::Create({"alloc-test", 4, 2048});
    ASSERT_TRUE(pool.ok());
    ReplayWindow window;
    Packet* p = pool.value()->Alloc();
    const auto payload = testing::Payload(1400, 1);
    auto round = [&](uint64_t seq) {
      p->data = p->buf + kHeadroom;
      testing::Fill(p, payload);
      ASSERT_EQ(EspEncrypt(p, sa.value(), seal.value(), seq), kEspOk);
      uint64_t got = 0;
      ASSERT_EQ(EspDecrypt(p, sa.value(), open.value(), window, &got), kEspOk);
      ASSERT_EQ(window.Update(got), ReplayVerdict::kOk);
      // A forged one too: the failure path must not allocate either.
      p->data = p->buf + kHeadroom;
      testing::Fill(p, payload);
      ASSERT_EQ(EspEncrypt(p, sa.value(), seal.value(), seq + 1000000), kEspOk);
      p->data[p->len - 1] ^= 1;
      ASSERT_EQ(EspDecrypt(p, sa.value(), open.value(), window, &got), kEspBadIcv);
    };
    round(1);  // first use may set up lazily
    const uint64_t before = g_allocs.load();
    for (uint64_t s = 2; s < 1000; ++s) round(s);
    EXPECT_EQ(g_allocs.load(), before) << alg << ": OpenSSL allocated on the per-packet path";
    PacketFree(p);
  }
}

}  // namespace
}  // namespace mflow::esp

int main(int argc, char** argv) {
  // Must precede every OpenSSL call; it fails if OpenSSL has allocated.
  if (CRYPTO_set_mem_functions(CountingMalloc, CountingRealloc, CountingFree) != 1) {
    std::fprintf(stderr, "esp_alloc_test: CRYPTO_set_mem_functions refused\n");
    return 1;
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
