#include "port/netns.h"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <exception>
#include <thread>

namespace mflow {

Status RunInNetns(const std::string& path, const std::function<Status()>& fn) {
  if (path.empty()) return fn();
  Status result;
  // A fresh thread: setns(CLONE_NEWNET) changes only the calling thread,
  // and this one exits right after fn, so no long-lived thread of the daemon
  // ever runs in a container's namespace.
  std::thread t([&] {
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      const int err = errno;
      // A namespace that is gone (its container stopped) is "not found" to
      // the caller, not a failure of ours.
      result = Status::Error(err == ENOENT ? StatusCode::kNotFound : StatusCode::kFailed,
                             "netns " + path + ": " + ErrnoText(err));
      return;
    }
    if (setns(fd, CLONE_NEWNET) != 0) {
      const int err = errno;
      close(fd);
      result = Status::Error("netns " + path + ": setns: " + ErrnoText(err));
      return;
    }
    close(fd);
    // An exception escaping a std::thread would terminate the daemon.
    try {
      result = fn();
    } catch (const std::exception& e) {
      result = Status::Error("netns " + path + ": " + e.what());
    }
  });
  t.join();
  return result;
}

}  // namespace mflow
