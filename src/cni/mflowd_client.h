// The plugin's view of mflowd: port-add, port-del and the ports listing over
// the control socket (the port API contract in docs/CNI.md and
// docs/MFLOWCTL.md), with mflowd's answers mapped to CNI error codes.
//
// Mapping: no answer at all (socket missing, connection refused, timeout)
// and mflowd's "busy" are code 11, try again later; "exists" is 103;
// port-add's "not_found" (the netns path) is 104; anything else mflowd
// refuses is 100 with mflowd's own code in the details. For port-del,
// "not_found" and a daemon that is not running both mean the port is gone
// (mflowd's TAP devices die with the process), which DEL treats as success.
//
// Thread-safety: any number of concurrent calls (one connection per call).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cni/cni_error.h"
#include "cni/cni_result.h"

namespace mflow::cni {

struct PortAddRequest {
  std::string name;
  std::string ifname;
  std::string netns;
  uint32_t vni = 0;
  uint32_t mtu = 0;
  std::vector<std::string> addresses;
  std::vector<RouteConfig> routes;
};

struct PortAddReply {
  std::string mac;
  std::string ifname;
};

enum class PortDelOutcome { kDeleted, kAlreadyGone, kDaemonNotRunning };

class MflowdClient {
 public:
  MflowdClient(std::string socket, int timeout_ms) : socket_(std::move(socket)), timeout_ms_(timeout_ms) {}

  CniOr<PortAddReply> PortAdd(const PortAddRequest& req) const;
  CniOr<PortDelOutcome> PortDel(const std::string& name) const;
  // This host's subnet and the overlay network from the store ("subnet"
  // request; mflowd on etcd only): {subnet, network}.
  CniOr<std::pair<std::string, std::string>> Subnet() const;
  // The "ports" entry named `name`, or nullopt when there is none.
  CniOr<std::optional<nlohmann::json>> FindPort(const std::string& name) const;

 private:
  // One request; an error when no reply came, or when the reply is not ok.
  // mflowd's code (or "" when none came) goes to *code.
  CniOr<nlohmann::json> Call(const nlohmann::json& request, std::string* code) const;
  // Whether anything accepts connections on the socket (mflowd is running).
  bool Listening() const;

  std::string socket_;
  int timeout_ms_;
};

}  // namespace mflow::cni
