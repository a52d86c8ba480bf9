// TrafficSource: the benchmark's RxPort, producing VXLAN-encapsulated (rx
// direction) or plain container (tx direction) TCP/UDP frames of K flows
// with valid checksums, at a cost that does not compete with the workers.
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
// `mouse_every`-th packet round robin.
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

enum class Direction { kRx, kTx };

struct TrafficConfig {
  Direction direction = Direction::kRx;
  uint8_t l4_proto = 6;         // 6 TCP, 17 UDP
  uint32_t flows = 1;           // flow 0 = elephant, the rest mice
  uint32_t mouse_every = 10;    // with mice: every n-th packet is a mouse's
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
  uint32_t segment_payload() const { return seg_payload_; }
  PacketPool* pool() { return pool_.get(); }
  const TrafficConfig& config() const { return cfg_; }

 private:
  explicit TrafficSource(const TrafficConfig& cfg) : cfg_(cfg) {}
  Status Build();
  void Stamp(Packet* p, uint32_t flow) noexcept;

  struct FlowTemplate {
    std::vector<uint8_t> header;  // frame bytes up to and including the first marker
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
  std::atomic<uint64_t> generated_{0};
  std::atomic<bool> stopped_{false};
};

}  // namespace mflow::bench
