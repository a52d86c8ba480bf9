#include "packet/pool.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace mflow {

namespace {

constexpr uint32_t kNoSlot = ~uint32_t{0};

// The calling thread's cache slot (PoolCacheSlot), and whether it may have
// put packets in a cache since its last flush. Plain thread_locals with
// constant initialisers: reading them costs a load, no guard.
constinit thread_local uint32_t tls_slot = kNoSlot;
constinit thread_local bool tls_cached = false;

// Every live pool and every slot taken, for the cold paths that reach all
// of a thread's caches (a flush, a slot's end) and for available().
// Lock order: registry, then a pool's mutex.
struct Registry {
  std::mutex mu;
  std::vector<PacketPool*> pools;
  uint64_t slots = 0;  // bit s: slot s taken
  static_assert(kMaxCacheSlots <= 64);
};

Registry& registry() {
  static Registry r;
  return r;
}

uint32_t AutoCacheSize(uint32_t count) {
  const uint32_t n = std::min<uint32_t>(128, count / (2 * kMaxCacheSlots)) & ~1u;
  return n < 8 ? 0 : n;
}

}  // namespace

StatusOr<std::unique_ptr<PacketPool>> PacketPool::Create(const PacketPoolConfig& cfg) {
  if (cfg.count == 0) return Status::Error("pool '" + cfg.name + "': count must be > 0");
  if (cfg.buf_size < kHeadroom + 64)
    return Status::Error("pool '" + cfg.name + "': buf_size must be at least " +
                         std::to_string(kHeadroom + 64));
  if (cfg.cache_size && (*cfg.cache_size == 1 || *cfg.cache_size > kMaxCacheSize))
    return Status::Error("pool '" + cfg.name + "': cache_size must be 0 or 2.." +
                         std::to_string(kMaxCacheSize) + ", got " +
                         std::to_string(*cfg.cache_size));
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
  pool->cache_size_ = cfg.cache_size.value_or(AutoCacheSize(cfg.count));
  if (pool->cache_size_ != 0) {
    // Each cache's items start on a line of their own.
    const size_t per = (size_t{pool->cache_size_} * sizeof(Packet*) + 63) & ~size_t{63};
    pool->cache_items_ = static_cast<Packet**>(std::aligned_alloc(64, per * kMaxCacheSlots));
    if (pool->cache_items_ == nullptr)
      return Status::Error("pool '" + cfg.name + "': cannot allocate its thread caches");
    pool->caches_ = std::make_unique<Cache[]>(kMaxCacheSlots);
    for (uint32_t s = 0; s < kMaxCacheSlots; ++s)
      pool->caches_[s].items = pool->cache_items_ + per / sizeof(Packet*) * s;
  }
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  r.pools.push_back(pool.get());
  return pool;
}

PacketPool::PacketPool(const PacketPoolConfig& cfg)
    : cfg_(cfg), free_(std::make_unique<Packet*[]>(cfg.count)) {}

PacketPool::~PacketPool() {
  {
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mu);
    std::erase(r.pools, this);
  }
  std::free(cache_items_);
  std::free(slab_);
}

uint32_t PacketPool::available() const {
  uint32_t n = shared_available();
  if (caches_ != nullptr)
    for (uint32_t s = 0; s < kMaxCacheSlots; ++s)
      n += caches_[s].len.load(std::memory_order_relaxed);
  return n;
}

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
  const uint32_t slot = tls_slot;
  if (slot == kNoSlot || caches_ == nullptr) return AllocShared(out, n);
  Cache& c = caches_[slot];
  // Relaxed: only this thread writes len (available() only reads it).
  const uint32_t len = c.len.load(std::memory_order_relaxed);
  uint32_t got = n;
  if (MFLOW_LIKELY(n <= len)) {
    for (uint32_t i = 0; i < n; ++i) out[i] = c.items[len - 1 - i];
    c.len.store(len - n, std::memory_order_relaxed);
  } else {
    got = AllocRefill(c, len, out, n);
  }
  for (uint32_t i = 0; i < got; ++i) Reset(out[i]);
  return got;
}

// The cache holds fewer than n: all of it goes out first (the hottest),
// then the shared stack's top, and half a cache more comes along from the
// shared stack for the allocations that follow, under the same lock.
uint32_t PacketPool::AllocRefill(Cache& c, uint32_t len, Packet** out, uint32_t n) noexcept {
  for (uint32_t i = 0; i < len; ++i) out[i] = c.items[len - 1 - i];
  uint32_t refill;
  uint32_t take;
  {
    std::lock_guard<std::mutex> lock(mu_);
    take = std::min(n - len, top_);
    for (uint32_t i = 0; i < take; ++i) out[len + i] = free_[top_ - 1 - i];
    top_ -= take;
    refill = std::min(cache_size_ / 2, top_);
    top_ -= refill;
    std::memcpy(c.items, &free_[top_], refill * sizeof(Packet*));
  }
  c.len.store(refill, std::memory_order_relaxed);
  if (refill != 0) tls_cached = true;
  return len + take;
}

uint32_t PacketPool::AllocShared(Packet** out, uint32_t n) noexcept {
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
  const uint32_t slot = tls_slot;
  if (slot == kNoSlot || caches_ == nullptr) return PutShared(pkts, n);
  Cache& c = caches_[slot];
  const uint32_t len = c.len.load(std::memory_order_relaxed);
  tls_cached = true;
  if (MFLOW_LIKELY(len + n <= cache_size_)) {
    std::memcpy(c.items + len, pkts, n * sizeof(Packet*));
    c.len.store(len + n, std::memory_order_relaxed);
    return;
  }
  PutSpill(c, len, pkts, n);
}

// The cache would overflow: of the cache followed by pkts (oldest first),
// the newest half a cache stays, the older rest goes to the shared stack in
// its order (so the newest of them lands on its top).
void PacketPool::PutSpill(Cache& c, uint32_t len, Packet* const* pkts, uint32_t n) noexcept {
  const uint32_t keep = cache_size_ / 2;
  const uint32_t spill = len + n - keep;  // > 0: len + n > cache_size_ >= keep
  const uint32_t from_cache = std::min(spill, len);
  const uint32_t from_pkts = spill - from_cache;
  {
    // Cannot overflow: the stack has room for every packet of the pool.
    std::lock_guard<std::mutex> lock(mu_);
    std::memcpy(&free_[top_], c.items, from_cache * sizeof(Packet*));
    top_ += from_cache;
    std::memcpy(&free_[top_], pkts, from_pkts * sizeof(Packet*));
    top_ += from_pkts;
  }
  const uint32_t left = len - from_cache;
  std::memmove(c.items, c.items + from_cache, left * sizeof(Packet*));
  std::memcpy(c.items + left, pkts + from_pkts, (n - from_pkts) * sizeof(Packet*));
  c.len.store(keep, std::memory_order_relaxed);
}

void PacketPool::PutShared(Packet* const* pkts, uint32_t n) noexcept {
  // Cannot overflow: the stack has room for every packet of the pool.
  std::lock_guard<std::mutex> lock(mu_);
  std::memcpy(&free_[top_], pkts, n * sizeof(Packet*));
  top_ += n;
}

void PacketPool::FlushCache(uint32_t slot) noexcept {
  if (caches_ == nullptr) return;
  Cache& c = caches_[slot];
  const uint32_t len = c.len.load(std::memory_order_relaxed);
  if (len == 0) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::memcpy(&free_[top_], c.items, len * sizeof(Packet*));
    top_ += len;
  }
  c.len.store(0, std::memory_order_relaxed);
}

PoolCacheSlot::PoolCacheSlot() noexcept {
  if (tls_slot != kNoSlot) return;  // the thread has one already
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  for (uint32_t s = 0; s < kMaxCacheSlots; ++s)
    if ((r.slots & (uint64_t{1} << s)) == 0) {
      r.slots |= uint64_t{1} << s;
      tls_slot = s;
      tls_cached = false;
      owned_ = true;
      return;
    }
}

PoolCacheSlot::~PoolCacheSlot() {
  if (!owned_) return;
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  for (PacketPool* p : r.pools) p->FlushCache(tls_slot);
  r.slots &= ~(uint64_t{1} << tls_slot);
  tls_slot = kNoSlot;
  tls_cached = false;
}

void PoolCacheSlot::FlushThisThread() noexcept {
  if (tls_slot == kNoSlot || !tls_cached) return;
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  for (PacketPool* p : r.pools) p->FlushCache(tls_slot);
  tls_cached = false;
}

namespace {

// Collects released packets and returns them to their pool in bursts: a GRO
// super-frame gives back ~45 buffers, a TSO train as many headers, and one
// PutBurst per burst instead of per packet keeps the free path cheap (one
// acquisition of the pool's mutex without a thread cache, one copy into the
// cache with one).
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
