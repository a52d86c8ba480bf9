#include "bench/aead_rate.h"

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "esp/aes_gcm.h"

namespace mflow::bench {
namespace {

using Clock = std::chrono::steady_clock;

// Runs op in rounds of 256 until ms have passed; returns 10^9 bytes/s.
template <typename Op>
double Rate(uint32_t bytes, uint32_t ms, Op op) {
  const auto start = Clock::now();
  const auto end = start + std::chrono::milliseconds(ms);
  uint64_t n = 0;
  auto now = start;
  while (now < end) {
    for (int i = 0; i < 256; ++i) op(n++);
    now = Clock::now();
  }
  const double s = std::chrono::duration<double>(now - start).count();
  return static_cast<double>(n) * bytes / s / 1e9;
}

}  // namespace

namespace {

StatusOr<std::vector<uint8_t>> KeyFor(const std::string& alg) {
  if (alg != "aes-128-gcm" && alg != "aes-256-gcm") {
    return Status::Error(StatusCode::kInvalid, "aead rate: unknown algorithm " + alg);
  }
  return std::vector<uint8_t>(alg == "aes-128-gcm" ? 16 : 32, 0x5a);
}

const uint8_t kAad[8] = {0, 0, 0, 0x77, 0, 0, 0, 1};

}  // namespace

StatusOr<double> MeasureSealTogether(const std::string& alg, uint32_t bytes, uint32_t ms,
                                     uint32_t threads) {
  auto key = KeyFor(alg);
  if (!key.ok()) return key.status();
  std::vector<esp::AesGcm> seals;
  for (uint32_t t = 0; t < threads; ++t) {
    auto g = esp::AesGcm::Create(*key, esp::AesGcm::Direction::kSeal);
    if (!g.ok()) return g.status();
    seals.push_back(std::move(g).value());
  }
  std::vector<double> rates(threads, 0);
  std::atomic<uint32_t> ready{0};
  std::atomic<bool> failed{false};
  std::vector<std::thread> pool;
  for (uint32_t t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      std::vector<uint8_t> buf(bytes, 0xa5);  // each thread's own, as each worker's packets
      uint8_t nonce[esp::kGcmNonceLen] = {1, 2, 3, static_cast<uint8_t>(t)};
      uint8_t tag[esp::kGcmTagLen];
      bool ok = true;
      // Start together: every thread spins until all are running.
      ready.fetch_add(1);
      while (ready.load() < threads) {
      }
      rates[t] = Rate(bytes, ms, [&](uint64_t i) {
        nonce[11] = static_cast<uint8_t>(i);
        ok &= seals[t].Seal(nonce, kAad, buf, buf.data(), tag);
      });
      if (!ok) failed.store(true);
    });
  }
  for (std::thread& th : pool) th.join();
  if (failed.load()) return Status::Error("aead rate: a seal failed");
  double sum = 0;
  for (double r : rates) sum += r;
  return sum;
}

StatusOr<AeadRate> MeasureAead(const std::string& alg, uint32_t bytes, uint32_t ms) {
  auto key_or = KeyFor(alg);
  if (!key_or.ok()) return key_or.status();
  const std::vector<uint8_t>& key = *key_or;
  auto seal = esp::AesGcm::Create(key, esp::AesGcm::Direction::kSeal);
  if (!seal.ok()) return seal.status();
  auto open = esp::AesGcm::Create(key, esp::AesGcm::Direction::kOpen);
  if (!open.ok()) return open.status();
  std::vector<uint8_t> buf(bytes, 0xa5);
  uint8_t nonce[esp::kGcmNonceLen] = {1, 2, 3, 4};
  const auto& aad = kAad;
  uint8_t tag[esp::kGcmTagLen];
  bool ok = true;
  AeadRate r;
  r.seal_gbytes = Rate(bytes, ms, [&](uint64_t i) {
    nonce[11] = static_cast<uint8_t>(i);
    ok &= seal->Seal(nonce, aad, buf, buf.data(), tag);
  });
  // Open one sealed message over and over: every open verifies.
  std::vector<uint8_t> sealed(bytes, 0xa5);
  nonce[11] = 0;
  ok &= seal->Seal(nonce, aad, sealed, sealed.data(), tag);
  r.open_gbytes = Rate(bytes, ms, [&](uint64_t) {
    ok &= open->Open(nonce, aad, sealed, buf.data(), tag);
  });
  if (!ok) return Status::Error("aead rate: a seal or open failed");
  return r;
}

}  // namespace mflow::bench
