// Stage: one step of the overlay data path, processing a batch in place.
//
// Contract of every stage:
//   - Process() is noexcept, allocates no memory, makes no system call and
//     takes no lock of its own. Packets come from and go back to a
//     PacketPool: on an engine worker through the worker's own cache (no
//     lock), whose shared stack's mutex is taken once per half cache, or
//     once per AllocBurst/PutBurst on a thread without a cache;
//   - every packet leaves on exactly one edge: it stays in the batch (next,
//     original order kept) or it is dropped through ctx.Drop() with a named
//     reason, which counts it and frees it;
//   - a stage's thread-safety class is stated in its header: "stateless"
//     (any number of workers may call it at once), or "shared table" (it
//     touches a table that is itself safe for concurrent use).
// All three steering modes run the same stage objects; only which thread
// calls Process() differs.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

#include "common/compiler.h"
#include "common/relaxed.h"
#include "packet/batch.h"

namespace mflow {

class PacketPool;

inline constexpr uint32_t kMaxDropReasons = 16;
inline constexpr uint32_t kMaxStages = 16;
// Named events: things that happened to packets that still went on (e.g. a
// learn refused by a full table). Kept apart from drops so that drop
// counters mean exactly "packets lost here".
inline constexpr uint32_t kMaxEvents = 4;

// Counters of one stage on one worker. Only that worker writes them; the
// control path reads them while it runs (Engine::Stats), so each is a
// Relaxed<> (single writer, relaxed atomic loads and stores: see
// common/relaxed.h). Read while running they are estimates, after Stop exact.
struct alignas(kCacheLine) StageCounters {
  Relaxed<uint64_t> in;   // packets entering the stage
  Relaxed<uint64_t> out;  // packets leaving on the "next" edge (after GRO/TSO: frames out)
  std::array<Relaxed<uint64_t>, kMaxDropReasons> drops{};
  std::array<Relaxed<uint64_t>, kMaxEvents> events{};  // indexed like Stage::event_names()
};

// What a stage may use besides its batch. One per worker thread.
struct StageContext {
  StageCounters* counters = nullptr;  // the counters of the stage being run
  PacketPool* pool = nullptr;         // for stages that create packets (TSO headers)
  uint64_t now_ms = 0;                // coarse clock for table aging
  uint32_t worker = 0;                // the worker's index (per-worker state, e.g. ciphers)

  // Counts p on drop edge `reason` of the current stage and frees it.
  void Drop(Packet* p, uint32_t reason) noexcept;
};

class Stage {
 public:
  virtual ~Stage() = default;
  // snake_case name used in counters: "<stage>_<reason>".
  virtual std::string_view name() const = 0;
  // Names of the drop edges, indexed by reason.
  virtual std::span<const std::string_view> drop_reasons() const = 0;
  // Names of the event counters (StageCounters::events), shown as
  // "<stage>_<event>"; most stages have none.
  virtual std::span<const std::string_view> event_names() const { return {}; }
  // Processes b in place. Precondition: ctx.counters belongs to this stage.
  virtual void Process(Batch& b, StageContext& ctx) noexcept = 0;

  // The in-order part of a stage, if it has one (has_release): run on the
  // flow's surviving packets when the engine releases them, in the flow's
  // order, on whichever thread releases (the merger, the flow's only
  // worker, the pipeline's last group), with ctx.counters this stage's on
  // that thread. May drop packets (ctx.Drop, compacting b). The ESP decrypt
  // stage updates its replay windows here. Serial per flow.
  virtual bool has_release() const { return false; }
  virtual void Release(Batch& b, StageContext& ctx) noexcept {
    (void)b;
    (void)ctx;
  }
};

// Edge returned by a per-packet handler: kNext or a drop reason (>= 0).
inline constexpr int kNext = -1;

// For stages that decide packet by packet: Derived implements
//   int Handle(Packet* p, StageContext& ctx) noexcept;  // kNext or a reason
// and gets Process() with in-place compaction; the per-packet call is a
// direct, inlinable call, not a virtual one.
template <typename Derived>
class PerPacketStage : public Stage {
 public:
  void Process(Batch& b, StageContext& ctx) noexcept final {
    uint32_t kept = 0;
    ctx.counters->in += b.n;
    for (uint32_t i = 0; i < b.n; ++i) {
      Packet* p = b.pkts[i];
      const int edge = static_cast<Derived*>(this)->Handle(p, ctx);
      if (MFLOW_LIKELY(edge == kNext)) {
        b.pkts[kept++] = p;
      } else {
        ctx.Drop(p, static_cast<uint32_t>(edge));
      }
    }
    b.n = kept;
    ctx.counters->out += kept;
  }
};

}  // namespace mflow
