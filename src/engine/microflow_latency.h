// MicroflowLatency: how long a micro-flow spends in the engine, from the
// split point reading its first packet to its release to the TX port:
// queueing on a worker, the stages, and the wait in the merge for earlier
// micro-flows of its flow. This is the delay the engine adds to a packet.
//
// A histogram with fixed bounds (Prometheus style: bucket i counts the
// values <= kBoundsNs[i] not counted by an earlier bucket; the last bucket
// counts the rest). Each worker records the micro-flows it releases into its
// own MicroflowLatencyCounters (single writer, relaxed atomics, no lock, no
// allocation: one clock read and a short bound search per micro-flow);
// Engine::Stats adds the workers' histograms up.
#pragma once

#include <array>
#include <cstdint>

#include "common/relaxed.h"

namespace mflow {

struct MicroflowLatency {
  // Powers of two from 1 us to 32.8 ms (16 bounds, a factor of 2 apart),
  // chosen from what was measured on this project's 2-vCPU AMD EPYC VM (2026-12-06,
  // with a finer 250 ns .. 65 ms series, other builds sharing the cores):
  //  - mflowd, microflow x2, both hosts on the same 2 cores, ping and 2 s
  //    of iperf3 TCP (scripts/metrics-test.sh, host A's rx engine): 2266
  //    micro-flows, none under 1 us, 26 % in 2-4 us (a lone ACK or ping),
  //    median in 8-16 us, 99.8 % under 4 ms, the largest in 8-16 ms;
  //  - mflow-bench -v --direction rx --duration 500 (saturated, queueing
  //    dominates): flow x1 mean 22 us, 96 % under 16 us; microflow x2
  //    mean 426 us, spread from 16 us to 8 ms; tx with 44-segment
  //    super-frames and mice: 8 us .. 16 ms.
  // So 1 us catches a faster machine's floor, and 32.8 ms is above
  // everything seen (larger waits land in +Inf).
  static constexpr std::array<uint64_t, 16> kBoundsNs = {
      1000,    2000,    4000,    8000,     16000,    32000,    64000,    128000,
      256000,  512000,  1024000, 2048000,  4096000,  8192000,  16384000, 32768000};
  static constexpr uint32_t kBuckets = kBoundsNs.size() + 1;  // + above the last bound

  std::array<uint64_t, kBuckets> buckets{};  // not cumulative
  uint64_t sum_ns = 0;

  uint64_t count() const {
    uint64_t n = 0;
    for (uint64_t b : buckets) n += b;
    return n;
  }
  static uint32_t Bucket(uint64_t ns) {
    uint32_t i = 0;
    while (i < kBoundsNs.size() && ns > kBoundsNs[i]) ++i;
    return i;
  }
};

// One worker's histogram for one path. Add: the owning worker only; Add
// and AddTo from any thread.
struct MicroflowLatencyCounters {
  Relaxed<uint64_t> buckets[MicroflowLatency::kBuckets];
  Relaxed<uint64_t> sum_ns;

  void Add(uint64_t ns) noexcept {
    ++buckets[MicroflowLatency::Bucket(ns)];
    sum_ns += ns;
  }
  // The count is the sum of the buckets as read, so a histogram read while
  // the worker records is still consistent (+Inf == count); only sum_ns may
  // be a micro-flow ahead or behind.
  void AddTo(MicroflowLatency& out) const noexcept {
    for (uint32_t i = 0; i < MicroflowLatency::kBuckets; ++i) out.buckets[i] += buckets[i].load();
    out.sum_ns += sum_ns.load();
  }
};

}  // namespace mflow
