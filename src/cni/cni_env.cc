#include "cni/cni_env.h"

#include <cctype>

extern char** environ;

namespace mflow::cni {
namespace {

std::string Get(const EnvMap& env, const char* key) {
  auto it = env.find(key);
  return it == env.end() ? std::string() : it->second;
}

// The spec's container ID grammar: an alphanumeric, then alphanumerics, '_', '.' or '-'.
bool ValidContainerId(const std::string& id) {
  if (id.empty() || !std::isalnum(static_cast<unsigned char>(id[0]))) return false;
  for (char c : id)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') return false;
  return true;
}

std::vector<std::string> SplitPath(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    const size_t colon = s.find(':', start);
    std::string part = s.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
    if (!part.empty()) out.push_back(std::move(part));
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  return out;
}

void Append(std::string& list, const std::string& item) {
  if (!list.empty()) list += "; ";
  list += item;
}

}  // namespace

EnvMap ProcessEnvironment() {
  EnvMap env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string kv = *e;
    const size_t eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return env;
}

bool ValidIfName(const std::string& name) {
  if (name.empty() || name.size() > 15 || name == "." || name == "..") return false;
  for (char c : name)
    if (c == '/' || c == ':' || std::isspace(static_cast<unsigned char>(c)) || c == '\0') return false;
  return true;
}

CniOr<CniEnv> ParseCniEnv(const EnvMap& env) {
  CniEnv e;
  e.command = Get(env, "CNI_COMMAND");
  if (e.command.empty()) return CniError{kInvalidEnvironment, "CNI_COMMAND is not set", ""};
  if (e.command != "ADD" && e.command != "DEL" && e.command != "CHECK" && e.command != "VERSION") {
    return CniError{kInvalidEnvironment,
                    "CNI_COMMAND '" + e.command + "' is not one of ADD, DEL, CHECK, VERSION", ""};
  }
  if (e.command == "VERSION") return e;

  e.container_id = Get(env, "CNI_CONTAINERID");
  e.netns = Get(env, "CNI_NETNS");
  e.ifname = Get(env, "CNI_IFNAME");
  e.path = SplitPath(Get(env, "CNI_PATH"));

  std::vector<std::string> missing;
  if (e.container_id.empty()) missing.push_back("CNI_CONTAINERID");
  if (e.netns.empty() && e.command != "DEL") missing.push_back("CNI_NETNS");
  if (e.ifname.empty()) missing.push_back("CNI_IFNAME");
  std::string problems;
  if (!missing.empty()) {
    std::string names;
    for (const std::string& m : missing) names += (names.empty() ? "" : ", ") + m;
    Append(problems, "missing " + names + " (required for " + e.command + ")");
  }
  if (!e.container_id.empty() && !ValidContainerId(e.container_id))
    Append(problems, "CNI_CONTAINERID '" + e.container_id +
                         "' has characters other than [A-Za-z0-9_.-] or does not start with an alphanumeric");
  if (!e.ifname.empty() && !ValidIfName(e.ifname))
    Append(problems, "CNI_IFNAME '" + e.ifname + "' is not a valid interface name (1..15 bytes, no '/', ':' or space)");
  if (!e.netns.empty() && e.netns[0] != '/')
    Append(problems, "CNI_NETNS '" + e.netns + "' is not an absolute path");

  // CNI_ARGS: "K1=V1;K2=V2". mflow uses none of them; a malformed list is still an error.
  const std::string args = Get(env, "CNI_ARGS");
  size_t start = 0;
  while (start < args.size()) {
    size_t semi = args.find(';', start);
    if (semi == std::string::npos) semi = args.size();
    const std::string pair = args.substr(start, semi - start);
    start = semi + 1;
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    if (eq == std::string::npos || eq == 0) {
      Append(problems, "CNI_ARGS entry '" + pair + "' is not KEY=VALUE");
      break;
    }
    e.args.emplace_back(pair.substr(0, eq), pair.substr(eq + 1));
  }

  if (!problems.empty()) return CniError{kInvalidEnvironment, "invalid CNI environment: " + problems, ""};
  return e;
}

}  // namespace mflow::cni
