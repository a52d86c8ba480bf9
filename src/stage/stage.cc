#include "stage/stage.h"

#include "packet/packet.h"

namespace mflow {

void StageContext::Drop(Packet* p, uint32_t reason) noexcept {
  counters->drops[reason < kMaxDropReasons ? reason : kMaxDropReasons - 1]++;
  PacketFree(p);
}

}  // namespace mflow
