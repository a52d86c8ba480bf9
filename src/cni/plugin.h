// RunPlugin: one invocation of the mflow CNI plugin, environment and stdin
// in, exit code and stdout out (main() only does the I/O), so that the unit
// tests drive every verb and every error path in-process.
//
// The verbs (CNI spec 1.0.0, "Section 2: Execution Protocol"):
//   ADD     IPAM ADD (when ipam.type is set), then port-add in mflowd with the
//           addresses and routes IPAM returned; prints the result. Anything
//           failing after IPAM succeeded releases the allocation (IPAM DEL)
//           before the error is returned.
//   DEL     port-del (a port or daemon already gone is success), then IPAM DEL
//           always; never needs CNI_NETNS. Idempotent.
//   CHECK   the port exists in mflowd, in CNI_NETNS, named CNI_IFNAME, with
//           every address of prevResult; then IPAM CHECK. Needs cniVersion
//           0.4.0 or later and a prevResult.
//   VERSION prints the versions this plugin speaks.
// Errors: the spec's error object on stdout, exit code 1 (the runtime reads
// the code from the object). Codes in cni/cni_error.h and docs/CNI.md.
//
// Thread-safety: concurrent calls are safe when their `log` streams are
// (each call owns its children and its connections).
#pragma once

#include <chrono>
#include <cstdio>
#include <string>

#include "cni/cni_env.h"

namespace mflow::cni {

struct PluginOptions {
  std::chrono::milliseconds ipam_timeout{60000};  // one IPAM plugin run
  int mflowd_timeout_ms = 10000;                  // one control request
  std::FILE* log = stderr;                        // unless the config names a logFile
};

struct PluginOutput {
  int exit_code = 0;
  std::string out;  // stdout
};

PluginOutput RunPlugin(const EnvMap& env, const std::string& stdin_text, const PluginOptions& opts = {});

}  // namespace mflow::cni
