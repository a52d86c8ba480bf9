#include "packet/pool.h"

#include <cstdlib>

namespace mflow {

StatusOr<std::unique_ptr<PacketPool>> PacketPool::Create(const PacketPoolConfig& cfg) {
  if (cfg.count == 0) return Status::Error("pool '" + cfg.name + "': count must be > 0");
  if (cfg.buf_size < kHeadroom + 64)
    return Status::Error("pool '" + cfg.name + "': buf_size must be at least " +
                         std::to_string(kHeadroom + 64));
  std::unique_ptr<PacketPool> pool(new PacketPool(cfg));
  const size_t stride = (size_t{cfg.buf_size} + 63) & ~size_t{63};
  pool->slab_ = static_cast<uint8_t*>(std::aligned_alloc(64, stride * cfg.count));
  if (pool->slab_ == nullptr)
    return Status::Error("pool '" + cfg.name + "': cannot allocate " +
                         std::to_string(stride * cfg.count) + " bytes");
  pool->packets_ = std::make_unique<Packet[]>(cfg.count);
  for (uint32_t i = 0; i < cfg.count; ++i) {
    Packet* p = &pool->packets_[i];
    p->buf = pool->slab_ + stride * i;
    p->buf_size = cfg.buf_size;
    p->index = i;
    p->pool = pool.get();
    Reset(p);
    pool->free_[pool->top_++] = p;
  }
  return pool;
}

PacketPool::PacketPool(const PacketPoolConfig& cfg)
    : cfg_(cfg), free_(std::make_unique<Packet*[]>(cfg.count)) {}

PacketPool::~PacketPool() { std::free(slab_); }

void PacketPool::Reset(Packet* p) noexcept {
  p->data = p->buf + kHeadroom;
  p->len = 0;
  p->nfrags = 0;
  p->seq = 0;
  p->wire_seq = 0;
  p->flow_hash = 0;
  p->vni = 0;
  p->in_port = kPortNone;
  p->out_port = kPortNone;
  p->remote = wire::IpAddr{};
  p->gso_size = 0;
  p->gso_segs = 0;
  p->l3_off = 0;
  p->l4_off = 0;
  p->l4_proto = 0;
  p->flags = 0;
  p->esp_slot = 0;
  p->refs.store(1, std::memory_order_relaxed);
  p->chain = nullptr;
  p->chain_next = nullptr;
  p->parent = nullptr;
  p->segs = nullptr;
  p->seg_next = nullptr;
  p->nsegs = 0;
}

// Metadata is cleared on the way out, not on the way in: the allocating
// thread is about to write the packet anyway, so the lines it touches here
// are the ones it needs next.
Packet* PacketPool::Alloc() noexcept {
  Packet* p = nullptr;
  return AllocBurst(&p, 1) == 1 ? p : nullptr;
}

uint32_t PacketPool::AllocBurst(Packet** out, uint32_t n) noexcept {
  uint32_t got;
  {
    std::lock_guard<std::mutex> lock(mu_);
    got = n < top_ ? n : top_;
    top_ -= got;
    // The top of the stack first: the most recently freed is out[0].
    for (uint32_t i = 0; i < got; ++i) out[i] = free_[top_ + got - 1 - i];
  }
  for (uint32_t i = 0; i < got; ++i) Reset(out[i]);
  return got;
}

void PacketPool::PutBurst(Packet* const* pkts, uint32_t n) noexcept {
  // Cannot overflow: the stack has room for every packet of the pool.
  std::lock_guard<std::mutex> lock(mu_);
  for (uint32_t i = 0; i < n; ++i) free_[top_ + i] = pkts[i];
  top_ += n;
}

namespace {

// Collects released packets and returns them to their pool in bursts: a GRO
// super-frame gives back ~45 buffers, a TSO train as many headers, and one
// PutBurst (one acquisition of the pool's mutex) per burst instead of per
// packet keeps the free path cheap.
class FreeList {
 public:
  ~FreeList() { Flush(); }
  void Add(Packet* p) noexcept {
    if (p->pool != pool_ || n_ == kCap) Flush();
    pool_ = p->pool;
    items_[n_++] = p;
  }
  void Flush() noexcept {
    if (n_ != 0) pool_->PutBurst(items_, n_);
    n_ = 0;
  }

 private:
  static constexpr uint32_t kCap = 64;
  PacketPool* pool_ = nullptr;
  uint32_t n_ = 0;
  Packet* items_[kCap];
};

void Release(Packet* p, FreeList& out) noexcept {
  // Sole owner (the common case) needs no read-modify-write: nobody else can
  // take a reference to a packet they do not hold.
  if (p->refs.load(std::memory_order_acquire) != 1 &&
      p->refs.fetch_sub(1, std::memory_order_acq_rel) != 1)
    return;
  for (Packet* c = p->chain; c != nullptr;) {
    Packet* next = c->chain_next;
    Release(c, out);
    c = next;
  }
  for (Packet* c = p->segs; c != nullptr;) {
    Packet* next = c->seg_next;
    Release(c, out);
    c = next;
  }
  Packet* parent = p->parent;
  out.Add(p);
  if (parent != nullptr) Release(parent, out);
}

}  // namespace

void PacketFree(Packet* p) noexcept {
  FreeList out;
  Release(p, out);
}

void PacketFreeBurst(Packet* const* pkts, uint32_t n) noexcept {
  FreeList out;
  for (uint32_t i = 0; i < n; ++i) Release(pkts[i], out);
}

}  // namespace mflow
