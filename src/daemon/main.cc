// mflowd: the overlay data plane of one host (daemon.h). Reads its config
// (a TOML file, else the embedded default), applies flags on top, creates
// the underlay socket and the container ports, runs the engine, answers
// mflowctl on the control socket, and on SIGTERM/SIGINT stops cleanly:
// everything in flight is delivered or counted, every TAP it made is gone.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>

#include "common/build_info.h"
#include "control/control_server.h"
#include "daemon/config.h"
#include "daemon/daemon.h"
#include "daemon/log.h"

using namespace mflow;
using namespace mflow::daemon;

namespace {

struct Flags {
  std::string config_file;
  bool print_default = false;
  bool check_only = false;
  std::string mode, local, control, log_level, log_format, placement, metrics;
  std::string encrypt;  // key file of [[underlay.esp]] tables (docs/ESP.md)
  std::vector<std::string> peers, ports;
  std::vector<uint32_t> vnis;
  std::vector<int> cpus;
  uint32_t workers = 0, microflow_size = 0, mtu = 0, stats_interval = 0, idle_polls = 0;
  int64_t idle_poll_us = -1;
  bool no_gso = false, no_gro = false, no_tso = false, no_coalesce = false;
  uint32_t tap_txqueuelen = 0;
  // [store]
  std::vector<std::string> etcd_endpoints;
  std::string etcd_cafile, etcd_certfile, etcd_keyfile, etcd_prefix, host_id;
  uint32_t lease_ttl = 0;
};

// Flags override the file: a list flag replaces the file's list (except
// --port, which adds ports).
Status ApplyFlags(const Flags& f, Config& c) {
  if (!f.mode.empty()) {
    const auto m = ParseSteeringMode(f.mode);
    if (!m) return Status::Error("--mode: '" + f.mode + "' is not one of flow, stage, microflow");
    c.mode = *m;
  }
  if (!f.placement.empty()) {
    const auto m = ParsePlacement(f.placement);
    if (!m) return Status::Error("--placement: '" + f.placement + "' is not one of auto, home, spread");
    c.placement = *m;
  }
  if (!f.local.empty()) {
    const auto a = wire::IpAddr::Parse(f.local);
    if (!a) return Status::Error("--local: '" + f.local + "' is not an IP address");
    c.local = *a;
  }
  if (!f.peers.empty()) {
    c.peers.clear();
    for (const std::string& p : f.peers) {
      const auto a = wire::IpAddr::Parse(p);
      if (!a) return Status::Error("--peer: '" + p + "' is not an IP address");
      c.peers.push_back(*a);
    }
  }
  if (!f.vnis.empty()) c.vnis = f.vnis;
  for (const std::string& spec : f.ports) {
    auto p = ParsePortSpec(spec);
    if (!p.ok()) return p.status();
    c.ports.push_back(*p);
  }
  if (!f.cpus.empty()) c.cpus = f.cpus;
  if (f.workers != 0) c.workers = f.workers;
  if (f.microflow_size != 0) c.microflow_size = f.microflow_size;
  if (f.idle_polls != 0) c.idle_polls = f.idle_polls;
  if (f.idle_poll_us >= 0) c.idle_poll_us = static_cast<uint32_t>(f.idle_poll_us);
  if (f.mtu != 0) c.mtu = f.mtu;
  if (f.stats_interval != 0) c.stats_interval_s = f.stats_interval;
  if (!f.control.empty()) c.control_socket = f.control;
  if (!f.metrics.empty()) {
    if (Status s = CheckMetricsAddress(f.metrics); !s.ok()) return Status::Error("--metrics: " + s.message());
    c.metrics = f.metrics;
  }
  if (!f.log_level.empty()) c.log_level = f.log_level;
  if (!f.log_format.empty()) c.log_format = f.log_format;
  if (f.no_gso) c.gso = false;
  if (f.no_gro) c.gro = false;
  if (f.no_tso) c.tso = false;
  if (f.no_coalesce) c.coalesce = false;
  if (f.tap_txqueuelen != 0) c.tap_txqueuelen = f.tap_txqueuelen;
  if (!f.encrypt.empty()) {  // read again at every reload: a rekey edits the file
    auto keys = LoadEspKeyFile(f.encrypt);
    if (!keys.ok()) return keys.status();
    c.esp.insert(c.esp.end(), keys->begin(), keys->end());
  }
  if (!f.etcd_endpoints.empty()) c.store.endpoints = f.etcd_endpoints;
  for (auto [flag, field] : {std::pair{&f.etcd_cafile, &c.store.cafile},
                             std::pair{&f.etcd_certfile, &c.store.certfile},
                             std::pair{&f.etcd_keyfile, &c.store.keyfile},
                             std::pair{&f.etcd_prefix, &c.store.prefix},
                             std::pair{&f.host_id, &c.store.host_id}})
    if (!flag->empty()) *field = *flag;
  if (f.lease_ttl != 0) c.store.lease_ttl_s = f.lease_ttl;
  // The embedded default's peer is the testbed's host B: with the store the
  // peers come from etcd, so only peers given on purpose stay.
  if (c.store.enabled() && f.config_file.empty() && f.peers.empty()) c.peers.clear();
  return Validate(c);
}

// The file (or the embedded default) with the flags on top, validated: at
// start and at every reload, so flags keep winning over the file.
StatusOr<Config> LoadConfig(const Flags& f) {
  auto cfg = f.config_file.empty() ? ParseConfig(DefaultConfigText(), "default")
                                   : LoadConfigFile(f.config_file);
  if (!cfg.ok()) return Status::Error("config: " + cfg.status().message());
  Config c = *cfg;
  if (Status s = ApplyFlags(f, c); !s.ok()) return s;
  return c;
}

void LogReload(StatusOr<Daemon::ReloadResult> r) {
  if (!r.ok()) {
    LogError("reload refused: running config kept", {{"error", r.status().message()}});
    return;
  }
  auto join = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ",") + x;
    return s;
  };
  LogInfo("config reloaded", {{"applied", join(r->applied)}});
  if (!r->needs_restart.empty())
    LogWarn("changed settings that need a restart were not applied",
            {{"settings", join(r->needs_restart)}});
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"mflowd: userspace VXLAN data plane that spreads one flow over several cores "
               "and delivers it in order"};
  Flags f;
  app.set_version_flag("--version", std::string("mflowd ") + BuildVersion() + " (commit " + BuildCommit() + ")",
                       "print the version and the commit it was built from, and exit");
  app.add_option("-c,--config", f.config_file, "TOML config file (default: the embedded one)")
      ->check(CLI::ExistingFile);
  app.add_flag("--print-default-config", f.print_default, "print the embedded config and exit");
  app.add_flag("--check-config", f.check_only, "validate the config and flags, then exit");
  app.add_option("--mode", f.mode, "steering mode: flow | stage | microflow");
  app.add_option("--workers", f.workers, "worker threads (both directions share them)")->check(CLI::Range(1, 64));
  app.add_option("--cpus", f.cpus, "pin workers to these CPUs")->delimiter(',');
  app.add_option("--microflow-size", f.microflow_size, "packets per micro-flow")
      ->check(CLI::Range(1, 256));
  app.add_option("--idle-polls", f.idle_polls, "empty polls of the ports before blocking in them")
      ->check(CLI::Range(1, 1 << 20));
  app.add_option("--idle-poll-us", f.idle_poll_us,
                 "and at least this long (microseconds) before blocking; 0 = rounds only")
      ->check(CLI::Range(0, 1000000));
  app.add_option("--placement", f.placement,
                 "microflow mode, beside an elephant: auto (measured) | home | spread");
  app.add_option("--local", f.local, "underlay address (our VTEP)");
  app.add_option("--peer", f.peers, "peer VTEP (repeat; replaces the config's list)");
  app.add_option("--vni", f.vnis, "VNI (repeat; replaces the config's list)")
      ->check(CLI::Range(1, 0xffffff));
  app.add_option("--underlay-mtu", f.mtu, "underlay MTU (inner MTU = this - 50)")
      ->check(CLI::Range(1280, 9216));
  app.add_option("--port", f.ports,
                 "container port: name=N,netns=PATH,vni=V[,ifname=DEV][,address=A/P]..."
                 "[,mac=M][,mtu=N][,gateway=IP|none][,route=DST[,via=GW]]... (repeat; address "
                 "and route repeat within a spec)");
  app.add_option("--control", f.control, "control socket path");
  app.add_option("--log-level", f.log_level, "debug | info | warn | error");
  app.add_option("--log-format", f.log_format, "text | json");
  app.add_option("--stats-interval", f.stats_interval, "log counters every N seconds");
  app.add_option("--metrics", f.metrics,
                 "serve Prometheus metrics on http://ADDRESS:PORT/metrics (e.g. 127.0.0.1:9464)");
  app.add_option("--etcd-endpoints", f.etcd_endpoints,
                 "etcd endpoints (comma-separated URLs): peers, subnets and containers from the "
                 "store (docs/STORE.md)")
      ->delimiter(',');
  app.add_option("--etcd-cafile", f.etcd_cafile, "CA bundle to verify etcd's certificate");
  app.add_option("--etcd-certfile", f.etcd_certfile, "client certificate for etcd");
  app.add_option("--etcd-keyfile", f.etcd_keyfile, "client key for etcd");
  app.add_option("--etcd-prefix", f.etcd_prefix, "key prefix of the overlay (default /mflow/network/)");
  app.add_option("--host-id", f.host_id, "this host's stable id in the store (default: /etc/machine-id)");
  app.add_option("--subnet-lease-ttl", f.lease_ttl, "seconds a dead host's subnet outlives it")
      ->check(CLI::Range(2, 3600));
  app.add_flag("--no-gso", f.no_gso, "do not use UDP_SEGMENT on the underlay");
  app.add_flag("--no-gro", f.no_gro, "do not use UDP_GRO on the underlay");
  app.add_flag("--no-tso", f.no_tso, "do not offer checksum/TSO offload on the TAPs");
  app.add_flag("--no-coalesce", f.no_coalesce, "no software GRO towards the containers");
  app.add_option("--tap-txqueuelen", f.tap_txqueuelen,
                 "frames a container's TAP holds for mflowd before the kernel drops (default 1000)")
      ->check(CLI::Range(16, 1 << 16));
  app.add_option("--encrypt", f.encrypt,
                 "key file of [[underlay.esp]] tables (encrypted peers; mode 600; re-read on reload)");
  CLI11_PARSE(app, argc, argv);

  if (f.print_default) {
    std::cout << DefaultConfigText();
    return 0;
  }
  auto cfg = LoadConfig(f);
  if (!cfg.ok()) {
    std::cerr << "mflowd: " << cfg.status().message() << "\n";
    return 2;
  }
  const Config c = *cfg;
  if (Status s = LogInit(c.log_level, c.log_format); !s.ok()) {
    std::cerr << "mflowd: " << s.message() << "\n";
    return 2;
  }
  if (f.check_only) {
    std::cout << "config ok\n";
    return 0;
  }

  // Signals are taken synchronously by this thread (sigtimedwait): block
  // them before any thread starts so that every thread inherits the mask.
  sigset_t sigs;
  sigemptyset(&sigs);
  for (int s : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&sigs, s);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto d = Daemon::Create(c);
  if (!d.ok()) {
    LogError("start failed", {{"error", d.status().message()}});
    return 1;
  }
  Daemon& daemon = **d;
  daemon.SetConfigSource([f] { return LoadConfig(f); });
  auto ctl = ControlServer::Start(c.control_socket,
                                  [&daemon](const nlohmann::json& r) { return daemon.Handle(r); });
  if (!ctl.ok()) {
    LogError("start failed", {{"error", ctl.status().message()}});
    return 1;
  }
  std::unique_ptr<MetricsServer> metrics;
  if (!c.metrics.empty()) {
    auto collector = std::make_shared<MetricsCollector>([&daemon] { return daemon.Metrics(); });
    auto m = MetricsServer::Start(c.metrics, std::move(collector));
    if (!m.ok()) {
      LogError("start failed", {{"error", "daemon.metrics: " + m.status().message()}});
      return 1;
    }
    metrics = std::move(m).value();
    LogInfo("serving metrics", {{"address", c.metrics}, {"port", metrics->port()}});
  }
  daemon.Start();
  std::string peers;
  for (const auto& p : c.peers) peers += (peers.empty() ? "" : ",") + p.ToString();
  LogInfo("mflowd started", {{"mode", std::string(SteeringModeName(c.mode))},
                             {"workers", c.workers},
                             {"local", c.local.ToString()},
                             {"port", c.port},
                             {"peers", peers},
                             {"inner_mtu", c.inner_mtu()},
                             {"control", c.control_socket},
                             {"pid", static_cast<int64_t>(getpid())}});

  // One wake-up a second for housekeeping (ports whose device went away),
  // and the stats line every stats_interval_s.
  auto next_stats = std::chrono::steady_clock::now() + std::chrono::seconds(c.stats_interval_s);
  for (;;) {
    timespec ts{1, 0};
    siginfo_t info;
    const int sig = sigtimedwait(&sigs, &info, &ts);
    daemon.Maintain();
    if (sig == SIGTERM || sig == SIGINT) {
      LogInfo("stopping", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
      break;
    }
    if (sig == SIGHUP) {
      LogInfo("reloading", {{"signal", "SIGHUP"}});
      LogReload(daemon.Reload());
      continue;
    }
    if (c.stats_interval_s != 0 && std::chrono::steady_clock::now() >= next_stats) {
      daemon.LogStats();
      next_stats += std::chrono::seconds(c.stats_interval_s);
    }
  }
  ctl->reset();  // no requests while we tear down
  metrics.reset();  // nor scrapes
  daemon.Stop();
  LogInfo("mflowd stopped", {{"out_of_order", daemon.out_of_order()}});
  return 0;
}
