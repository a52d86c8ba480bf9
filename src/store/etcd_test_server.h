// EtcdTestServer: a real single-member etcd for the integration tests,
// started by the test itself on free loopback ports with a fresh data dir,
// and stopped by its PID with the dir removed in the destructor (so also
// when a test fails). Restart() keeps the dir and the ports: the same
// cluster comes back, which is how tests cut a client's connections.
#pragma once

#include <sys/types.h>

#include <string>

#include "common/status.h"

namespace mflow::store {

class EtcdTestServer {
 public:
  // The etcd binary to use ("" if none is installed: the tests skip).
  static std::string FindBinary();
  // A loopback TCP port nothing listens on right now.
  static int FreePort();

  EtcdTestServer() = default;
  ~EtcdTestServer();
  EtcdTestServer(const EtcdTestServer&) = delete;
  EtcdTestServer& operator=(const EtcdTestServer&) = delete;

  // Starts etcd and waits (bounded) until it answers a range request.
  Status Start();
  // Stops the process (SIGTERM, then SIGKILL after a bound); keeps the dir.
  void Stop();
  Status Restart() {
    Stop();
    return Launch();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(client_port_); }
  const std::string& log_path() const { return log_; }

 private:
  Status Launch();
  std::string binary_;
  std::string dir_;
  std::string log_;
  int client_port_ = 0;
  int peer_port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace mflow::store
