// FloodLimiter: a token bucket per container port for broadcast, multicast
// and unknown-unicast frames, which mflowd replicates to every peer and every
// local port of the VNI. Without a bound one container could make the host
// send (peers + ports) copies of everything it floods: an ARP storm or a
// stream to unknown MACs would load every host of the overlay.
//
// Each port may flood `rate` frames per second on average, in bursts of up
// to `burst`; frames above that are refused (the caller drops and counts
// them). rate 0 disables the limit.
//
// Thread-safety: Allow from any thread (a flood is the rare path, so a small
// mutex per port is cheaper to reason about than a lock-free bucket).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <mutex>

namespace mflow {

class FloodLimiter {
 public:
  static constexpr uint32_t kPorts = 256;

  FloodLimiter(uint32_t rate, uint32_t burst) : rate_(rate), burst_(burst == 0 ? 1 : burst) {}

  // True if port may flood one more frame at now_ns (monotonic).
  bool Allow(uint16_t port, uint64_t now_ns) {
    if (rate_ == 0) return true;
    Bucket& b = buckets_[port % kPorts];
    std::lock_guard<std::mutex> lock(b.mu);
    const uint64_t cap = uint64_t{burst_} * kNano;
    if (!b.started) {  // a port starts with a full bucket
      b.started = true;
      b.nano = cap;
      b.last_ns = now_ns;
    }
    if (now_ns > b.last_ns) {
      // Tokens are counted in 1e-9 units, so the refill is exact at any rate.
      b.nano = std::min(cap, b.nano + (now_ns - b.last_ns) * rate_);
      b.last_ns = now_ns;
    }
    if (b.nano < kNano) return false;
    b.nano -= kNano;
    return true;
  }

  uint32_t rate() const { return rate_; }
  uint32_t burst() const { return burst_; }

 private:
  static constexpr uint64_t kNano = 1000000000ull;
  struct Bucket {
    std::mutex mu;
    bool started = false;
    uint64_t nano = 0;  // tokens x 1e9
    uint64_t last_ns = 0;
  };
  uint32_t rate_;
  uint32_t burst_;
  std::array<Bucket, kPorts> buckets_;
};

}  // namespace mflow
