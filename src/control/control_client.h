// ControlRequest: one request to mflowd's control socket, one reply back.
//
// The client half of the protocol in control_server.h (newline-delimited
// JSON over a Unix stream socket), used by mflowctl and by tests. It opens a
// connection per request, which keeps callers free of connection state.
//
// The result is an error Status only when no reply came (cannot connect,
// timeout, connection closed, reply not JSON); a reply saying
// {"ok":false,"error":...} is returned as it is, for the caller to show.
//
// Thread-safety: any number of concurrent calls.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "common/status.h"

namespace mflow {

// timeout_ms bounds the whole exchange: connect, send and reply.
StatusOr<nlohmann::json> ControlRequest(const std::string& socket_path, const nlohmann::json& request,
                                        int timeout_ms = 5000);

}  // namespace mflow
