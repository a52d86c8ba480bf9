#include "control/render.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <tuple>

#include "control/format.h"

namespace mflow::ctl {
namespace {

using nlohmann::json;
using A = Table::Align;

constexpr const char* kIndent = "  ";

uint64_t SumOf(const json& obj) {
  uint64_t sum = 0;
  for (const auto& [k, v] : obj.items()) sum += Count(obj, k);
  return sum;
}

// Non-zero counters of a {"reason": count} object, by name (std::map order).
std::map<std::string, uint64_t> NonZero(const json& obj) {
  std::map<std::string, uint64_t> out;
  for (const auto& [k, v] : obj.items()) {
    if (const uint64_t n = Count(obj, k); n > 0) out[k] = n;
  }
  return out;
}

// "drops" section of a counters object: the non-zero ones, or one line.
std::string DropsSection(const std::string& title, const json& drops, const std::string& indent) {
  const auto nz = NonZero(drops);
  if (nz.empty()) return indent + title + ": none\n";
  Table t({{"DROP"}, {"PACKETS", A::kRight}}, indent + kIndent);
  for (const auto& [k, n] : nz) t.Add({k, Thousands(n)});
  return indent + title + ":\n" + t.Render();
}

std::string OutOfOrderWarning(uint64_t n) {
  return n == 0 ? "" : "warning: " + Thousands(n) + " packets left out of order (must be 0)\n";
}

// The merge checks its own invariants (EngineStats::merge_errors); a
// breach is handled without loss, but it is a bug to report.
std::string MergeErrorWarning(uint64_t n) {
  return n == 0 ? ""
                : "warning: the merge saw " + Thousands(n) +
                      " broken invariant(s) (must be 0; handled without loss, please report)\n";
}

// Every address of a port, comma-separated; older daemons send one "address".
std::string Addresses(const json& p) {
  std::string out;
  if (const auto it = p.find("addresses"); it != p.end() && it->is_array())
    for (const json& a : *it)
      if (a.is_string()) out += (out.empty() ? "" : ",") + a.get<std::string>();
  if (out.empty()) return Cell(p, "address");
  return out;
}

}  // namespace

// status's short port list (name, device, addresses); nothing from a
// daemon that does not send one.
std::string StatusPorts(const json& r) {
  const json& ports = Array(r, "port_list");
  if (ports.empty()) return "";
  Table t({{"PORT"}, {"IFNAME"}, {"ADDRESSES"}});
  for (const json& p : ports) t.Add({Cell(p, "name"), Cell(p, "ifname"), Addresses(p)});
  return "\n" + t.Render();
}

std::string RenderStatus(const json& r) {
  // The commit it was built from (an older mflowd does not send it).
  const std::string commit = r.contains("commit") ? " (commit " + Cell(r, "commit") + ")" : "";
  std::string head = "mflowd " + Cell(r, "version") + commit + ", pid " + Plain(r, "pid") + ", up ";
  const auto up = r.find("uptime_s");
  head += up != r.end() && up->is_number() ? Duration(up->get<double>()) : kMissing;
  const json& off = Object(r, "offloads");
  std::string vnis;
  for (const json& v : Array(r, "vnis")) vnis += (vnis.empty() ? "" : ",") + v.dump();
  return head + "\n" +
         KeyValues({
             {"mode", Cell(r, "mode")},
             {"workers", Plain(r, "workers")},
             {"local VTEP", Cell(r, "local") + (r.value("local_present", true) ? "" : " (not on this host)")},
             {"underlay MTU", Plain(r, "underlay_mtu")},
             {"inner MTU", Plain(r, "inner_mtu")},
             {"VNIs", vnis.empty() ? kMissing : vnis},
             {"TAP offloads", Cell(off, "tap")},
             {"TAP txqueuelen", Plain(r, "tap_txqueuelen")},
             {"UDP GSO", Cell(off, "udp_gso")},
             {"UDP GRO", Cell(off, "udp_gro")},
             {"ports", Plain(r, "ports")},
             {"peers", Plain(r, "peers")},
             {"out of order", Cell(r, "out_of_order")},
         }) +
         OutOfOrderWarning(Count(r, "out_of_order")) + StatusPorts(r) + StatusStore(r);
}


std::string RenderPorts(const json& r) {
  const json& ports = Array(r, "ports");
  if (ports.empty()) return "no ports (add one with: mflowctl port add NAME --netns PATH --vni N)\n";
  Table config({{"ID", A::kRight}, {"NAME"}, {"IFNAME"}, {"VNI", A::kRight}, {"NETNS"},
                {"ADDRESSES"}, {"MAC"}, {"MTU", A::kRight}, {"TXQLEN", A::kRight}, {"OFFLOADS"}});
  Table traffic({{"ID", A::kRight}, {"NAME"}, {"RX FRAMES", A::kRight}, {"RX BYTES", A::kRight},
                 {"TX FRAMES", A::kRight}, {"TX BYTES", A::kRight}, {"DROPS", A::kRight}});
  std::string drops;
  for (const json& p : ports) {
    config.Add({Plain(p, "id"), Cell(p, "name"), Cell(p, "ifname"), Plain(p, "vni"), Cell(p, "netns"),
                Addresses(p), Cell(p, "mac"), Plain(p, "mtu"), Plain(p, "txqueuelen"), Cell(p, "offloads")});
    const json& d = Object(p, "drops");
    traffic.Add({Plain(p, "id"), Cell(p, "name"), Cell(p, "rx_frames"), BytesCell(p, "rx_bytes"),
                 Cell(p, "tx_frames"), BytesCell(p, "tx_bytes"), Thousands(SumOf(d))});
    if (!NonZero(d).empty()) drops += DropsSection("drops of " + Cell(p, "name"), d, "");
  }
  return config.Render() + "\n" + traffic.Render() + (drops.empty() ? "" : "\n" + drops);
}

std::string RenderPeers(const json& r) {
  const json& peers = Array(r, "peers");
  std::string out;
  if (peers.empty()) {
    out = "no peers\n";
  } else {
    Table t({{"PEER"}, {"TX DATAGRAMS", A::kRight}, {"TX BYTES", A::kRight}, {"RX DATAGRAMS", A::kRight},
             {"RX BYTES", A::kRight}});
    for (const json& p : peers) {
      t.Add({Cell(p, "address"), Cell(p, "tx_datagrams"), BytesCell(p, "tx_bytes"), Cell(p, "rx_datagrams"),
             BytesCell(p, "rx_bytes")});
    }
    out = t.Render();
  }
  return out + "\n" + DropsSection("underlay drops", Object(r, "drops"), "");
}

std::string RenderFdb(const json& r) {
  // Sorted by VNI, then MAC, so that two runs can be compared by eye.
  std::vector<const json*> entries;
  for (const json& e : Array(r, "entries")) entries.push_back(&e);
  std::stable_sort(entries.begin(), entries.end(), [](const json* a, const json* b) {
    return std::make_tuple(Count(*a, "vni"), Cell(*a, "mac")) < std::make_tuple(Count(*b, "vni"), Cell(*b, "mac"));
  });
  Table t({{"VNI", A::kRight}, {"MAC"}, {"KIND"}, {"WHERE"}, {"AGE", A::kRight}});
  for (const json* e : entries) {
    const std::string kind = Cell(*e, "kind");
    std::string where = kMissing;
    if (kind == "local") where = "port " + Plain(*e, "port");
    if (kind == "remote") where = "vtep " + Cell(*e, "vtep");
    const auto age = e->find("age_ms");
    t.Add({Plain(*e, "vni"), Cell(*e, "mac"), kind, where,
           age != e->end() && age->is_number() ? Milliseconds(Count(*e, "age_ms")) : kMissing});
  }
  const size_t n = entries.size();
  return (n == 0 ? std::string() : t.Render()) + Thousands(n) + (n == 1 ? " entry\n" : " entries\n");
}

namespace {

// What the path copied per byte it delivered (docs/COPIES.md): "2.00 per
// byte delivered (kernel 2.40 GB, user 0 B; delivered 1.20 GB)"; empty from
// a daemon that does not count copies. (The ratio is recomputed from the
// byte counts; the reply's "per_byte" holds the same figure.)
std::string CopiesLine(const json& c) {
  if (c.empty() || !c.contains("delivered_bytes")) return "";
  const uint64_t delivered = Count(c, "delivered_bytes");
  const uint64_t copied = Count(c, "kernel_bytes") + Count(c, "user_bytes");
  char ratio[32] = "-";
  if (delivered != 0)
    std::snprintf(ratio, sizeof ratio, "%.2f", static_cast<double>(copied) / static_cast<double>(delivered));
  return std::string(ratio) + " per byte delivered (kernel " + BytesCell(c, "kernel_bytes") + ", user " +
         BytesCell(c, "user_bytes") + "; delivered " + BytesCell(c, "delivered_bytes") + ")";
}

std::string RenderEngine(const json& e) {
  std::string out = "engine " + Cell(e, "name") + " (" + Cell(e, "mode") + ")\n";
  Table stages({{"STAGE"}, {"IN", A::kRight}, {"OUT", A::kRight}, {"DROPS", A::kRight}}, kIndent);
  Table reasons({{"STAGE"}, {"DROP"}, {"PACKETS", A::kRight}}, kIndent);
  for (const json& s : Array(e, "stages")) {
    const json& d = Object(s, "drops");
    stages.Add({Cell(s, "name"), Cell(s, "in"), Cell(s, "out"), Thousands(SumOf(d))});
    for (const auto& [k, n] : NonZero(d)) reasons.Add({Cell(s, "name"), k, Thousands(n)});
  }
  out += stages.empty() ? std::string(kIndent) + "no stages\n" : stages.Render();
  if (!reasons.empty()) out += "\n" + reasons.Render();

  static const char* const kWorkerFields[] = {"microflows", "packets",       "rx_bursts",    "rx_packets",
                                              "sleeps",     "pushback_waits", "mice_handoffs"};
  Table workers({{"WORKER", A::kRight}, {"MICRO-FLOWS", A::kRight}, {"PACKETS", A::kRight},
                 {"RX BURSTS", A::kRight}, {"RX PACKETS", A::kRight}, {"SLEEPS", A::kRight},
                 {"PUSHBACK WAITS", A::kRight}, {"MICE HANDOFFS", A::kRight}},
                kIndent);
  uint64_t total[std::size(kWorkerFields)] = {};
  const json& ws = Array(e, "workers");
  for (size_t i = 0; i < ws.size(); ++i) {
    std::vector<std::string> row{std::to_string(i)};
    for (size_t f = 0; f < std::size(kWorkerFields); ++f) {
      row.push_back(Cell(ws[i], kWorkerFields[f]));
      total[f] += Count(ws[i], kWorkerFields[f]);
    }
    workers.Add(std::move(row));
  }
  if (ws.size() > 1) {
    std::vector<std::string> row{"all"};
    for (uint64_t t : total) row.push_back(Thousands(t));
    workers.Add(std::move(row));
  }
  if (!workers.empty()) out += "\n" + workers.Render();

  std::vector<std::pair<std::string, std::string>> totals = {
      {"released packets", Cell(e, "released_packets")},
      {"released micro-flows", Cell(e, "released_microflows")},
      {"out of order", Cell(e, "out_of_order")},
      {"drops", Cell(e, "drops")}};
  // Beside elephants, the engine spreads or keeps flows home, as measured
  // (microflow mode).
  const auto mp = e.find("placement");
  if (mp != e.end() && mp->is_object()) {
    // Solo: home beside a TCP elephant, one worker reads and runs every flow.
    const auto solo = mp->find("solo");
    const bool one = solo != mp->end() && solo->is_boolean() && solo->get<bool>();
    std::string v = Cell(*mp, "now") + (one ? ", one worker" : "") + " (" + Cell(*mp, "trials") +
                    " trials, spreading won " + Cell(*mp, "spread_wins");
    // What the last trial measured: elephant packets/s in each placement.
    if (Count(*mp, "trials") > 0 && mp->contains("last_home_pps"))
      v += "; last: home " + Cell(*mp, "last_home_pps") + ", spread " +
           Cell(*mp, "last_spread_pps") + " pkt/s";
    totals.emplace_back("placement", v + ")");
  }
  if (const std::string c = CopiesLine(Object(e, "copies")); !c.empty()) totals.emplace_back("copies", c);
  out += "\n" + KeyValues(totals, kIndent);
  return out + OutOfOrderWarning(Count(e, "out_of_order")) +
         MergeErrorWarning(Count(e, "merge_errors"));
}

}  // namespace

std::string RenderStats(const json& r, bool drops_only) {
  const json& engines = Array(r, "engines");
  if (engines.empty()) return "no engines\n";
  if (drops_only) {
    Table t({{"ENGINE"}, {"STAGE"}, {"DROP"}, {"PACKETS", A::kRight}});
    for (const json& e : engines) {
      for (const json& s : Array(e, "stages")) {
        for (const auto& [k, n] : NonZero(Object(s, "drops"))) t.Add({Cell(e, "name"), Cell(s, "name"), k, Thousands(n)});
      }
    }
    return t.empty() ? "no drops\n" : t.Render();
  }
  std::string out;
  for (const json& e : engines) out += (out.empty() ? "" : "\n") + RenderEngine(e);
  return out;
}

std::string RenderFlows(const json& r) {
  const json& flows = Array(r, "flows");
  if (flows.empty()) return "no flows\n";
  Table t({{"ENGINE"}, {"FLOW"}, {"ELEPHANT"}, {"PACKETS", A::kRight}, {"MICRO-FLOWS", A::kRight},
           {"PKTS/MF", A::kRight}, {"EMPTY MF", A::kRight}, {"IN FLIGHT", A::kRight},
           {"OUT OF ORDER", A::kRight}});
  uint64_t ooo = 0;
  for (const json& f : flows) {
    const uint64_t mfs = Count(f, "microflows");
    // Average micro-flow length: how finely the split point cut this flow.
    const std::string per_mf =
        mfs == 0 || !f.contains("packets") ? kMissing : Thousands((Count(f, "packets") + mfs / 2) / mfs);
    t.Add({Cell(f, "engine"), Cell(f, "flow"), Cell(f, "elephant"), Cell(f, "packets"), Cell(f, "microflows"),
           per_mf, Cell(f, "empty_microflows"), Cell(f, "in_flight"), Cell(f, "out_of_order")});
    ooo += Count(f, "out_of_order");
  }
  return t.Render() + OutOfOrderWarning(ooo);
}

std::string RenderPortAdd(const json& r, const std::string& name) {
  std::string out = "added port " + name + " (id " + Plain(r, "id") + "): " + Cell(r, "ifname") +
                    " (ifindex " + Plain(r, "ifindex") + "), mac " + Cell(r, "mac") + ", mtu " +
                    Plain(r, "mtu");
  const std::string addresses = Addresses(r);
  if (addresses != kMissing) out += ", " + addresses;
  return out + "\n";
}

std::string RenderPortDel(const json&, const std::string& name) { return "deleted port " + name + "\n"; }

std::string RenderReload(const json& r) {
  auto list = [&r](const char* key) {
    std::string s;
    if (const auto it = r.find(key); it != r.end() && it->is_array())
      for (const auto& v : *it)
        if (v.is_string()) s += (s.empty() ? "" : ", ") + v.get<std::string>();
    return s;
  };
  const std::string applied = list("applied"), restart = list("needs_restart");
  std::string out = "reloaded: " + (applied.empty() ? std::string("nothing changed") : applied) + "\n";
  if (!restart.empty()) out += "not applied (need a restart): " + restart + "\n";
  return out;
}

}  // namespace mflow::ctl
