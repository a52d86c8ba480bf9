// LatencyHistogram: a log-linear histogram of nanosecond values (32
// sub-buckets per power of two, so a reported percentile is within ~3 % of
// the true value; values below 32 ns are exact), with the exact maximum.
//
// Thread-safety: Add from any thread (relaxed atomic increments: the
// benchmark's sink records mice from every worker); Summarize and Reset from
// the control thread, exact once the writers have stopped.
#pragma once

#include <atomic>
#include <bit>
#include <cstdint>
#include <memory>

namespace mflow::bench {

struct LatencySummary {
  uint64_t count = 0;
  double p50_us = 0;
  double p99_us = 0;
  double max_us = 0;
  double mean_us = 0;
};

class LatencyHistogram {
 public:
  static constexpr uint32_t kSubBits = 5;
  static constexpr uint32_t kSub = 1u << kSubBits;
  static constexpr uint32_t kBuckets = (64 - kSubBits + 1) * kSub;

  LatencyHistogram() : buckets_(std::make_unique<std::atomic<uint64_t>[]>(kBuckets)) {}

  void Add(uint64_t ns) noexcept {
    buckets_[Index(ns)].fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(ns, std::memory_order_relaxed);
    uint64_t m = max_.load(std::memory_order_relaxed);
    while (ns > m && !max_.compare_exchange_weak(m, ns, std::memory_order_relaxed)) {
    }
  }

  void Reset() noexcept {
    for (uint32_t i = 0; i < kBuckets; ++i) buckets_[i].store(0, std::memory_order_relaxed);
    sum_.store(0, std::memory_order_relaxed);
    max_.store(0, std::memory_order_relaxed);
  }

  LatencySummary Summarize() const {
    LatencySummary s;
    for (uint32_t i = 0; i < kBuckets; ++i) s.count += buckets_[i].load(std::memory_order_relaxed);
    if (s.count == 0) return s;
    const uint64_t max = max_.load(std::memory_order_relaxed);
    s.max_us = static_cast<double>(max) / 1e3;
    s.mean_us = static_cast<double>(sum_.load(std::memory_order_relaxed)) / static_cast<double>(s.count) / 1e3;
    s.p50_us = static_cast<double>(Quantile(s.count, 50, max)) / 1e3;
    s.p99_us = static_cast<double>(Quantile(s.count, 99, max)) / 1e3;
    return s;
  }

  // Bucket of a value, and the values a bucket holds: [Low(i), Low(i) + Width(i)).
  static uint32_t Index(uint64_t v) {
    if (v < kSub) return static_cast<uint32_t>(v);
    const uint32_t e = 63 - static_cast<uint32_t>(std::countl_zero(v));  // >= kSubBits
    const uint32_t sub = static_cast<uint32_t>(v >> (e - kSubBits)) & (kSub - 1);
    return (e - kSubBits + 1) * kSub + sub;
  }
  static uint64_t Low(uint32_t i) {
    if (i < kSub) return i;
    const uint32_t e = i / kSub + kSubBits - 1;
    return uint64_t{kSub + i % kSub} << (e - kSubBits);
  }
  static uint64_t Width(uint32_t i) {
    if (i < kSub) return 1;
    return uint64_t{1} << (i / kSub - 1);
  }

 private:
  // The value at percent pct: the middle of the bucket that holds the
  // ceil(pct % of count)-th value, never above the exact maximum.
  uint64_t Quantile(uint64_t count, uint32_t pct, uint64_t max) const {
    const uint64_t rank = (count * pct + 99) / 100;
    uint64_t seen = 0;
    for (uint32_t i = 0; i < kBuckets; ++i) {
      seen += buckets_[i].load(std::memory_order_relaxed);
      if (seen >= rank) {
        const uint64_t mid = Low(i) + Width(i) / 2;
        return mid < max ? mid : max;
      }
    }
    return max;
  }

  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;
  std::atomic<uint64_t> sum_{0};
  std::atomic<uint64_t> max_{0};
};

}  // namespace mflow::bench
