// The JSON of etcd's v3 gateway: request bodies built from the types in
// etcd_types.h and replies parsed back into them.
//
// Replies are untrusted input (a broken proxy, a hostile or buggy server):
// every field is checked for its type, int64 fields accept the gateway's
// decimal strings (and plain JSON integers) only, keys and values must be
// valid base64, and any mismatch is an error that names the field
// ("kvs[2].mod_revision: not an int64"). Fields proto3 leaves out when they
// hold their default (count 0, succeeded false, type PUT, an empty value)
// take that default; fields without which the reply means nothing (the
// header's revision, a kv's key) are required.
//
// Pure functions, safe from any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "store/etcd_types.h"

namespace mflow::store {

// The smallest key greater than every key that starts with prefix: etcd's
// range_end for a prefix query. "" means "no end" (a prefix of only 0xff).
std::string PrefixRangeEnd(std::string_view prefix);

// Request bodies.
std::string RangeRequestJson(std::string_view key, bool prefix, int64_t revision);
std::string PutRequestJson(std::string_view key, std::string_view value, int64_t lease);
std::string DeleteRequestJson(std::string_view key, bool prefix);
std::string TxnRequestJson(const std::vector<TxnCompare>& compare, const std::vector<TxnOp>& success,
                           const std::vector<TxnOp>& failure);
std::string LeaseGrantRequestJson(int64_t ttl_seconds);
std::string LeaseIdRequestJson(int64_t id);  // keepalive and revoke
std::string CompactRequestJson(int64_t revision);
std::string WatchCreateRequestJson(std::string_view key, bool prefix, int64_t start_revision);

// An error reply of the gateway ({"error": ..., "code": N}) as a Status; Ok
// if body is not one. grpc codes map to StatusCode (5 -> kNotFound,
// 3 -> kInvalid, 14 -> kBusy, the rest kFailed).
Status GatewayError(std::string_view body);
// The grpc code of a gateway error reply, 0 if none (14 = unavailable:
// the client tries another endpoint).
int GatewayErrorCode(std::string_view body);

// Reply parsers. Each first checks GatewayError.
StatusOr<RangeResult> ParseRangeReply(std::string_view body);
StatusOr<int64_t> ParseRevisionReply(std::string_view body);  // put, delete, compact
StatusOr<TxnResult> ParseTxnReply(std::string_view body);
StatusOr<Lease> ParseLeaseGrantReply(std::string_view body);
// keepalive: the TTL left, 0 if the lease no longer exists.
StatusOr<int64_t> ParseKeepAliveReply(std::string_view body);
// One line of the watch stream ({"result": {...}} or {"error": {...}}).
StatusOr<WatchMessage> ParseWatchMessage(std::string_view line);

}  // namespace mflow::store
