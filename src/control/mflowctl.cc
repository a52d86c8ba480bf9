// mflowctl: query and configure a running mflowd over its control socket.
//
// Each subcommand sends one request (docs/MFLOWCTL.md lists them) and prints
// the reply as tables (render.h), or as the daemon's raw JSON with --json.
// Exit status: 0 on success, 1 when mflowd cannot be reached or answers
// {"ok":false}, with the reason on stderr; CLI11's codes for usage errors.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/build_info.h"
#include "control/control_client.h"
#include "control/control_server.h"
#include "control/render.h"

namespace {

using nlohmann::json;
using mflow::ctl::RenderStats;

struct PortAddArgs {
  std::string name, ifname, netns, mac, gateway;
  std::vector<std::string> addresses, routes;
  uint32_t vni = 0;
  std::optional<uint32_t> mtu;
};

// "DST" or "DST,via=GW" as the request's {"dst", "gw"}; the daemon checks
// the addresses themselves.
std::optional<json> ParseRouteArg(const std::string& arg) {
  const size_t comma = arg.find(',');
  const std::string dst = arg.substr(0, comma);
  if (dst.empty()) return std::nullopt;
  if (comma == std::string::npos) return json{{"dst", dst}};
  const std::string rest = arg.substr(comma + 1);
  if (rest.rfind("via=", 0) != 0 || rest.size() == 4) return std::nullopt;
  return json{{"dst", dst}, {"gw", rest.substr(4)}};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"mflowctl: query and configure mflowd, the mflow VXLAN data plane"};
  std::string socket_path = mflow::kDefaultControlSocket;
  bool raw = false;
  int timeout_ms = 5000;
  app.set_version_flag("--version",
                       std::string("mflowctl ") + mflow::BuildVersion() + " (commit " + mflow::BuildCommit() + ")",
                       "print the version and the commit it was built from, and exit");
  app.add_option("--socket", socket_path, "mflowd's control socket")->capture_default_str();
  app.add_flag("--json", raw, "print the daemon's JSON reply as it is (pretty)");
  app.add_option("--timeout", timeout_ms, "milliseconds to wait for mflowd's reply")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600 * 1000));
  app.require_subcommand(1);
  app.fallthrough();  // global options after the subcommand too: mflowctl stats --json

  // The request to send and how to show its reply, set by the subcommand.
  json request;
  std::function<std::string(const json&)> render;
  auto simple = [&](const char* name, const char* help, std::function<std::string(const json&)> r) {
    CLI::App* sub = app.add_subcommand(name, help);
    sub->callback([&request, &render, name, r] {
      request = {{"cmd", name}};
      render = r;
    });
    return sub;
  };
  simple("status", "daemon version, mode, addresses, MTUs, offloads", mflow::ctl::RenderStatus);
  simple("ports", "container ports (TAP devices) with their counters", mflow::ctl::RenderPorts);
  simple("peers", "remote VTEPs with their counters, and underlay drops", mflow::ctl::RenderPeers);
  simple("fdb", "forwarding database: (VNI, MAC) -> port or VTEP", mflow::ctl::RenderFdb);
  simple("flows", "flows in the engines: micro-flow and merge statistics", mflow::ctl::RenderFlows);
  simple("store", "the etcd store: health per endpoint, revision, refusals, and its hosts",
         mflow::ctl::RenderStore);
  simple("subnet", "this host's subnet from the store (what the CNI plugin's IPAM uses)",
         [](const json& r) { return r.value("subnet", "") + "\n"; });
  simple("reload", "read the config again; apply peers, local address, log level",
         mflow::ctl::RenderReload);
  bool drops_only = false;
  CLI::App* stats = simple("stats", "engine statistics: stages, workers, drops",
                           [&drops_only](const json& r) { return RenderStats(r, drops_only); });
  stats->add_flag("--drops", drops_only, "show only the non-zero drops, by engine, stage and reason");

  CLI::App* port = app.add_subcommand("port", "add or delete a container port");
  port->require_subcommand(1);
  PortAddArgs add;
  CLI::App* port_add = port->add_subcommand("add", "create a TAP port in a network namespace");
  port_add->add_option("name", add.name, "port name, unique in mflowd (1..128 of A-Za-z0-9._:/-)")
      ->required();
  port_add->add_option("--ifname", add.ifname, "device name in the namespace (default: the port name)");
  port_add->add_option("--netns", add.netns, "network namespace path, e.g. /var/run/netns/c1")->required();
  port_add->add_option("--vni", add.vni, "VXLAN network identifier")->required()->check(CLI::Range(0, 0xFFFFFF));
  port_add->add_option("--address", add.addresses,
                       "IPv4/IPv6 address with prefix, e.g. 198.19.0.1/24 (repeat for more)")
      ->allow_extra_args(false);
  port_add->add_option("--route", add.routes,
                       "extra route DST[,via=GW], e.g. fd00:1::/64,via=fd00::1 (repeat; no via: on-link)")
      ->allow_extra_args(false);
  port_add->add_option("--mac", add.mac, "MAC address (default: chosen by mflowd)");
  port_add->add_option("--mtu", add.mtu, "MTU (default: the inner MTU)")->check(CLI::Range(68, 65535));
  port_add->add_option("--gateway", add.gateway,
                       "default route via this address; none: no default route "
                       "(default: on-link, per family with an address)");
  port_add->callback([&] {
    request = {{"cmd", "port-add"}, {"name", add.name}, {"netns", add.netns}, {"vni", add.vni}};
    if (!add.ifname.empty()) request["ifname"] = add.ifname;
    if (!add.addresses.empty()) request["addresses"] = add.addresses;
    if (!add.routes.empty()) {
      json routes = json::array();
      for (const std::string& r : add.routes) {
        auto route = ParseRouteArg(r);
        if (!route) throw CLI::ValidationError("--route", "'" + r + "': expected DST or DST,via=GW");
        routes.push_back(*route);
      }
      request["routes"] = routes;
    }
    if (!add.mac.empty()) request["mac"] = add.mac;
    if (add.mtu) request["mtu"] = *add.mtu;
    if (!add.gateway.empty()) request["gateway"] = add.gateway;
    render = [&add](const json& r) { return mflow::ctl::RenderPortAdd(r, add.name); };
  });
  std::string del_name;
  CLI::App* port_del = port->add_subcommand("del", "remove a port");
  port_del->add_option("name", del_name, "interface name")->required();
  port_del->callback([&] {
    request = {{"cmd", "port-del"}, {"name", del_name}};
    render = [&del_name](const json& r) { return mflow::ctl::RenderPortDel(r, del_name); };
  });

  CLI11_PARSE(app, argc, argv);

  auto reply = mflow::ControlRequest(socket_path, request, timeout_ms);
  if (!reply.ok()) {
    std::fprintf(stderr, "mflowctl: %s\n", reply.status().message().c_str());
    return 1;
  }
  const bool ok = reply->is_object() && reply->value("ok", false) == true;
  if (raw) {
    std::cout << reply->dump(2, ' ', false, json::error_handler_t::replace) << "\n";
  } else if (ok) {
    std::cout << render(*reply);
  }
  if (!ok) {
    const json& r = *reply;
    const std::string error = r.is_object() && r.contains("error") && r["error"].is_string()
                                  ? r["error"].get<std::string>()
                                  : "mflowd replied without \"ok\": " + r.dump();
    std::fprintf(stderr, "mflowctl: %s\n", error.c_str());
    return 1;
  }
  return 0;
}
