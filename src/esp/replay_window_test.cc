#include "esp/replay_window.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>
#include <vector>

namespace mflow::esp {
namespace {

constexpr uint64_t W = ReplayWindow::kWindow;
constexpr uint64_t k2_32 = uint64_t{1} << 32;

static_assert(W >= 4096, "the issue asks for a window of at least 4096 packets");

TEST(ReplayWindow, InOrderThenEveryOneIsAReplay) {
  ReplayWindow w;
  for (uint64_t s = 1; s <= 3 * W; ++s) {
    ASSERT_EQ(w.Check(s), ReplayVerdict::kOk) << s;
    ASSERT_EQ(w.Update(s), ReplayVerdict::kOk) << s;
    ASSERT_EQ(w.Check(s), ReplayVerdict::kReplayed) << s;
  }
  EXPECT_EQ(w.top(), 3 * W);
  // The last kWindow are replays, older ones left of the window.
  EXPECT_EQ(w.Check(3 * W - W + 1), ReplayVerdict::kReplayed);
  EXPECT_EQ(w.Check(3 * W - W), ReplayVerdict::kLeftOfWindow);
  EXPECT_EQ(w.Check(1), ReplayVerdict::kLeftOfWindow);
  EXPECT_EQ(w.Check(0), ReplayVerdict::kLeftOfWindow);
}

TEST(ReplayWindow, ReorderedWithinTheWindowIsAcceptedOnce) {
  // A model: the set of accepted numbers. Shuffle blocks of 1000 so that
  // late packets arrive up to ~1000 behind the top.
  std::vector<uint64_t> seqs;
  for (uint64_t s = 1; s <= 20000; ++s) seqs.push_back(s);
  std::mt19937 rng(7);
  for (size_t i = 0; i < seqs.size(); i += 1000) {
    std::shuffle(seqs.begin() + static_cast<long>(i),
                 seqs.begin() + static_cast<long>(std::min(i + 1000, seqs.size())), rng);
  }
  ReplayWindow w;
  for (uint64_t s : seqs) {
    ASSERT_EQ(w.Check(s), ReplayVerdict::kOk) << s;
    ASSERT_EQ(w.Update(s), ReplayVerdict::kOk) << s;
  }
  // Every number once more: all within the window are replays, none new.
  for (uint64_t s : seqs) {
    const ReplayVerdict v = w.Check(s);
    ASSERT_NE(v, ReplayVerdict::kOk) << s;
    ASSERT_EQ(v, w.top() - s < W ? ReplayVerdict::kReplayed : ReplayVerdict::kLeftOfWindow) << s;
  }
}

TEST(ReplayWindow, DuplicatesAreRefusedByUpdateToo) {
  ReplayWindow w;
  // Two copies pass Check (decrypted in parallel); only one Update wins.
  EXPECT_EQ(w.Check(5), ReplayVerdict::kOk);
  EXPECT_EQ(w.Check(5), ReplayVerdict::kOk);
  EXPECT_EQ(w.Update(5), ReplayVerdict::kOk);
  EXPECT_EQ(w.Update(5), ReplayVerdict::kReplayed);
  EXPECT_EQ(w.Update(3), ReplayVerdict::kOk);
  EXPECT_EQ(w.Update(3), ReplayVerdict::kReplayed);
  EXPECT_EQ(w.Check(4), ReplayVerdict::kOk);
}

TEST(ReplayWindow, EdgesOfTheWindowExactly) {
  ReplayWindow w;
  const uint64_t top = 100000;
  ASSERT_EQ(w.Update(top), ReplayVerdict::kOk);
  EXPECT_EQ(w.Check(top - W + 1), ReplayVerdict::kOk);        // oldest tracked
  EXPECT_EQ(w.Check(top - W), ReplayVerdict::kLeftOfWindow);  // one older
  EXPECT_EQ(w.Update(top - W + 1), ReplayVerdict::kOk);
  EXPECT_EQ(w.Check(top - W + 1), ReplayVerdict::kReplayed);
  // Moving the top by one pushes it out.
  EXPECT_EQ(w.Update(top + 1), ReplayVerdict::kOk);
  EXPECT_EQ(w.Check(top - W + 1), ReplayVerdict::kLeftOfWindow);
}

TEST(ReplayWindow, FarJumpsClearTheStaleBits) {
  ReplayWindow w;
  for (uint64_t s = 1; s <= 500; ++s) ASSERT_EQ(w.Update(s), ReplayVerdict::kOk);
  // Jumps of every size around the bitmap's length: numbers that share a
  // bit position with old ones (same seq mod 8192) must read as unseen.
  uint64_t top = 500;
  for (uint64_t jump : {uint64_t{1}, uint64_t{63}, uint64_t{64}, uint64_t{65}, W - 1, W, W + 1,
                        uint64_t{ReplayWindow::kBlocks} * 64, uint64_t{ReplayWindow::kBlocks} * 64 + 1,
                        uint64_t{1} << 40}) {
    const uint64_t next = top + jump;
    ASSERT_EQ(w.Update(next), ReplayVerdict::kOk) << jump;
    for (uint64_t back = 1; back < std::min<uint64_t>(jump, W); back += 61) {
      ASSERT_EQ(w.Check(next - back), ReplayVerdict::kOk) << "jump " << jump << " back " << back;
    }
    if (jump < W) {
      ASSERT_EQ(w.Check(top), ReplayVerdict::kReplayed) << jump;
    }
    top = next;
  }
}

TEST(ReplayWindow, CheckWithoutUpdateChangesNothing) {
  ReplayWindow w;
  for (uint64_t s = 1; s <= 1000; s += 2) ASSERT_EQ(w.Update(s), ReplayVerdict::kOk);
  const ReplayWindow before = w;
  // A forged packet: Check says ok (far ahead, or a hole), decryption fails,
  // Update is never called. The window must be as it was.
  for (uint64_t s : {uint64_t{2}, uint64_t{1001}, uint64_t{1} << 33, k2_32 + 5}) {
    EXPECT_EQ(w.Check(s), ReplayVerdict::kOk);
  }
  EXPECT_EQ(w.top(), before.top());
  for (uint64_t s = 1; s <= 1100; ++s) ASSERT_EQ(w.Check(s), before.Check(s)) << s;
  // And the legitimate next packet still passes.
  EXPECT_EQ(w.Update(1001), ReplayVerdict::kOk);
}

TEST(ReplayWindow, ReconstructsTheHighHalfNearTheTop) {
  ReplayWindow w;
  // Fresh window: small numbers are in subspace 0; a number just under
  // 2^32 would be before 1, hence invalid (0 -> left of window).
  EXPECT_EQ(w.Reconstruct(1), 1u);
  EXPECT_EQ(w.Reconstruct(0xfffffff0u), 0u);
  // Case A, window within subspace 5.
  w.StartAt((uint64_t{5} << 32) + 100000);
  EXPECT_EQ(w.Reconstruct(100001), (uint64_t{5} << 32) + 100001);
  EXPECT_EQ(w.Reconstruct(100000 - 10), (uint64_t{5} << 32) + 100000 - 10);  // late, in window
  EXPECT_EQ(w.Reconstruct(5), (uint64_t{6} << 32) + 5);  // below the window: next subspace
  // Case B, window straddling 6 * 2^32.
  w.StartAt((uint64_t{6} << 32) + 10);
  EXPECT_EQ(w.Reconstruct(11), (uint64_t{6} << 32) + 11);
  EXPECT_EQ(w.Reconstruct(0xfffffff0u), (uint64_t{5} << 32) + 0xfffffff0u);  // late, before wrap
  EXPECT_EQ(w.Reconstruct(0x10000000u), (uint64_t{6} << 32) + 0x10000000u);  // ahead
}

TEST(ReplayWindow, WrapOfTheLow32BitsWithEsn) {
  // Packets around 2^32 arrive reordered; the low halves wrap from
  // 0xffff.... to 0; reconstruction and the window must see one sequence.
  ReplayWindow w;
  w.StartAt(k2_32 - 3000);
  std::vector<uint64_t> seqs;
  for (uint64_t s = k2_32 - 2999; s <= k2_32 + 3000; ++s) seqs.push_back(s);
  std::mt19937 rng(11);
  for (size_t i = 0; i < seqs.size(); i += 500) {
    std::shuffle(seqs.begin() + static_cast<long>(i),
                 seqs.begin() + static_cast<long>(std::min(i + 500, seqs.size())), rng);
  }
  for (uint64_t s : seqs) {
    const uint64_t full = w.Reconstruct(static_cast<uint32_t>(s));
    ASSERT_EQ(full, s) << std::hex << s;
    ASSERT_EQ(w.Check(full), ReplayVerdict::kOk);
    ASSERT_EQ(w.Update(full), ReplayVerdict::kOk);
  }
  EXPECT_EQ(w.top(), k2_32 + 3000);
  // Replays from before the wrap are recognised as such.
  for (uint64_t s = k2_32 - 2999; s < k2_32; s += 97) {
    const uint64_t full = w.Reconstruct(static_cast<uint32_t>(s));
    EXPECT_EQ(full, s);
    EXPECT_EQ(w.Check(full), ReplayVerdict::kReplayed);
  }
}

}  // namespace
}  // namespace mflow::esp
