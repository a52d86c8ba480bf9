// Placement: the engine's rules around the trial, each driven on a simulated
// clock (no sleeps, no timing): which placement each mode chooses beside a
// TCP elephant, beside an open-loop one, and for how long a decision holds
// after the elephant's last packet (kElephantActiveMs, kPlacementHoldMs).
#include "engine/placement.h"

#include <gtest/gtest.h>

namespace mflow {
namespace {

using D = Placement::Decision;
constexpr D kNone{false, false};
constexpr D kSpread{true, false};
constexpr D kSolo{false, true};

// Feeds a TCP elephant (one packet per ms, `rate` on the wire each, with
// spreading moving `spread_rate` instead) from t to end, an Update after
// each; returns the last decision.
D RunTcp(Placement& p, uint64_t& t, uint64_t end, uint32_t rate, uint32_t spread_rate,
         bool first = false) {
  D d{};
  for (; t < end; ++t) {
    p.OnElephantPacket(true, d.spread ? spread_rate : rate, first, t);
    first = false;
    d = p.Update(t);
  }
  return d;
}

TEST(PlacementTest, NothingToPlaceWithoutElephants) {
  for (PlacementMode m : {PlacementMode::kAuto, PlacementMode::kHome, PlacementMode::kSpread}) {
    Placement p(m);
    // Early clock values (a simulated clock starting at 0) are not mistaken
    // for a recent elephant.
    for (uint64_t t = 0; t < 1000; ++t) ASSERT_EQ(p.Update(t), kNone) << PlacementName(m) << " " << t;
  }
}

TEST(PlacementTest, HomeIsSoloBesideATcpElephantAndNeverSpreads) {
  Placement p(PlacementMode::kHome);
  uint64_t t = 1000;
  EXPECT_EQ(RunTcp(p, t, 3000, 10, 100, true), kSolo);
  // Beside an open-loop elephant too, home does not spread (it stays solo
  // while the TCP one is recent).
  p.OnElephantPacket(false, 10, true, t);
  EXPECT_EQ(p.Update(t), kSolo);
  EXPECT_EQ(p.trial().trials(), 0u);  // nothing measured
}

TEST(PlacementTest, SpreadSpreadsBesideAnyElephantForTheHoldThenStops) {
  Placement p(PlacementMode::kSpread);
  uint64_t t = 1000;
  EXPECT_EQ(RunTcp(p, t, 1500, 10, 10, true), kSpread);
  const uint64_t last = t - 1;  // the elephant's last packet
  for (; t < last + Placement::kPlacementHoldMs; ++t) ASSERT_EQ(p.Update(t), kSpread) << t - last;
  EXPECT_EQ(p.Update(t), kNone);
  // An open-loop elephant: spread while it is recent, not solo after.
  p.OnElephantPacket(false, 1, true, t);
  EXPECT_EQ(p.Update(t), kSpread);
  EXPECT_EQ(p.Update(t + Placement::kPlacementHoldMs - 1), kSpread);
  EXPECT_EQ(p.Update(t + Placement::kPlacementHoldMs), kNone);
}

// auto beside a TCP elephant: the trial decides; home is solo.
TEST(PlacementTest, AutoFollowsTheTrialBesideTcp) {
  {
    Placement p(PlacementMode::kAuto);
    uint64_t t = 1000;
    EXPECT_EQ(RunTcp(p, t, 4000, 10, 20, true), kSpread);  // spreading twice as fast
    EXPECT_EQ(p.trial().trials(), 1u);
    EXPECT_EQ(p.trial().spread_wins(), 1u);
  }
  {
    Placement p(PlacementMode::kAuto);
    uint64_t t = 1000;
    EXPECT_EQ(RunTcp(p, t, 4000, 20, 10, true), kSolo);  // home twice as fast
    EXPECT_EQ(p.trial().trials(), 1u);
    EXPECT_EQ(p.trial().spread_wins(), 0u);
  }
}

// After the TCP elephant's last packet the trial stops measuring at once
// (kElephantActiveMs), while the decision holds for kPlacementHoldMs.
TEST(PlacementTest, AutoHoldsItsDecisionAfterTheElephantWithoutMeasuring) {
  Placement p(PlacementMode::kAuto);
  uint64_t t = 1000;
  ASSERT_EQ(RunTcp(p, t, 4000, 10, 20, true), kSpread);
  const uint64_t last = t - 1;
  const uint64_t trials = p.trial().trials();
  for (; t < last + Placement::kPlacementHoldMs; ++t) ASSERT_EQ(p.Update(t), kSpread) << t - last;
  EXPECT_EQ(p.Update(t), kNone);
  EXPECT_EQ(p.trial().trials(), trials);
  // Home held the same way, solo until the hold ends.
  Placement h(PlacementMode::kAuto);
  t = 1000;
  ASSERT_EQ(RunTcp(h, t, 4000, 20, 10, true), kSolo);
  const uint64_t hlast = t - 1;
  for (; t < hlast + Placement::kPlacementHoldMs; ++t) ASSERT_EQ(h.Update(t), kSolo) << t - hlast;
  EXPECT_EQ(h.Update(t), kNone);
}

// The trial sees no packets once the elephant is gone for kElephantActiveMs:
// a gap shorter than that is part of the epoch, a longer one is not
// measured at all (Update does not call the trial).
TEST(PlacementTest, AutoMeasuresOnlyWhileTheTcpElephantRuns) {
  Placement p(PlacementMode::kAuto);
  uint64_t t = 1000;
  p.OnElephantPacket(true, 10, true, t);
  EXPECT_EQ(p.Update(t), kSolo);  // the trial starts home
  // The elephant stops: for kElephantActiveMs the trial still runs, then the
  // engine holds home (solo) without it, until kPlacementHoldMs.
  for (uint64_t k = 1; k < Placement::kPlacementHoldMs; ++k) ASSERT_EQ(p.Update(t + k), kSolo) << k;
  EXPECT_EQ(p.Update(t + Placement::kPlacementHoldMs), kNone);
  EXPECT_EQ(p.trial().trials(), 0u);  // six 100 ms epochs never ran: nothing decided
}

// Beside an open-loop elephant (unpaced UDP), auto spreads without a trial,
// even while a trial would keep a TCP elephant home.
TEST(PlacementTest, AutoSpreadsBesideAnOpenLoopElephant) {
  Placement p(PlacementMode::kAuto);
  uint64_t t = 1000;
  ASSERT_EQ(RunTcp(p, t, 4000, 20, 10, true), kSolo);
  p.OnElephantPacket(false, 1, true, t);
  EXPECT_EQ(p.Update(t), kSpread);
  // The TCP elephant keeps running, the UDP one stops: after the hold, the
  // TCP decision (home, solo) is back.
  const uint64_t udp_last = t;
  ++t;
  EXPECT_EQ(RunTcp(p, t, udp_last + Placement::kPlacementHoldMs, 20, 10), kSpread);
  EXPECT_EQ(RunTcp(p, t, udp_last + Placement::kPlacementHoldMs + 50, 20, 10), kSolo);
}

TEST(PlacementTest, NamesRoundTrip) {
  for (PlacementMode m : {PlacementMode::kAuto, PlacementMode::kHome, PlacementMode::kSpread})
    EXPECT_EQ(ParsePlacement(PlacementName(m)), m);
  EXPECT_FALSE(ParsePlacement("everywhere").has_value());
}

}  // namespace
}  // namespace mflow
