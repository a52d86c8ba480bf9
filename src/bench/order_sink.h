// OrderSink: the benchmark's TxPort. Checks that every flow's segments
// arrive once, complete and in order, then frees the packets (which returns
// the source's buffers for reuse).
//
// It reads the Marker at the start of each segment's payload: in the rx
// direction a delivered frame may be a GRO super-frame (one marker per
// gso_size chunk of payload, the chunks being the head's own payload and its
// fragments); in the tx direction a delivered packet may be a TSO train of
// VXLAN-encapsulated segments. Per flow: marker seq below the expected one =
// out of order (or duplicate), above = a gap (counted lost until it shows up
// late). Bad markers are counted, never trusted as indices.
//
// Mice (every flow but 0) carry the time the source handed them to the
// engine after their marker; while latency recording is on, the sink puts
// each mouse segment's age on arrival into a histogram.
//
// Thread-safety: TxBurst concurrently for different flows (per-flow state is
// written by one thread at a time, as the engine guarantees); the counters
// are single-writer atomics so the control thread may read them while the
// engine runs.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "bench/latency_histogram.h"
#include "bench/traffic_source.h"
#include "common/compiler.h"
#include "engine/port.h"

namespace mflow::bench {

struct SinkTotals {
  uint64_t segments = 0;      // markers seen
  uint64_t frames = 0;        // frames (super-frames or segments) delivered
  uint64_t out_of_order = 0;  // markers below the next expected one
  uint64_t gaps = 0;          // markers skipped over when a later one arrived
  uint64_t bad = 0;           // frames the sink could not read a marker from
  uint64_t flows = 0;         // flows with at least one segment delivered
  uint64_t mouse_segments = 0;  // segments of flows other than 0
};

class OrderSink : public TxPort {
 public:
  // flows: the flow ids markers may carry (TrafficSource::flow_ids()).
  OrderSink(Direction dir, uint32_t flows);
  void TxBurst(Packet** pkts, uint32_t n) noexcept override;

  // Sum over flows; exact once the engine has stopped.
  SinkTotals Totals() const;
  uint64_t segments() const;  // cheap progress figure while running

  // Mouse latency (hand-off to the engine -> this sink) is recorded only
  // while on; the control thread switches it around the measured interval.
  void SetLatencyRecording(bool on) { recording_.store(on, std::memory_order_relaxed); }
  const LatencyHistogram& mouse_latency() const { return latency_; }

 private:
  struct alignas(kCacheLine) FlowCheck {
    std::atomic<uint64_t> next{0};
    std::atomic<uint64_t> segments{0};
    std::atomic<uint64_t> frames{0};
    std::atomic<uint64_t> out_of_order{0};
    std::atomic<uint64_t> gaps{0};
  };
  void CheckFrame(const Packet* p, uint64_t* now) noexcept;
  void Count(uint32_t flow, uint64_t seq) noexcept;

  Direction dir_;
  uint32_t nflows_;
  std::unique_ptr<FlowCheck[]> flows_;
  alignas(kCacheLine) std::atomic<uint64_t> bad_{0};
  std::atomic<bool> recording_{false};
  LatencyHistogram latency_;
};

}  // namespace mflow::bench
