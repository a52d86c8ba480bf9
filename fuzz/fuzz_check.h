// FUZZ_CHECK: the invariant check of the fuzz targets.
//
// A failed check prints the condition and where it is, then aborts; libFuzzer
// treats the abort as a crash and saves the input under -artifact_prefix.
// Unlike assert() it is never compiled out.
#pragma once

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond)                                                                 \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (false)
