#include "store/http_post.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <mutex>

#include <curl/curl.h>

namespace mflow::store {
namespace {

void HttpGlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Easy {
  CURL* h = nullptr;
  curl_slist* headers = nullptr;
  Easy() : h(curl_easy_init()) {}
  ~Easy() {
    curl_slist_free_all(headers);
    if (h != nullptr) curl_easy_cleanup(h);
  }
  Easy(const Easy&) = delete;
  Easy& operator=(const Easy&) = delete;
};

struct BodySink {
  std::string* out;
  size_t max;
  bool overflow = false;
};

size_t WriteBody(char* data, size_t size, size_t n, void* user) {
  auto* sink = static_cast<BodySink*>(user);
  size_t len = size * n;
  if (sink->out->size() + len > sink->max) {
    sink->overflow = true;
    return 0;  // makes curl fail with CURLE_WRITE_ERROR
  }
  sink->out->append(data, len);
  return len;
}

struct StreamSink {
  const std::function<bool(std::string_view)>* on_data;
  const std::atomic<bool>* stop;
  bool ended_by_us = false;
};

size_t WriteStream(char* data, size_t size, size_t n, void* user) {
  auto* sink = static_cast<StreamSink*>(user);
  if (!(*sink->on_data)(std::string_view(data, size * n))) {
    sink->ended_by_us = true;
    return 0;
  }
  return size * n;
}

int StreamProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* sink = static_cast<StreamSink*>(user);
  // acquire: pairs with the release store of whoever asks us to stop.
  if (sink->stop->load(std::memory_order_acquire)) {
    sink->ended_by_us = true;
    return 1;  // aborts the transfer
  }
  return 0;
}

// Keepalive: a connection that died silently (the etcd host lost without a
// reset, or our own source address removed by a reload) is closed after
// kKeepIdle s of silence and kKeepCount unanswered probes kKeepInterval s
// apart, 5 s in all. Only a watch stream is ever idle that long: it is the
// one that would otherwise wait for events that cannot come (docs/STORE.md,
// "Removing a dead host"). Debian 12's libcurl has no option for the count.
constexpr long kKeepIdle = 2, kKeepInterval = 1;
constexpr int kKeepCount = 3;

int KeepCount(void*, curl_socket_t fd, curlsocktype purpose) {
  if (purpose == CURLSOCKTYPE_IPCXN) {
    int n = kKeepCount;
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &n, sizeof n);  // best effort, as curl's own
  }
  return CURL_SOCKOPT_OK;
}

Status Setup(Easy& e, const std::string& url, std::string_view body, const TlsFiles& tls,
             std::chrono::milliseconds connect_timeout) {
  if (e.h == nullptr) return Status::Error("curl_easy_init failed");
  e.headers = curl_slist_append(e.headers, "Content-Type: application/json");
  curl_easy_setopt(e.h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(e.h, CURLOPT_POST, 1L);
  curl_easy_setopt(e.h, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(e.h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(e.h, CURLOPT_HTTPHEADER, e.headers);
  curl_easy_setopt(e.h, CURLOPT_NOSIGNAL, 1L);  // threads: no SIGALRM for DNS timeouts
  curl_easy_setopt(e.h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(connect_timeout.count()));
  curl_easy_setopt(e.h, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(e.h, CURLOPT_TCP_KEEPIDLE, kKeepIdle);
  curl_easy_setopt(e.h, CURLOPT_TCP_KEEPINTVL, kKeepInterval);
  curl_easy_setopt(e.h, CURLOPT_SOCKOPTFUNCTION, KeepCount);
  curl_easy_setopt(e.h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e.h, CURLOPT_FOLLOWLOCATION, 0L);
  if (!tls.ca_file.empty()) curl_easy_setopt(e.h, CURLOPT_CAINFO, tls.ca_file.c_str());
  if (!tls.cert_file.empty()) curl_easy_setopt(e.h, CURLOPT_SSLCERT, tls.cert_file.c_str());
  if (!tls.key_file.empty()) curl_easy_setopt(e.h, CURLOPT_SSLKEY, tls.key_file.c_str());
  return Status::Ok();
}

}  // namespace

StatusOr<HttpReply> HttpPost(const std::string& url, std::string_view body, const TlsFiles& tls,
                             std::chrono::milliseconds connect_timeout,
                             std::chrono::milliseconds timeout, size_t max_body) {
  HttpGlobalInit();
  Easy e;
  MFLOW_RETURN_IF_ERROR(Setup(e, url, body, tls, connect_timeout));
  HttpReply reply;
  BodySink sink{&reply.body, max_body};
  curl_easy_setopt(e.h, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(e.h, CURLOPT_WRITEFUNCTION, WriteBody);
  curl_easy_setopt(e.h, CURLOPT_WRITEDATA, &sink);
  CURLcode rc = curl_easy_perform(e.h);
  if (sink.overflow) return Status::Error("reply larger than " + std::to_string(max_body) + " bytes");
  if (rc != CURLE_OK) return Status::Error(StatusCode::kBusy, curl_easy_strerror(rc));
  curl_easy_getinfo(e.h, CURLINFO_RESPONSE_CODE, &reply.code);
  return reply;
}

Status HttpPostStream(const std::string& url, std::string_view body, const TlsFiles& tls,
                      std::chrono::milliseconds connect_timeout,
                      const std::function<bool(std::string_view)>& on_data,
                      const std::atomic<bool>& stop, long* http_code) {
  HttpGlobalInit();
  Easy e;
  MFLOW_RETURN_IF_ERROR(Setup(e, url, body, tls, connect_timeout));
  StreamSink sink{&on_data, &stop};
  curl_easy_setopt(e.h, CURLOPT_WRITEFUNCTION, WriteStream);
  curl_easy_setopt(e.h, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(e.h, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(e.h, CURLOPT_XFERINFOFUNCTION, StreamProgress);
  curl_easy_setopt(e.h, CURLOPT_XFERINFODATA, &sink);
  CURLcode rc = curl_easy_perform(e.h);
  if (http_code != nullptr) curl_easy_getinfo(e.h, CURLINFO_RESPONSE_CODE, http_code);
  if (sink.ended_by_us || rc == CURLE_OK) return Status::Ok();
  return Status::Error(StatusCode::kBusy, curl_easy_strerror(rc));
}

}  // namespace mflow::store
