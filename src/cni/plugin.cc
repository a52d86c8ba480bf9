#include "cni/plugin.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdarg>
#include <ctime>
#include <memory>
#include <nlohmann/json.hpp>

#include "cni/cni_result.h"
#include "cni/ipam_exec.h"
#include "cni/store_ipam.h"
#include "cni/mflowd_client.h"
#include "cni/net_config.h"
#include "cni/port_name.h"

namespace mflow::cni {
namespace {

using nlohmann::json;

// One line per event, prefixed so that lines from parallel invocations in one
// log file can be told apart.
class Log {
 public:
  Log(std::FILE* fallback, const std::string& file, std::string prefix) : out_(fallback), prefix_(std::move(prefix)) {
    if (!file.empty()) {
      owned_.reset(std::fopen(file.c_str(), "ae"));
      if (owned_) out_ = owned_.get();
      else if (out_) std::fprintf(out_, "mflow-cni: cannot open logFile %s; logging here\n", file.c_str());
    }
  }
  void operator()(const std::string& line) const {
    if (!out_) return;
    char ts[32];
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    // One fprintf per line: concurrent appenders do not interleave within it.
    std::fprintf(out_, "%s mflow-cni[%d] %s: %s\n", ts, static_cast<int>(::getpid()), prefix_.c_str(), line.c_str());
    std::fflush(out_);
  }

 private:
  struct Closer {
    void operator()(std::FILE* f) const { std::fclose(f); }
  };
  std::unique_ptr<std::FILE, Closer> owned_;
  std::FILE* out_;
  std::string prefix_;
};

// Two paths name the same namespace when they are equal or are the same nsfs
// inode (/run/netns/x and /proc/PID/ns/net of a process in it).
bool SameNetns(const std::string& a, const std::string& b) {
  if (a == b) return true;
  struct stat sa {}, sb {};
  return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev &&
         sa.st_ino == sb.st_ino;
}

PluginOutput Fail(const CniError& e, const std::string& version, const Log* log) {
  if (log) (*log)("error " + std::to_string(e.code) + ": " + e.msg + (e.details.empty() ? "" : " (" + e.details + ")"));
  return {1, BuildError(e, version).dump() + "\n"};
}

struct Invocation {
  const CniEnv& env;
  const EnvMap& raw_env;
  const NetConfig& cfg;
  const PluginOptions& opts;
  const Log& log;
  std::string port_name;
  std::string ipam_stdin;  // cfg.raw, with the store's range filled in (store_ipam.h)
};

// IPAM for `command`; stdout on success. `binary` is filled once found.
CniOr<std::string> Ipam(const Invocation& inv, const std::string& command) {
  auto binary = FindPlugin(inv.env.path, inv.cfg.ipam_type);
  if (!binary.ok()) return binary.error();
  inv.log("IPAM " + command + " via " + *binary);
  return RunIpam(*binary, command, inv.raw_env, inv.ipam_stdin, inv.opts.ipam_timeout);
}

// After a failed ADD: give the addresses back. Its own failure is logged, the
// ADD's error is what the runtime hears.
void ReleaseIpam(const Invocation& inv) {
  if (inv.cfg.ipam_type.empty()) return;
  auto r = Ipam(inv, "DEL");
  inv.log(r.ok() ? "released the IPAM allocation" : "could not release the IPAM allocation: " + r.error().msg);
}

PluginOutput Add(const Invocation& inv) {
  const std::string& version = inv.cfg.cni_version;
  IpamResult ipam;
  if (!inv.cfg.ipam_type.empty()) {
    auto out = Ipam(inv, "ADD");
    if (!out.ok()) return Fail(out.error(), version, &inv.log);
    const json j = json::parse(*out, nullptr, false);
    auto parsed = ParseResult(j, "the IPAM plugin's result");
    if (!parsed.ok()) {
      ReleaseIpam(inv);
      return Fail(parsed.error(), version, &inv.log);
    }
    ipam = std::move(*parsed);
  }

  PortAddRequest req;
  req.name = inv.port_name;
  req.ifname = inv.env.ifname;
  req.netns = inv.env.netns;
  req.vni = inv.cfg.vni;
  req.mtu = inv.cfg.mtu;
  for (const IpConfig& ip : ipam.ips) req.addresses.push_back(ip.address);
  req.routes = PortRoutes(ipam);
  std::string addrs;
  for (const std::string& a : req.addresses) addrs += " " + a;
  inv.log("port-add " + req.name + " vni " + std::to_string(req.vni) + " addresses" + (addrs.empty() ? " none" : addrs));
  MflowdClient mflowd(inv.cfg.socket, inv.opts.mflowd_timeout_ms);
  auto port = mflowd.PortAdd(req);
  if (!port.ok()) {
    ReleaseIpam(inv);
    return Fail(port.error(), version, &inv.log);
  }

  AddResult r;
  r.ifname = port->ifname.empty() ? inv.env.ifname : port->ifname;
  r.mac = port->mac;
  r.sandbox = inv.env.netns;
  r.ips = ipam.ips;
  r.routes = req.routes;
  r.dns = inv.cfg.dns ? inv.cfg.dns : ipam.dns;
  inv.log("added port " + req.name + " mac " + r.mac);
  return {0, BuildResult(r, version).dump() + "\n"};
}

PluginOutput Del(const Invocation& inv) {
  const std::string& version = inv.cfg.cni_version;
  MflowdClient mflowd(inv.cfg.socket, inv.opts.mflowd_timeout_ms);
  auto del = mflowd.PortDel(inv.port_name);
  if (del.ok()) {
    switch (*del) {
      case PortDelOutcome::kDeleted: inv.log("deleted port " + inv.port_name); break;
      case PortDelOutcome::kAlreadyGone: inv.log("port " + inv.port_name + " was already gone"); break;
      case PortDelOutcome::kDaemonNotRunning:
        inv.log("mflowd is not running at " + inv.cfg.socket + ": port " + inv.port_name + " is gone with it");
        break;
    }
  }
  // The allocation is released whatever happened to the port: a port that
  // could not be deleted now is retried by the runtime's next DEL, an
  // address held by a dead container would never come back.
  if (!inv.cfg.ipam_type.empty()) {
    auto ipam = Ipam(inv, "DEL");
    if (!ipam.ok()) return Fail(ipam.error(), version, &inv.log);
  }
  if (!del.ok()) return Fail(del.error(), version, &inv.log);
  return {0, ""};
}

PluginOutput Check(const Invocation& inv) {
  const std::string& version = inv.cfg.cni_version;
  if (VersionLess(version, "0.4.0"))
    return Fail({kIncompatibleVersion, "CHECK needs cniVersion 0.4.0 or later, the config says " + version, ""},
                version, &inv.log);
  if (!inv.cfg.prev_result)
    return Fail({kInvalidConfig, "invalid network config: field \"prevResult\" is required for CHECK", ""}, version,
                &inv.log);
  auto prev = ParseResult(*inv.cfg.prev_result, "prevResult");
  if (!prev.ok()) {
    CniError e = prev.error();
    e.code = kInvalidConfig;
    e.msg = "invalid network config: " + e.msg;
    return Fail(e, version, &inv.log);
  }
  if (auto it = inv.cfg.prev_result->find("interfaces"); it != inv.cfg.prev_result->end() && it->is_array()) {
    const bool named = std::any_of(it->begin(), it->end(), [&](const json& i) {
      return i.is_object() && i.value("name", "") == inv.env.ifname;
    });
    if (!named)
      return Fail({kCheckMismatch, "prevResult has no interface named " + inv.env.ifname + " (CNI_IFNAME)", ""},
                  version, &inv.log);
  }

  MflowdClient mflowd(inv.cfg.socket, inv.opts.mflowd_timeout_ms);
  auto port = mflowd.FindPort(inv.port_name);
  if (!port.ok()) return Fail(port.error(), version, &inv.log);
  if (!port->has_value())
    return Fail({kCheckMismatch, "mflowd has no port " + inv.port_name, "socket " + inv.cfg.socket}, version, &inv.log);
  const json& p = **port;
  if (p.contains("netns") && p["netns"].is_string() && !SameNetns(p["netns"].get<std::string>(), inv.env.netns))
    return Fail({kCheckMismatch,
                 "port " + inv.port_name + " is in " + p["netns"].get<std::string>() + ", not CNI_NETNS " +
                     inv.env.netns,
                 ""},
                version, &inv.log);
  if (p.contains("ifname") && p["ifname"].is_string() && p["ifname"].get<std::string>() != inv.env.ifname)
    return Fail({kCheckMismatch,
                 "port " + inv.port_name + " is device " + p["ifname"].get<std::string>() + ", not CNI_IFNAME " +
                     inv.env.ifname,
                 ""},
                version, &inv.log);
  if (p.contains("vni") && p["vni"].is_number_unsigned() && p["vni"].get<uint32_t>() != inv.cfg.vni)
    return Fail({kCheckMismatch,
                 "port " + inv.port_name + " is on VNI " + std::to_string(p["vni"].get<uint32_t>()) +
                     ", the config says " + std::to_string(inv.cfg.vni),
                 ""},
                version, &inv.log);
  std::vector<std::string> have;
  if (auto a = p.find("addresses"); a != p.end() && a->is_array()) {
    for (const json& s : *a)
      if (s.is_string()) have.push_back(s.get<std::string>());
  } else if (p.contains("address") && p["address"].is_string() && !p["address"].get<std::string>().empty()) {
    have.push_back(p["address"].get<std::string>());
  }
  std::string missing;
  for (const IpConfig& ip : prev->ips)
    if (std::find(have.begin(), have.end(), ip.address) == have.end()) missing += " " + ip.address;
  if (!missing.empty())
    return Fail({kCheckMismatch, "port " + inv.port_name + " lacks prevResult's address(es)" + missing, ""}, version,
                &inv.log);

  if (!inv.cfg.ipam_type.empty()) {
    auto ipam = Ipam(inv, "CHECK");
    if (!ipam.ok()) return Fail(ipam.error(), version, &inv.log);
  }
  inv.log("port " + inv.port_name + " checks out");
  return {0, ""};
}

PluginOutput Version(const std::string& stdin_text) {
  const std::string asked = PeekCniVersion(stdin_text);
  const json out = {{"cniVersion", VersionSupported(asked) ? asked : SupportedVersions().back()},
                    {"supportedVersions", SupportedVersions()}};
  return {0, out.dump() + "\n"};
}

}  // namespace

PluginOutput RunPlugin(const EnvMap& raw_env, const std::string& stdin_text, const PluginOptions& opts) {
  // Errors before the config is understood still answer in the caller's version when it is one we speak.
  const std::string peeked = PeekCniVersion(stdin_text);
  const std::string early_version = VersionSupported(peeked) ? peeked : SupportedVersions().back();
  const auto command = raw_env.find("CNI_COMMAND");
  const Log early_log(opts.log, "", command == raw_env.end() ? "(no CNI_COMMAND)" : command->second);

  auto env = ParseCniEnv(raw_env);
  if (!env.ok()) return Fail(env.error(), early_version, &early_log);
  if (env->command == "VERSION") return Version(stdin_text);

  auto cfg = ParseNetConfig(stdin_text);
  if (!cfg.ok()) return Fail(cfg.error(), early_version, &early_log);

  const Log log(opts.log, cfg->log_file,
                env->command + " " + cfg->name + " " + env->container_id.substr(0, 12) + " " + env->ifname);
  std::string ipam_stdin = cfg->raw;
  if (WantsStoreRange(cfg->raw)) {
    // host-local without a range: the host's subnet from mflowd (store mode).
    auto net = MflowdClient(cfg->socket, opts.mflowd_timeout_ms).Subnet();
    if (net.ok()) {
      auto filled = WithStoreRange(cfg->raw, net->first, net->second);
      if (!filled.ok()) return Fail(filled.error(), cfg->cni_version, &log);
      ipam_stdin = std::move(*filled);
      log("IPAM range from the host's subnet " + net->first + " in " + net->second);
    } else if (env->command == "ADD") {
      return Fail(net.error(), cfg->cni_version, &log);
    } else {
      // DEL/CHECK without mflowd's answer: host-local releases and checks by
      // container id whatever the range, so any valid one does.
      log("no subnet from mflowd (" + net.error().msg + "): IPAM gets a placeholder range");
      auto filled = WithStoreRange(cfg->raw, "10.255.255.0/24", "10.255.255.0/24");
      if (filled.ok()) ipam_stdin = std::move(*filled);
    }
  }
  const Invocation inv{*env, raw_env, *cfg, opts, log, PortName(env->container_id, env->ifname),
                       std::move(ipam_stdin)};
  if (env->command == "ADD") return Add(inv);
  if (env->command == "DEL") return Del(inv);
  return Check(inv);
}

}  // namespace mflow::cni
