#include "stage/fdb_forward.h"

#include <array>
#include <cstring>

#include "wire/ethernet.h"

namespace mflow {
namespace {

constexpr std::array<std::string_view, FdbForward::kNumDrops> kDropNames = {
    "truncated", "bad_src_mac", "split_horizon", "same_port"};
constexpr std::array<std::string_view, FdbForward::kNumEvents> kEventNames = {
    "learn_table_full", "derived"};
static_assert(FdbForward::kNumEvents <= kMaxEvents);

}  // namespace

// The last learn and the last lookup of the current batch. Lives on the
// stack of Process(), so the stage object stays stateless.
struct FdbForward::BatchCache {
  bool learned = false;
  uint32_t learn_vni = 0;
  uint64_t learn_mac = 0;
  FdbValue learn_value;

  bool looked_up = false;
  uint32_t lookup_vni = 0;
  uint64_t lookup_mac = 0;
  bool found = false;
  FdbValue value;
};

StatusOr<std::unique_ptr<FdbForward>> FdbForward::Create(const FdbForwardConfig& cfg) {
  if (cfg.fdb == nullptr) return Status::Error("fdb_forward: no forwarding table given");
  return std::unique_ptr<FdbForward>(new FdbForward(
      cfg.fdb, cfg.direction == FdbDirection::kRx,
      cfg.direction == FdbDirection::kTx ? cfg.remote_subnets : nullptr));
}

std::span<const std::string_view> FdbForward::drop_reasons() const { return kDropNames; }
std::span<const std::string_view> FdbForward::event_names() const { return kEventNames; }

void FdbForward::Process(Batch& b, StageContext& ctx) noexcept {
  BatchCache cache;
  uint32_t kept = 0;
  ctx.counters->in += b.n;
  for (uint32_t i = 0; i < b.n; ++i) {
    Packet* p = b.pkts[i];
    const int edge = Forward(p, ctx, cache);
    if (MFLOW_LIKELY(edge == kNext)) {
      b.pkts[kept++] = p;
    } else {
      ctx.Drop(p, static_cast<uint32_t>(edge));
    }
  }
  b.n = kept;
  ctx.counters->out += kept;
}

int FdbForward::Forward(Packet* p, StageContext& ctx, BatchCache& c) noexcept {
  if (p->len < sizeof(wire::EthernetHeader)) return kTruncated;
  wire::EthernetHeader eth;
  std::memcpy(&eth, p->data, sizeof(eth));
  if (eth.src.IsMulticast() || eth.src.IsZero()) return kBadSrcMac;
  const uint32_t vni = p->vni;

  // Learn the source, unless this batch already did for the same binding.
  const bool can_learn = rx_ ? p->remote.family != 0 : p->in_port != kPortNone;
  if (can_learn) {
    const FdbValue where = rx_ ? FdbValue::Remote(p->remote) : FdbValue::Local(p->in_port);
    const uint64_t src = eth.src.AsU64();
    if (!c.learned || c.learn_vni != vni || c.learn_mac != src || !(c.learn_value == where)) {
      const Fdb::LearnResult r = fdb_->Learn(vni, eth.src, where, ctx.now_ms);
      if (r == Fdb::LearnResult::kFull) ctx.counters->events[kLearnTableFull]++;
      // Cached whatever the result: retrying a full window per packet would
      // cost a probe per packet for nothing (the next batch tries again).
      c.learned = true;
      c.learn_vni = vni;
      c.learn_mac = src;
      c.learn_value = where;
      // A cached lookup of the key just written may be stale now.
      if (c.looked_up && c.lookup_vni == vni && c.lookup_mac == src) c.looked_up = false;
    }
  }

  if (eth.dst.IsMulticast()) {
    p->out_port = kPortFlood;
    return kNext;
  }
  const uint64_t dst = eth.dst.AsU64();
  if (!c.looked_up || c.lookup_vni != vni || c.lookup_mac != dst) {
    c.found = fdb_->Lookup(vni, eth.dst, ctx.now_ms, &c.value);
    if (!c.found && remote_ != nullptr && Derive(vni, eth.dst, ctx.now_ms, &c.value)) {
      c.found = true;
      ctx.counters->events[kDerived]++;
    }
    c.looked_up = true;
    c.lookup_vni = vni;
    c.lookup_mac = dst;
  }
  if (!c.found) {
    p->out_port = kPortFlood;
    return kNext;
  }
  if (c.value.kind == FdbValue::Kind::kLocal) {
    if (!rx_ && c.value.port == p->in_port) return kSamePort;
    p->out_port = c.value.port;
    return kNext;
  }
  if (rx_) return kSplitHorizon;
  p->remote = c.value.vtep;
  p->out_port = kPortNone;
  return kNext;
}

bool FdbForward::Derive(uint32_t vni, const wire::MacAddr& dst, uint64_t now_ms,
                        FdbValue* out) noexcept {
  uint32_t ipv4 = 0;
  wire::IpAddr vtep;
  if (!RemoteSubnets::Ipv4OfMac(dst, &ipv4) || !remote_->Lookup(vni, ipv4, &vtep)) return false;
  *out = FdbValue::Remote(vtep);
  // Best effort (a full window only costs a derivation per batch); the
  // entry ages like a learned one, and the daemon flushes the table when a
  // host's VTEP changes or it leaves.
  (void)fdb_->Learn(vni, dst, *out, now_ms);
  return true;
}

}  // namespace mflow
