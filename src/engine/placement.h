// Placement: where microflow mode runs the flows while an elephant runs.
//
//   spread  an elephant's micro-flows go to the least loaded worker and the
//           mice beside it to a peer: packet-level parallelism (mFlow);
//   home    every flow stays on the worker that read it while it has work in
//           flight, as in flow mode (run to completion, no wake-ups); beside
//           a TCP elephant this is "solo": worker 0 alone reads, so every
//           flow comes to run on it and the other workers park;
//   auto    measured (PlacementTrial): whichever moves the TCP elephants'
//           packets faster.
// With no elephant there is nothing to place: every flow is home and every
// worker may read.
//
// This class holds only the rules, driven by a clock the caller passes in,
// so that a unit test can check each rule on a simulated clock
// (placement_test.cc); the engine calls it under its RX role (engine
// placement glue in split.cc) and publishes the decision to its workers.
// Thread-compatible: one caller at a time (the RX role).
//
// The timing constants, what each trades, what chose it and what 10x or
// 0.1x would do: docs/PLACEMENT.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "engine/placement_trial.h"

namespace mflow {

enum class PlacementMode { kAuto, kHome, kSpread };
std::string_view PlacementName(PlacementMode m);
std::optional<PlacementMode> ParsePlacement(std::string_view s);

class Placement {
 public:
  // After the last packet of a TCP elephant: how long it still counts as
  // running for the trial (no epoch is measured after it ended)...
  static constexpr uint64_t kElephantActiveMs = 20;
  // ... and how long the placement (spread, solo) holds, so that a reader
  // busy for longer than a trial's gap between two reads does not flip it.
  // Beside another elephant (open loop, e.g. unpaced UDP), auto spreads for
  // as long.
  static constexpr uint64_t kPlacementHoldMs = 200;

  struct Decision {
    bool spread = false;  // elephants' micro-flows to the least loaded worker
    bool solo = false;    // worker 0 alone reads (home beside a TCP elephant)
    bool operator==(const Decision&) const = default;
  };

  explicit Placement(PlacementMode mode) : mode_(mode) {}

  // The split point, for each packet of an elephant flow: tcp = a TCP flow
  // (closed loop: its rate is what the trial can measure); wire_pkts = its
  // packets on the wire; became = the flow has just become an elephant.
  void OnElephantPacket(bool tcp, uint32_t wire_pkts, bool became, uint64_t now_ms) noexcept {
    if (tcp) {
      if (became) ++new_elephants_;
      elephant_pkts_ += wire_pkts;
      last_tcp_ms_ = now_ms;
      seen_tcp_ = true;
    } else {
      last_open_loop_ms_ = now_ms;
      seen_open_loop_ = true;
    }
  }

  // Once per RX round: the placement for this round.
  Decision Update(uint64_t now_ms) noexcept;

  const PlacementTrial& trial() const { return trial_; }
  PlacementMode mode() const { return mode_; }

 private:
  PlacementMode mode_;
  PlacementTrial trial_;
  uint64_t elephant_pkts_ = 0;   // TCP elephants' packets dispatched (on the wire)
  uint64_t new_elephants_ = 0;   // TCP flows that became elephants
  uint64_t last_tcp_ms_ = 0;        // valid once seen_tcp_
  uint64_t last_open_loop_ms_ = 0;  // valid once seen_open_loop_
  bool seen_tcp_ = false;
  bool seen_open_loop_ = false;
  bool spread_ = false;
};

}  // namespace mflow
