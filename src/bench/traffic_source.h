// TrafficSource: the benchmark's RxPort, producing VXLAN-encapsulated (rx
// direction) or plain container (tx direction) TCP/UDP frames of K flows
// with valid checksums.
//
// It has no thread of its own: RxBurst runs on the engine worker that holds
// the RX role, on that worker's core (pinned only when mflow-bench --pin pins
// the workers), as a NIC's receive ring would be read. Its cost is therefore
// part of every figure mflow-bench reports, on the workers' cores and inside
// the split point's serial section (with the sink, about 14 % of a packet's
// time on one core: BENCHMARKS.md, the profile). So the figures are the throughput of engine
// plus source (plus the sink, which runs on the delivering workers), lower
// than the engine's alone; and since one worker at a time reads, the
// source's cost is serial work that also limits how far the modes spreading
// a flow over workers can scale. Hence the care to keep it cheap:
//
// Frames are built once: every buffer of the source's pool is filled with a
// whole frame at start. Afterwards a packet coming back from the sink only
// gets its sequence fields stamped and the inner IP header restored (GRO
// rewrites the head's), or its headers rewritten (~120 bytes) when the buffer
// last carried another flow; the checksum is fixed incrementally (RFC 1624)
// instead of being recomputed over the payload.
//
// Every TCP/UDP segment's payload starts with a Marker (flow, seq) that the
// OrderSink checks. Flow 0 is the elephant; the mice share every
// `mouse_every`-th packet round robin, or come at a fixed rate (`mouse_pps`)
// with the elephant filling the rest of each burst, or come alone (no
// elephant). With `mouse_flow_packets` the mice are short flows: each carries
// that many packets, then a new flow takes its place, drawn round robin from
// `mouse_flow_ids` distinct flows (each with its own addresses and ports, so
// the engine sees a new flow); a flow id comes back only after all the others
// were used, and its sequence numbers then continue where they stopped.
//
// A mouse's segments also carry, right after the marker, the monotonic time
// (common/clock.h) at which the source handed the packet to the engine: the
// sink takes the mouse's latency from it. The elephant's packets are not
// stamped (the sink ignores those bytes for flow 0), so its path costs the
// same as before: no clock read, no extra checksum update.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "common/status.h"
#include "engine/port.h"
#include "packet/pool.h"

namespace mflow::bench {

struct Marker {
  uint32_t magic;
  uint32_t flow;
  uint64_t seq;  // per flow, per segment on the wire
};
inline constexpr uint32_t kMarkerMagic = 0x6d666c77;  // "mflw"
// Mice: the hand-off time (MonotonicNs, raw bytes) follows the marker.
inline constexpr uint32_t kStampOffset = sizeof(Marker);
inline constexpr uint32_t kStampedBytes = sizeof(Marker) + sizeof(uint64_t);

enum class Direction { kRx, kTx };

struct TrafficConfig {
  Direction direction = Direction::kRx;
  uint8_t l4_proto = 6;         // 6 TCP, 17 UDP
  uint32_t flows = 1;           // flow 0 = elephant, the rest mice (flows - 1 at a time)
  uint32_t mouse_every = 10;    // with mice: every n-th packet is a mouse's
  bool elephant = true;         // false: the mice alone
  uint64_t mouse_pps = 0;       // >0: mice at this rate (the elephant fills the rest); 0: mouse_every
  uint32_t mouse_flow_packets = 0;  // >0: short mouse flows of this many packets each
  uint32_t mouse_flow_ids = 8192;   // short flows: distinct flows to draw from, round robin
  uint32_t ip_size = 1500;      // inner IP packet bytes (64..1500)
  uint32_t gso_segs = 0;        // tx: super-frames of this many segments (0 = plain frames)
  uint32_t pool_packets = 8192;
  uint32_t vni = 42;
  uint64_t max_frames = 0;      // stop after this many frames (0 = until Stop)
};

class TrafficSource : public RxPort {
 public:
  static StatusOr<std::unique_ptr<TrafficSource>> Create(const TrafficConfig& cfg);
  uint32_t RxBurst(Packet** pkts, uint32_t n) noexcept override;

  // After Stop, RxBurst returns 0 (in-flight packets still drain).
  void Stop() { stopped_.store(true, std::memory_order_release); }
  // Segments (markers) handed out so far. Only exact when the engine is stopped.
  uint64_t generated() const { return generated_.load(std::memory_order_acquire); }
  // Mouse segments handed out, and mouse flows started (short flows: every
  // new flow taking a mouse's place; otherwise each mouse once).
  uint64_t mouse_generated() const { return mouse_generated_.load(std::memory_order_acquire); }
  uint64_t mouse_flows_started() const { return mouse_flows_.load(std::memory_order_acquire); }
  // Paced mice that fell more than 1 ms behind their schedule (the engine did
  // not read them in time) and were skipped, as a full receive ring drops.
  uint64_t mouse_skipped() const { return mouse_skipped_.load(std::memory_order_acquire); }
  // Flow ids the markers use: 0 (the elephant) .. flow_ids() - 1.
  uint32_t flow_ids() const { return static_cast<uint32_t>(flows_.size()); }
  uint32_t segment_payload() const { return seg_payload_; }
  PacketPool* pool() { return pool_.get(); }
  const TrafficConfig& config() const { return cfg_; }

 private:
  explicit TrafficSource(const TrafficConfig& cfg) : cfg_(cfg) {}
  Status Build();
  void Stamp(Packet* p, uint32_t flow, uint64_t stamp_ns) noexcept;
  uint32_t NextMouse() noexcept;
  uint32_t MiceDue(uint32_t n) noexcept;

  struct FlowTemplate {
    std::vector<uint8_t> header;  // frame bytes up to and including the first marker and stamp
    uint16_t csum0 = 0;           // L4 checksum with seq fields zero (raw order)
    uint64_t next_seq = 0;        // next marker seq
  };
  TrafficConfig cfg_;
  std::unique_ptr<PacketPool> pool_;
  std::vector<FlowTemplate> flows_;
  uint32_t frame_len_ = 0;   // bytes of each frame
  uint32_t l4_off_ = 0;      // offset of TCP/UDP header in the frame
  uint32_t payload_off_ = 0; // offset of the first marker
  uint32_t seg_payload_ = 0; // TCP/UDP payload bytes per segment
  uint32_t segs_ = 1;        // markers per frame
  std::vector<uint32_t> stamped_;  // per pool buffer: the flow whose headers it holds
  uint64_t counter_ = 0;
  uint64_t frames_ = 0;
  uint32_t next_mouse_ = 0;
  // Short flows: per mouse slot, its flow id and the packets it has left.
  std::vector<uint32_t> slot_flow_;
  std::vector<uint32_t> slot_left_;
  uint32_t next_flow_id_ = 0;
  // Pacing: the first burst's time and the mice offered since.
  uint64_t pace_start_ns_ = 0;
  uint64_t mice_offered_ = 0;
  std::atomic<uint64_t> generated_{0};
  std::atomic<uint64_t> mouse_generated_{0};
  std::atomic<uint64_t> mouse_flows_{0};
  std::atomic<uint64_t> mouse_skipped_{0};
  std::atomic<bool> stopped_{false};
};

}  // namespace mflow::bench
