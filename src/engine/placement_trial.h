// PlacementTrial: whether microflow mode spreads a flow over the workers
// while an elephant runs, or keeps every flow at home (run to completion).
//
// Spreading is the mFlow idea: an elephant's micro-flows go to whichever
// worker is least loaded, and the mice beside it go to a peer, so the worker
// reading the elephant's bursts is not held up by them. It wins when a core
// is spare: the `mixed` testbed, where a container's ACK sent to a kernel
// VXLAN peer runs that kernel's TCP transmit path inside our send call
// (measured: 5.3 Gbit/s home, 7.4 spread). Home costs no wake-up and no
// hand-off, and wins when every core is busy: a woken peer only queues for a
// core (the `mflow-microflow` testbed, where the containers' TCP and both
// daemons share two cores: 7.8 spread, 8.1 home, as flow mode does). No
// cheap signal tells the two apart before the fact: handing work off itself
// takes the spare core (idle CPU and CPU pressure move with the choice). So
// the engine measures. In a trial it alternates the two placements every
// epoch and counts the packets its elephants moved in each; then it holds the
// winner for a while (longer each time the same one wins), and tries again.
// Spreading must win clearly (kMinGain): with no difference, home saves the
// wake-ups. A trial whose first pair of epochs already differs by kClearGain
// ends there, so a placement that loses badly is not paid for twice more.
// The decision belongs to the load it was measured on, so a hold also ends
// when the load changes: after a pause in the elephants (no call for
// kForgetMs), or when a new flow became an elephant, once kNewLoadMs have
// passed since the last decision (so that a flow whose rate hovers around
// the elephant threshold cannot keep trials running): a UDP stream right
// after a TCP one, as the testbed runs them on the same daemons, is measured
// afresh. (The engine feeds the trial TCP elephants only: see
// Engine::UpdatePlacement.)
//
// What each timing constant trades, what chose it, and what 10x or 0.1x
// would do: docs/PLACEMENT.md.
//
// Thread-compatible: driven by the RX role (one holder at a time).
#pragma once

#include <cstdint>

namespace mflow {

class PlacementTrial {
 public:
  static constexpr uint64_t kEpochMs = 100;   // one placement, measured
  static constexpr uint32_t kTrialEpochs = 6;  // alternating, home first
  // The winner holds kHoldMs before the next trial; each time the same
  // placement wins again the hold doubles, up to kMaxHoldMs, so that a
  // steady load pays for few trials (their other placement's epochs).
  static constexpr uint64_t kHoldMs = 3000;
  static constexpr uint64_t kMaxHoldMs = 24000;
  static constexpr double kMinGain = 1.05;    // spreading must move 5 % more
  static constexpr double kClearGain = 1.2;   // decided after one pair of epochs
  static constexpr uint64_t kForgetMs = 500;
  static constexpr uint64_t kNewLoadMs = 1000;

  // now_ms: a monotonic clock; elephant_pkts: packets (on the wire) of
  // elephant micro-flows dispatched so far, all paths; new_elephants: flows
  // that became elephants so far. Call at every RX round with an elephant
  // running; returns whether to spread now.
  bool Spread(uint64_t now_ms, uint64_t elephant_pkts, uint64_t new_elephants = 0);

  bool spread() const { return spread_; }
  uint64_t trials() const { return trials_; }       // trials completed
  uint64_t spread_wins() const { return wins_; }     // ... won by spreading
  // The last completed trial's elephant packets per second, in each
  // placement's epochs (0 before the first).
  uint64_t last_home_pps() const { return last_pps_[0]; }
  uint64_t last_spread_pps() const { return last_pps_[1]; }

 private:
  void StartEpoch(uint64_t now_ms, uint64_t pkts, bool spread);
  void Decide(uint64_t now_ms, uint64_t pkts, bool win);

  bool started_ = false;
  bool in_trial_ = false;
  bool spread_ = false;
  uint32_t epoch_ = 0;           // within the trial
  uint64_t epoch_start_ms_ = 0;
  uint64_t epoch_start_pkts_ = 0;
  uint64_t hold_until_ms_ = 0;
  uint64_t hold_ms_ = kHoldMs;
  bool last_win_ = false;
  uint64_t pkts_[2] = {0, 0};    // per placement (home, spread), this trial
  uint64_t ms_[2] = {0, 0};
  uint64_t trials_ = 0;
  uint64_t wins_ = 0;
  uint64_t last_call_ms_ = 0;
  uint64_t decided_ms_ = 0;
  uint64_t new_elephants_ = 0;  // as of the last trial's start
  uint64_t last_pps_[2] = {0, 0};
};

}  // namespace mflow
