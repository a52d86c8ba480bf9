// MicePlacement: where microflow mode sends a mouse (a TCP ACK, a request)
// while an elephant runs: home, to the worker that read it, or to a peer.
//
// Home costs no wake-up and no hand-off, and wins when every core is busy:
// a woken peer only queues for a core (the `mflow-microflow` testbed, where
// the containers' TCP and both daemons share two cores). A peer wins when a
// core is spare and delivering the mouse is slow: the worker that reads the
// elephant's bursts is then not held up by it. Sending a container's ACK to a
// kernel VXLAN peer runs that kernel's whole TCP transmit path inside our send
// call (the `mixed` testbed: 5.5 Gbit/s home, 6.9 with a peer). No cheap
// signal tells the two cases apart before the fact: handing mice off itself
// takes the spare core (idle CPU and CPU pressure move with the choice). So
// the engine measures. In a trial it alternates the two placements every
// epoch and counts the packets its elephants moved in each; then it holds the
// winner for a while (longer each time the same one wins), and tries again. A peer must win clearly (kMinGain):
// with no difference, home saves the wake-ups.
//
// Thread-compatible: driven by the RX role (one holder at a time).
#pragma once

#include <cstdint>

namespace mflow {

class MicePlacement {
 public:
  static constexpr uint64_t kEpochMs = 100;   // one placement, measured
  static constexpr uint32_t kTrialEpochs = 6;  // alternating, home first
  // The winner holds kHoldMs before the next trial; each time the same
  // placement wins again the hold doubles, up to kMaxHoldMs, so that a
  // steady load pays for few trials (their other placement's epochs).
  static constexpr uint64_t kHoldMs = 3000;
  static constexpr uint64_t kMaxHoldMs = 24000;
  static constexpr double kMinGain = 1.05;    // a peer must move 5 % more

  // now_ms: a monotonic clock; elephant_pkts: packets (on the wire) of
  // elephant micro-flows dispatched so far, all paths. Call at every RX round
  // with an elephant running; returns whether mice go to a peer now.
  bool Spread(uint64_t now_ms, uint64_t elephant_pkts);

  bool spread() const { return spread_; }
  uint64_t trials() const { return trials_; }       // trials completed
  uint64_t spread_wins() const { return wins_; }     // ... won by a peer

 private:
  void StartEpoch(uint64_t now_ms, uint64_t pkts, bool spread);

  bool started_ = false;
  bool in_trial_ = false;
  bool spread_ = false;
  uint32_t epoch_ = 0;           // within the trial
  uint64_t epoch_start_ms_ = 0;
  uint64_t epoch_start_pkts_ = 0;
  uint64_t hold_until_ms_ = 0;
  uint64_t hold_ms_ = kHoldMs;
  bool last_win_ = false;
  uint64_t pkts_[2] = {0, 0};    // per placement (home, peer), this trial
  uint64_t ms_[2] = {0, 0};
  uint64_t trials_ = 0;
  uint64_t wins_ = 0;
};

}  // namespace mflow
