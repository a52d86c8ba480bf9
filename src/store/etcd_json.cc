#include "store/etcd_json.h"

#include <charconv>
#include <limits>

#include <nlohmann/json.hpp>

#include "store/base64.h"

namespace mflow::store {
namespace {

using nlohmann::json;

// Parses without exceptions: a body that is not JSON is an error, not a throw.
StatusOr<json> ParseObject(std::string_view body) {
  // nlohmann stops at a NUL as if the text ended there; no JSON text has one.
  if (body.find('\0') != std::string_view::npos) return Status::Error(StatusCode::kInvalid, "reply is not JSON (a NUL byte)");
  json j = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::Error(StatusCode::kInvalid, "reply is not JSON");
  if (!j.is_object()) return Status::Error(StatusCode::kInvalid, "reply is not a JSON object");
  return j;
}

const json* Field(const json& obj, const char* name) {
  auto it = obj.find(name);
  return it == obj.end() || it->is_null() ? nullptr : &*it;
}

Status FieldError(const std::string& where, const char* what) {
  return Status::Error(StatusCode::kInvalid, where + ": " + what);
}

// An int64 as the gateway writes it: a decimal string ("42", "-1"); a JSON
// integer is accepted too. Missing -> fallback (proto3 omits zeros).
StatusOr<int64_t> Int64Field(const json& obj, const char* name, const std::string& where,
                             bool required = false) {
  const json* f = Field(obj, name);
  std::string at = where.empty() ? name : where + "." + name;
  if (f == nullptr) {
    if (required) return FieldError(at, "missing");
    return int64_t{0};
  }
  if (f->is_number_integer()) {
    if (f->is_number_unsigned() && f->get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max()))
      return FieldError(at, "out of int64 range");
    return f->get<int64_t>();
  }
  if (!f->is_string()) return FieldError(at, "not an int64");
  const std::string& s = f->get_ref<const std::string&>();
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size()) return FieldError(at, "not an int64");
  return v;
}

StatusOr<bool> BoolField(const json& obj, const char* name, const std::string& where) {
  const json* f = Field(obj, name);
  if (f == nullptr) return false;
  if (!f->is_boolean()) return FieldError(where.empty() ? name : where + "." + name, "not a bool");
  return f->get<bool>();
}

// A base64 bytes field; missing -> "" (proto3 omits empty bytes).
StatusOr<std::string> BytesField(const json& obj, const char* name, const std::string& where,
                                 bool required = false) {
  const json* f = Field(obj, name);
  std::string at = where.empty() ? name : where + "." + name;
  if (f == nullptr) {
    if (required) return FieldError(at, "missing");
    return std::string();
  }
  if (!f->is_string()) return FieldError(at, "not a string");
  auto d = Base64Decode(f->get_ref<const std::string&>());
  if (!d) return FieldError(at, "bad base64");
  return *d;
}

StatusOr<const json*> ObjectField(const json& obj, const char* name, const std::string& where,
                                  bool required) {
  const json* f = Field(obj, name);
  std::string at = where.empty() ? name : where + "." + name;
  if (f == nullptr) {
    if (required) return FieldError(at, "missing");
    return static_cast<const json*>(nullptr);
  }
  if (!f->is_object()) return FieldError(at, "not an object");
  return f;
}

StatusOr<const json*> ArrayField(const json& obj, const char* name, const std::string& where) {
  const json* f = Field(obj, name);
  if (f == nullptr) return static_cast<const json*>(nullptr);
  if (!f->is_array()) return FieldError(where.empty() ? name : where + "." + name, "not an array");
  return f;
}

// The header's revision: required, the one number every reply carries.
StatusOr<int64_t> HeaderRevision(const json& obj, const std::string& where) {
  auto h = ObjectField(obj, "header", where, /*required=*/true);
  if (!h.ok()) return h.status();
  return Int64Field(**h, "revision", (where.empty() ? "" : where + ".") + std::string("header"),
                    /*required=*/true);
}

StatusOr<KeyValue> ParseKv(const json& j, const std::string& where) {
  if (!j.is_object()) return FieldError(where, "not an object");
  KeyValue kv;
  auto key = BytesField(j, "key", where, /*required=*/true);
  if (!key.ok()) return key.status();
  kv.key = std::move(*key);
  auto value = BytesField(j, "value", where);
  if (!value.ok()) return value.status();
  kv.value = std::move(*value);
  struct {
    const char* name;
    int64_t* out;
  } ints[] = {{"create_revision", &kv.create_revision},
              {"mod_revision", &kv.mod_revision},
              {"version", &kv.version},
              {"lease", &kv.lease}};
  for (auto& f : ints) {
    auto v = Int64Field(j, f.name, where);
    if (!v.ok()) return v.status();
    if (*v < 0) return FieldError(where + "." + f.name, "negative");
    *f.out = *v;
  }
  return kv;
}

StatusOr<std::vector<KeyValue>> ParseKvs(const json& obj, const std::string& where) {
  std::vector<KeyValue> out;
  auto arr = ArrayField(obj, "kvs", where);
  if (!arr.ok()) return arr.status();
  if (*arr == nullptr) return out;
  std::string base = where.empty() ? "kvs" : where + ".kvs";
  for (size_t i = 0; i < (*arr)->size(); ++i) {
    auto kv = ParseKv((**arr)[i], base + "[" + std::to_string(i) + "]");
    if (!kv.ok()) return kv.status();
    out.push_back(std::move(*kv));
  }
  return out;
}

StatusCode CodeFor(int64_t grpc_code) {
  switch (grpc_code) {
    case 3: return StatusCode::kInvalid;
    case 5: return StatusCode::kNotFound;
    case 14: return StatusCode::kBusy;
    default: return StatusCode::kFailed;
  }
}

const char* CompareTarget(TxnCompare::Target t) {
  switch (t) {
    case TxnCompare::Target::kCreateRevision: return "CREATE";
    case TxnCompare::Target::kModRevision: return "MOD";
    case TxnCompare::Target::kValue: return "VALUE";
  }
  return "CREATE";
}

const char* CompareOp(TxnCompare::Op op) {
  switch (op) {
    case TxnCompare::Op::kEqual: return "EQUAL";
    case TxnCompare::Op::kNotEqual: return "NOT_EQUAL";
    case TxnCompare::Op::kGreater: return "GREATER";
    case TxnCompare::Op::kLess: return "LESS";
  }
  return "EQUAL";
}

json OpJson(const TxnOp& op) {
  json j;
  switch (op.kind) {
    case TxnOp::Kind::kPut: {
      json put = {{"key", Base64Encode(op.key)}, {"value", Base64Encode(op.value)}};
      if (op.lease != 0) put["lease"] = std::to_string(op.lease);
      j["request_put"] = put;
      break;
    }
    case TxnOp::Kind::kDelete: {
      json del = {{"key", Base64Encode(op.key)}};
      if (op.prefix) del["range_end"] = Base64Encode(PrefixRangeEnd(op.key));
      j["request_delete_range"] = del;
      break;
    }
    case TxnOp::Kind::kRange: {
      json r = {{"key", Base64Encode(op.key)}};
      if (op.prefix) r["range_end"] = Base64Encode(PrefixRangeEnd(op.key));
      j["request_range"] = r;
      break;
    }
  }
  return j;
}

json KeyJson(std::string_view key, bool prefix) {
  json j = {{"key", Base64Encode(key)}};
  if (prefix) {
    std::string end = PrefixRangeEnd(key);
    // An empty prefix or one of only 0xff: every key from key on ("\0").
    j["range_end"] = Base64Encode(end.empty() ? std::string(1, '\0') : end);
  }
  return j;
}

}  // namespace

std::string PrefixRangeEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto& c = reinterpret_cast<unsigned char&>(end.back());
    if (c < 0xff) {
      ++c;
      return end;
    }
    end.pop_back();
  }
  return end;
}

std::string RangeRequestJson(std::string_view key, bool prefix, int64_t revision) {
  json j = KeyJson(key, prefix);
  if (revision > 0) j["revision"] = std::to_string(revision);
  return j.dump();
}

std::string PutRequestJson(std::string_view key, std::string_view value, int64_t lease) {
  json j = {{"key", Base64Encode(key)}, {"value", Base64Encode(value)}};
  if (lease != 0) j["lease"] = std::to_string(lease);
  return j.dump();
}

std::string DeleteRequestJson(std::string_view key, bool prefix) { return KeyJson(key, prefix).dump(); }

std::string TxnRequestJson(const std::vector<TxnCompare>& compare, const std::vector<TxnOp>& success,
                           const std::vector<TxnOp>& failure) {
  json cmp = json::array();
  for (const auto& c : compare) {
    json e = {{"key", Base64Encode(c.key)},
              {"target", CompareTarget(c.target)},
              {"result", CompareOp(c.op)}};
    switch (c.target) {
      case TxnCompare::Target::kCreateRevision: e["create_revision"] = std::to_string(c.revision); break;
      case TxnCompare::Target::kModRevision: e["mod_revision"] = std::to_string(c.revision); break;
      case TxnCompare::Target::kValue: e["value"] = Base64Encode(c.value); break;
    }
    cmp.push_back(std::move(e));
  }
  json s = json::array(), f = json::array();
  for (const auto& op : success) s.push_back(OpJson(op));
  for (const auto& op : failure) f.push_back(OpJson(op));
  return json{{"compare", cmp}, {"success", s}, {"failure", f}}.dump();
}

std::string LeaseGrantRequestJson(int64_t ttl_seconds) {
  return json{{"TTL", std::to_string(ttl_seconds)}}.dump();
}

std::string LeaseIdRequestJson(int64_t id) { return json{{"ID", std::to_string(id)}}.dump(); }

std::string CompactRequestJson(int64_t revision) {
  return json{{"revision", std::to_string(revision)}, {"physical", true}}.dump();
}

std::string WatchCreateRequestJson(std::string_view key, bool prefix, int64_t start_revision) {
  json c = KeyJson(key, prefix);
  if (start_revision > 0) c["start_revision"] = std::to_string(start_revision);
  return json{{"create_request", c}}.dump();
}

int GatewayErrorCode(std::string_view body) {
  json j = json::parse(body.begin(), body.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return 0;
  const json* code = Field(j, "code");
  if (code == nullptr || !code->is_number_integer()) return 0;
  int64_t c = code->get<int64_t>();
  return c > 0 && c < 100 ? static_cast<int>(c) : 0;
}

Status GatewayError(std::string_view body) {
  json j = json::parse(body.begin(), body.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Status::Ok();
  const json* err = Field(j, "error");
  if (err == nullptr) return Status::Ok();
  std::string msg = "server error";
  if (err->is_string()) {
    msg = err->get<std::string>();
  } else if (err->is_object()) {  // the stream form: {"error": {"grpc_code", "message"}}
    const json* m = Field(*err, "message");
    if (m != nullptr && m->is_string()) msg = m->get<std::string>();
  }
  int64_t code = 0;
  if (const json* c = Field(j, "code"); c != nullptr && c->is_number_integer()) code = c->get<int64_t>();
  if (err->is_object()) {
    if (const json* c = Field(*err, "grpc_code"); c != nullptr && c->is_number_integer())
      code = c->get<int64_t>();
  }
  return Status::Error(CodeFor(code), msg + " (grpc code " + std::to_string(code) + ")");
}

StatusOr<RangeResult> ParseRangeReply(std::string_view body) {
  MFLOW_RETURN_IF_ERROR(GatewayError(body));
  auto j = ParseObject(body);
  if (!j.ok()) return j.status();
  RangeResult r;
  auto rev = HeaderRevision(*j, "");
  if (!rev.ok()) return rev.status();
  r.revision = *rev;
  auto kvs = ParseKvs(*j, "");
  if (!kvs.ok()) return kvs.status();
  r.kvs = std::move(*kvs);
  auto more = BoolField(*j, "more", "");
  if (!more.ok()) return more.status();
  r.more = *more;
  auto count = Int64Field(*j, "count", "");
  if (!count.ok()) return count.status();
  if (*count < static_cast<int64_t>(r.kvs.size()))
    return FieldError("count", "smaller than the number of kvs");
  return r;
}

StatusOr<int64_t> ParseRevisionReply(std::string_view body) {
  MFLOW_RETURN_IF_ERROR(GatewayError(body));
  auto j = ParseObject(body);
  if (!j.ok()) return j.status();
  return HeaderRevision(*j, "");
}

StatusOr<TxnResult> ParseTxnReply(std::string_view body) {
  MFLOW_RETURN_IF_ERROR(GatewayError(body));
  auto j = ParseObject(body);
  if (!j.ok()) return j.status();
  TxnResult r;
  auto rev = HeaderRevision(*j, "");
  if (!rev.ok()) return rev.status();
  r.revision = *rev;
  auto ok = BoolField(*j, "succeeded", "");
  if (!ok.ok()) return ok.status();
  r.succeeded = *ok;
  auto arr = ArrayField(*j, "responses", "");
  if (!arr.ok()) return arr.status();
  if (*arr == nullptr) return r;
  for (size_t i = 0; i < (*arr)->size(); ++i) {
    const json& resp = (**arr)[i];
    std::string where = "responses[" + std::to_string(i) + "]";
    if (!resp.is_object()) return FieldError(where, "not an object");
    auto range = ObjectField(resp, "response_range", where, false);
    if (!range.ok()) return range.status();
    std::vector<KeyValue> kvs;
    if (*range != nullptr) {
      auto parsed = ParseKvs(**range, where + ".response_range");
      if (!parsed.ok()) return parsed.status();
      kvs = std::move(*parsed);
    } else if (Field(resp, "response_put") == nullptr && Field(resp, "response_delete_range") == nullptr &&
               Field(resp, "response_txn") == nullptr) {
      return FieldError(where, "no known response kind");
    }
    r.ranges.push_back(std::move(kvs));
  }
  return r;
}

StatusOr<Lease> ParseLeaseGrantReply(std::string_view body) {
  MFLOW_RETURN_IF_ERROR(GatewayError(body));
  auto j = ParseObject(body);
  if (!j.ok()) return j.status();
  MFLOW_RETURN_IF_ERROR(HeaderRevision(*j, "").status());
  if (const json* e = Field(*j, "error"); e != nullptr && e->is_string() && !e->get<std::string>().empty())
    return Status::Error("lease grant refused: " + e->get<std::string>());
  Lease g;
  auto id = Int64Field(*j, "ID", "", /*required=*/true);
  if (!id.ok()) return id.status();
  auto ttl = Int64Field(*j, "TTL", "", /*required=*/true);
  if (!ttl.ok()) return ttl.status();
  if (*id <= 0) return FieldError("ID", "not positive");
  if (*ttl <= 0) return FieldError("TTL", "not positive");
  g.id = *id;
  g.ttl = *ttl;
  return g;
}

StatusOr<int64_t> ParseKeepAliveReply(std::string_view body) {
  MFLOW_RETURN_IF_ERROR(GatewayError(body));
  auto j = ParseObject(body);
  if (!j.ok()) return j.status();
  // A stream call through the gateway: the message sits in "result".
  auto res = ObjectField(*j, "result", "", /*required=*/true);
  if (!res.ok()) return res.status();
  MFLOW_RETURN_IF_ERROR(HeaderRevision(**res, "result").status());
  auto ttl = Int64Field(**res, "TTL", "result");
  if (!ttl.ok()) return ttl.status();
  if (*ttl < 0) return FieldError("result.TTL", "negative");
  return *ttl;
}

StatusOr<WatchMessage> ParseWatchMessage(std::string_view line) {
  MFLOW_RETURN_IF_ERROR(GatewayError(line));
  auto j = ParseObject(line);
  if (!j.ok()) return j.status();
  auto res = ObjectField(*j, "result", "", /*required=*/true);
  if (!res.ok()) return res.status();
  const json& r = **res;
  WatchMessage m;
  // Cancel messages may come without a header revision; events never do.
  auto hdr = ObjectField(r, "header", "result", false);
  if (!hdr.ok()) return hdr.status();
  if (*hdr != nullptr) {
    auto rev = Int64Field(**hdr, "revision", "result.header");
    if (!rev.ok()) return rev.status();
    m.revision = *rev;
  }
  for (auto [name, out] : {std::pair{"created", &m.created}, std::pair{"canceled", &m.canceled}}) {
    auto b = BoolField(r, name, "result");
    if (!b.ok()) return b.status();
    *out = *b;
  }
  auto compact = Int64Field(r, "compact_revision", "result");
  if (!compact.ok()) return compact.status();
  if (*compact < 0) return FieldError("result.compact_revision", "negative");
  m.compact_revision = *compact;
  if (const json* reason = Field(r, "cancel_reason"); reason != nullptr) {
    if (!reason->is_string()) return FieldError("result.cancel_reason", "not a string");
    m.cancel_reason = reason->get<std::string>();
  }
  auto events = ArrayField(r, "events", "result");
  if (!events.ok()) return events.status();
  if (*events != nullptr) {
    if (*hdr == nullptr || m.revision <= 0) return FieldError("result.header.revision", "missing with events");
    for (size_t i = 0; i < (*events)->size(); ++i) {
      const json& e = (**events)[i];
      std::string where = "result.events[" + std::to_string(i) + "]";
      if (!e.is_object()) return FieldError(where, "not an object");
      WatchEvent ev;
      if (const json* t = Field(e, "type"); t != nullptr) {
        if (!t->is_string()) return FieldError(where + ".type", "not a string");
        const std::string& ts = t->get_ref<const std::string&>();
        if (ts == "PUT") ev.type = WatchEvent::Type::kPut;
        else if (ts == "DELETE") ev.type = WatchEvent::Type::kDelete;
        else return FieldError(where + ".type", "unknown event type");
      }
      auto kvj = ObjectField(e, "kv", where, /*required=*/true);
      if (!kvj.ok()) return kvj.status();
      auto kv = ParseKv(**kvj, where + ".kv");
      if (!kv.ok()) return kv.status();
      if (kv->mod_revision <= 0) return FieldError(where + ".kv.mod_revision", "missing");
      if (kv->mod_revision > m.revision) return FieldError(where + ".kv.mod_revision", "after the header revision");
      if (!m.events.empty() && kv->mod_revision < m.events.back().kv.mod_revision)
        return FieldError(where + ".kv.mod_revision", "goes backwards");
      ev.kv = std::move(*kv);
      m.events.push_back(std::move(ev));
    }
  }
  return m;
}

}  // namespace mflow::store
