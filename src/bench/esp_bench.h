// The ESP stages in mflow-bench (--esp aes-128-gcm|aes-256-gcm): the same
// chains as without it plus esp_decrypt (rx, first) or esp_encrypt (tx,
// last), one elephant TCP flow, every mode.
//
// The TrafficSource recycles its frames by stamping templates in place,
// which encrypted buffers no longer are, so the ESP runs take their input
// from a FrameRingSource of prepared frames (a memcpy per frame):
//   rx: VXLAN frames sealed before the run with sequence numbers 1..N and
//       replayed round and round. The receiving SA therefore runs with its
//       replay protection switched off (EspSaTable::set_replay_protection,
//       for benchmarks only): the early check and the in-order window update
//       are a bit test and a bit set per packet, left out of these figures.
//   tx: plain container frames (TCP super-frames with --gso-segs).
// The sink counts packets (a TSO carrier's segments, a coalesced frame's
// packets) and frees them;
// order is the engine's own check (packets released below an earlier one of
// their flow), which every mode reports.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bench/frame_ring_source.h"
#include "bench/traffic_source.h"
#include "common/status.h"
#include "esp/esp_sa_table.h"

namespace mflow::bench {

// The SA both ends of the benchmark use (a fixed test key).
StatusOr<esp::EspSa> BenchSa(const std::string& alg);

// Frames for one run: rx sealed with sa for 198.18.0.2 from 198.18.0.1,
// tx plain. ip_size: the inner IP packet; gso_segs: tx super-frames.
StatusOr<std::vector<RingFrame>> EspBenchFrames(Direction dir, const esp::EspSa& sa,
                                                uint32_t ip_size, uint32_t gso_segs);

// Counts what the engine delivers (packets on the wire); any worker.
class CountingSink : public TxPort {
 public:
  void TxBurst(Packet** pkts, uint32_t n) noexcept override;
  uint64_t segments() const { return segments_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> segments_{0};
};

}  // namespace mflow::bench
