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
    p->pool = pool.get();
    Reset(p);
    pool->free_.TryPush(p);
  }
  return pool;
}

PacketPool::PacketPool(const PacketPoolConfig& cfg) : cfg_(cfg), free_(cfg.count) {}

PacketPool::~PacketPool() { std::free(slab_); }

void PacketPool::Reset(Packet* p) noexcept {
  p->data = p->buf + kHeadroom;
  p->len = 0;
  p->nfrags = 0;
  p->seq = 0;
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
  p->refs.store(1, std::memory_order_relaxed);
  p->chain = nullptr;
  p->chain_next = nullptr;
  p->parent = nullptr;
  p->segs = nullptr;
  p->seg_next = nullptr;
  p->nsegs = 0;
}

Packet* PacketPool::Alloc() noexcept {
  Packet* p = nullptr;
  return free_.TryPop(&p) ? p : nullptr;
}

uint32_t PacketPool::AllocBurst(Packet** out, uint32_t n) noexcept {
  return free_.PopBurst(out, n);
}

void PacketPool::Put(Packet* p) noexcept {
  Reset(p);
  // Cannot fail: the ring holds every packet of the pool.
  free_.TryPush(p);
}

void PacketFree(Packet* p) noexcept {
  // Sole owner (the common case) needs no read-modify-write: nobody else can
  // take a reference to a packet they do not hold.
  if (p->refs.load(std::memory_order_acquire) != 1 &&
      p->refs.fetch_sub(1, std::memory_order_acq_rel) != 1)
    return;
  Packet* c = p->chain;
  while (c != nullptr) {
    Packet* next = c->chain_next;
    PacketFree(c);
    c = next;
  }
  c = p->segs;
  while (c != nullptr) {
    Packet* next = c->seg_next;
    PacketFree(c);
    c = next;
  }
  Packet* parent = p->parent;
  p->pool->Put(p);
  if (parent != nullptr) PacketFree(parent);
}

}  // namespace mflow
