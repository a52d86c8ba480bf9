// NeighProxy: answers ARP requests and IPv6 neighbour solicitations for
// remote containers on the local host, so that they never cross the underlay
// as floods (docs/STORE.md, "FDB and proxy").
//
// Runs in the tx chain after fdb_forward_tx, on frames it marked as floods
// that came from a local port. A request whose target address belongs to a
// remote host's subnet (RemoteSubnets) is rewritten in place into the reply
// the target itself would send, with the conventional container MAC
// 0a:58:<IPv4>, and sent back out of the port it came in by (hairpin):
//   - ARP (RFC 826): an Ethernet/IPv4 request for the target; gratuitous
//     ARP (sender = target) is left alone;
//   - IPv6 ND (RFC 4861 7.2.4): a solicitation (hop limit 255, no extension
//     headers) whose target's low 32 bits are an IPv4 address of a remote
//     subnet (the store's overlay is IPv4; a dual-stack container puts its
//     IPv4 in the low bits of its IPv6 address, or the MAC could not be
//     0a:58:<IPv4> for both). Duplicate address detection (source ::) is
//     never answered. The advertisement carries S and O and the target
//     link-layer address option.
// A request for an address of the overlay network that no remote subnet
// holds (our own subnet, or nobody's) is marked kPktFlagLocalFlood: it
// floods to the local ports only, since no peer could answer it. So no
// ARP/ND broadcast for the overlay crosses the underlay. Everything else
// passes unchanged (the flood goes on as before).
//
// Thread-safety: stateless (RemoteSubnets is safe for concurrent readers).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "common/status.h"
#include "stage/stage.h"
#include "table/remote_subnets.h"

namespace mflow {

struct NeighProxyConfig {
  const RemoteSubnets* subnets = nullptr;  // not owned; outlives the stage
};

class NeighProxy final : public PerPacketStage<NeighProxy> {
 public:
  enum Drop : uint32_t { kNumDrops = 0 };
  enum Event : uint32_t {
    kArpAnswered,  // an ARP request answered locally
    kNdAnswered,   // a neighbour solicitation answered locally
    kKeptLocal,    // a request for an overlay address of no remote host: local flood only
    kNumEvents,
  };

  static StatusOr<std::unique_ptr<NeighProxy>> Create(const NeighProxyConfig& cfg);

  std::string_view name() const override { return "neigh_proxy"; }
  std::span<const std::string_view> drop_reasons() const override { return {}; }
  std::span<const std::string_view> event_names() const override;
  int Handle(Packet* p, StageContext& ctx) noexcept;

 private:
  explicit NeighProxy(const RemoteSubnets* subnets) : subnets_(subnets) {}
  // kAnswered, kLocal (an overlay address no remote host has), or kOther.
  enum class Outcome { kAnswered, kLocal, kOther };
  Outcome AnswerArp(Packet* p) noexcept;
  Outcome AnswerNs(Packet* p) noexcept;
  Outcome Resolve(uint32_t vni, uint32_t ipv4, wire::IpAddr* vtep) const noexcept;

  const RemoteSubnets* subnets_;
};

}  // namespace mflow
