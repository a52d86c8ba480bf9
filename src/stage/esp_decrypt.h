// EspDecrypt (stage "esp_decrypt"): the first rx stage, before outer
// validation and VXLAN decapsulation. Decrypts ESP-in-UDP frames from peers
// with an inbound SA back into the VXLAN UDP datagram they protect; plain
// VXLAN passes unchanged, except from a peer that has an SA (refused: else
// anyone could bypass the encryption by spoofing that peer's address).
//
// The replay check is split (docs/ESP.md "Replay protection, split in
// two"): Handle() runs on any worker with that worker's cipher context
// (EspSaTable::Inbound::open[ctx.worker]) and only reads the SA's window
// (ESN reconstruction and the early Check, so a replay flood costs no AES);
// Release() runs in the flow's order when the engine releases the packets
// and records each sequence number with ReplayWindow::Update, which drops a
// late duplicate (two copies may both pass the early check on two workers)
// as `replayed`. Only packets whose ICV verified reach Release, so a forged
// packet never moves the window. At the split point the ESP frames of one
// SA are one flow (ClassifyRxEsp*), so their releases are in arrival order.
// Counters: `out` counts packets that decrypted; a packet refused at
// release is counted again under its drop reason.
//
// Input, by underlay:
//   socket (vxlan_only): data at the ESP header for frames the port read
//     from the ESP socket (kPktFlagEsp), at VXLAN for the others. After
//     decryption the inner UDP 4789 header is checked and stripped: data at
//     VXLAN, p->remote the SA's peer, the flag cleared.
//   full frames: data at outer Ethernet; UDP destination port 4500 is ESP.
//     After decryption the outer headers are put back in front of the
//     VXLAN UDP datagram with their lengths fixed.
//
// Thread-safety: shared table (EspSaTable; Release serial per flow).
#pragma once

#include <memory>
#include <span>
#include <string_view>

#include "common/status.h"
#include "esp/esp_format.h"
#include "esp/esp_sa_table.h"
#include "stage/stage.h"

namespace mflow {

struct EspDecryptConfig {
  esp::EspSaTable* table = nullptr;  // required
  bool vxlan_only = false;           // socket underlay: see the banner
};

class EspDecrypt final : public PerPacketStage<EspDecrypt> {
 public:
  // Reasons 0..11 are esp::EspDrop's (esp_decrypt_bad_icv, ...).
  enum Drop : uint32_t {
    kPlainFromEspPeer = esp::kEspDropCount,  // plain VXLAN from a peer that has an SA
    kBadInnerUdp,  // decrypted, but not a UDP 4789 datagram of the length it says
    kNumDrops,
  };

  static StatusOr<std::unique_ptr<EspDecrypt>> Create(const EspDecryptConfig& cfg);

  std::string_view name() const override { return "esp_decrypt"; }
  std::span<const std::string_view> drop_reasons() const override;

  int Handle(Packet* p, StageContext& ctx) noexcept;

  bool has_release() const override { return true; }
  void Release(Batch& b, StageContext& ctx) noexcept override;

 private:
  explicit EspDecrypt(const EspDecryptConfig& cfg) : cfg_(cfg) {}
  // Decrypts p (data at the ESP header); on kNext data is at the protected
  // UDP datagram and p carries the SA slot and sequence number.
  int Open(Packet* p, StageContext& ctx) noexcept;

  EspDecryptConfig cfg_;
};

}  // namespace mflow
