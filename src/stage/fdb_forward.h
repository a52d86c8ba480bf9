// FdbForward: L2 learning and forwarding decision against a shared Fdb.
//
// One class for both directions (config.direction), in VNI p->vni:
//   rx (from the underlay, after VxlanDecap): learns inner source MAC ->
//      remote VTEP p->remote; a destination on a local port sets
//      p->out_port; multicast/broadcast/unknown set p->out_port = kPortFlood
//      (flooded to local ports); a destination behind a remote VTEP is dropped
//      (split horizon: the underlay never forwards back into the underlay).
//   tx (from a local port): learns source MAC -> local port p->in_port (not
//      learned when in_port is kPortNone); a destination behind a remote VTEP
//      sets p->remote and leaves p->out_port = kPortNone (unicast to that
//      VTEP); a destination on another local port sets p->out_port (hairpin,
//      no encapsulation); multicast/unknown set p->out_port = kPortFlood
//      (replication is the port layer's job); a destination on the ingress
//      port itself is dropped. With a RemoteSubnets table (store mode), a
//      unicast destination missing from the table that is a container MAC
//      0a:58:<IPv4> of a remote host's subnet goes to that host's VTEP, and
//      the entry is learned so the flow's next packets hit the table
//      (docs/STORE.md: no per-container record, no flood to find it).
// Within one batch the last learn and the last lookup are cached (a flow's
// packets share their MACs), so the common case touches the table once per
// batch, not once per packet. A learn refused by a full table is not a drop:
// the packet goes on and the event counter learn_table_full counts it (once
// per run of packets with that source within a batch).
//
// Input: data at an Ethernet frame (linear part holds at least its header).
// Thread-safety: shared table (the Fdb is safe for concurrent use; the stage
// keeps no state between calls).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "common/status.h"
#include "stage/stage.h"
#include "table/fdb.h"
#include "table/remote_subnets.h"

namespace mflow {

enum class FdbDirection : uint8_t { kRx, kTx };

struct FdbForwardConfig {
  Fdb* fdb = nullptr;  // not owned; outlives the stage
  FdbDirection direction = FdbDirection::kRx;
  const RemoteSubnets* remote_subnets = nullptr;  // tx only; not owned; may be null
};

class FdbForward final : public Stage {
 public:
  enum Drop : uint32_t {
    kTruncated,     // shorter than an Ethernet header
    kBadSrcMac,     // source MAC multicast/broadcast or all zero
    kSplitHorizon,  // rx: destination is behind a remote VTEP
    kSamePort,      // tx: destination is on the ingress port
    kNumDrops,
  };
  enum Event : uint32_t {
    kLearnTableFull,  // source not learned: its probe window is full
    kDerived,         // tx: a destination found from the remote subnets
    kNumEvents,
  };

  static StatusOr<std::unique_ptr<FdbForward>> Create(const FdbForwardConfig& cfg);

  std::string_view name() const override {
    return rx_ ? "fdb_forward_rx" : "fdb_forward_tx";
  }
  std::span<const std::string_view> drop_reasons() const override;
  std::span<const std::string_view> event_names() const override;
  void Process(Batch& b, StageContext& ctx) noexcept override;

 private:
  struct BatchCache;
  FdbForward(Fdb* fdb, bool rx, const RemoteSubnets* remote)
      : fdb_(fdb), rx_(rx), remote_(remote) {}
  // tx miss: the VTEP of a 0a:58 container MAC in a remote subnet.
  bool Derive(uint32_t vni, const wire::MacAddr& dst, uint64_t now_ms, FdbValue* out) noexcept;
  int Forward(Packet* p, StageContext& ctx, BatchCache& cache) noexcept;

  Fdb* fdb_;
  bool rx_;
  const RemoteSubnets* remote_;
};

}  // namespace mflow
