#include "stage/vxlan_decap.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <string>

#include "wire/ethernet.h"
#include "wire/vxlan.h"

namespace mflow {
namespace {

constexpr std::array<std::string_view, VxlanDecap::kNumDrops> kDropNames = {
    "truncated",   "flag_i_clear",    "reserved_bits",
    "unknown_vni", "inner_truncated", "inner_too_big",
};

}  // namespace

StatusOr<std::unique_ptr<VxlanDecap>> VxlanDecap::Create(const VxlanDecapConfig& cfg) {
  if (cfg.vnis.empty()) return Status::Error("vxlan_decap: configure at least one VNI");
  for (uint32_t vni : cfg.vnis)
    if (vni > wire::kMaxVni)
      return Status::Error("vxlan_decap: VNI " + std::to_string(vni) + " exceeds 24 bits");
  if (cfg.max_inner_frame < sizeof(wire::EthernetHeader))
    return Status::Error("vxlan_decap: max_inner_frame must be at least 14, got " +
                         std::to_string(cfg.max_inner_frame));
  std::vector<uint32_t> vnis = cfg.vnis;
  std::sort(vnis.begin(), vnis.end());
  vnis.erase(std::unique(vnis.begin(), vnis.end()), vnis.end());
  return std::unique_ptr<VxlanDecap>(new VxlanDecap(std::move(vnis), cfg.max_inner_frame));
}

std::span<const std::string_view> VxlanDecap::drop_reasons() const { return kDropNames; }

bool VxlanDecap::KnownVni(uint32_t vni) const noexcept {
  // A few VNIs per host: a short binary search over one or two cache lines.
  return std::binary_search(vnis_.begin(), vnis_.end(), vni);
}

int VxlanDecap::Handle(Packet* p, StageContext&) noexcept {
  if (p->len < sizeof(wire::VxlanHeader)) return kTruncated;
  wire::VxlanHeader vx;
  std::memcpy(&vx, p->data, sizeof(vx));
  if ((vx.flags & wire::kVxlanFlagI) == 0) return kFlagIClear;
  if (!vx.ReservedBitsClear()) return kReservedBits;
  const uint32_t vni = vx.vni();
  if (!KnownVni(vni)) return kUnknownVni;
  const uint32_t inner = p->len - static_cast<uint32_t>(sizeof(wire::VxlanHeader));
  if (inner < sizeof(wire::EthernetHeader)) return kInnerTruncated;
  if (inner > max_inner_) return kInnerTooBig;
  p->vni = vni;
  p->Adj(sizeof(wire::VxlanHeader));
  return kNext;
}

}  // namespace mflow
