// RunInNetns: run a piece of setup code inside another network namespace.
//
// Container ports live in the container's network namespace, but the
// daemon's own threads must never change namespace (their sockets, the
// control socket, the underlay port all belong to the host). So the code
// runs on a short-lived thread that joins the namespace with setns(2) and
// exits afterwards; a namespace is per thread in Linux, so nothing else in
// the process is affected. File descriptors opened by fn stay bound to that
// namespace's objects (a TAP device, a socket) after the thread is gone.
//
// Thread-safety: callable from any thread; blocks until fn has returned.
#pragma once

#include <functional>
#include <string>

#include "common/errno_text.h"
#include "common/status.h"

namespace mflow {

// path names a network namespace: /var/run/netns/NAME (ip netns) or
// /proc/PID/ns/net. Empty path: fn runs on the calling thread, in its
// current namespace. Errors of open/setns read "netns PATH: <strerror>"
// (a path that does not exist: StatusCode::kNotFound);
// otherwise fn's own Status is returned (an exception thrown by fn becomes
// an error Status).
Status RunInNetns(const std::string& path, const std::function<Status()>& fn);

}  // namespace mflow
