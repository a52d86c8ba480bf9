// EtcdClient and EtcdWatch against a real etcd started by the test.
#include "store/etcd_client.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "store/etcd_test_server.h"
#include "store/etcd_watch.h"

namespace mflow::store {
namespace {

using namespace std::chrono_literals;

class EtcdClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (EtcdTestServer::FindBinary().empty()) GTEST_SKIP() << "no etcd binary (Debian: etcd-server)";
    Status s = server_.Start();
    ASSERT_TRUE(s.ok()) << s.message();
    client_ = MakeClient({server_.url()});
  }
  static std::unique_ptr<EtcdClient> MakeClient(std::vector<std::string> endpoints) {
    EtcdClientOptions o;
    o.endpoints = std::move(endpoints);
    o.request_timeout = 3s;
    auto c = EtcdClient::Create(o);
    EXPECT_TRUE(c.ok()) << c.status().message();
    return c.ok() ? std::move(c.value()) : nullptr;
  }
  EtcdTestServer server_;
  std::unique_ptr<EtcdClient> client_;
};

// Collects what a watch reports; waits for it with a bound.
struct Recorder {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<WatchEvent> events;
  int64_t compacted = 0;
  int errors = 0;

  WatchCallbacks Callbacks() {
    return WatchCallbacks{
        [this](const std::vector<WatchEvent>& evs, int64_t) {
          std::lock_guard l(mu);
          events.insert(events.end(), evs.begin(), evs.end());
          cv.notify_all();
        },
        [this](int64_t rev) {
          std::lock_guard l(mu);
          compacted = rev;
          cv.notify_all();
        },
        [this](const Status&) {
          std::lock_guard l(mu);
          ++errors;
          cv.notify_all();
        }};
  }
  bool WaitEvents(size_t n, std::chrono::seconds bound = 10s) {
    std::unique_lock l(mu);
    return cv.wait_for(l, bound, [&] { return events.size() >= n; });
  }
  bool WaitCompacted(std::chrono::seconds bound = 10s) {
    std::unique_lock l(mu);
    return cv.wait_for(l, bound, [&] { return compacted != 0; });
  }
  bool WaitErrors(int n, std::chrono::seconds bound = 10s) {
    std::unique_lock l(mu);
    return cv.wait_for(l, bound, [&] { return errors >= n; });
  }
  std::vector<WatchEvent> Events() {
    std::lock_guard l(mu);
    return events;
  }
};

TEST(EtcdClientOptionsTest, RefusesBadEndpointsAndFiles) {
  EtcdClientOptions o;
  EXPECT_FALSE(EtcdClient::Create(o).ok());
  o.endpoints = {"127.0.0.1:2379"};
  EXPECT_FALSE(EtcdClient::Create(o).ok());
  o.endpoints = {"http://127.0.0.1:2379/v3"};
  EXPECT_FALSE(EtcdClient::Create(o).ok());
  o.endpoints = {"https://127.0.0.1:2379/"};
  o.tls.ca_file = "/nonexistent/ca.pem";
  auto c = EtcdClient::Create(o);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("CA file"), std::string::npos);
  o.tls = {};
  o.tls.cert_file = "/dev/null";
  EXPECT_FALSE(EtcdClient::Create(o).ok());  // a certificate without its key
}

TEST_F(EtcdClientTest, PutRangeDelete) {
  auto r1 = client_->Put("/t/a", "1");
  ASSERT_TRUE(r1.ok()) << r1.status().message();
  ASSERT_TRUE(client_->Put("/t/b", std::string("\0\xff", 2)).ok());
  ASSERT_TRUE(client_->Put("/u/c", "3").ok());
  auto one = client_->Range("/t/a");
  ASSERT_TRUE(one.ok()) << one.status().message();
  ASSERT_EQ(one->kvs.size(), 1u);
  EXPECT_EQ(one->kvs[0].value, "1");
  EXPECT_EQ(one->kvs[0].mod_revision, *r1);
  auto all = client_->Range("/t/", true);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->kvs.size(), 2u);
  EXPECT_EQ(all->kvs[1].value, std::string("\0\xff", 2));  // bytes survive base64
  // An old revision.
  auto old = client_->Range("/t/", true, *r1);
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(old->kvs.size(), 1u);
  ASSERT_TRUE(client_->Delete("/t/", true).ok());
  auto none = client_->Range("/t/", true);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->kvs.empty());
  EXPECT_EQ(client_->Range("/u/c")->kvs.size(), 1u);
}

TEST_F(EtcdClientTest, TxnCompareAndSwapHasOneWinner) {
  for (int round = 0; round < 10; ++round) {
    std::string key = "/race/" + std::to_string(round);
    std::atomic<int> wins{0};
    std::atomic<int> errors{0};
    std::vector<std::thread> claimers;
    for (int who = 0; who < 2; ++who) {
      claimers.emplace_back([&, who] {
        auto r = client_->Txn({TxnCompare{TxnCompare::Target::kCreateRevision, TxnCompare::Op::kEqual, key, 0, {}}},
                              {TxnOp::Put(key, "claimer" + std::to_string(who))}, {TxnOp::Range(key)});
        if (!r.ok()) ++errors;
        else if (r->succeeded) ++wins;
        else if (r->ranges.size() != 1 || r->ranges[0].size() != 1) ++errors;  // the loser sees the winner's
      });
    }
    for (auto& t : claimers) t.join();
    EXPECT_EQ(errors.load(), 0);
    EXPECT_EQ(wins.load(), 1) << key;
  }
  // mod_revision and value compares.
  auto cur = client_->Range("/race/0");
  ASSERT_TRUE(cur.ok());
  int64_t mod = cur->kvs[0].mod_revision;
  auto stale = client_->Txn({TxnCompare{TxnCompare::Target::kModRevision, TxnCompare::Op::kEqual, "/race/0", mod - 1, {}}},
                            {TxnOp::Delete("/race/0")});
  ASSERT_TRUE(stale.ok());
  EXPECT_FALSE(stale->succeeded);
  auto by_value = client_->Txn(
      {TxnCompare{TxnCompare::Target::kValue, TxnCompare::Op::kEqual, "/race/0", 0, cur->kvs[0].value}},
      {TxnOp::Delete("/race/0")});
  ASSERT_TRUE(by_value.ok());
  EXPECT_TRUE(by_value->succeeded);
  EXPECT_GT(by_value->revision, mod);
  EXPECT_TRUE(client_->Range("/race/0")->kvs.empty());
}

TEST_F(EtcdClientTest, LeaseExpiryRemovesKeyAndKeepAliveKeepsIt) {
  auto short_lease = client_->LeaseGrant(2);
  ASSERT_TRUE(short_lease.ok()) << short_lease.status().message();
  auto kept_lease = client_->LeaseGrant(2);
  ASSERT_TRUE(kept_lease.ok());
  ASSERT_TRUE(client_->Put("/lease/expires", "x", short_lease->id).ok());
  ASSERT_TRUE(client_->Put("/lease/kept", "y", kept_lease->id).ok());
  EXPECT_EQ(client_->Range("/lease/expires")->kvs[0].lease, short_lease->id);
  // Keep one alive while the other expires (bounded: 15 s).
  bool expired = false;
  for (int i = 0; i < 60 && !expired; ++i) {
    std::this_thread::sleep_for(250ms);
    auto ttl = client_->LeaseKeepAliveOnce(kept_lease->id);
    ASSERT_TRUE(ttl.ok()) << ttl.status().message();
    expired = client_->Range("/lease/expires")->kvs.empty();
  }
  EXPECT_TRUE(expired);
  EXPECT_EQ(client_->Range("/lease/kept")->kvs.size(), 1u);
  auto gone = client_->LeaseKeepAliveOnce(short_lease->id);
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.status().code(), StatusCode::kNotFound);
  // Revoke deletes at once.
  ASSERT_TRUE(client_->LeaseRevoke(kept_lease->id).ok());
  EXPECT_TRUE(client_->Range("/lease/kept")->kvs.empty());
  Status again = client_->LeaseRevoke(kept_lease->id);
  EXPECT_EQ(again.code(), StatusCode::kNotFound) << again.message();
  EXPECT_NE(again.message().find("lease/revoke"), std::string::npos) << again.message();
}

TEST_F(EtcdClientTest, WatchSeesPutsAndDeletesInOrder) {
  auto start = client_->Put("/w/before", "0");
  ASSERT_TRUE(start.ok());
  Recorder rec;
  auto w = EtcdWatch::Start(client_.get(), "/w/", true, *start + 1, rec.Callbacks());
  ASSERT_TRUE(w.ok()) << w.status().message();
  ASSERT_TRUE(client_->Put("/w/a", "1").ok());
  ASSERT_TRUE(client_->Put("/w/b", "2").ok());
  ASSERT_TRUE(client_->Delete("/w/a").ok());
  ASSERT_TRUE(client_->Txn({}, {TxnOp::Put("/w/c", "3"), TxnOp::Put("/w/d", "4")}).ok());
  ASSERT_TRUE(client_->Put("/other", "x").ok());  // outside the prefix
  ASSERT_TRUE(rec.WaitEvents(5));
  auto ev = rec.Events();
  ASSERT_EQ(ev.size(), 5u);
  EXPECT_EQ(ev[0].kv.key, "/w/a");
  EXPECT_EQ(ev[0].type, WatchEvent::Type::kPut);
  EXPECT_EQ(ev[1].kv.key, "/w/b");
  EXPECT_EQ(ev[2].kv.key, "/w/a");
  EXPECT_EQ(ev[2].type, WatchEvent::Type::kDelete);
  EXPECT_EQ(ev[3].kv.key, "/w/c");
  EXPECT_EQ(ev[4].kv.key, "/w/d");
  EXPECT_EQ(ev[3].kv.mod_revision, ev[4].kv.mod_revision);  // one transaction
  for (size_t i = 1; i < ev.size(); ++i) EXPECT_LE(ev[i - 1].kv.mod_revision, ev[i].kv.mod_revision);
  EXPECT_EQ((*w)->next_revision(), ev[4].kv.mod_revision + 1);
}

TEST_F(EtcdClientTest, WatchResumesAfterDisconnectWithoutLossOrRepeat) {
  Recorder rec;
  WatchOptions wo;
  wo.retry_min = 300ms;
  auto w = EtcdWatch::Start(client_.get(), "/r/", true, 0, rec.Callbacks(), wo);
  ASSERT_TRUE(w.ok());
  // "From now" is pinned by Start.
  ASSERT_TRUE(client_->Put("/r/1", "a").ok());
  ASSERT_TRUE(rec.WaitEvents(1));
  // Cut every connection: the member stops and comes back on the same ports.
  server_.Stop();
  ASSERT_TRUE(rec.WaitErrors(1));
  Status s = server_.Restart();
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_TRUE(client_->Put("/r/2", "b").ok());
  ASSERT_TRUE(client_->Put("/r/3", "c").ok());
  ASSERT_TRUE(rec.WaitEvents(3, 15s));
  std::this_thread::sleep_for(300ms);  // a repeat would arrive now
  auto ev = rec.Events();
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[0].kv.key, "/r/1");
  EXPECT_EQ(ev[1].kv.key, "/r/2");
  EXPECT_EQ(ev[2].kv.key, "/r/3");
  EXPECT_GE((*w)->reconnects(), 1);
}

TEST_F(EtcdClientTest, CompactionIsReportedAndARelistContinues) {
  ASSERT_TRUE(client_->Put("/c/1", "a").ok());
  ASSERT_TRUE(client_->Put("/c/1", "b").ok());
  auto last = client_->Put("/c/2", "c");
  ASSERT_TRUE(last.ok());
  ASSERT_TRUE(client_->Compact(*last).ok());
  Recorder rec;
  auto w = EtcdWatch::Start(client_.get(), "/c/", true, 1, rec.Callbacks());
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(rec.WaitCompacted());
  EXPECT_EQ(rec.compacted, *last);
  EXPECT_TRUE((*w)->compacted());
  EXPECT_TRUE(rec.Events().empty());
  // Re-list at the current revision, watch from there.
  auto list = client_->Range("/c/", true);
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->kvs.size(), 2u);
  Recorder rec2;
  auto w2 = EtcdWatch::Start(client_.get(), "/c/", true, list->revision + 1, rec2.Callbacks());
  ASSERT_TRUE(w2.ok());
  ASSERT_TRUE(client_->Put("/c/3", "d").ok());
  ASSERT_TRUE(rec2.WaitEvents(1));
  EXPECT_EQ(rec2.Events()[0].kv.key, "/c/3");
  // A Range at a compacted revision is an error that says so.
  auto old = client_->Range("/c/", true, 1);
  ASSERT_FALSE(old.ok());
  EXPECT_NE(old.status().message().find("compacted"), std::string::npos) << old.status().message();
}

TEST_F(EtcdClientTest, FailoverSkipsADeadEndpoint) {
  std::string dead = "http://127.0.0.1:" + std::to_string(EtcdTestServer::FreePort());
  auto c = MakeClient({dead, server_.url()});
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->Put("/f/1", "x").ok());
  auto h = c->Health();
  ASSERT_EQ(h.size(), 2u);
  EXPECT_TRUE(h[0].down);
  EXPECT_EQ(h[0].failures, 1);
  EXPECT_NE(h[0].last_error.find(dead), std::string::npos) << h[0].last_error;
  EXPECT_FALSE(h[1].down);
  // Within the backoff the dead one is not tried again.
  ASSERT_TRUE(c->Range("/f/1").ok());
  EXPECT_EQ(c->Health()[0].failures, 1);
  // A watch fails over too.
  Recorder rec;
  auto w = EtcdWatch::Start(c.get(), "/f/", true, 0, rec.Callbacks());
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(c->Put("/f/2", "y").ok());
  ASSERT_TRUE(rec.WaitEvents(1));
  // Everything dead: the error names the endpoint and the step.
  auto none = MakeClient({dead});
  auto r = none->Range("/f/1");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("etcd " + dead + " kv/range: "), std::string::npos) << r.status().message();
}

// A server that answers every request with one canned HTTP reply.
class CannedServer {
 public:
  explicit CannedServer(std::string body) : body_(std::move(body)) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    listen(fd_, 8);
    thread_ = std::thread([this] {
      for (;;) {
        int c = accept(fd_, nullptr, nullptr);
        if (c < 0) return;
        char buf[4096];
        (void)!read(c, buf, sizeof(buf));
        std::string reply = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                            std::to_string(body_.size()) + "\r\nConnection: close\r\n\r\n" + body_;
        (void)!write(c, reply.data(), reply.size());
        close(c);
      }
    });
  }
  ~CannedServer() {
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  std::string body_;
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
};

TEST(EtcdClientHostile, BrokenRepliesAreErrorsNamingEndpointAndField) {
  struct Case {
    const char* body;
    const char* want;
  } cases[] = {
      {"<html>not etcd</html>", "not JSON"},
      {R"({"header":{"revision":"1"},"kvs":[{"key":"%%%"}]})", "kvs[0].key: bad base64"},
      {R"({"header":{"revision":[]}})", "header.revision: not an int64"},
      {R"({"kvs":[]})", "header: missing"},
  };
  for (const auto& c : cases) {
    CannedServer server(c.body);
    EtcdClientOptions o;
    o.endpoints = {server.url()};
    auto client = EtcdClient::Create(o);
    ASSERT_TRUE(client.ok());
    auto r = (*client)->Range("/x");
    ASSERT_FALSE(r.ok()) << c.body;
    EXPECT_NE(r.status().message().find("etcd " + server.url() + " kv/range: "), std::string::npos)
        << r.status().message();
    EXPECT_NE(r.status().message().find(c.want), std::string::npos) << r.status().message();
    auto g = (*client)->LeaseGrant(5);
    EXPECT_FALSE(g.ok());
  }
}

}  // namespace
}  // namespace mflow::store

namespace mflow::store {
namespace {

// The right client certificate, checked against a CA that did not sign the server's.
TlsFiles OtherCa(TlsFiles t) {
  t.ca_file = t.ca_file.substr(0, t.ca_file.rfind('/')) + "/other-ca.pem";
  return t;
}

// https with client certificates required (etcd --client-cert-auth), as
// flanneld's --etcd-cafile/--etcd-certfile/--etcd-keyfile.
TEST(EtcdClientTls, ClientCertificatesAreUsedAndChecked) {
  if (EtcdTestServer::FindBinary().empty()) GTEST_SKIP() << "no etcd binary (Debian: etcd-server)";
  if (!EtcdTestServer::HaveOpenssl()) GTEST_SKIP() << "no openssl command to make test certificates";
  EtcdTestServer server;
  Status s = server.Start(/*tls=*/true);
  ASSERT_TRUE(s.ok()) << s.message();
  auto make = [&](TlsFiles tls) {
    EtcdClientOptions o;
    o.endpoints = {server.url()};
    o.tls = std::move(tls);
    o.request_timeout = 3s;
    auto c = EtcdClient::Create(o);
    EXPECT_TRUE(c.ok()) << c.status().message();
    return std::move(c.value());
  };
  auto good = make(server.client_tls());
  ASSERT_TRUE(good->Put("/tls/k", "v").ok());
  auto r = good->Range("/tls/k");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->kvs.at(0).value, "v");
  Recorder rec;
  auto w = EtcdWatch::Start(good.get(), "/tls/", true, r->revision + 1, rec.Callbacks());
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(good->Put("/tls/k2", "v2").ok());
  ASSERT_TRUE(rec.WaitEvents(1));

  // A certificate from a CA etcd does not trust, no certificate, no CA: refused.
  for (TlsFiles bad : {server.bad_client_tls(), TlsFiles{server.client_tls().ca_file, "", ""},
                       OtherCa(server.client_tls())}) {
    auto c = make(bad);
    auto e = c->Range("/tls/k");
    ASSERT_FALSE(e.ok()) << bad.ca_file << " " << bad.cert_file;
    EXPECT_NE(e.status().message().find("etcd " + server.url() + " kv/range: "), std::string::npos)
        << e.status().message();
  }
}

}  // namespace
}  // namespace mflow::store
