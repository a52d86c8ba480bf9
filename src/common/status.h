// Status and StatusOr: fallible results on the control path.
//
// The data path never returns these; it counts drops on named edges. The
// control path (construction, configuration, option parsing) returns a Status
// whose message a user can act on ("fdb capacity must be a power of two, got 1000").
// An error may carry a StatusCode, so a caller that must react differently
// (the control socket's "exists" or "not_found" replies) does not have to
// match message text; plain Status::Error(message) is kFailed.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace mflow {

// What kind of error; kOk only for success.
enum class StatusCode {
  kOk,
  kFailed,    // anything without a more precise kind
  kInvalid,   // a bad argument or field
  kExists,    // the thing to create is already there
  kNotFound,  // the thing to use or remove is not there
  kBusy,      // cannot be done now; may work later
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  static Status Ok() { return Status(); }
  static Status Error(std::string message) { return Status(StatusCode::kFailed, std::move(message)); }
  static Status Error(StatusCode code, std::string message) {
    return Status(code == StatusCode::kOk ? StatusCode::kFailed : code, std::move(message));
  }

  bool ok() const { return !message_.has_value(); }
  StatusCode code() const { return code_; }
  const std::string& message() const {
    static const std::string kOk = "ok";
    return message_ ? *message_ : kOk;
  }
  // The same error with context in front of its message ("port c1: " + ...),
  // keeping the code; Ok stays Ok.
  Status Prefixed(const std::string& prefix) const {
    return ok() ? *this : Status(code_, prefix + *message_);
  }

 private:
  Status(StatusCode code, std::string m) : code_(code), message_(std::move(m)) {}
  StatusCode code_ = StatusCode::kOk;
  std::optional<std::string> message_;
};

template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  StatusOr(Status status) : v_(std::move(status)) {}  // NOLINT

  bool ok() const { return std::holds_alternative<T>(v_); }
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(v_); }
  T& value() & { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &std::get<T>(v_); }
  T& operator*() { return std::get<T>(v_); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace mflow

// Returns the Status of expr from the enclosing function if it is an error.
#define MFLOW_RETURN_IF_ERROR(expr)                         \
  do {                                                      \
    if (::mflow::Status mflow_s_ = (expr); !mflow_s_.ok()) \
      return mflow_s_;                                      \
  } while (0)
