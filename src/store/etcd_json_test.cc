// Replies of etcd's JSON gateway, good and broken. The good ones are as
// etcd 3.4 writes them (proto3 leaves out zero fields).
#include "store/etcd_json.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace mflow::store {
namespace {

using nlohmann::json;

constexpr const char* kHeader = R"("header":{"cluster_id":"1","member_id":"2","revision":"7","raft_term":"2"})";

std::string Reply(const std::string& rest) { return std::string("{") + kHeader + (rest.empty() ? "" : "," + rest) + "}"; }

TEST(EtcdJson, PrefixRangeEnd) {
  EXPECT_EQ(PrefixRangeEnd("/a/"), "/a0");
  EXPECT_EQ(PrefixRangeEnd(std::string("a\xff", 2)), "b");
  EXPECT_EQ(PrefixRangeEnd(std::string("\xff\xff", 2)), "");
}

TEST(EtcdJson, RequestsCarryBase64AndStrings) {
  json r = json::parse(RangeRequestJson("/m/", true, 5));
  EXPECT_EQ(r["key"], "L20v");
  EXPECT_EQ(r["range_end"], "L20w");
  EXPECT_EQ(r["revision"], "5");
  json p = json::parse(PutRequestJson("k", "v", 99));
  EXPECT_EQ(p["lease"], "99");
  json t = json::parse(TxnRequestJson(
      {TxnCompare{TxnCompare::Target::kCreateRevision, TxnCompare::Op::kEqual, "k", 0, {}}},
      {TxnOp::Put("k", "v", 3)}, {TxnOp::Range("k")}));
  EXPECT_EQ(t["compare"][0]["target"], "CREATE");
  EXPECT_EQ(t["compare"][0]["create_revision"], "0");
  EXPECT_EQ(t["success"][0]["request_put"]["lease"], "3");
  EXPECT_TRUE(t["failure"][0].contains("request_range"));
  json w = json::parse(WatchCreateRequestJson("", true, 12));
  EXPECT_EQ(w["create_request"]["range_end"], "AA==");  // every key
  EXPECT_EQ(w["create_request"]["start_revision"], "12");
}

TEST(EtcdJson, RangeReply) {
  auto r = ParseRangeReply(Reply(
      R"("kvs":[{"key":"Zm9v","create_revision":"2","mod_revision":"3","version":"2","value":"YmFy","lease":"9"},
                {"key":"YQ==","create_revision":"4","mod_revision":"4","version":"1"}],"count":"2")"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->revision, 7);
  ASSERT_EQ(r->kvs.size(), 2u);
  EXPECT_EQ(r->kvs[0], (KeyValue{"foo", "bar", 2, 3, 2, 9}));
  EXPECT_EQ(r->kvs[1].value, "");  // left out = empty
  auto empty = ParseRangeReply(Reply(""));
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->kvs.empty());
}

TEST(EtcdJson, BrokenRangeRepliesAreErrorsThatNameTheField) {
  struct Case {
    std::string body;
    std::string want;
  } cases[] = {
      {"", "not JSON"},
      {"[1,2]", "not a JSON object"},
      {"{", "not JSON"},
      {R"({"kvs":[]})", "header: missing"},
      {R"({"header":{}})", "header.revision: missing"},
      {R"({"header":{"revision":"x7"}})", "header.revision: not an int64"},
      {R"({"header":{"revision":"99999999999999999999"}})", "header.revision: not an int64"},
      {R"({"header":{"revision":1.5}})", "header.revision: not an int64"},
      {R"({"header":{"revision":18446744073709551615}})", "out of int64 range"},
      {R"({"header":"x"})", "header: not an object"},
      {Reply(R"("kvs":{})"), "kvs: not an array"},
      {Reply(R"("kvs":[1])"), "kvs[0]: not an object"},
      {Reply(R"("kvs":[{"value":"YQ=="}])"), "kvs[0].key: missing"},
      {Reply(R"("kvs":[{"key":"!!"}])"), "kvs[0].key: bad base64"},
      {Reply(R"("kvs":[{"key":5}])"), "kvs[0].key: not a string"},
      {Reply(R"("kvs":[{"key":"YQ==","value":"Y"}])"), "kvs[0].value: bad base64"},
      {Reply(R"("kvs":[{"key":"YQ==","mod_revision":true}])"), "kvs[0].mod_revision: not an int64"},
      {Reply(R"("kvs":[{"key":"YQ==","lease":"-1"}])"), "kvs[0].lease: negative"},
      {Reply(R"("kvs":[{"key":"YQ=="}],"count":"0")"), "count: smaller"},
      {Reply(R"("more":"yes")"), "more: not a bool"},
  };
  for (const auto& c : cases) {
    auto r = ParseRangeReply(c.body);
    ASSERT_FALSE(r.ok()) << c.body;
    EXPECT_NE(r.status().message().find(c.want), std::string::npos) << c.body << " -> " << r.status().message();
  }
}

TEST(EtcdJson, GatewayErrors) {
  auto r = ParseRangeReply(R"({"error":"etcdserver: mvcc: required revision has been compacted","message":"x","code":11})");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("compacted"), std::string::npos);
  auto ka = ParseKeepAliveReply(R"({"error":"etcdserver: requested lease not found","code":5})");
  ASSERT_FALSE(ka.ok());
  EXPECT_EQ(ka.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(GatewayErrorCode(R"({"error":"no leader","code":14})"), 14);
  EXPECT_EQ(GatewayErrorCode(R"({"error":"x","code":"14"})"), 0);
  EXPECT_EQ(GatewayErrorCode("garbage"), 0);
  // The stream form.
  auto w = ParseWatchMessage(R"({"error":{"grpc_code":14,"http_code":503,"message":"unavailable"}})");
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), StatusCode::kBusy);
}

TEST(EtcdJson, TxnReply) {
  auto ok = ParseTxnReply(Reply(R"("succeeded":true,"responses":[{"response_put":{"header":{"revision":"7"}}}])"));
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_TRUE(ok->succeeded);
  EXPECT_EQ(ok->ranges.size(), 1u);
  // succeeded left out = false; the failure branch's range comes back.
  auto failed = ParseTxnReply(
      Reply(R"("responses":[{"response_range":{"header":{"revision":"7"},"kvs":[{"key":"YQ==","value":"Yg=="}],"count":"1"}}])"));
  ASSERT_TRUE(failed.ok()) << failed.status().message();
  EXPECT_FALSE(failed->succeeded);
  ASSERT_EQ(failed->ranges.size(), 1u);
  EXPECT_EQ(failed->ranges[0][0].value, "b");
  for (const char* bad : {R"("succeeded":"true")", R"("responses":{})", R"("responses":[7])",
                          R"("responses":[{"response_unknown":{}}])",
                          R"("responses":[{"response_range":{"kvs":[{"key":"?"}]}}])"}) {
    EXPECT_FALSE(ParseTxnReply(Reply(bad)).ok()) << bad;
  }
}

TEST(EtcdJson, LeaseReplies) {
  auto g = ParseLeaseGrantReply(Reply(R"("ID":"4111120474403524104","TTL":"5")"));
  ASSERT_TRUE(g.ok()) << g.status().message();
  EXPECT_EQ(g->id, 4111120474403524104);
  EXPECT_EQ(g->ttl, 5);
  EXPECT_FALSE(ParseLeaseGrantReply(Reply(R"("TTL":"5")")).ok());
  EXPECT_FALSE(ParseLeaseGrantReply(Reply(R"("ID":"0","TTL":"5")")).ok());
  EXPECT_FALSE(ParseLeaseGrantReply(Reply(R"("ID":"1","TTL":"5","error":"too many")")).ok());
  auto ka = ParseKeepAliveReply(R"({"result":{"header":{"revision":"3"},"ID":"1","TTL":"4"}})");
  ASSERT_TRUE(ka.ok());
  EXPECT_EQ(*ka, 4);
  auto gone = ParseKeepAliveReply(R"({"result":{"header":{"revision":"3"},"ID":"1"}})");
  ASSERT_TRUE(gone.ok());
  EXPECT_EQ(*gone, 0);
  EXPECT_FALSE(ParseKeepAliveReply(Reply(R"("TTL":"4")")).ok());  // not in "result"
  EXPECT_FALSE(ParseKeepAliveReply(R"({"result":{"header":{"revision":"3"},"TTL":"-4"}})").ok());
}

TEST(EtcdJson, WatchMessages) {
  auto created = ParseWatchMessage(R"({"result":{"header":{"revision":"3"},"created":true}})");
  ASSERT_TRUE(created.ok());
  EXPECT_TRUE(created->created);
  EXPECT_EQ(created->revision, 3);
  auto ev = ParseWatchMessage(
      R"({"result":{"header":{"revision":"5"},"events":[{"kv":{"key":"YTE=","create_revision":"4","mod_revision":"4","version":"1","value":"eA=="}},{"type":"DELETE","kv":{"key":"YTE=","mod_revision":"5"}}]}})");
  ASSERT_TRUE(ev.ok()) << ev.status().message();
  ASSERT_EQ(ev->events.size(), 2u);
  EXPECT_EQ(ev->events[0].type, WatchEvent::Type::kPut);
  EXPECT_EQ(ev->events[0].kv.value, "x");
  EXPECT_EQ(ev->events[1].type, WatchEvent::Type::kDelete);
  EXPECT_EQ(ev->events[1].kv.mod_revision, 5);
  auto compacted = ParseWatchMessage(R"({"result":{"header":{"raft_term":"2"},"canceled":true,"compact_revision":"2"}})");
  ASSERT_TRUE(compacted.ok());
  EXPECT_TRUE(compacted->canceled);
  EXPECT_EQ(compacted->compact_revision, 2);
  struct Case {
    const char* line;
    const char* want;
  } cases[] = {
      {R"({"created":true})", "result: missing"},
      {R"({"result":[]})", "result: not an object"},
      {R"({"result":{"events":[{"kv":{"key":"YQ==","mod_revision":"1"}}]}})", "missing with events"},
      {R"({"result":{"header":{"revision":"5"},"events":[{"type":"BOOM","kv":{"key":"YQ==","mod_revision":"1"}}]}})",
       "unknown event type"},
      {R"({"result":{"header":{"revision":"5"},"events":[{"type":1,"kv":{"key":"YQ==","mod_revision":"1"}}]}})",
       "type: not a string"},
      {R"({"result":{"header":{"revision":"5"},"events":[{}]}})", "kv: missing"},
      {R"({"result":{"header":{"revision":"5"},"events":[{"kv":{"key":"YQ=="}}]}})", "mod_revision: missing"},
      {R"({"result":{"header":{"revision":"5"},"events":[{"kv":{"key":"YQ==","mod_revision":"6"}}]}})",
       "after the header revision"},
      {R"({"result":{"header":{"revision":"5"},"events":[{"kv":{"key":"YQ==","mod_revision":"4"}},{"kv":{"key":"YQ==","mod_revision":"3"}}]}})",
       "goes backwards"},
      {R"({"result":{"header":{"revision":"5"},"events":[{"kv":{"key":"YQ=","mod_revision":"4"}}]}})", "bad base64"},
      {R"({"result":{"canceled":true,"compact_revision":"-2"}})", "negative"},
      {R"({"result":{"canceled":1}})", "canceled: not a bool"},
      {R"({"result":{"cancel_reason":7}})", "cancel_reason: not a string"},
  };
  for (const auto& c : cases) {
    auto m = ParseWatchMessage(c.line);
    ASSERT_FALSE(m.ok()) << c.line;
    EXPECT_NE(m.status().message().find(c.want), std::string::npos) << c.line << " -> " << m.status().message();
  }
}

TEST(EtcdJson, DeepOrHugeInputIsAnErrorNotACrash) {
  std::string deep(100000, '[');
  EXPECT_FALSE(ParseRangeReply(deep).ok());
  EXPECT_FALSE(ParseWatchMessage(deep).ok());
  std::string nul("{\"header\":{\"revision\":\"1\"}}\0junk", 32);
  EXPECT_FALSE(ParseRangeReply(nul).ok());
}

}  // namespace
}  // namespace mflow::store
