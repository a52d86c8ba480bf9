// EspEncrypt (stage "esp_encrypt"): the last tx stage, after vxlan_encap.
// Encrypts the VXLAN UDP datagram of every frame for a peer with an
// outbound SA as ESP in UDP (docs/ESP.md); frames for plain peers pass
// unchanged.
//
// Sequence numbers are not taken here: the split point reserved them in
// packet order (EnginePath::wire_seq -> Packet::wire_seq; gso_segment gives
// segment i the number + i), so any worker may encrypt any frame with its
// own cipher context (EspSaTable::Outbound::seal[ctx.worker]). The number
// on the wire is wire_seq less the SA's base (EspSaTable::Outbound::seq_base).
//
// Input, by underlay:
//   socket (vxlan_only): data at the VXLAN header. The stage first writes the
//     inner UDP 4789 header (the kernel no longer does: the frame leaves on
//     the ESP socket, port 4500), encrypts, and marks the packet
//     kPktFlagEsp; data ends at the ESP header (the ESP socket adds UDP).
//   full frames: data at outer Ethernet. The UDP datagram behind the outer
//     IP header is encrypted, a UDP 4500 header put in front of the ESP
//     header, and the outer headers put back with lengths fixed.
// A TSO carrier's segments are each their own ESP packet.
//
// Floods (socket underlay): the port replicates a flood to the plain peers
// only, so the stage adds, right behind it, one encrypted copy per
// encrypted peer (from ctx.pool, whose buffers must hold a frame), each
// under the number the split point gave the flood (one number, one use per
// key). A flood TSO carrier gets a copy carrier per encrypted peer whose
// train holds a sealed copy of each segment, each under its segment's number.
// Floods are ARP, ND and the first frames to an unknown MAC.
//
// Thread-safety: shared table (EspSaTable: read-only lookups, per-worker
// cipher contexts).
#pragma once

#include <memory>
#include <span>
#include <string_view>

#include "common/status.h"
#include "esp/esp_format.h"
#include "esp/esp_sa_table.h"
#include "port/flood_limiter.h"
#include "stage/stage.h"

namespace mflow {

struct EspEncryptConfig {
  esp::EspSaTable* table = nullptr;  // required
  bool vxlan_only = false;           // socket underlay: see the banner
  wire::IpAddr local_ip;             // socket underlay over IPv6: the inner UDP checksum
  // The container ports' flood budget (the UDP port's, overlay.flood_pps): a
  // flood is charged here before its copies for the encrypted peers are
  // made, so they obey the limit too. Not owned; null = no limit.
  FloodLimiter* flood_limiter = nullptr;
};

class EspEncrypt final : public Stage {
 public:
  // Reasons 0..5 are esp::EspEncapDrop's.
  enum Drop : uint32_t {
    kUnnumbered = esp::kEspEncapDropCount,  // no sequence number reserved (never expected)
    kBadOuter,                              // full frame without the plain outer headers
    kFloodNoBuffer,   // a flood's copy for an encrypted peer found no buffer (or batch room)
    kFloodLimited,    // a container port flooded faster than overlay.flood_pps
    kNumDrops,
  };

  static StatusOr<std::unique_ptr<EspEncrypt>> Create(const EspEncryptConfig& cfg);

  std::string_view name() const override { return "esp_encrypt"; }
  std::span<const std::string_view> drop_reasons() const override;

  void Process(Batch& b, StageContext& ctx) noexcept override;
  int Handle(Packet* p, StageContext& ctx) noexcept;

 private:
  explicit EspEncrypt(const EspEncryptConfig& cfg) : cfg_(cfg) {}
  int Seal(Packet* p, StageContext& ctx) noexcept;
  // Appends to out (room: cap) a sealed copy of flood p per encrypted peer.
  void CopyFlood(Packet* p, StageContext& ctx, Packet** out, uint32_t* n, uint32_t cap) noexcept;
  // An unsealed copy of frame f for peer, marked as a copy (ctx.pool); of a
  // TSO carrier, an empty carrier for the copied train.
  static Packet* CopyFor(const Packet* f, const wire::IpAddr& peer, StageContext& ctx) noexcept;

  EspEncryptConfig cfg_;
};

}  // namespace mflow
