// The daemon's copies per byte (copies.h, port/copy_stats.h).
#include "daemon/copies.h"

#include <optional>

#include "daemon/daemon.h"

namespace mflow::daemon {

nlohmann::json CopiesJson(const PathCopies& c) {
  return {{"kernel_bytes", c.kernel_bytes},
          {"user_bytes", c.user_bytes},
          {"delivered_bytes", c.delivered_bytes},
          {"per_byte", c.per_byte()}};
}

CopyStats Daemon::Copies() const {
  const UdpPortInfo vxlan = udp_->Snapshot();
  std::optional<UdpPortInfo> esp;
  if (esp_udp_ != nullptr) esp = esp_udp_->Snapshot();
  return CountCopies(taps_->ByteTotals(), {&vxlan, esp ? &*esp : nullptr});
}

}  // namespace mflow::daemon
