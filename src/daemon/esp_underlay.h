// mflowd's encrypted underlay: the second UDP socket (ESP in UDP, RFC 3948,
// on underlay.esp_port) beside the VXLAN one, and the SAs of the ESP stages
// kept in step with the configuration (docs/ESP.md).
//
// UnderlayPair is the engine's underlay port when some peer is encrypted:
// it reads both sockets, or after the engine's poll only the ready ones
// (marking what came from the ESP one kPktFlagEsp, so esp_decrypt knows to
// decrypt it) and sends what esp_encrypt marked on the
// ESP socket, the rest on the VXLAN socket. The VXLAN socket's peers are the
// plain peers only, so nothing plain is ever sent to or accepted from an
// encrypted peer (a frame for one that was not encrypted is dropped as
// tx_not_peer); floods go to the plain peers only.
//
// EspKeys installs the configured SAs and replaces them make-before-break
// on reload: a new inbound SA is accepted first, then the outbound SA is
// switched, and the old inbound SA is removed after a grace period (the
// peer may still be sending with it until it has reloaded too).
//
// Thread-safety: UnderlayPair as UdpPort (RxBurst/WaitFds/AfterWait from the
// RX role, TxBurst from any worker); EspKeys from the control thread.
#pragma once

#include <cstdint>
#include <vector>

#include "common/status.h"
#include "daemon/esp_config.h"
#include "engine/port.h"
#include "esp/esp_sa_table.h"
#include "port/udp_port.h"

namespace mflow::daemon {

class UnderlayPair final : public RxPort, public TxPort {
 public:
  UnderlayPair(UdpPort* vxlan, UdpPort* esp) : vxlan_(vxlan), esp_(esp) {}
  uint32_t RxBurst(Packet** pkts, uint32_t n) noexcept override;
  uint32_t WaitFds(pollfd* fds) noexcept override;
  void AfterWait(const pollfd* fds) noexcept override;
  uint32_t InputFds(pollfd* fds) noexcept override {
    nin_vxlan_ = vxlan_->InputFds(fds);
    nin_esp_ = esp_->InputFds(fds + nin_vxlan_);
    return nin_vxlan_ + nin_esp_;
  }
  void InputReady(const pollfd* fds) noexcept override;
  bool Pending() const noexcept override { return vxlan_->Pending() || esp_->Pending(); }
  void Interrupt() noexcept override;
  void TxBurst(Packet** pkts, uint32_t n) noexcept override;

 private:
  UdpPort* vxlan_;
  UdpPort* esp_;
  uint32_t nfds_vxlan_ = 0;  // WaitFds: how many of the fds are the VXLAN port's
  uint32_t nin_vxlan_ = 0, nin_esp_ = 0;  // InputFds: how many are each port's
  // InputReady's word for the next RxBurst, which reads a socket only if it
  // was ready (or holds views back); without a word, both.
  bool told_ = false, vxlan_ready_ = false, esp_ready_ = false;
  bool esp_first_ = false;   // alternate which socket is read first
};

class EspKeys {
 public:
  static constexpr uint64_t kGraceMs = 10000;  // an old inbound SA lives on this long
  explicit EspKeys(esp::EspSaTable* table) : table_(table) {}

  // Whether Apply(next) would succeed, changing nothing: refuses a rekey
  // that keeps the inbound SPI with another key (make-before-break needs
  // both SAs at once: give the new one a new SPI), an inbound SPI that is
  // live or retiring for another SA, and more new SAs than the table has
  // free slots (removed ones free after EspSaTable::kSlotQuietMs). A reload
  // calls it before it changes anything else.
  Status Check(const std::vector<EspPeerConfig>& next) const;
  // Makes the table hold `next`: new inbound SAs first, then outbound
  // switched, old inbound SAs retired after kGraceMs (Expire). All or
  // nothing: refuses what Check refuses, and if the table still fails a
  // step (the crypto library cannot make a context), the SAs this call
  // installed are removed and the outbound ones it switched are put back.
  // `what` gets a line per change, SPIs only (nothing on a refusal).
  Status Apply(const std::vector<EspPeerConfig>& next, uint64_t now_ms, std::vector<std::string>* what);
  // Removes retired inbound SAs whose grace period is over.
  void Expire(uint64_t now_ms, std::vector<std::string>* what);

 private:
  struct Retiring {
    uint32_t spi;
    uint64_t at_ms;
  };
  esp::EspSaTable* table_;
  std::vector<EspPeerConfig> now_;
  std::vector<Retiring> retiring_;
};

// Plain peers: `peers` without the encrypted ones.
std::vector<wire::IpAddr> PlainPeers(const std::vector<wire::IpAddr>& peers,
                                     const std::vector<EspPeerConfig>& esp);
std::vector<wire::IpAddr> EspPeers(const std::vector<EspPeerConfig>& esp);

}  // namespace mflow::daemon
