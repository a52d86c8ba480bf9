// ReplayWindow: the inbound anti-replay window of one SA (RFC 4303 3.4.3),
// as a bitmap of 64-bit blocks that slides by zeroing whole blocks
// (RFC 6479), plus the reconstruction of a 64-bit extended sequence number
// from the 32 bits on the wire (RFC 4303 appendix A2.2).
//
// The check is split so that a forged packet never moves the window:
//   Check(seq)  - before decryption: is seq new (right of top, or in the
//                 window with its bit clear)? Reads only, changes nothing.
//   Update(seq) - only after the ICV verified: checks again (a duplicate may
//                 have passed Check while its twin was being decrypted on
//                 another worker) and records seq, sliding the window when
//                 seq is the new top. Returns the verdict.
//
// Layout: kBlocks blocks of 64 bits; bit (seq % 64) of block
// ((seq / 64) % kBlocks) stands for seq. The block holding `top` is the
// newest; the kBlocks - 1 blocks before it are the window, so every seq in
// (top - kWindow, top] is tracked exactly: kWindow = (kBlocks - 1) * 64.
// Moving the top into a later block zeroes the blocks in between (at most
// kBlocks), never shifts bits.
//
//   block:  [ b-127 ] ... [ b-1 ] [ b = top / 64 ]
//            oldest                newest (bits above top % 64 are zero)
//   seq <= top - kWindow          -> left of window
//   top - kWindow < seq <= top    -> its bit says replayed or not
//   seq > top                     -> new (Update slides)
//
// Sequence number 0 is never sent (RFC 4303 3.3.3: the first packet is 1),
// so it is reported as left of the window.
//
// Thread-safety: one writer, any readers. One owner at a time calls Update
// and StartAt (in the engine: whoever releases the SA's packets, in order);
// any thread may call Check and Reconstruct meanwhile (a worker's early,
// advisory check). The words are atomics read and written relaxed, and top
// is published with release after the blocks it uncovers were zeroed, so a
// reader that sees a new top sees those blocks cleared: a stale view can
// call a replay new (Update catches it) but never a new packet a replay
// (a bit is set only by Update of that very number, or left over from a
// number 8192 * k lower, which is then left of the window anyway).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

namespace mflow::esp {

enum class ReplayVerdict : uint8_t {
  kOk,            // new: may be delivered (Check), recorded (Update)
  kReplayed,      // inside the window, seen before
  kLeftOfWindow,  // older than the window (or 0)
};

class ReplayWindow {
 public:
  static constexpr uint32_t kBlocks = 128;  // power of two: 1 KiB of bitmap
  static constexpr uint64_t kWindow = (kBlocks - 1) * 64;  // 8128 packets
  static_assert((kBlocks & (kBlocks - 1)) == 0);

  ReplayVerdict Check(uint64_t seq) const noexcept;
  ReplayVerdict Update(uint64_t seq) noexcept;

  // The full sequence number for the low 32 bits seen on the wire, with ESN
  // (RFC 4303 A2.2): the one closest to the window, i.e. in the window or
  // ahead of it by less than 2^32 - kWindow. Returns 0 (invalid, so Check
  // says left of window) when the high half would be negative: before the
  // first 2^32 packets, a low half far above top is an old packet, not one
  // 4 billion ahead.
  uint64_t Reconstruct(uint32_t seq_lo) const noexcept;

  ReplayWindow() = default;
  // Copies (tests: "unchanged"; not while a writer runs).
  ReplayWindow(const ReplayWindow& o) noexcept { *this = o; }
  ReplayWindow& operator=(const ReplayWindow& o) noexcept;
  bool operator==(const ReplayWindow& o) const noexcept;

  // Highest sequence number recorded; 0 = none yet.
  uint64_t top() const { return top_.load(std::memory_order_acquire); }

  // Resets the window to a top of `top` with only top itself marked seen:
  // seq <= top - kWindow is then left of the window, the rest of the window
  // is unseen. For tests (a window near the 2^32 wrap) and for an inbound SA
  // that takes over from an older one.
  void StartAt(uint64_t top) noexcept;

 private:
  static uint32_t BlockOf(uint64_t seq) { return static_cast<uint32_t>(seq >> 6) & (kBlocks - 1); }
  static uint64_t BitOf(uint64_t seq) { return uint64_t{1} << (seq & 63); }

  uint64_t Word(uint32_t b) const { return bits_[b].load(std::memory_order_relaxed); }
  void SetWord(uint32_t b, uint64_t v) { bits_[b].store(v, std::memory_order_relaxed); }

  std::atomic<uint64_t> top_{0};
  std::array<std::atomic<uint64_t>, kBlocks> bits_{};
};

}  // namespace mflow::esp
