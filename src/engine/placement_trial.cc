#include "engine/placement_trial.h"

#include <algorithm>

namespace mflow {

void PlacementTrial::StartEpoch(uint64_t now_ms, uint64_t pkts, bool spread) {
  spread_ = spread;
  epoch_start_ms_ = now_ms;
  epoch_start_pkts_ = pkts;
}

void PlacementTrial::Decide(uint64_t now_ms, uint64_t pkts, bool win) {
  for (int k = 0; k < 2; ++k) last_pps_[k] = ms_[k] == 0 ? 0 : pkts_[k] * 1000 / ms_[k];
  if (trials_ != 0) hold_ms_ = win == last_win_ ? std::min(2 * hold_ms_, kMaxHoldMs) : kHoldMs;
  last_win_ = win;
  ++trials_;
  if (win) ++wins_;
  in_trial_ = false;
  decided_ms_ = now_ms;
  hold_until_ms_ = now_ms + hold_ms_;
  StartEpoch(now_ms, pkts, win);
}

bool PlacementTrial::Spread(uint64_t now_ms, uint64_t elephant_pkts, uint64_t new_elephants) {
  const bool paused = now_ms - last_call_ms_ >= kForgetMs;
  last_call_ms_ = now_ms;
  const bool new_load = new_elephants != new_elephants_ && now_ms - decided_ms_ >= kNewLoadMs;
  if (!started_ || (!in_trial_ && (now_ms >= hold_until_ms_ || paused || new_load))) {
    // A new trial.
    started_ = true;
    new_elephants_ = new_elephants;
    in_trial_ = true;
    epoch_ = 0;
    pkts_[0] = pkts_[1] = 0;
    ms_[0] = ms_[1] = 0;
    StartEpoch(now_ms, elephant_pkts, false);
    return spread_;
  }
  if (!in_trial_ || now_ms - epoch_start_ms_ < kEpochMs) return spread_;

  // An epoch ended: book it under its placement. A gap with no RX rounds
  // (no elephant for a while) counts as a slow epoch, which is what it was.
  const int k = spread_ ? 1 : 0;
  pkts_[k] += elephant_pkts - epoch_start_pkts_;
  ms_[k] += now_ms - epoch_start_ms_;
  ++epoch_;
  // The rates (packets per ms), cross-multiplied.
  const double home = static_cast<double>(pkts_[0]) * static_cast<double>(ms_[1]);
  const double spread = static_cast<double>(pkts_[1]) * static_cast<double>(ms_[0]);
  if (epoch_ == 2 && (spread > home * kClearGain || home > spread * kClearGain)) {
    Decide(now_ms, elephant_pkts, spread > home);
  } else if (epoch_ < kTrialEpochs) {
    StartEpoch(now_ms, elephant_pkts, !spread_);
  } else {
    Decide(now_ms, elephant_pkts, pkts_[1] > 0 && spread > home * kMinGain);
  }
  return spread_;
}

}  // namespace mflow
