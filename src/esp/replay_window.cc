#include "esp/replay_window.h"

namespace mflow::esp {

ReplayWindow& ReplayWindow::operator=(const ReplayWindow& o) noexcept {
  for (uint32_t b = 0; b < kBlocks; ++b) SetWord(b, o.Word(b));
  top_.store(o.top(), std::memory_order_release);
  return *this;
}

bool ReplayWindow::operator==(const ReplayWindow& o) const noexcept {
  if (top() != o.top()) return false;
  for (uint32_t b = 0; b < kBlocks; ++b)
    if (Word(b) != o.Word(b)) return false;
  return true;
}

ReplayVerdict ReplayWindow::Check(uint64_t seq) const noexcept {
  // Acquire: pairs with Update's release of top, so the blocks it uncovered
  // read as zeroed (see the header).
  const uint64_t top = top_.load(std::memory_order_acquire);
  if (seq == 0) return ReplayVerdict::kLeftOfWindow;
  if (seq > top) return ReplayVerdict::kOk;
  if (top - seq >= kWindow) return ReplayVerdict::kLeftOfWindow;
  return (Word(BlockOf(seq)) & BitOf(seq)) != 0 ? ReplayVerdict::kReplayed : ReplayVerdict::kOk;
}

ReplayVerdict ReplayWindow::Update(uint64_t seq) noexcept {
  const ReplayVerdict v = Check(seq);
  if (v != ReplayVerdict::kOk) return v;
  const uint64_t top = top_.load(std::memory_order_relaxed);  // we are the writer
  if (seq > top) {
    // Zero every block after top's up to and including seq's; a jump of
    // kBlocks blocks or more clears the whole bitmap.
    const uint64_t top_block = top >> 6;
    const uint64_t new_block = seq >> 6;
    uint64_t steps = new_block - top_block;
    if (steps > kBlocks) steps = kBlocks;
    for (uint64_t i = 1; i <= steps; ++i) SetWord(BlockOf((top_block + i) << 6), 0);
    SetWord(BlockOf(seq), Word(BlockOf(seq)) | BitOf(seq));
    // Release: the zeroed blocks and the bit before the new top.
    top_.store(seq, std::memory_order_release);
    return ReplayVerdict::kOk;
  }
  SetWord(BlockOf(seq), Word(BlockOf(seq)) | BitOf(seq));
  return ReplayVerdict::kOk;
}

uint64_t ReplayWindow::Reconstruct(uint32_t seq_lo) const noexcept {
  // RFC 4303 A2.2 with T = top_ = Th||Tl and W = kWindow; the window's
  // bottom is B = T - W + 1 (mod 2^32 in its low half).
  const uint64_t top = top_.load(std::memory_order_acquire);
  const uint32_t th = static_cast<uint32_t>(top >> 32);
  const uint32_t tl = static_cast<uint32_t>(top);
  const uint32_t w = static_cast<uint32_t>(kWindow);
  const uint32_t bl = tl - w + 1;  // wraps on purpose in case B
  uint64_t hi;
  if (tl >= w - 1) {
    // Case A: the window lies within one 2^32 subspace. A low half below
    // the window's bottom belongs to the next subspace.
    hi = seq_lo >= bl ? th : uint64_t{th} + 1;
  } else {
    // Case B: the window spans a subspace boundary. A low half at or above
    // the (wrapped) bottom lies in the previous subspace.
    if (seq_lo >= bl) {
      if (th == 0) return 0;  // would be before sequence number 1
      hi = uint64_t{th} - 1;
    } else {
      hi = th;
    }
  }
  if (hi > 0xffffffffu) return 0;  // the 64-bit space is used up (never in practice)
  return hi << 32 | seq_lo;
}

void ReplayWindow::StartAt(uint64_t top) noexcept {
  for (uint32_t b = 0; b < kBlocks; ++b) SetWord(b, 0);
  if (top != 0) SetWord(BlockOf(top), BitOf(top));
  top_.store(top, std::memory_order_release);
}

}  // namespace mflow::esp
