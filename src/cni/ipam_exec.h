// Delegating IPAM: finding the IPAM plugin on CNI_PATH and running it.
//
// The spec (1.0.0, "Delegated plugin protocol") says: the delegating plugin
// runs the plugin named by ipam.type, found on CNI_PATH, with its own
// environment (CNI_COMMAND changed where the delegating plugin runs a
// different verb, e.g. DEL to release after a failed ADD) and the whole
// network configuration on stdin, and reads a result or an error object
// from its stdout.
//
// RunIpam spawns the plugin (posix_spawn, stdin and stdout on pipes, stderr
// shared with ours so its complaints reach the runtime's log), feeds stdin
// and reads stdout with poll(), and kills the child (SIGKILL, by its PID) if
// it has not finished within the timeout: a hung IPAM plugin must not hang
// the runtime. Output beyond 1 MiB is a broken plugin.
//
// The caller must ignore SIGPIPE (a plugin that exits without reading its
// stdin would otherwise kill us on write); main() does.
//
// Thread-safety: any number of concurrent calls (each owns its child).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "cni/cni_env.h"
#include "cni/cni_error.h"
#include "common/status.h"

namespace mflow::cni {

struct ExecOutcome {
  int exit_code = -1;  // -1: killed by a signal (or by our timeout)
  std::string out;     // its stdout
};

// Runs `binary` with `env` (KEY -> VALUE) and `input` on stdin.
StatusOr<ExecOutcome> RunWithInput(const std::string& binary, const EnvMap& env, const std::string& input,
                                   std::chrono::milliseconds timeout);

// The executable `type` in the first directory of `path` that has one.
// Code 4 when CNI_PATH is empty, 101 when no directory has it.
CniOr<std::string> FindPlugin(const std::vector<std::string>& path, const std::string& type);

// Runs the IPAM plugin for `command` (ADD, DEL or CHECK). On exit status 0
// returns its stdout; otherwise the error object it printed (its code and
// message, the message prefixed with the plugin's name), or code 101 when it
// printed none or could not be run.
CniOr<std::string> RunIpam(const std::string& binary, const std::string& command, EnvMap env,
                           const std::string& config, std::chrono::milliseconds timeout);

}  // namespace mflow::cni
