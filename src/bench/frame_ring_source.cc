#include "bench/frame_ring_source.h"

#include <cstring>
#include <string>

namespace mflow::bench {

StatusOr<std::unique_ptr<FrameRingSource>> FrameRingSource::Create(std::vector<RingFrame> frames,
                                                                   bool loop, uint32_t pool_packets,
                                                                   uint32_t buf_size) {
  if (frames.empty()) return Status::Error("frame ring: no frames");
  for (const RingFrame& f : frames)
    if (f.bytes.empty() || f.bytes.size() + kHeadroom > buf_size)
      return Status::Error("frame ring: a frame of " + std::to_string(f.bytes.size()) +
                           " bytes does not fit a " + std::to_string(buf_size) + "-byte buffer");
  auto pool = PacketPool::Create({"frame-ring", pool_packets, buf_size});
  if (!pool.ok()) return pool.status();
  std::unique_ptr<FrameRingSource> s(new FrameRingSource());
  s->frames_ = std::move(frames);
  s->loop_ = loop;
  s->pool_ = std::move(pool).value();
  return s;
}

uint32_t FrameRingSource::RxBurst(Packet** pkts, uint32_t n) noexcept {
  if (stopped_.load(std::memory_order_acquire)) return 0;
  if (!loop_ && next_ + n > frames_.size()) n = static_cast<uint32_t>(frames_.size() - next_);
  if (n == 0) return 0;
  const uint32_t got = pool_->AllocBurst(pkts, n);
  for (uint32_t i = 0; i < got; ++i) {
    const RingFrame& f = frames_[next_];
    next_ = next_ + 1 == frames_.size() && loop_ ? 0 : next_ + 1;
    Packet* p = pkts[i];
    std::memcpy(p->data, f.bytes.data(), f.bytes.size());
    p->len = static_cast<uint32_t>(f.bytes.size());
    p->in_port = 0;
    p->gso_size = f.gso_size;
    p->gso_segs = f.gso_segs;
    p->vni = f.vni;
  }
  sent_.fetch_add(got, std::memory_order_release);
  return got;
}

}  // namespace mflow::bench
