// FrameRingSource: an RxPort that hands out copies of prepared frames, in
// order, round and round (or once). For inputs the TrafficSource cannot
// make by stamping a template: frames already encrypted as ESP (the rx
// benchmark with --esp, where sealing each frame on the engine's own cores
// would charge the sender's crypto to the receiver), and the hostile
// sequences of the ESP engine tests (duplicates, forgeries, reordering).
//
// Each RxBurst takes packets from the source's own pool and copies whole
// frames into them (a memcpy per frame: the part of a NIC's DMA), so frames
// that the stages rewrote in place never come back to it.
//
// Thread-safety: RxBurst from one thread at a time (the engine's RX role);
// Stop and sent from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "common/status.h"
#include "engine/port.h"
#include "packet/pool.h"

namespace mflow::bench {

struct RingFrame {
  std::vector<uint8_t> bytes;
  uint16_t gso_size = 0;  // a TCP super-frame: its segment size and count
  uint16_t gso_segs = 0;
  uint32_t vni = 0;  // tx: the VNI of the container port the frame came from
};

class FrameRingSource : public RxPort {
 public:
  // loop: start again after the last frame (else stop there).
  static StatusOr<std::unique_ptr<FrameRingSource>> Create(std::vector<RingFrame> frames, bool loop,
                                                           uint32_t pool_packets = 4096,
                                                           uint32_t buf_size = 2048);
  uint32_t RxBurst(Packet** pkts, uint32_t n) noexcept override;
  void Stop() { stopped_.store(true, std::memory_order_release); }
  uint64_t sent() const { return sent_.load(std::memory_order_acquire); }

 private:
  FrameRingSource() = default;
  std::vector<RingFrame> frames_;
  bool loop_ = false;
  std::unique_ptr<PacketPool> pool_;
  size_t next_ = 0;
  std::atomic<bool> stopped_{false};
  std::atomic<uint64_t> sent_{0};
};

}  // namespace mflow::bench
