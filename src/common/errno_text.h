// ErrnoText: the text of an errno value, for Status messages.
//
// strerror(e) without strerror's shared buffer: the daemon's threads, the
// control thread and the netns helper threads may format errors at once.
#pragma once

#include <cstring>
#include <string>

namespace mflow {

inline std::string ErrnoText(int e) {
  char buf[128];
  return ::strerror_r(e, buf, sizeof buf);  // GNU strerror_r: returns the text
}

}  // namespace mflow
