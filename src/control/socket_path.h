// FillSocketAddress: a control socket path as a sockaddr_un, or why not.
//
// Shared by the server and the client so that both refuse an over-long path
// with the same words (sun_path holds 107 characters and a NUL; a longer path
// would otherwise be silently truncated into a different one).
//
// Thread-safety: a pure function.
#pragma once

#include <sys/un.h>

#include <cstring>
#include <string>

#include "common/status.h"

namespace mflow {

inline Status FillSocketAddress(const std::string& path, sockaddr_un* addr) {
  if (path.empty()) return Status::Error("the control socket path is empty");
  if (path.size() >= sizeof addr->sun_path) {
    return Status::Error("control socket path too long (" + std::to_string(path.size()) + " bytes, at most " +
                         std::to_string(sizeof addr->sun_path - 1) + "): " + path);
  }
  if (path.find('\0') != std::string::npos) return Status::Error("control socket path contains a NUL byte");
  *addr = {};
  addr->sun_family = AF_UNIX;
  std::memcpy(addr->sun_path, path.data(), path.size());
  return Status::Ok();
}

}  // namespace mflow
