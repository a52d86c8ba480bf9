// Monotonic clocks for the data path, through the vDSO (no system call).
#pragma once

#include <time.h>

#include <cstdint>

namespace mflow {

inline uint64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// Milliseconds from the coarse monotonic clock (vDSO, no system call; a
// few ms of resolution, plenty for table aging).
inline uint64_t CoarseMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000ull + static_cast<uint64_t>(ts.tv_nsec) / 1000000ull;
}

}  // namespace mflow
