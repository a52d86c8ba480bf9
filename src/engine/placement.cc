#include "engine/placement.h"

namespace mflow {

std::string_view PlacementName(PlacementMode m) {
  switch (m) {
    case PlacementMode::kAuto:
      return "auto";
    case PlacementMode::kHome:
      return "home";
    case PlacementMode::kSpread:
      return "spread";
  }
  return "?";
}

std::optional<PlacementMode> ParsePlacement(std::string_view s) {
  if (s == "auto") return PlacementMode::kAuto;
  if (s == "home") return PlacementMode::kHome;
  if (s == "spread") return PlacementMode::kSpread;
  return std::nullopt;
}

Placement::Decision Placement::Update(uint64_t now_ms) noexcept {
  // The trial measures while a TCP elephant runs (kElephantActiveMs after its
  // last packet: no epoch is measured after it ended); the placement holds
  // kPlacementHoldMs.
  const bool tcp = seen_tcp_ && now_ms - last_tcp_ms_ < kElephantActiveMs;
  const bool tcp_recent = seen_tcp_ && now_ms - last_tcp_ms_ < kPlacementHoldMs;
  const bool open_loop = seen_open_loop_ && now_ms - last_open_loop_ms_ < kPlacementHoldMs;
  // The trial's measure, the packets elephants move through the split point,
  // is what a TCP receiver gets: TCP holds its sender to the path's rate. An
  // elephant of any other protocol may be an open-loop sender (unpaced UDP)
  // that overruns the receiving container, and then more packets through
  // the split point is not more delivered (measured on the testbed: home
  // moved as many UDP datagrams through the receiving daemon's split point,
  // while spreading delivered 1.5x as many). Beside such an elephant, spread.
  Decision d;
  switch (mode_) {
    case PlacementMode::kHome:
      break;
    case PlacementMode::kSpread:
      d.spread = open_loop || tcp_recent;
      break;
    case PlacementMode::kAuto:
      d.spread = open_loop || (tcp ? trial_.Spread(now_ms, elephant_pkts_, new_elephants_)
                                   : tcp_recent && spread_);
      break;
  }
  spread_ = d.spread;
  // Home beside a TCP elephant is solo: worker 0 alone reads, and since a flow
  // with nothing in flight moves to the worker that read it (PickWorker),
  // every flow comes to run there, as on one core; the other workers finish
  // what was theirs and stand by, parked. Home used to keep every worker
  // reading: whichever was idle read the next burst and handed the elephant
  // back to its busy home, or polled the ports while it waited, on cores the
  // containers needed (measured: 1 worker moved 2-7 % more than 2 kept home).
  d.solo = tcp_recent && !d.spread;
  return d;
}

}  // namespace mflow
