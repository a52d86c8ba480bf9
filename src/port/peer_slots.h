// The UDP port's peers: one slot per underlay address that has ever been a
// peer, with its counters and whether it is a peer now.
//
// Slots are appended, never moved, reused or freed, so a data-path thread
// can hold a slot's index (a send batch does, until it flushes) while the
// control path adds peers: no lock and no reclamation on the data path.
// A host that leaves keeps its slot with `live` cleared; it comes back to
// the same slot and counters. The price is a bound on distinct addresses
// over the port's life (kCapacity), far above what a store-driven overlay
// of thousands of hosts uses.
//
// Lookups by address are lock-free: up to kScanMax slots are scanned (the
// usual handful of peers, where a scan beats any index); beyond that an
// insert-only open-addressing index is published, sized for kCapacity at
// a load of one half.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "wire/ip_addr.h"

namespace mflow {

class PeerSlots {
 public:
  struct Slot {
    wire::IpAddr addr;  // written once, before the slot is published
    std::atomic<bool> live{false};
    std::atomic<uint64_t> tx_datagrams{0}, tx_bytes{0}, rx_datagrams{0}, rx_bytes{0};
  };

  static constexpr uint32_t kCapacity = 65536;
  static constexpr uint32_t kScanMax = 8;

  PeerSlots();
  ~PeerSlots();
  PeerSlots(const PeerSlots&) = delete;
  PeerSlots& operator=(const PeerSlots&) = delete;

  // Slots published so far; an index below it is valid on any thread.
  uint32_t size() const noexcept { return size_.load(std::memory_order_acquire); }
  Slot& operator[](uint32_t i) noexcept { return chunks_[i >> kChunkBits][i & (kChunk - 1)]; }
  const Slot& operator[](uint32_t i) const noexcept {
    return chunks_[i >> kChunkBits][i & (kChunk - 1)];
  }

  // The slot of address a, live or not; -1 if a never was a peer. Any thread.
  int Find(const wire::IpAddr& a) const noexcept;

  // Control path, one caller at a time: a new slot for a (not live), which
  // must not have one yet. -1 when kCapacity slots are used.
  int Append(const wire::IpAddr& a);

  static uint32_t Hash(const wire::IpAddr& a) noexcept;

 private:
  static constexpr uint32_t kChunkBits = 9;
  static constexpr uint32_t kChunk = 1u << kChunkBits;
  static constexpr uint32_t kIndexSize = 2 * kCapacity;  // a power of two

  void IndexInsert(std::atomic<uint32_t>* index, uint32_t slot) noexcept;

  // Chunk c is allocated before size_ first covers it (release) and never
  // changes after: a reader that saw the size may read the pointer plainly.
  std::unique_ptr<Slot[]> chunks_[kCapacity / kChunk];
  std::atomic<uint32_t> size_{0};
  // Slot + 1 per bucket, 0 = empty. Published (release) before size_
  // passes kScanMax, and every slot is in it before size_ covers it.
  std::atomic<std::atomic<uint32_t>*> index_{nullptr};
};

}  // namespace mflow
