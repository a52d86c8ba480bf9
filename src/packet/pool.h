// PacketPool: a fixed set of packets with buffers, allocated once.
//
// Every buffer is carved from one slab at construction; the per-packet path
// only moves pointers through an MpmcRing of free packets, so alloc and free
// allocate nothing and take no lock. Packets go back to the pool they came
// from (Packet::pool), whichever thread frees them.
//
// Thread-safety: Alloc/Free/AllocBurst/FreeBurst from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"
#include "packet/packet.h"
#include "ring/mpmc_ring.h"

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
  uint32_t available() const { return free_.size(); }

 private:
  explicit PacketPool(const PacketPoolConfig& cfg);
  static void Reset(Packet* p) noexcept;

  PacketPoolConfig cfg_;
  std::unique_ptr<Packet[]> packets_;
  uint8_t* slab_ = nullptr;
  MpmcRing<Packet*> free_;
};

}  // namespace mflow
