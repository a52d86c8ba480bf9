// Engine internals shared by engine.cc and the three mode files.
#pragma once

#include <pthread.h>
#include <time.h>

#include "engine/engine.h"

namespace mflow {

struct Engine::Worker {
  explicit Worker(uint32_t depth) : ring(depth) {}
  uint32_t id = 0;
  std::thread thread;
  SpscRing<MicroFlow*> ring;  // producer: the RX role (microflow, flow) or worker id-1 (stage)
  Parker parker;
  StageContext ctx;
  StageCounters counters[kMaxStages];
  WorkerStats stats;
};

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
