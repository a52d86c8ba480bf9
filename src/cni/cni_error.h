// CniError and CniOr: the CNI spec's error object on the plugin's paths.
//
// Every failure a CNI verb can report carries the spec's numeric code, a
// one-line message naming the field, variable or step, and optional details.
// The codes below 100 are the spec's; 100 and up are mflow's own (listed in
// docs/CNI.md, keep the two in step). Status from common/status.h is used
// underneath (socket, exec, parsing helpers) and mapped to a code where the
// plugin knows which one applies.
//
// Thread-safety: plain values.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace mflow::cni {

enum CniCode : int {
  kIncompatibleVersion = 1,
  kUnsupportedField = 2,
  kUnknownContainer = 3,
  kInvalidEnvironment = 4,
  kIoFailure = 5,
  kDecodeFailure = 6,
  kInvalidConfig = 7,
  kTryAgainLater = 11,
  // mflow's own.
  kMflowdRefused = 100,     // mflowd answered port-add/port-del/ports with an error
  kIpamFailed = 101,        // the IPAM plugin could not be run, or its output is unreadable
  kCheckMismatch = 102,     // CHECK: the port is missing or differs from prevResult
  kInterfaceExists = 103,   // ADD: a port with this name, or a device named CNI_IFNAME, exists
  kNetnsNotFound = 104,     // ADD: mflowd cannot open CNI_NETNS
};

struct CniError {
  int code = 0;
  std::string msg;
  std::string details;
};

template <typename T>
class [[nodiscard]] CniOr {
 public:
  CniOr(T value) : v_(std::move(value)) {}      // NOLINT: implicit by design
  CniOr(CniError error) : v_(std::move(error)) {}  // NOLINT

  bool ok() const { return std::holds_alternative<T>(v_); }
  const CniError& error() const { return std::get<CniError>(v_); }
  T& value() & { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &std::get<T>(v_); }
  T& operator*() { return std::get<T>(v_); }

 private:
  std::variant<T, CniError> v_;
};

}  // namespace mflow::cni
