#include "cni/mflowd_client.h"

#include <sys/socket.h>
#include <sys/un.h>

#include "control/control_client.h"
#include "control/socket_path.h"
#include "control/unique_fd.h"

namespace mflow::cni {
namespace {

using nlohmann::json;

}  // namespace

bool MflowdClient::Listening() const {
  sockaddr_un addr{};
  if (!FillSocketAddress(socket_, &addr).ok()) return false;
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) return true;  // cannot tell: assume it is there
  const int rc = ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  // EAGAIN: the backlog is full, so someone is listening (and busy).
  return rc == 0 || (errno != ENOENT && errno != ECONNREFUSED && errno != ENOTDIR);
}

CniOr<json> MflowdClient::Call(const json& request, std::string* code) const {
  code->clear();
  const std::string cmd = request.value("cmd", "");
  auto reply = ControlRequest(socket_, request, timeout_ms_);
  if (!reply.ok()) {
    if (!Listening()) {
      *code = "not_running";
      return CniError{kTryAgainLater, "mflowd is not running: " + reply.status().message(), "socket " + socket_};
    }
    return CniError{kTryAgainLater, "mflowd did not answer " + cmd + ": " + reply.status().message(), ""};
  }
  if (!reply->is_object()) return CniError{kMflowdRefused, "mflowd's reply to " + cmd + " is not a JSON object", ""};
  if (reply->value("ok", false)) return std::move(*reply);
  *code = reply->value("code", "");
  const std::string msg = "mflowd refused " + cmd + ": " + reply->value("error", "(no reason given)");
  if (*code == "busy") return CniError{kTryAgainLater, msg, "mflowd code busy"};
  if (*code == "exists") return CniError{kInterfaceExists, msg, "mflowd code exists"};
  return CniError{kMflowdRefused, msg, code->empty() ? "" : "mflowd code " + *code};
}

CniOr<PortAddReply> MflowdClient::PortAdd(const PortAddRequest& req) const {
  json routes = json::array();
  for (const RouteConfig& r : req.routes) {
    json e = {{"dst", r.dst}};
    if (!r.gw.empty()) e["gw"] = r.gw;
    routes.push_back(std::move(e));
  }
  // gateway "none": every route the container gets is one the IPAM plugin
  // returned; mflowd adds no default route of its own.
  const json request = {{"cmd", "port-add"}, {"name", req.name},          {"ifname", req.ifname},
                        {"netns", req.netns}, {"vni", req.vni},           {"addresses", req.addresses},
                        {"mac", ""},          {"gateway", "none"},        {"routes", std::move(routes)},
                        {"mtu", req.mtu}};
  std::string code;
  auto reply = Call(request, &code);
  if (!reply.ok()) {
    if (code == "not_found") {
      CniError e = reply.error();
      e.code = kNetnsNotFound;
      return e;
    }
    return reply.error();
  }
  PortAddReply out;
  out.mac = reply->value("mac", "");
  out.ifname = reply->value("ifname", req.ifname);
  if (out.mac.empty()) {
    // An mflowd that predates the port API's reply fields: read it from the listing.
    auto port = FindPort(req.name);
    if (port.ok() && port->has_value()) out.mac = (**port).value("mac", "");
  }
  return out;
}

CniOr<PortDelOutcome> MflowdClient::PortDel(const std::string& name) const {
  std::string code;
  auto reply = Call({{"cmd", "port-del"}, {"name", name}}, &code);
  if (reply.ok()) return PortDelOutcome::kDeleted;
  if (code == "not_found") return PortDelOutcome::kAlreadyGone;
  if (code == "not_running") return PortDelOutcome::kDaemonNotRunning;
  return reply.error();
}

CniOr<std::pair<std::string, std::string>> MflowdClient::Subnet() const {
  std::string code;
  auto reply = Call({{"cmd", "subnet"}}, &code);
  if (!reply.ok()) return reply.error();
  const std::string subnet = reply->value("subnet", ""), network = reply->value("network", "");
  if (subnet.empty() || network.empty())
    return CniError{kMflowdRefused, "mflowd's subnet reply has no subnet or network", ""};
  return std::pair{subnet, network};
}

CniOr<std::optional<json>> MflowdClient::FindPort(const std::string& name) const {
  std::string code;
  auto reply = Call({{"cmd", "ports"}}, &code);
  if (!reply.ok()) return reply.error();
  const auto it = reply->find("ports");
  if (it == reply->end() || !it->is_array()) return CniError{kMflowdRefused, "mflowd's ports reply has no list", ""};
  for (const json& p : *it)
    if (p.is_object() && p.value("name", "") == name) return std::optional<json>(p);
  return std::optional<json>();
}

}  // namespace mflow::cni
