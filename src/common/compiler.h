// Small portability helpers shared by every layer.
#pragma once

#include <cstddef>
#include <new>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#define MFLOW_LIKELY(x) __builtin_expect(!!(x), 1)
#define MFLOW_UNLIKELY(x) __builtin_expect(!!(x), 0)

namespace mflow {

// One cache line. Indices written by different threads live on different lines
// so that a producer's store does not invalidate the consumer's line.
inline constexpr std::size_t kCacheLine = 64;

// A polite spin: tells the core we are waiting (saves power, frees the sibling
// hyper-thread).
inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#else
  __asm__ __volatile__("" ::: "memory");
#endif
}

}  // namespace mflow
