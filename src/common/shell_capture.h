// ShellCapture: a shell command's output, stdout and stderr together, for
// tests that look at the system with `ip ... show` and the like.
//
// Thread-safety: any number of concurrent calls (popen).
#pragma once

#include <cstdio>
#include <string>

namespace mflow {

inline std::string ShellCapture(const std::string& cmd) {
  std::string out;
  FILE* f = popen((cmd + " 2>&1").c_str(), "r");
  if (f == nullptr) return out;
  char buf[512];
  while (size_t n = fread(buf, 1, sizeof(buf), f)) out.append(buf, n);
  pclose(f);
  return out;
}

}  // namespace mflow
