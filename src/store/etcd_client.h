// EtcdClient: the etcd v3 API through the JSON gateway (docs/STORE.md says
// why not gRPC), with several endpoints and failover.
//
// Every call goes to the preferred endpoint; when it cannot be reached (no
// connection, timeout, TLS failure, or the server answers "unavailable"),
// the endpoint is marked down for a backoff (doubling per failure, capped)
// and the call tries the next one. A down endpoint is skipped until its
// backoff passes, unless every endpoint is down, then all are tried anyway.
// A real answer from etcd (lease not found, revision compacted) is not a
// reason to fail over and comes back as the error it is.
//
// Errors name the endpoint and the step: "etcd http://10.0.0.1:2379
// kv/range: kvs[0].key: bad base64".
//
// Thread-safety: every method may be called from any number of threads at
// once (each request has its own curl handle; the endpoints' health is under
// a mutex). Watches run on their own threads (etcd_watch.h).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "store/etcd_types.h"
#include "store/http_post.h"

namespace mflow::store {

struct EtcdClientOptions {
  std::vector<std::string> endpoints;  // "http://127.0.0.1:2379", "https://etcd1:2379"
  TlsFiles tls;
  std::chrono::milliseconds connect_timeout{1000};
  std::chrono::milliseconds request_timeout{5000};
  std::chrono::milliseconds backoff_min{500};   // first time an endpoint is down
  std::chrono::milliseconds backoff_max{30000};
  size_t max_reply_bytes = 64u << 20;
};

// What the client knows of one endpoint (for status output and tests).
struct EndpointHealth {
  std::string url;
  bool down = false;  // inside its backoff now
  int failures = 0;   // in a row
  std::string last_error;
};

class EtcdClient {
 public:
  // Checks the endpoints (http:// or https://, no path) and the TLS files
  // (readable); connects to nothing yet.
  static StatusOr<std::unique_ptr<EtcdClient>> Create(EtcdClientOptions options);

  // key alone, or every key starting with key when prefix; revision 0 = now.
  StatusOr<RangeResult> Range(std::string_view key, bool prefix = false, int64_t revision = 0);
  // Returns the revision of the put.
  StatusOr<int64_t> Put(std::string_view key, std::string_view value, int64_t lease = 0);
  StatusOr<int64_t> Delete(std::string_view key, bool prefix = false);
  StatusOr<TxnResult> Txn(const std::vector<TxnCompare>& compare, const std::vector<TxnOp>& success,
                          const std::vector<TxnOp>& failure = {});
  StatusOr<Lease> LeaseGrant(int64_t ttl_seconds);
  // The TTL left after the renewal; kNotFound if the lease is gone.
  StatusOr<int64_t> LeaseKeepAliveOnce(int64_t id);
  Status LeaseRevoke(int64_t id);
  // Compacts the history up to revision (tests; an operator's tool).
  Status Compact(int64_t revision);

  std::vector<EndpointHealth> Health() const;
  const EtcdClientOptions& options() const { return options_; }

  // For the watch: the endpoints in the order to try now (healthy first,
  // from the preferred one), and the report of a failure or success.
  std::vector<std::string> EndpointsToTry();
  void ReportFailure(const std::string& url, const std::string& error);
  void ReportSuccess(const std::string& url);

 private:
  explicit EtcdClient(EtcdClientOptions options);
  // POSTs body to path on the endpoints in turn; the reply body of the
  // first endpoint that answered, or the last error.
  StatusOr<std::string> Call(const char* path, const std::string& body, std::string* endpoint);

  struct Endpoint {
    std::string url;
    std::chrono::steady_clock::time_point down_until{};
    int failures = 0;
    std::string last_error;
  };
  EtcdClientOptions options_;
  mutable std::mutex mu_;
  std::vector<Endpoint> endpoints_;  // guarded by mu_
  size_t preferred_ = 0;             // guarded by mu_
};

}  // namespace mflow::store
