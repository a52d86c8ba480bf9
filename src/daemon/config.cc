#include "daemon/config.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <set>
#include <sstream>
#include <utility>

#include <toml++/toml.h>

#include "common/errno_text.h"
#include "daemon/metrics.h"
#include "daemon/store_config_toml.h"

namespace mflow::daemon {
namespace {

constexpr std::string_view kDefault = R"(# mflowd's embedded default configuration: host A of the built-in testbed
# (scripts/testbed.sh). Copy it with `mflowd --print-default-config`.

[daemon]
control_socket = "/run/mflow/mflowd.sock"  # root only (mode 0600)
log_level = "info"                         # debug | info | warn | error
log_format = "text"                        # text (logfmt) | json
stats_interval_s = 0                       # counters in the log every N s; 0 = off
# metrics = "127.0.0.1:9464"               # Prometheus /metrics on ADDRESS:PORT; off by default

[engine]
mode = "microflow"      # flow | stage | microflow
workers = 2             # worker threads (both directions share them)
cpus = []               # pin worker i to cpus[i % n]; empty = no pinning
microflow_size = 128    # packets per micro-flow (BENCHMARKS.md)
merge_depth = 16        # micro-flows in flight per flow
elephant_pps = 20000    # split flows faster than this; 0 = split all
idle_polls = 4          # empty polls of the ports before a worker blocks in them,
idle_poll_us = 100      # and at least this long, in microseconds (BENCHMARKS.md)
placement = "auto"      # microflow mode, beside an elephant: auto (measured) | home | spread

[underlay]
local = "198.18.0.1"    # our VTEP address; the UDP socket binds here
port = 4789             # IANA VXLAN port
mtu = 1500              # inner MTU = mtu - 50 (IPv4) or - 70 (IPv6)
peers = ["198.18.0.2"]  # the only VTEPs we accept from and send to
gso = true              # UDP_SEGMENT on send (probed; falls back)
gro = true              # UDP_GRO on receive (probed; falls back)
socket_buffer = 8388608 # bytes of socket send/receive buffer

[overlay]
vnis = [42]
tso = true              # TAP checksum + TSO offload (probed; falls back)
coalesce = true         # software GRO towards the containers
tap_txqueuelen = 1000   # frames a TAP holds for mflowd before the kernel drops (docs/BACKPRESSURE.md)
fdb_size = 16384        # forwarding-table slots (a power of two): the bound
fdb_age_s = 300         # forwarding-table ageing (Linux bridge default)
flood_pps = 1000        # broadcast/unknown frames a container port may flood per second (0 = no limit)
flood_burst = 100       # ... in one burst

# Many hosts (docs/STORE.md): peers, subnets and containers from etcd; off without endpoints.
# [store]
# endpoints = ["http://198.18.0.254:2379"]
# cafile = ""                 # TLS: the CA, and a client certificate and key (both or neither)
# certfile = ""
# keyfile = ""
# prefix = "/mflow/network/"
# host_id = ""                # stable identity of this host; "" = /etc/machine-id
# lease_ttl_s = 30            # the subnet lease; a dead host leaves every peer table after it

# Container ports, created at start (more with `mflowctl port add`):
# [[port]]
# name = "c1"                 # the port's name in mflowd: 1..128 of A-Z a-z 0-9 . _ : / -
# ifname = "eth0"             # the device in the namespace (at most 15 bytes); default: name
# netns = "/var/run/netns/c1"
# vni = 42
# addresses = ["198.19.0.1/24", "fd00:198:19::1/64"]  # IPv4 and/or IPv6 ("address" = one more)
# mac = "02:00:00:00:00:01"   # default: 0a:58:<first IPv4> (kept across restarts);
#                             # IPv6 only: 0a:58:<last 4 bytes of the first IPv6>; random without
# gateway = ""                # "" = on-link default route per family; "none"; or via this address
# routes = [{ dst = "198.51.100.0/24", gw = "198.19.0.254" }, { dst = "fd00:1::/64" }]  # gw: on-link
)";

// Errors carry the dotted path of the field.
struct Err {
  std::string origin;
  Status operator()(const std::string& field, const std::string& what) const {
    return Status::Error(origin + ": " + field + ": " + what);
  }
};

Status CheckKeys(const toml::table& t, const std::string& where, const std::set<std::string>& known,
                 const Err& err) {
  for (const auto& [k, v] : t) {
    (void)v;
    const std::string key(k.str());
    if (!known.contains(key))
      return err(where.empty() ? key : where + "." + key, "unknown setting");
  }
  return Status::Ok();
}

template <typename T>
Status GetInt(const toml::table& t, const std::string& where, const char* key, T lo, T hi, T* out,
              const Err& err) {
  const toml::node* n = t.get(key);
  if (n == nullptr) return Status::Ok();
  const auto v = n->value<int64_t>();
  const std::string field = where + "." + key;
  if (!v || !n->is_integer()) return err(field, "must be an integer");
  if (*v < static_cast<int64_t>(lo) || *v > static_cast<int64_t>(hi))
    return err(field, std::to_string(*v) + " is out of range " + std::to_string(lo) + ".." +
                          std::to_string(hi));
  *out = static_cast<T>(*v);
  return Status::Ok();
}

Status GetBool(const toml::table& t, const std::string& where, const char* key, bool* out,
               const Err& err) {
  const toml::node* n = t.get(key);
  if (n == nullptr) return Status::Ok();
  if (!n->is_boolean()) return err(where + "." + key, "must be true or false");
  *out = *n->value<bool>();
  return Status::Ok();
}

Status GetString(const toml::table& t, const std::string& where, const char* key, std::string* out,
                 const Err& err) {
  const toml::node* n = t.get(key);
  if (n == nullptr) return Status::Ok();
  if (!n->is_string()) return err(where + "." + key, "must be a string");
  *out = *n->value<std::string>();
  return Status::Ok();
}

Status GetIp(const toml::node& n, const std::string& field, wire::IpAddr* out, const Err& err) {
  if (!n.is_string()) return err(field, "must be an IP address string");
  const std::string s = *n.value<std::string>();
  const auto a = wire::IpAddr::Parse(s);
  if (!a) return err(field, "'" + s + "' is not an IPv4 or IPv6 address");
  *out = *a;
  return Status::Ok();
}

#define MFLOW_TRY(expr)             \
  do {                              \
    if (Status s_ = (expr); !s_.ok()) return s_; \
  } while (0)

Status ParseDaemon(const toml::table& t, Config& c, const Err& err) {
  MFLOW_TRY(CheckKeys(t, "daemon",
                      {"control_socket", "log_level", "log_format", "stats_interval_s", "metrics"}, err));
  MFLOW_TRY(GetString(t, "daemon", "metrics", &c.metrics, err));
  MFLOW_TRY(GetString(t, "daemon", "control_socket", &c.control_socket, err));
  MFLOW_TRY(GetString(t, "daemon", "log_level", &c.log_level, err));
  MFLOW_TRY(GetString(t, "daemon", "log_format", &c.log_format, err));
  return GetInt<uint32_t>(t, "daemon", "stats_interval_s", 0, 86400, &c.stats_interval_s, err);
}

Status ParseEngine(const toml::table& t, Config& c, const Err& err) {
  MFLOW_TRY(CheckKeys(t, "engine",
                      {"mode", "workers", "cpus", "microflow_size", "merge_depth", "elephant_pps",
                       "idle_polls", "idle_poll_us", "placement", "mice_placement"},
                      err));
  if (t.contains("mice_placement"))
    return err("engine.mice_placement",
               "was renamed engine.placement (auto | home | spread): it now places elephants too");
  std::string mode(SteeringModeName(c.mode));
  MFLOW_TRY(GetString(t, "engine", "mode", &mode, err));
  const auto m = ParseSteeringMode(mode);
  if (!m) return err("engine.mode", "'" + mode + "' is not one of flow, stage, microflow");
  c.mode = *m;
  MFLOW_TRY(GetInt<uint32_t>(t, "engine", "workers", 1, 64, &c.workers, err));
  MFLOW_TRY(GetInt<uint32_t>(t, "engine", "microflow_size", 1, 256, &c.microflow_size, err));
  MFLOW_TRY(GetInt<uint32_t>(t, "engine", "merge_depth", 2, 4096, &c.merge_depth, err));
  MFLOW_TRY(GetInt<uint32_t>(t, "engine", "elephant_pps", 0, 1u << 30, &c.elephant_pps, err));
  MFLOW_TRY(GetInt<uint32_t>(t, "engine", "idle_polls", 1, 1u << 20, &c.idle_polls, err));
  MFLOW_TRY(GetInt<uint32_t>(t, "engine", "idle_poll_us", 0, 1000000, &c.idle_poll_us, err));
  std::string placement(PlacementName(c.placement));
  MFLOW_TRY(GetString(t, "engine", "placement", &placement, err));
  const auto mp = ParsePlacement(placement);
  if (!mp) return err("engine.placement", "'" + placement + "' is not one of auto, home, spread");
  c.placement = *mp;
  if (const toml::node* n = t.get("cpus")) {
    const toml::array* a = n->as_array();
    if (a == nullptr) return err("engine.cpus", "must be a list of CPU numbers");
    c.cpus.clear();
    for (const auto& e : *a) {
      if (!e.is_integer() || *e.value<int64_t>() < 0 || *e.value<int64_t>() > 4095)
        return err("engine.cpus", "every entry must be a CPU number 0..4095");
      c.cpus.push_back(static_cast<int>(*e.value<int64_t>()));
    }
  }
  return Status::Ok();
}

Status ParseUnderlay(const toml::table& t, Config& c, const Err& err) {
  MFLOW_TRY(CheckKeys(t, "underlay",
                      {"local", "port", "mtu", "peers", "gso", "gro", "socket_buffer", "esp", "esp_port"},
                      err));
  MFLOW_TRY(GetInt<uint16_t>(t, "underlay", "esp_port", 1, 65535, &c.esp_port, err));
  MFLOW_TRY(ParseEspPeers(t, err.origin, &c.esp));
  if (const toml::node* n = t.get("local")) MFLOW_TRY(GetIp(*n, "underlay.local", &c.local, err));
  MFLOW_TRY(GetInt<uint16_t>(t, "underlay", "port", 1, 65535, &c.port, err));
  MFLOW_TRY(GetInt<uint32_t>(t, "underlay", "mtu", 1280, 9216, &c.mtu, err));
  MFLOW_TRY(GetBool(t, "underlay", "gso", &c.gso, err));
  MFLOW_TRY(GetBool(t, "underlay", "gro", &c.gro, err));
  MFLOW_TRY(GetInt<uint32_t>(t, "underlay", "socket_buffer", 65536, 1u << 30, &c.socket_buffer, err));
  if (const toml::node* n = t.get("peers")) {
    const toml::array* a = n->as_array();
    if (a == nullptr) return err("underlay.peers", "must be a list of addresses");
    c.peers.clear();
    for (size_t i = 0; i < a->size(); ++i) {
      wire::IpAddr ip;
      MFLOW_TRY(GetIp(*a->get(i), "underlay.peers[" + std::to_string(i) + "]", &ip, err));
      c.peers.push_back(ip);
    }
  }
  return Status::Ok();
}

Status ParseOverlay(const toml::table& t, Config& c, const Err& err) {
  MFLOW_TRY(CheckKeys(t, "overlay", {"vnis", "tso", "coalesce", "fdb_size", "fdb_age_s", "flood_pps",
                      "flood_burst", "tap_txqueuelen"}, err));
  MFLOW_TRY(GetBool(t, "overlay", "tso", &c.tso, err));
  MFLOW_TRY(GetBool(t, "overlay", "coalesce", &c.coalesce, err));
  MFLOW_TRY(GetInt<uint32_t>(t, "overlay", "tap_txqueuelen", 16, 1u << 16, &c.tap_txqueuelen, err));
  MFLOW_TRY(GetInt<uint32_t>(t, "overlay", "fdb_size", 8, 1u << 24, &c.fdb_size, err));
  MFLOW_TRY(GetInt<uint32_t>(t, "overlay", "fdb_age_s", 1, 86400, &c.fdb_age_s, err));
  MFLOW_TRY(GetInt<uint32_t>(t, "overlay", "flood_pps", 0, 1u << 24, &c.flood_pps, err));
  MFLOW_TRY(GetInt<uint32_t>(t, "overlay", "flood_burst", 1, 1u << 24, &c.flood_burst, err));
  if (const toml::node* n = t.get("vnis")) {
    const toml::array* a = n->as_array();
    if (a == nullptr) return err("overlay.vnis", "must be a list of VNIs");
    c.vnis.clear();
    for (const auto& e : *a) {
      if (!e.is_integer() || *e.value<int64_t>() < 1 || *e.value<int64_t>() > 0xffffff)
        return err("overlay.vnis", "every VNI must be an integer 1..16777215");
      c.vnis.push_back(static_cast<uint32_t>(*e.value<int64_t>()));
    }
  }
  return Status::Ok();
}

Status ParsePort(const toml::table& t, size_t i, PortConfig& p, const Err& err) {
  const std::string where = "port[" + std::to_string(i) + "]";
  MFLOW_TRY(CheckKeys(t, where,
                      {"name", "ifname", "netns", "vni", "address", "addresses", "mac", "gateway",
                       "routes", "mtu"},
                      err));
  MFLOW_TRY(GetString(t, where, "name", &p.name, err));
  MFLOW_TRY(GetString(t, where, "ifname", &p.ifname, err));
  MFLOW_TRY(GetString(t, where, "netns", &p.netns, err));
  MFLOW_TRY(GetInt<uint32_t>(t, where, "vni", 1, 0xffffff, &p.vni, err));
  if (const toml::node* n = t.get("addresses")) {
    const toml::array* a = n->as_array();
    if (a == nullptr) return err(where + ".addresses", "must be a list of address strings");
    for (size_t k = 0; k < a->size(); ++k) {
      if (!a->get(k)->is_string())
        return err(where + ".addresses[" + std::to_string(k) + "]", "must be a string");
      p.addresses.push_back(*a->get(k)->value<std::string>());
    }
  }
  // The single address of older configs comes after the list.
  std::string address;
  MFLOW_TRY(GetString(t, where, "address", &address, err));
  if (!address.empty()) p.addresses.push_back(address);
  MFLOW_TRY(GetString(t, where, "mac", &p.mac, err));
  MFLOW_TRY(GetString(t, where, "gateway", &p.gateway, err));
  if (const toml::node* n = t.get("routes")) {
    const toml::array* a = n->as_array();
    if (a == nullptr) return err(where + ".routes", "must be a list of tables {dst, gw}");
    for (size_t k = 0; k < a->size(); ++k) {
      const std::string rw = where + ".routes[" + std::to_string(k) + "]";
      const toml::table* rt = a->get(k)->as_table();
      if (rt == nullptr) return err(rw, "must be a table {dst = \"...\", gw = \"...\"}");
      MFLOW_TRY(CheckKeys(*rt, rw, {"dst", "gw"}, err));
      IpRoute r;
      MFLOW_TRY(GetString(*rt, rw, "dst", &r.dst, err));
      MFLOW_TRY(GetString(*rt, rw, "gw", &r.gw, err));
      if (r.dst.empty()) return err(rw + ".dst", "is required");
      p.routes.push_back(std::move(r));
    }
  }
  MFLOW_TRY(GetInt<uint32_t>(t, where, "mtu", 68, 9000, &p.mtu, err));
  if (p.name.empty()) return err(where + ".name", "is required");
  if (p.vni == 0) return err(where + ".vni", "is required");
  return Status::Ok();
}

bool PortNameChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == ':' || c == '/' || c == '-';
}

}  // namespace

std::string_view DefaultConfigText() { return kDefault; }

StatusOr<Config> ParseConfig(std::string_view text, std::string_view origin) {
  const Err err{std::string(origin)};
  toml::table root;
  try {
    root = toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    std::ostringstream os;
    os << origin << ":" << e.source().begin.line << ":" << e.source().begin.column << ": "
       << e.description();
    return Status::Error(os.str());
  }
  Config c;
  MFLOW_TRY(CheckKeys(root, "", {"daemon", "engine", "underlay", "overlay", "port", "store"}, err));
  if (const toml::node* n = root.get("store")) {
    if (!n->is_table()) return err("store", "must be a table ([store])");
    MFLOW_TRY(ParseStoreTable(*n->as_table(), origin, &c.store));
  }
  struct Section {
    const char* name;
    Status (*parse)(const toml::table&, Config&, const Err&);
  };
  for (const Section& s : {Section{"daemon", ParseDaemon}, Section{"engine", ParseEngine},
                           Section{"underlay", ParseUnderlay}, Section{"overlay", ParseOverlay}}) {
    const toml::node* n = root.get(s.name);
    if (n == nullptr) continue;
    if (!n->is_table()) return err(s.name, "must be a table ([" + std::string(s.name) + "])");
    MFLOW_TRY(s.parse(*n->as_table(), c, err));
  }
  if (const toml::node* n = root.get("port")) {
    const toml::array* a = n->as_array();
    if (a == nullptr) return err("port", "must be an array of tables ([[port]])");
    for (size_t i = 0; i < a->size(); ++i) {
      const toml::table* t = a->get(i)->as_table();
      if (t == nullptr) return err("port[" + std::to_string(i) + "]", "must be a table");
      PortConfig p;
      MFLOW_TRY(ParsePort(*t, i, p, err));
      c.ports.push_back(std::move(p));
    }
  }
  if (Status s = Validate(c); !s.ok()) return Status::Error(std::string(origin) + ": " + s.message());
  return c;
}

StatusOr<Config> LoadConfigFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::Error(path + ": cannot open: " + ErrnoText(errno));
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseConfig(ss.str(), path);
}

StatusOr<PortConfig> ParsePortSpec(std::string_view spec) {
  PortConfig p;
  const std::string field = "--port '" + std::string(spec) + "'";
  bool via_allowed = false;  // via= right after a route= without one
  size_t pos = 0;
  while (pos <= spec.size()) {
    size_t end = spec.find(',', pos);
    if (end == std::string_view::npos) end = spec.size();
    const std::string_view kv = spec.substr(pos, end - pos);
    pos = end + 1;
    if (kv.empty()) continue;
    const size_t eq = kv.find('=');
    if (eq == std::string_view::npos)
      return Status::Error(StatusCode::kInvalid,
                           field + ": '" + std::string(kv) + "' is not key=value");
    const std::string key(kv.substr(0, eq));
    const std::string val(kv.substr(eq + 1));
    auto number = [&](uint32_t lo, uint32_t hi, uint32_t* out) -> Status {
      char* e = nullptr;
      const unsigned long v = std::strtoul(val.c_str(), &e, 10);
      if (val.empty() || *e != '\0' || v < lo || v > hi)
        return Status::Error(StatusCode::kInvalid, field + ": " + key + " must be a number " +
                                                       std::to_string(lo) + ".." + std::to_string(hi));
      *out = static_cast<uint32_t>(v);
      return Status::Ok();
    };
    const bool was_via_allowed = std::exchange(via_allowed, false);
    if (key == "name") {
      p.name = val;
    } else if (key == "ifname") {
      p.ifname = val;
    } else if (key == "netns") {
      p.netns = val;
    } else if (key == "vni") {
      MFLOW_TRY(number(1, 0xffffff, &p.vni));
    } else if (key == "address") {
      p.addresses.push_back(val);
    } else if (key == "mac") {
      p.mac = val;
    } else if (key == "gateway") {
      p.gateway = val;
    } else if (key == "mtu") {
      MFLOW_TRY(number(68, 9000, &p.mtu));
    } else if (key == "route") {
      p.routes.push_back({val, ""});
      via_allowed = true;
    } else if (key == "via") {
      if (!was_via_allowed)
        return Status::Error(StatusCode::kInvalid,
                             field + ": via='" + val + "' must follow a route=DST");
      p.routes.back().gw = val;
    } else {
      return Status::Error(StatusCode::kInvalid,
                           field + ": unknown key '" + key +
                               "' (name, ifname, netns, vni, address, mac, gateway, route, via, mtu)");
    }
  }
  if (p.name.empty()) return Status::Error(StatusCode::kInvalid, field + ": name is required");
  if (p.vni == 0) return Status::Error(StatusCode::kInvalid, field + ": vni is required");
  if (Status s = CheckPort(p); !s.ok()) return s.Prefixed(field + ": ");
  return p;
}

Status CheckPort(const PortConfig& p) {
  auto invalid = [](const std::string& m) { return Status::Error(StatusCode::kInvalid, m); };
  if (p.name.empty() || p.name.size() > 128 || !std::all_of(p.name.begin(), p.name.end(), PortNameChar))
    return invalid("name '" + p.name + "': must be 1..128 characters of A-Z a-z 0-9 . _ : / -");
  // The kernel's rules for a device name (dev_valid_name): 1..15 bytes, not
  // "." or "..", no '/', ':' or white space.
  const std::string& dev = p.device();
  const std::string what = p.ifname.empty() ? "name '" + dev + "' (the default ifname)"
                                            : "ifname '" + dev + "'";
  if (dev.size() > 15) return invalid(what + ": a device name has at most 15 bytes");
  if (dev == "." || dev == ".." ||
      std::any_of(dev.begin(), dev.end(), [](char c) {
        return c == '/' || c == ':' || std::isspace(static_cast<unsigned char>(c)) || c == '\0';
      }))
    return invalid(what + ": not a valid device name (no '/', ':', white space; not . or ..)");
  for (size_t i = 0; i < p.addresses.size(); ++i)
    if (!IpPrefix::Parse(p.addresses[i]))
      return invalid("addresses[" + std::to_string(i) + "] '" + p.addresses[i] +
                     "': expected an IPv4 or IPv6 address with prefix (198.19.0.5/24, fd00::5/64)");
  if (p.mtu != 0 && p.mtu < 68)
    return invalid("mtu " + std::to_string(p.mtu) + ": must be 0 (the inner MTU) or at least 68");
  if (p.mtu != 0 && p.mtu < 1280)
    for (size_t i = 0; i < p.addresses.size(); ++i)
      if (IpPrefix::Parse(p.addresses[i])->addr.is_v6())
        return invalid("mtu " + std::to_string(p.mtu) + ": below 1280, the minimum of IPv6 (RFC 8200), "
                       "and addresses[" + std::to_string(i) + "] is IPv6");
  if (!p.gateway.empty() && p.gateway != "none" && !wire::IpAddr::Parse(p.gateway))
    return invalid("gateway '" + p.gateway + "': expected an IPv4 or IPv6 address, \"\" or \"none\"");
  for (size_t i = 0; i < p.routes.size(); ++i)
    if (auto e = RouteError(p.routes[i])) return invalid("routes[" + std::to_string(i) + "]: " + *e);
  if (!p.mac.empty()) {
    const auto mac = wire::MacAddr::Parse(p.mac);
    if (!mac || mac->IsMulticast() || mac->IsZero())
      return invalid("mac '" + p.mac + "': not a unicast MAC address");
  }
  return Status::Ok();
}

Status Validate(const Config& c) {
  if (c.local.family == 0) return Status::Error("underlay.local: is required");
  for (size_t i = 0; i < c.peers.size(); ++i) {
    if (c.peers[i].family != c.local.family)
      return Status::Error("underlay.peers[" + std::to_string(i) + "]: " + c.peers[i].ToString() +
                           " is not of the address family of underlay.local " +
                           c.local.ToString());
    if (c.peers[i] == c.local)
      return Status::Error("underlay.peers[" + std::to_string(i) + "]: is our own address");
  }
  if (Status s = ValidateEspPeers(c.esp, c.peers); !s.ok()) return s;
  if (!c.esp.empty() && c.esp_port == c.port)
    return Status::Error("underlay.esp_port: " + std::to_string(c.esp_port) + " is underlay.port too");
  if (c.vnis.empty()) return Status::Error("overlay.vnis: at least one VNI is required");
  if ((c.fdb_size & (c.fdb_size - 1)) != 0)
    return Status::Error("overlay.fdb_size: " + std::to_string(c.fdb_size) +
                         " is not a power of two");
  if (c.log_level != "debug" && c.log_level != "info" && c.log_level != "warn" &&
      c.log_level != "error")
    return Status::Error("daemon.log_level: '" + c.log_level + "' is not debug, info, warn or error");
  if (!c.metrics.empty())
    if (Status s = CheckMetricsAddress(c.metrics); !s.ok())
      return Status::Error("daemon.metrics: " + s.message());
  if (c.log_format != "text" && c.log_format != "json")
    return Status::Error("daemon.log_format: '" + c.log_format + "' is not text or json");
  if (c.control_socket.empty() || c.control_socket.front() != '/')
    return Status::Error("daemon.control_socket: must be an absolute path");
  if (Status s = ValidateStore(c.store); !s.ok()) return s;
  std::set<std::string> names, devices;
  for (size_t i = 0; i < c.ports.size(); ++i) {
    const PortConfig& p = c.ports[i];
    const std::string where = "port[" + std::to_string(i) + "] (" + p.name + ")";
    if (Status s = CheckPort(p); !s.ok()) return s.Prefixed(where + ".");
    if (!names.insert(p.name).second) return Status::Error(where + ".name: used twice");
    if (!devices.insert(p.netns + "\n" + p.device()).second)
      return Status::Error(where + ".ifname: " + p.device() + " is used twice in netns '" +
                           p.netns + "'");
    if (std::find(c.vnis.begin(), c.vnis.end(), p.vni) == c.vnis.end())
      return Status::Error(where + ".vni: " + std::to_string(p.vni) +
                           " is not in overlay.vnis");
    if (p.mtu > c.inner_mtu())
      return Status::Error(where + ".mtu: " + std::to_string(p.mtu) + " exceeds the inner MTU " +
                           std::to_string(c.inner_mtu()));
  }
  return Status::Ok();
}

std::vector<std::string> RestartOnlyChanges(const Config& a, const Config& b) {
  std::vector<std::string> out;
  auto cmp = [&out](const char* field, const auto& x, const auto& y) {
    if (!(x == y)) out.emplace_back(field);
  };
  cmp("daemon.control_socket", a.control_socket, b.control_socket);
  cmp("daemon.log_format", a.log_format, b.log_format);
  cmp("daemon.stats_interval_s", a.stats_interval_s, b.stats_interval_s);
  cmp("daemon.metrics", a.metrics, b.metrics);
  cmp("engine.mode", a.mode, b.mode);
  cmp("engine.workers", a.workers, b.workers);
  cmp("engine.cpus", a.cpus, b.cpus);
  cmp("engine.microflow_size", a.microflow_size, b.microflow_size);
  cmp("engine.merge_depth", a.merge_depth, b.merge_depth);
  cmp("engine.elephant_pps", a.elephant_pps, b.elephant_pps);
  cmp("engine.idle_polls", a.idle_polls, b.idle_polls);
  cmp("engine.idle_poll_us", a.idle_poll_us, b.idle_poll_us);
  cmp("engine.placement", a.placement, b.placement);
  cmp("underlay.port", a.port, b.port);
  cmp("underlay.mtu", a.mtu, b.mtu);
  cmp("underlay.gso", a.gso, b.gso);
  cmp("underlay.gro", a.gro, b.gro);
  cmp("underlay.socket_buffer", a.socket_buffer, b.socket_buffer);
  cmp("underlay.esp_port", a.esp_port, b.esp_port);
  // The ESP socket exists only when some peer is encrypted at start.
  cmp("underlay.esp (from none or to none)", a.esp.empty(), b.esp.empty());
  cmp("overlay.vnis", a.vnis, b.vnis);
  cmp("overlay.tso", a.tso, b.tso);
  cmp("overlay.coalesce", a.coalesce, b.coalesce);
  cmp("overlay.tap_txqueuelen", a.tap_txqueuelen, b.tap_txqueuelen);
  cmp("overlay.fdb_size", a.fdb_size, b.fdb_size);
  cmp("overlay.fdb_age_s", a.fdb_age_s, b.fdb_age_s);
  cmp("overlay.flood_pps", a.flood_pps, b.flood_pps);
  cmp("overlay.flood_burst", a.flood_burst, b.flood_burst);
  cmp("store", a.store, b.store);
  std::vector<std::string> pa, pb;
  for (const PortConfig& p : a.ports) pa.push_back(p.name);
  for (const PortConfig& p : b.ports) pb.push_back(p.name);
  cmp("port", pa, pb);
  return out;
}

}  // namespace mflow::daemon
