// mflowctl's views of the store (docs/STORE.md): the section of `status`
// and `mflowctl store` with the peer table.
#include "control/format.h"
#include "control/render.h"

namespace mflow::ctl {

using nlohmann::json;
using A = Table::Align;

std::string StatusStore(const json& r) {
  const auto it = r.find("store");
  if (it == r.end() || !it->is_object()) return "";
  const json& s = *it;
  std::string out = "\nstore (etcd):\n" +
                    KeyValues({{"state", Cell(s, "state")},
                               {"subnet", Cell(s, "subnet")},
                               {"host id", Cell(s, "host_id")},
                               {"VTEP MAC", Cell(s, "vtep_mac")},
                               {"revision", Plain(s, "revision")},
                               {"hosts", Plain(s, "peers") + " in the table (this one too), " +
                                             Plain(s, "udp_peers") + " on the UDP port"},
                               {"refused records", Plain(s, "refused")},
                               {"last refusal", s.value("last_refusal", "").empty() ? "-" : Cell(s, "last_refusal")},
                               {"last error", s.value("last_error", "").empty() ? "-" : Cell(s, "last_error")},
                               {"lease renewals", Plain(s, "renewals") + " (" + Plain(s, "renew_failures") +
                                                      " failed, " + Plain(s, "lease_lost") + " leases lost)"}},
                              "  ");
  Table t({{"ENDPOINT"}, {"UP"}, {"FAILURES", A::kRight}, {"LAST ERROR"}}, "  ");
  for (const json& e : Array(s, "endpoints"))
    t.Add({Cell(e, "url"), e.value("up", false) ? "yes" : "no", Plain(e, "failures"),
           e.value("last_error", "").empty() ? "-" : Cell(e, "last_error")});
  return out + "\n" + t.Render();
}

std::string RenderStore(const json& r) {
  json wrapped = {{"store", r}};
  std::string out = StatusStore(wrapped);
  const json& peers = Array(r, "peer_list");
  if (peers.empty()) return out + "no hosts in the store\n";
  Table t({{"SUBNET"}, {"HOST ID"}, {"UNDERLAY"}, {"VTEP MAC"}, {"MODE"}, {""}});
  for (const json& p : peers) {
    std::string underlay;
    for (const json& a : Array(p, "underlay"))
      if (a.is_string()) underlay += (underlay.empty() ? "" : ",") + a.get<std::string>();
    t.Add({Cell(p, "subnet"), Cell(p, "host_id"), underlay, Cell(p, "vtep_mac"), Cell(p, "mode"),
           p.value("self", false) ? "(this host)" : ""});
  }
  return out + "\n" + t.Render();
}

}  // namespace mflow::ctl
