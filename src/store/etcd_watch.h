// EtcdWatch: one watch on a key or prefix, streamed on a thread of its own.
//
// The thread POSTs /v3/watch to an endpoint of the client (with the client's
// failover) and reads the stream line by line. Events go to on_events in
// revision order. When the stream breaks (server gone, connection cut, a
// line that does not parse) on_error is told and the watch reconnects, with
// a backoff, from the revision after the last event delivered: no event is
// lost or delivered twice across a reconnect. When that revision has been
// compacted away, on_compacted gets the compact revision and the thread
// ends: the caller re-lists (Range at the current revision), reconciles,
// and starts a new watch from that revision + 1.
//
// Thread-safety: the callbacks run on the watch thread, one at a time. They
// may call Stop() (it then only asks the thread to end) but must not destroy
// the EtcdWatch. Stop() and the destructor from another thread wait for the
// thread (at most about a second: libcurl's progress poll).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "store/etcd_client.h"
#include "store/etcd_types.h"

namespace mflow::store {

struct WatchCallbacks {
  // revision: the header revision of the message that carried the events.
  std::function<void(const std::vector<WatchEvent>& events, int64_t revision)> on_events;
  std::function<void(int64_t compact_revision)> on_compacted;
  // The stream broke; the watch retries by itself.
  std::function<void(const Status& error)> on_error;
};

struct WatchOptions {
  std::chrono::milliseconds retry_min{200};
  std::chrono::milliseconds retry_max{5000};
  size_t max_line_bytes = 64u << 20;
};

class EtcdWatch {
 public:
  // Watches key (or every key under it when prefix) from start_revision.
  // 0 = from now: Start reads the current revision first (an error if no
  // endpoint answers), so every change after Start returns is delivered.
  // client must outlive the watch.
  static StatusOr<std::unique_ptr<EtcdWatch>> Start(EtcdClient* client, std::string key, bool prefix,
                                                    int64_t start_revision, WatchCallbacks callbacks,
                                                    WatchOptions options = {});
  ~EtcdWatch();
  EtcdWatch(const EtcdWatch&) = delete;
  EtcdWatch& operator=(const EtcdWatch&) = delete;

  void Stop();
  // The revision the watch resumes from after a disconnect.
  int64_t next_revision() const { return next_revision_.load(std::memory_order_acquire); }
  bool compacted() const { return compacted_.load(std::memory_order_acquire); }
  int reconnects() const { return reconnects_.load(std::memory_order_relaxed); }

 private:
  EtcdWatch(EtcdClient* client, std::string key, bool prefix, int64_t start_revision,
            WatchCallbacks callbacks, WatchOptions options);
  void Run();
  // One stream on one endpoint; returns why it ended (Ok: stopped or compacted).
  Status StreamOnce(const std::string& url, bool* got_created);
  // Handles one line; false ends the stream (*why says why unless compacted).
  bool HandleLine(std::string_view line, bool* got_created, Status* why);
  void SleepFor(std::chrono::milliseconds d);

  EtcdClient* client_;
  std::string key_;
  bool prefix_;
  WatchCallbacks cb_;
  WatchOptions options_;
  std::atomic<int64_t> next_revision_;
  std::atomic<bool> compacted_{false};
  std::atomic<int> reconnects_{0};
  std::atomic<bool> stop_{false};
  std::mutex sleep_mu_;
  std::condition_variable sleep_cv_;
  std::thread thread_;
};

}  // namespace mflow::store
