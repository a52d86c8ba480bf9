// ControlServer: mflowd's control socket (the server side of mflowctl).
//
// A Unix stream socket (default /run/mflow/mflowd.sock) speaking
// newline-delimited JSON: each request is one JSON object on one line with a
// "cmd" string and its arguments; each reply is one JSON object on one line,
// in request order. A connection may carry any number of requests. The
// protocol and every command are described in docs/MFLOWCTL.md.
//
// Access is root only, enforced twice: the socket file is mode 0600 in a
// directory created 0700, and every accepted peer's SO_PEERCRED uid must be 0
// (or the daemon's own uid, which for mflowd is root; this lets the tests run
// unprivileged), otherwise it gets one error reply and is closed.
//
// One thread serves every client with poll() over non-blocking sockets and
// per-client buffers, so a client that stops reading, or sends half a
// request and stalls, does not hold up the others: it is disconnected once it
// has made no progress for stall_timeout. Requests are bounded (64 KiB); a
// client's unsent replies are bounded too (no further requests of that client
// are read while 1 MiB of its replies is pending). Requests of all clients
// are handled one at a time, on the server thread: a slow handler delays the
// other clients by its own duration, no more.
//
// Start refuses a path on which a live server answers (another mflowd), and
// replaces a stale socket file left by one that died. The destructor wakes the
// thread (eventfd), joins it, closes every connection and removes the socket
// file if it is still the one this server created.
//
// Thread-safety: Start and the destructor from one control thread. The
// handler runs on the server thread only, one request at a time; it must be
// safe against whatever else the daemon's threads do (the daemon's concern).
// Start sets the process umask for the duration of bind(): create no files
// from other threads at that moment.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/status.h"
#include "control/unique_fd.h"

namespace mflow {

// Maps one request (a JSON object with a "cmd" string) to its reply. By
// convention a reply carries "ok": true, or "ok": false and an "error" text.
// Exceptions are caught and turned into {"ok":false,"error":...}.
using ControlHandler = std::function<nlohmann::json(const nlohmann::json& request)>;

inline constexpr const char* kDefaultControlSocket = "/run/mflow/mflowd.sock";

struct ControlServerOptions {
  size_t max_request_bytes = 64 * 1024;  // one request line, without its newline
  size_t max_pending_reply_bytes = 1 << 20;  // stop reading a client above this
  size_t max_clients = 64;                   // more are told so and closed
  std::chrono::milliseconds stall_timeout{10000};  // pending work, no progress
};

class ControlServer {
 public:
  static StatusOr<std::unique_ptr<ControlServer>> Start(const std::string& socket_path,
                                                        ControlHandler handler,
                                                        const ControlServerOptions& options = {});
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  const std::string& socket_path() const { return path_; }

 private:
  struct Client;
  ControlServer(std::string path, ControlHandler handler, const ControlServerOptions& options);

  // All on the server thread.
  void Run();
  void Accept();
  void Read(Client& c);
  void Progress(Client& c);
  void HandleLines(Client& c);
  void TooLarge(Client& c);
  bool Flush(Client& c);
  bool WantsRead(const Client& c) const;
  bool Waiting(const Client& c) const;
  std::string Handle(std::string_view line);

  std::string path_;
  ControlHandler handler_;
  ControlServerOptions opts_;
  UniqueFd listen_fd_;
  UniqueFd wake_fd_;  // eventfd: the destructor's stop signal
  dev_t dev_ = 0;     // identity of the socket file we bound, so that the
  ino_t ino_ = 0;     // destructor never removes another server's socket
  uid_t self_uid_ = 0;
  std::vector<std::unique_ptr<Client>> clients_;  // the server thread's, until joined
  // Out of descriptors (or memory), accept fails and leaves the connection
  // queued, so the listening socket stays readable: polling it would spin.
  // It is left out of the poll set until then.
  std::chrono::steady_clock::time_point accept_paused_until_{};
  std::thread thread_;
};

}  // namespace mflow
