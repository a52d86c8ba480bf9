// The SA step of a reload (Daemon::ReloadLocked): the ESP socket's peers,
// then the SAs (EspKeys, make-before-break). Either both change or neither:
// a socket that accepted the new peers while their SAs were refused would
// take datagrams the running config does not expect.
#include <algorithm>

#include "common/clock.h"
#include "daemon/daemon.h"
#include "daemon/log.h"

namespace mflow::daemon {

Status Daemon::ApplyEspLocked(const std::vector<EspPeerConfig>& next) {
  // The socket's peers now (the configured ones and any still retiring),
  // to go back to.
  std::vector<wire::IpAddr> before;
  for (const UdpPeerInfo& p : esp_udp_->Snapshot().peers)
    if (auto a = wire::IpAddr::Parse(p.address)) before.push_back(*a);
  // Make before break (EspKeys): the ESP socket accepts the union until the
  // old SAs retire; packets for a removed peer fail at the SA lookup.
  std::vector<wire::IpAddr> both = EspPeers(next);
  for (const wire::IpAddr& a : EspPeers(cfg_.esp))
    if (std::find(both.begin(), both.end(), a) == both.end()) both.push_back(a);
  if (Status s = esp_udp_->SetPeers(both); !s.ok()) return s.Prefixed("underlay.esp: ");
  std::vector<std::string> what;
  if (Status s = esp_keys_->Apply(next, CoarseMs(), &what); !s.ok()) {
    (void)esp_udp_->SetPeers(before);
    return s;
  }
  for (const std::string& w : what) LogInfo("esp", {{"change", w}});
  return Status::Ok();
}

}  // namespace mflow::daemon
