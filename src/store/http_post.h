// HTTP POST over libcurl: the one transport call the etcd client makes.
//
// One CURL easy handle per call, so calls from several threads never share
// state (libcurl is thread-safe that way once curl_global_init has run,
// which HttpGlobalInit does exactly once). TLS with a CA file and a client
// certificate and key, as flanneld's --etcd-cafile/--etcd-certfile/--etcd-keyfile.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace mflow::store {

struct TlsFiles {
  std::string ca_file;    // "" = the system's CA store
  std::string cert_file;  // client certificate (PEM); "" = none
  std::string key_file;   // its key (PEM)
};

struct HttpReply {
  long code = 0;
  std::string body;
};

// Request-reply: the whole body, at most max_body bytes. An error Status
// only when no HTTP reply came (connect refused, timeout, TLS); its message
// says which.
StatusOr<HttpReply> HttpPost(const std::string& url, std::string_view body, const TlsFiles& tls,
                             std::chrono::milliseconds connect_timeout,
                             std::chrono::milliseconds timeout, size_t max_body);

// Streaming: on_data is called with each chunk as it arrives and returns
// false to end the transfer; stop (polled by libcurl at least once a second) ends it from
// another thread. No overall timeout (a watch lasts); connect_timeout still
// applies, and TCP keepalive finds a peer that vanished. Returns Ok when the
// server closed the stream or it was ended on purpose, else the error.
Status HttpPostStream(const std::string& url, std::string_view body, const TlsFiles& tls,
                      std::chrono::milliseconds connect_timeout,
                      const std::function<bool(std::string_view)>& on_data,
                      const std::atomic<bool>& stop, long* http_code);

}  // namespace mflow::store
