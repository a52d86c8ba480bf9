// VxlanDecap: checks the VXLAN header (RFC 7348 §5) and strips it.
//
// Input: data at the VXLAN header (after OuterValidate), linear frame.
// On the next edge: p->vni is set and data points at the inner Ethernet
// frame, which is at least an Ethernet header long and at most
// max_inner_frame bytes.
//
// Thread-safety: stateless (the VNI set is read-only after Create).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "stage/stage.h"

namespace mflow {

struct VxlanDecapConfig {
  std::vector<uint32_t> vnis;            // accepted VNIs (at least one)
  uint32_t max_inner_frame = 1500 + 14 + 4;  // MTU + Ethernet + 802.1Q
};

class VxlanDecap final : public PerPacketStage<VxlanDecap> {
 public:
  enum Drop : uint32_t {
    kTruncated,       // fewer than 8 bytes of VXLAN header
    kFlagIClear,      // I flag clear: the VNI is not valid
    kReservedBits,    // reserved flag bits or fields set (Linux drops these too)
    kUnknownVni,      // VNI not configured here
    kInnerTruncated,  // inner frame shorter than an Ethernet header
    kInnerTooBig,     // inner frame longer than max_inner_frame
    kNumDrops,
  };

  static StatusOr<std::unique_ptr<VxlanDecap>> Create(const VxlanDecapConfig& cfg);

  std::string_view name() const override { return "vxlan_decap"; }
  std::span<const std::string_view> drop_reasons() const override;

  int Handle(Packet* p, StageContext& ctx) noexcept;

 private:
  VxlanDecap(std::vector<uint32_t> sorted_vnis, uint32_t max_inner)
      : vnis_(std::move(sorted_vnis)), max_inner_(max_inner) {}
  bool KnownVni(uint32_t vni) const noexcept;

  std::vector<uint32_t> vnis_;  // sorted, unique
  uint32_t max_inner_;
};

}  // namespace mflow
