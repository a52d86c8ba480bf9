#include "port/peer_slots.h"

#include <cstring>

namespace mflow {

PeerSlots::PeerSlots() = default;

PeerSlots::~PeerSlots() { delete[] index_.load(std::memory_order_relaxed); }

uint32_t PeerSlots::Hash(const wire::IpAddr& a) noexcept {
  uint64_t lo = 0, hi = 0;
  std::memcpy(&lo, a.bytes, 8);
  std::memcpy(&hi, a.bytes + 8, 8);
  // Two multiplicative rounds (odd constants of the golden ratio and
  // SplitMix64): the high bits depend on every byte, and IPv4 addresses of
  // one subnet, which differ in the last byte only, spread over the index.
  uint64_t h = (lo ^ a.family) * 0x9E3779B97F4A7C15ull;
  h = (h ^ (h >> 29) ^ hi) * 0xBF58476D1CE4E5B9ull;
  return static_cast<uint32_t>(h >> 32);
}

int PeerSlots::Find(const wire::IpAddr& a) const noexcept {
  const uint32_t n = size();
  if (n <= kScanMax) {
    for (uint32_t i = 0; i < n; ++i)
      if ((*this)[i].addr == a) return static_cast<int>(i);
    return -1;
  }
  const std::atomic<uint32_t>* index = index_.load(std::memory_order_acquire);
  for (uint32_t b = Hash(a) & (kIndexSize - 1);; b = (b + 1) & (kIndexSize - 1)) {
    // Acquire: the slot's address and its chunk were written before the
    // bucket was (IndexInsert's release), even past the size read above.
    const uint32_t v = index[b].load(std::memory_order_acquire);
    if (v == 0) return -1;  // at most kCapacity of kIndexSize buckets are full
    if ((*this)[v - 1].addr == a) return static_cast<int>(v - 1);
  }
}

void PeerSlots::IndexInsert(std::atomic<uint32_t>* index, uint32_t slot) noexcept {
  const wire::IpAddr& a = (*this)[slot].addr;
  uint32_t b = Hash(a) & (kIndexSize - 1);
  while (index[b].load(std::memory_order_relaxed) != 0) b = (b + 1) & (kIndexSize - 1);
  index[b].store(slot + 1, std::memory_order_release);
}

int PeerSlots::Append(const wire::IpAddr& a) {
  const uint32_t n = size_.load(std::memory_order_relaxed);  // we are the writer
  if (n >= kCapacity) return -1;
  std::unique_ptr<Slot[]>& chunk = chunks_[n >> kChunkBits];
  if (!chunk) chunk = std::make_unique<Slot[]>(kChunk);
  (*this)[n].addr = a;
  std::atomic<uint32_t>* index = index_.load(std::memory_order_relaxed);
  if (index == nullptr && n + 1 > kScanMax) {
    // The index appears with the first slot past the scan: every slot so
    // far goes in before readers may look for any of them there.
    index = new std::atomic<uint32_t>[kIndexSize]();
    for (uint32_t i = 0; i < n; ++i) IndexInsert(index, i);
    index_.store(index, std::memory_order_release);
  }
  if (index != nullptr) IndexInsert(index, n);
  size_.store(n + 1, std::memory_order_release);
  return static_cast<int>(n);
}

}  // namespace mflow
