#include "store/etcd_client.h"

#include <unistd.h>

#include <algorithm>

#include "store/etcd_json.h"

namespace mflow::store {
namespace {

using Clock = std::chrono::steady_clock;

Status CheckEndpoint(const std::string& url) {
  std::string_view rest;
  if (url.starts_with("http://")) rest = std::string_view(url).substr(7);
  else if (url.starts_with("https://")) rest = std::string_view(url).substr(8);
  else return Status::Error(StatusCode::kInvalid, "endpoint " + url + ": must start with http:// or https://");
  if (rest.empty() || rest.find('/') != std::string_view::npos)
    return Status::Error(StatusCode::kInvalid, "endpoint " + url + ": want scheme://host:port without a path");
  return Status::Ok();
}

Status CheckReadable(const std::string& what, const std::string& path) {
  if (path.empty()) return Status::Ok();
  if (access(path.c_str(), R_OK) != 0)
    return Status::Error(StatusCode::kInvalid, what + " " + path + ": not readable");
  return Status::Ok();
}

}  // namespace

StatusOr<std::unique_ptr<EtcdClient>> EtcdClient::Create(EtcdClientOptions options) {
  if (options.endpoints.empty()) return Status::Error(StatusCode::kInvalid, "etcd: no endpoints");
  for (auto& url : options.endpoints) {
    while (url.ends_with('/')) url.pop_back();
    MFLOW_RETURN_IF_ERROR(CheckEndpoint(url));
  }
  MFLOW_RETURN_IF_ERROR(CheckReadable("etcd CA file", options.tls.ca_file));
  MFLOW_RETURN_IF_ERROR(CheckReadable("etcd certificate file", options.tls.cert_file));
  MFLOW_RETURN_IF_ERROR(CheckReadable("etcd key file", options.tls.key_file));
  if (options.tls.cert_file.empty() != options.tls.key_file.empty())
    return Status::Error(StatusCode::kInvalid, "etcd: a client certificate needs its key and the other way round");
  if (options.request_timeout.count() <= 0 || options.connect_timeout.count() <= 0)
    return Status::Error(StatusCode::kInvalid, "etcd: timeouts must be positive");
  if (options.backoff_min.count() <= 0 || options.backoff_max < options.backoff_min)
    return Status::Error(StatusCode::kInvalid, "etcd: backoff_min must be positive and <= backoff_max");
  return std::unique_ptr<EtcdClient>(new EtcdClient(std::move(options)));
}

EtcdClient::EtcdClient(EtcdClientOptions options) : options_(std::move(options)) {
  for (const auto& url : options_.endpoints) endpoints_.push_back(Endpoint{url, {}, 0, {}});
}

std::vector<std::string> EtcdClient::EndpointsToTry() {
  std::lock_guard lock(mu_);
  auto now = Clock::now();
  std::vector<std::string> up, down;
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    const Endpoint& e = endpoints_[(preferred_ + i) % endpoints_.size()];
    (e.down_until > now ? down : up).push_back(e.url);
  }
  // All down: try them anyway, the one whose backoff ends first first.
  return up.empty() ? down : up;
}

void EtcdClient::ReportFailure(const std::string& url, const std::string& error) {
  std::lock_guard lock(mu_);
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    Endpoint& e = endpoints_[i];
    if (e.url != url) continue;
    e.failures = std::min(e.failures + 1, 16);
    auto backoff = options_.backoff_min * (int64_t{1} << std::min(e.failures - 1, 10));
    e.down_until = Clock::now() + std::min<std::chrono::milliseconds>(backoff, options_.backoff_max);
    e.last_error = error;
    if (preferred_ == i) preferred_ = (i + 1) % endpoints_.size();
  }
}

void EtcdClient::ReportSuccess(const std::string& url) {
  std::lock_guard lock(mu_);
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    Endpoint& e = endpoints_[i];
    if (e.url != url) continue;
    e.failures = 0;
    e.down_until = {};
    // Stay with an endpoint that works rather than moving back and forth.
    if (endpoints_[preferred_].down_until > Clock::now()) preferred_ = i;
  }
}

std::vector<EndpointHealth> EtcdClient::Health() const {
  std::lock_guard lock(mu_);
  auto now = Clock::now();
  std::vector<EndpointHealth> out;
  for (const auto& e : endpoints_) out.push_back({e.url, e.down_until > now, e.failures, e.last_error});
  return out;
}

StatusOr<std::string> EtcdClient::Call(const char* path, const std::string& body, std::string* endpoint) {
  Status last = Status::Error("etcd: no endpoint tried");
  for (const std::string& url : EndpointsToTry()) {
    std::string where = "etcd " + url + " " + std::string(path + 4) + ": ";  // path without "/v3/"
    auto reply = HttpPost(url + path, body, options_.tls, options_.connect_timeout,
                          options_.request_timeout, options_.max_reply_bytes);
    if (!reply.ok()) {
      last = reply.status().Prefixed(where);
      ReportFailure(url, last.message());
      continue;
    }
    // "unavailable" (no leader, member stopping) from the gateway: another
    // member may do better.
    if (reply->code == 503 || GatewayErrorCode(reply->body) == 14) {
      last = Status::Error(StatusCode::kBusy, where + "unavailable: " + reply->body.substr(0, 200));
      ReportFailure(url, last.message());
      continue;
    }
    ReportSuccess(url);
    if (reply->code != 200 && GatewayError(reply->body).ok())
      return Status::Error(where + "HTTP " + std::to_string(reply->code));
    *endpoint = url;
    return std::move(reply->body);
  }
  return last;
}

namespace {
template <typename T>
StatusOr<T> Named(StatusOr<T> r, const std::string& endpoint, const char* step) {
  if (r.ok()) return r;
  return r.status().Prefixed("etcd " + endpoint + " " + step + ": ");
}
}  // namespace

StatusOr<RangeResult> EtcdClient::Range(std::string_view key, bool prefix, int64_t revision) {
  std::string ep;
  auto body = Call("/v3/kv/range", RangeRequestJson(key, prefix, revision), &ep);
  if (!body.ok()) return body.status();
  return Named(ParseRangeReply(*body), ep, "kv/range");
}

StatusOr<int64_t> EtcdClient::Put(std::string_view key, std::string_view value, int64_t lease) {
  std::string ep;
  auto body = Call("/v3/kv/put", PutRequestJson(key, value, lease), &ep);
  if (!body.ok()) return body.status();
  return Named(ParseRevisionReply(*body), ep, "kv/put");
}

StatusOr<int64_t> EtcdClient::Delete(std::string_view key, bool prefix) {
  std::string ep;
  auto body = Call("/v3/kv/deleterange", DeleteRequestJson(key, prefix), &ep);
  if (!body.ok()) return body.status();
  return Named(ParseRevisionReply(*body), ep, "kv/deleterange");
}

StatusOr<TxnResult> EtcdClient::Txn(const std::vector<TxnCompare>& compare,
                                    const std::vector<TxnOp>& success, const std::vector<TxnOp>& failure) {
  std::string ep;
  auto body = Call("/v3/kv/txn", TxnRequestJson(compare, success, failure), &ep);
  if (!body.ok()) return body.status();
  auto r = Named(ParseTxnReply(*body), ep, "kv/txn");
  if (!r.ok()) return r;
  size_t want = r->succeeded ? success.size() : failure.size();
  if (r->ranges.size() != want)
    return Status::Error("etcd " + ep + " kv/txn: " + std::to_string(r->ranges.size()) +
                         " responses for " + std::to_string(want) + " operations");
  return r;
}

StatusOr<Lease> EtcdClient::LeaseGrant(int64_t ttl_seconds) {
  if (ttl_seconds <= 0) return Status::Error(StatusCode::kInvalid, "lease TTL must be positive");
  std::string ep;
  auto body = Call("/v3/lease/grant", LeaseGrantRequestJson(ttl_seconds), &ep);
  if (!body.ok()) return body.status();
  return Named(ParseLeaseGrantReply(*body), ep, "lease/grant");
}

StatusOr<int64_t> EtcdClient::LeaseKeepAliveOnce(int64_t id) {
  std::string ep;
  auto body = Call("/v3/lease/keepalive", LeaseIdRequestJson(id), &ep);
  if (!body.ok()) return body.status();
  auto ttl = Named(ParseKeepAliveReply(*body), ep, "lease/keepalive");
  if (ttl.ok() && *ttl == 0)
    return Status::Error(StatusCode::kNotFound, "etcd " + ep + " lease/keepalive: lease " +
                                                    std::to_string(id) + " not found (expired)");
  return ttl;
}

Status EtcdClient::LeaseRevoke(int64_t id) {
  std::string ep;
  auto body = Call("/v3/lease/revoke", LeaseIdRequestJson(id), &ep);
  if (!body.ok()) return body.status();
  return Named(ParseRevisionReply(*body), ep, "lease/revoke").status();
}

Status EtcdClient::Compact(int64_t revision) {
  std::string ep;
  auto body = Call("/v3/kv/compaction", CompactRequestJson(revision), &ep);
  if (!body.ok()) return body.status();
  return Named(ParseRevisionReply(*body), ep, "kv/compaction").status();
}

}  // namespace mflow::store
