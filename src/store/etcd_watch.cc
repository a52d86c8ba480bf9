#include "store/etcd_watch.h"

#include <algorithm>

#include "store/etcd_json.h"

namespace mflow::store {

StatusOr<std::unique_ptr<EtcdWatch>> EtcdWatch::Start(EtcdClient* client, std::string key, bool prefix,
                                                      int64_t start_revision, WatchCallbacks callbacks,
                                                      WatchOptions options) {
  if (client == nullptr) return Status::Error(StatusCode::kInvalid, "watch: no client");
  if (start_revision < 0) return Status::Error(StatusCode::kInvalid, "watch: negative start revision");
  if (options.retry_min.count() <= 0 || options.retry_max < options.retry_min)
    return Status::Error(StatusCode::kInvalid, "watch: retry_min must be positive and <= retry_max");
  if (start_revision == 0) {
    // "From now" is pinned here, not when the stream first connects: a put
    // made after Start returns is always seen.
    auto now = client->Range(key);
    if (!now.ok()) return now.status().Prefixed("watch: reading the current revision: ");
    start_revision = now->revision + 1;
  }
  std::unique_ptr<EtcdWatch> w(
      new EtcdWatch(client, std::move(key), prefix, start_revision, std::move(callbacks), options));
  w->thread_ = std::thread([p = w.get()] { p->Run(); });
  return w;
}

EtcdWatch::EtcdWatch(EtcdClient* client, std::string key, bool prefix, int64_t start_revision,
                     WatchCallbacks callbacks, WatchOptions options)
    : client_(client),
      key_(std::move(key)),
      prefix_(prefix),
      cb_(std::move(callbacks)),
      options_(options),
      next_revision_(start_revision) {}

EtcdWatch::~EtcdWatch() { Stop(); }

void EtcdWatch::Stop() {
  {
    std::lock_guard lock(sleep_mu_);
    // release: the curl progress poll reads it with acquire.
    stop_.store(true, std::memory_order_release);
  }
  sleep_cv_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

void EtcdWatch::SleepFor(std::chrono::milliseconds d) {
  std::unique_lock lock(sleep_mu_);
  sleep_cv_.wait_for(lock, d, [this] { return stop_.load(std::memory_order_acquire); });
}

void EtcdWatch::Run() {
  auto backoff = options_.retry_min;
  bool first = true;
  while (!stop_.load(std::memory_order_acquire) && !compacted()) {
    for (const std::string& url : client_->EndpointsToTry()) {
      if (stop_.load(std::memory_order_acquire) || compacted()) return;
      if (!first) reconnects_.fetch_add(1, std::memory_order_relaxed);
      first = false;
      bool got_created = false;
      Status s = StreamOnce(url, &got_created);
      if (stop_.load(std::memory_order_acquire) || compacted()) return;
      if (got_created) backoff = options_.retry_min;  // it worked for a while
      if (s.ok()) s = Status::Error(StatusCode::kBusy, "etcd " + url + " watch: stream ended");
      client_->ReportFailure(url, s.message());
      if (cb_.on_error) cb_.on_error(s);
    }
    SleepFor(backoff);
    backoff = std::min(backoff * 2, options_.retry_max);
  }
}

Status EtcdWatch::StreamOnce(const std::string& url, bool* got_created) {
  std::string buffer;
  Status why = Status::Ok();
  auto on_data = [&](std::string_view chunk) {
    buffer.append(chunk);
    size_t start = 0;
    for (size_t nl; (nl = buffer.find('\n', start)) != std::string::npos; start = nl + 1) {
      std::string_view line(buffer.data() + start, nl - start);
      if (line.find_first_not_of(" \r\t") == std::string_view::npos) continue;
      if (!HandleLine(line, got_created, &why)) return false;
    }
    buffer.erase(0, start);
    if (buffer.size() > options_.max_line_bytes) {
      why = Status::Error("etcd " + url + " watch: a message longer than " +
                          std::to_string(options_.max_line_bytes) + " bytes");
      return false;
    }
    return true;
  };
  std::string body = WatchCreateRequestJson(key_, prefix_, next_revision());
  long code = 0;
  Status s = HttpPostStream(url + "/v3/watch", body, client_->options().tls,
                            client_->options().connect_timeout, on_data, stop_, &code);
  if (!s.ok()) return s.Prefixed("etcd " + url + " watch: ");
  // A last message without its newline (the server closed right after it).
  if (why.ok() && !buffer.empty() && buffer.find_first_not_of(" \r\t") != std::string::npos)
    HandleLine(buffer, got_created, &why);
  if (!why.ok()) return why.message().starts_with("etcd ") ? why : why.Prefixed("etcd " + url + " watch: ");
  return Status::Ok();
}

bool EtcdWatch::HandleLine(std::string_view line, bool* got_created, Status* why) {
  auto m = ParseWatchMessage(line);
  if (!m.ok()) {
    *why = m.status();
    return false;
  }
  if (m->canceled) {
    if (m->compact_revision > 0) {
      compacted_.store(true, std::memory_order_release);
      if (cb_.on_compacted) cb_.on_compacted(m->compact_revision);
      return false;
    }
    *why = Status::Error("canceled by the server" + (m->cancel_reason.empty() ? "" : ": " + m->cancel_reason));
    return false;
  }
  if (m->created) *got_created = true;
  if (!m->events.empty()) {
    // Resume after the last event delivered (all events of one revision
    // come in one message).
    int64_t next = m->events.back().kv.mod_revision + 1;
    if (m->events.front().kv.mod_revision < next_revision()) {
      // Already delivered (a server replaying): refuse rather than deliver twice.
      *why = Status::Error("event at revision " + std::to_string(m->events.front().kv.mod_revision) +
                           " before the watch's " + std::to_string(next_revision()));
      return false;
    }
    // Stored first, so that whoever sees the callback's effects sees the
    // watch past these events too.
    next_revision_.store(next, std::memory_order_release);
    if (cb_.on_events) cb_.on_events(m->events, m->revision);
  }
  return true;
}

}  // namespace mflow::store
