// PacketPool: a fixed set of packets with buffers, allocated once.
//
// Every buffer is carved from one slab at construction; the per-packet path
// only moves pointers, a burst at a time, so alloc and free allocate
// nothing. Packets go back to the pool they came from (Packet::pool),
// whichever thread frees them.
//
// The free packets are a stack (LIFO), not a queue: the next allocation gets
// the packet freed last, whose metadata and buffer are still in the cache of
// the core that freed it (in run-to-completion, the core about to use it).
// The pool was first a FIFO ring, which hands out the packet freed longest
// ago, cold: with 32768 TSO header buffers cycling through it, the first
// write to each header and to its metadata missed the cache (perf: ~9 % of
// mflowd's CPU). A mutex guards the stack, taken once per burst.
//
// Thread-safety: Alloc/AllocBurst/Put/PutBurst (and so PacketFree) from any
// thread.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "common/status.h"
#include "packet/packet.h"

namespace mflow {

struct PacketPoolConfig {
  std::string name = "pool";
  uint32_t count = 4096;      // packets
  uint32_t buf_size = 2048;   // bytes per buffer, headroom included
};

class PacketPool {
 public:
  static StatusOr<std::unique_ptr<PacketPool>> Create(const PacketPoolConfig& cfg);
  ~PacketPool();
  PacketPool(const PacketPool&) = delete;
  PacketPool& operator=(const PacketPool&) = delete;

  // A fresh packet (data at kHeadroom, len 0, metadata cleared) or nullptr
  // when the pool is empty.
  Packet* Alloc() noexcept;
  // Up to n packets; returns how many.
  uint32_t AllocBurst(Packet** out, uint32_t n) noexcept;
  // Returns packets that PacketFree has already released (no refs, no chain).
  void Put(Packet* p) noexcept { PutBurst(&p, 1); }
  void PutBurst(Packet* const* pkts, uint32_t n) noexcept;

  const std::string& name() const { return cfg_.name; }
  uint32_t count() const { return cfg_.count; }
  uint32_t buf_size() const { return cfg_.buf_size; }
  // Packets currently in the pool (others are in use).
  uint32_t available() const {
    std::lock_guard<std::mutex> lock(mu_);
    return top_;
  }

 private:
  explicit PacketPool(const PacketPoolConfig& cfg);
  static void Reset(Packet* p) noexcept;

  PacketPoolConfig cfg_;
  std::unique_ptr<Packet[]> packets_;
  uint8_t* slab_ = nullptr;
  mutable std::mutex mu_;
  std::unique_ptr<Packet*[]> free_;  // [0, top_) are free, the last freed on top
  uint32_t top_ = 0;
};

}  // namespace mflow
