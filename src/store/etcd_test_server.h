// EtcdTestServer: a real single-member etcd for the integration tests,
// started by the test itself on free loopback ports with a fresh data dir,
// and stopped by its PID with the dir removed in the destructor (so also
// when a test fails). Restart() keeps the dir and the ports: the same
// cluster comes back, which is how tests cut a client's connections.
#pragma once

#include <sys/types.h>

#include <string>

#include "common/status.h"
#include "store/http_post.h"

namespace mflow::store {

class EtcdTestServer {
 public:
  // The etcd binary to use ("" if none is installed: the tests skip).
  static std::string FindBinary();
  static bool HaveOpenssl();
  // A loopback TCP port nothing listens on right now.
  static int FreePort();

  EtcdTestServer() = default;
  ~EtcdTestServer();
  EtcdTestServer(const EtcdTestServer&) = delete;
  EtcdTestServer& operator=(const EtcdTestServer&) = delete;

  // Starts etcd and waits (bounded) until it answers a range request.
  // tls: serve https only, with client certificates required; the CA and
  // the certificates are made with the openssl command in the data dir.
  Status Start(bool tls = false);
  // The files a client needs (tls only); bad_client_tls(): a client
  // certificate from a CA etcd does not trust.
  TlsFiles client_tls() const { return client_tls_; }
  TlsFiles bad_client_tls() const { return bad_client_tls_; }
  // Stops the process (SIGTERM, then SIGKILL after a bound); keeps the dir.
  void Stop();
  Status Restart() {
    Stop();
    return Launch();
  }
  std::string url() const {
    return (tls_ ? "https://127.0.0.1:" : "http://127.0.0.1:") + std::to_string(client_port_);
  }
  const std::string& log_path() const { return log_; }

 private:
  Status Launch();
  Status MakeCertificates();
  bool tls_ = false;
  TlsFiles client_tls_;
  TlsFiles bad_client_tls_;
  std::string binary_;
  std::string dir_;
  std::string log_;
  int client_port_ = 0;
  int peer_port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace mflow::store
