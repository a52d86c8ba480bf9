// The etcd v3 data the client hands out: key-values, events, and the
// arguments and results of Range, Put, Txn and the lease calls.
//
// Keys and values are bytes (std::string); revisions and lease ids are the
// int64 of etcd's API. Plain structs, no behaviour.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mflow::store {

struct KeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t version = 0;
  int64_t lease = 0;  // 0 = no lease

  bool operator==(const KeyValue&) const = default;
};

struct RangeResult {
  int64_t revision = 0;  // the store's revision the answer was read at
  std::vector<KeyValue> kvs;
  bool more = false;  // only with a limit; the client sets none
};

// One condition of a transaction on one key.
struct TxnCompare {
  enum class Target { kCreateRevision, kModRevision, kValue };
  enum class Op { kEqual, kNotEqual, kGreater, kLess };
  Target target = Target::kCreateRevision;
  Op op = Op::kEqual;
  std::string key;
  int64_t revision = 0;  // for kCreateRevision / kModRevision
  std::string value;     // for kValue
};

// One operation of a transaction branch.
struct TxnOp {
  enum class Kind { kPut, kDelete, kRange };
  Kind kind = Kind::kPut;
  std::string key;
  std::string value;  // kPut
  int64_t lease = 0;  // kPut; 0 = none
  bool prefix = false;  // kDelete / kRange: every key starting with key

  static TxnOp Put(std::string k, std::string v, int64_t lease_id = 0) {
    return {Kind::kPut, std::move(k), std::move(v), lease_id, false};
  }
  static TxnOp Delete(std::string k) { return {Kind::kDelete, std::move(k), {}, 0, false}; }
  static TxnOp Range(std::string k) { return {Kind::kRange, std::move(k), {}, 0, false}; }
};

struct TxnResult {
  bool succeeded = false;
  int64_t revision = 0;
  // The key-values of the kRange ops of the branch that ran, in op order
  // (empty vectors for puts and deletes).
  std::vector<std::vector<KeyValue>> ranges;
};

struct Lease {
  int64_t id = 0;
  int64_t ttl = 0;  // seconds, as granted
};

struct WatchEvent {
  enum class Type { kPut, kDelete };
  Type type = Type::kPut;
  KeyValue kv;  // for kDelete: key and mod_revision (the delete's revision)
};

// One message of the watch stream, decoded.
struct WatchMessage {
  int64_t revision = 0;  // header revision (0 if the server left it out)
  bool created = false;
  bool canceled = false;
  int64_t compact_revision = 0;  // > 0: the start revision was compacted
  std::string cancel_reason;
  std::vector<WatchEvent> events;
};

}  // namespace mflow::store
