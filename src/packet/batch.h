// Batch: up to kMaxBatch packets handed through the stages together.
//
// Stages process a batch in place and keep the packets that go on in their
// original order (Keep/compaction), so a batch's order is the flow's order.
#pragma once

#include <cstdint>

#include "packet/packet.h"

namespace mflow {

inline constexpr uint32_t kMaxBatch = 256;

struct Batch {
  uint32_t n = 0;
  Packet* pkts[kMaxBatch];

  bool full() const { return n == kMaxBatch; }
  bool empty() const { return n == 0; }
  void Push(Packet* p) { pkts[n++] = p; }  // precondition: !full()
  void Clear() { n = 0; }
  Packet** begin() { return pkts; }
  Packet** end() { return pkts + n; }
};

}  // namespace mflow
