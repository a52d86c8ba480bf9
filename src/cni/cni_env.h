// CniEnv: the CNI_* environment variables of one plugin invocation, checked.
//
// The runtime passes the verb and its parameters in the environment (CNI
// spec 1.0.0, "Parameters"): CNI_COMMAND always; CNI_CONTAINERID and
// CNI_IFNAME for ADD, CHECK and DEL; CNI_NETNS for ADD and CHECK (DEL must
// work without it, the namespace may be gone); CNI_ARGS and CNI_PATH are
// optional here (CNI_PATH becomes required once an IPAM plugin has to be
// found: the plugin checks that itself). Every missing or malformed variable
// is named in one error (code 4), not just the first.
//
// Thread-safety: pure functions.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "cni/cni_error.h"

namespace mflow::cni {

struct CniEnv {
  std::string command;       // ADD, DEL, CHECK or VERSION
  std::string container_id;  // [A-Za-z0-9][A-Za-z0-9_.-]*
  std::string netns;         // may be empty for DEL
  std::string ifname;        // a valid Linux interface name
  std::vector<std::pair<std::string, std::string>> args;  // CNI_ARGS, in order
  std::vector<std::string> path;                          // CNI_PATH, split on ':'
};

using EnvMap = std::map<std::string, std::string>;

// The process environment (environ) as a map.
EnvMap ProcessEnvironment();

CniOr<CniEnv> ParseCniEnv(const EnvMap& env);

// A Linux interface name: 1..15 bytes, not "." or "..", no '/', ':' or white space.
bool ValidIfName(const std::string& name);

}  // namespace mflow::cni
