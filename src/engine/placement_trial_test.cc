// PlacementTrial: a trial alternates home and spread epochs, spreading must
// win clearly, a clear difference ends the trial early, the winner holds
// until the next trial.
#include "engine/placement_trial.h"

#include <gtest/gtest.h>

#include <vector>

namespace mflow {
namespace {

using MP = PlacementTrial;

// Drives p through one trial from t, feeding rate_home / rate_spread packets
// per ms in each placement's epochs, with a call every ms; returns the time
// the trial ended.
uint64_t RunTrial(MP& p, uint64_t t, uint64_t* pkts, uint64_t rate_home, uint64_t rate_spread,
                  uint64_t new_elephants = 0) {
  const uint64_t trials = p.trials();
  const uint64_t start = t;
  while (p.trials() == trials) {
    const bool spread = p.Spread(t, *pkts, new_elephants);
    *pkts += spread ? rate_spread : rate_home;
    if (++t > start + 2 * MP::kMaxHoldMs) {
      ADD_FAILURE() << "trial never ended";
      break;
    }
  }
  return t;
}

TEST(PlacementTrialTest, TrialAlternatesEpochsHomeFirst) {
  MP p;
  uint64_t pkts = 0;
  std::vector<bool> seen;
  for (uint64_t t = 0; t < MP::kTrialEpochs * MP::kEpochMs; ++t) {
    const bool s = p.Spread(1000 + t, pkts);
    if (t % MP::kEpochMs == 1) seen.push_back(s);
    ++pkts;
  }
  ASSERT_EQ(seen.size(), MP::kTrialEpochs);
  for (uint32_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], i % 2 == 1) << "epoch " << i;
  EXPECT_EQ(p.trials(), 0u);  // still in its last epoch
}

// A difference of kClearGain or more is decided after one pair of epochs,
// either way; a smaller one takes all kTrialEpochs.
TEST(PlacementTrialTest, ClearDifferenceEndsTrialEarly) {
  struct Case {
    uint64_t home, spread;
    bool spreads;
    uint64_t epochs;
  };
  for (const Case c : {Case{100, 140, true, 2}, Case{140, 100, false, 2}, Case{100, 110, true, 6},
                       Case{110, 100, false, 6}}) {
    SCOPED_TRACE(std::to_string(c.home) + " vs " + std::to_string(c.spread));
    MP p;
    uint64_t pkts = 0;
    const uint64_t end = RunTrial(p, 1000, &pkts, c.home, c.spread);
    EXPECT_EQ(p.spread(), c.spreads);
    EXPECT_EQ(p.spread_wins(), c.spreads ? 1u : 0u);
    // RunTrial's first call starts the trial at 1000; the epoch that ends
    // it is booked at the call after it ran kEpochMs.
    EXPECT_EQ(end, 1000 + c.epochs * MP::kEpochMs + 1);
  }
}

TEST(PlacementTrialTest, SpreadWinsOnlyClearly) {
  MP p;
  uint64_t pkts = 0;
  uint64_t t = RunTrial(p, 1000, &pkts, 100, 130);  // spreading 30 % faster
  EXPECT_TRUE(p.spread());
  EXPECT_EQ(p.spread_wins(), 1u);
  // Held: no trial until kHoldMs have passed, whatever the rates.
  for (uint64_t end = t + MP::kHoldMs - 1; t < end; ++t) ASSERT_TRUE(p.Spread(t, pkts += 1));
  EXPECT_EQ(p.trials(), 1u);
  // The next trial: equal rates, home wins (no wake-ups for nothing).
  t = RunTrial(p, t + 1, &pkts, 100, 100);
  EXPECT_FALSE(p.spread());
  EXPECT_EQ(p.trials(), 2u);
  EXPECT_EQ(p.spread_wins(), 1u);
  // Just under the margin: still home, and home won twice in a row, so the
  // hold doubles: no trial for 2 x kHoldMs.
  t = RunTrial(p, t + MP::kHoldMs, &pkts, 100, 104);
  EXPECT_FALSE(p.spread());
  const uint64_t held_from = t;
  for (; t < held_from + 2 * MP::kHoldMs - 1; ++t) ASSERT_FALSE(p.Spread(t, pkts += 1));
  EXPECT_EQ(p.trials(), 3u);
  // And slower spreading never wins; the hold keeps doubling up to its cap.
  for (int i = 0; i < 8; ++i) t = RunTrial(p, t + MP::kMaxHoldMs, &pkts, 100, 50);
  EXPECT_FALSE(p.spread());
  EXPECT_EQ(p.trials(), 11u);
  const uint64_t capped_from = t;
  for (; t < capped_from + MP::kMaxHoldMs - 1; ++t) ASSERT_FALSE(p.Spread(t, pkts += 1));
  EXPECT_EQ(p.trials(), 11u);
  p.Spread(t + 1, pkts);  // the cap has passed: a new trial starts (home first)
  RunTrial(p, t + 2, &pkts, 100, 100);
  EXPECT_EQ(p.trials(), 12u);
}

// The rates a trial measured are kept (packets per second).
TEST(PlacementTrialTest, KeepsLastTrialRates) {
  MP p;
  EXPECT_EQ(p.last_home_pps(), 0u);
  uint64_t pkts = 0;
  RunTrial(p, 1000, &pkts, 100, 130);
  EXPECT_EQ(p.last_home_pps(), 100000u);
  EXPECT_EQ(p.last_spread_pps(), 130000u);
}

// A pause in the elephants ends the hold: the next one is measured afresh.
TEST(PlacementTrialTest, PauseEndsHold) {
  MP p;
  uint64_t pkts = 0;
  uint64_t t = RunTrial(p, 1000, &pkts, 100, 100);  // home, held kHoldMs
  ASSERT_FALSE(p.spread());
  // Within the hold and without a pause: no trial, whatever the rates.
  for (const uint64_t end = t + MP::kForgetMs; t < end; ++t) ASSERT_FALSE(p.Spread(t, pkts += 130));
  // A pause of kForgetMs, then spreading is faster: a trial starts at once.
  t += MP::kForgetMs;
  const uint64_t resumed = t;
  t = RunTrial(p, t, &pkts, 100, 130);
  EXPECT_TRUE(p.spread());
  EXPECT_EQ(p.trials(), 2u);
  EXPECT_EQ(t, resumed + 2 * MP::kEpochMs + 1);  // one clear pair of epochs
}

// A new elephant ends the hold too, but not sooner than kNewLoadMs after the
// last decision.
TEST(PlacementTrialTest, NewElephantEndsHoldAfterMinGap) {
  MP p;
  uint64_t pkts = 0;
  uint64_t t = RunTrial(p, 1000, &pkts, 100, 100);  // home, held kHoldMs
  const uint64_t decided = t - 1;                   // the call that ended the trial
  ASSERT_FALSE(p.Spread(t, pkts, 0));
  // A new elephant right away: too soon, no trial.
  for (; t < decided + MP::kNewLoadMs; ++t) ASSERT_FALSE(p.Spread(t, pkts += 130, 1)) << t;
  EXPECT_EQ(p.trials(), 1u);
  // kNewLoadMs after the decision: a trial starts at once.
  const uint64_t start = t;
  t = RunTrial(p, t, &pkts, 100, 130, 1);
  EXPECT_TRUE(p.spread());
  EXPECT_EQ(p.trials(), 2u);
  EXPECT_EQ(t, start + 2 * MP::kEpochMs + 1);
  // The same elephants afterwards: held again.
  for (const uint64_t end = t + MP::kNewLoadMs * 2; t < end; ++t)
    ASSERT_TRUE(p.Spread(t, pkts += 100, 1));
  EXPECT_EQ(p.trials(), 2u);
}

TEST(PlacementTrialTest, NoElephantPacketsMeansHome) {
  MP p;
  uint64_t pkts = 0;
  RunTrial(p, 5, &pkts, 0, 0);
  EXPECT_FALSE(p.spread());
}

}  // namespace
}  // namespace mflow
