// Tests of mflowctl's rendering on canned replies: numbers, tables, drops,
// and tolerance of replies from an older or newer daemon (missing, extra or
// mistyped fields show as "-" and never throw).
#include <gtest/gtest.h>

#include <string>

#include "control/format.h"
#include "control/render.h"

namespace mflow::ctl {
namespace {

using nlohmann::json;

bool Contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

const json kStats = json::parse(R"({
  "ok": true,
  "engines": [
    {"name": "rx", "mode": "microflow",
     "stages": [
       {"name": "outer_validate", "in": 1000000, "out": 1000000, "drops": {}},
       {"name": "vxlan_decap", "in": 1000000, "out": 999990,
        "drops": {"vxlan_decap_unknown_vni": 7, "vxlan_decap_bad_flags": 3, "vxlan_decap_short": 0}}
     ],
     "workers": [
       {"microflows": 4000, "packets": 500000, "rx_bursts": 100, "rx_packets": 600000, "sleeps": 2, "pushback_waits": 0, "mice_handoffs": 3},
       {"microflows": 3813, "packets": 500000, "rx_bursts": 90, "rx_packets": 400000, "sleeps": 5, "pushback_waits": 1, "mice_handoffs": 4}
     ],
     "released_packets": 999990, "released_microflows": 7813, "out_of_order": 0, "drops": 10,
     "placement": {"now": "spread", "trials": 2, "spread_wins": 1, "last_home_pps": 410000,
                   "last_spread_pps": 530000},
     "some_future_field": {"x": 1}},
    {"name": "tx", "mode": "microflow", "stages": [], "workers": [],
     "released_packets": 0, "released_microflows": 0, "out_of_order": 0, "drops": 0}
  ]
})");

TEST(Format, Numbers) {
  EXPECT_EQ(Thousands(0), "0");
  EXPECT_EQ(Thousands(999), "999");
  EXPECT_EQ(Thousands(1000), "1,000");
  EXPECT_EQ(Thousands(1234567), "1,234,567");
  EXPECT_EQ(Thousands(18446744073709551615ull), "18,446,744,073,709,551,615");
  EXPECT_EQ(SiBytes(999), "999 B");
  EXPECT_EQ(SiBytes(1500), "1.50 kB");
  EXPECT_EQ(SiBytes(999999), "1.00 MB");
  EXPECT_EQ(SiBytes(123456789), "123 MB");
  EXPECT_EQ(SiBytes(45600000000), "45.6 GB");
  EXPECT_EQ(Duration(12.5), "12.5s");
  EXPECT_EQ(Duration(90), "1m 30s");
  EXPECT_EQ(Duration(93784.5), "1d 2h 3m 4s");
  EXPECT_EQ(Duration(-1), "-");
  EXPECT_EQ(Milliseconds(850), "850ms");
  EXPECT_EQ(Milliseconds(1500), "1.5s");
}

TEST(Format, CellsToleratesAnything) {
  const json j = {{"u", 1234}, {"i", -1234}, {"f", 0.5}, {"s", "x"}, {"b", true}, {"a", {1, "y"}}, {"n", nullptr}};
  EXPECT_EQ(Cell(j, "u"), "1,234");
  EXPECT_EQ(Plain(j, "u"), "1234");
  EXPECT_EQ(Cell(j, "i"), "-1,234");
  EXPECT_EQ(Cell(j, "f"), "0.5");
  EXPECT_EQ(Cell(j, "s"), "x");
  EXPECT_EQ(Cell(j, "b"), "yes");
  EXPECT_EQ(Cell(j, "a"), "1,y");
  EXPECT_EQ(Cell(j, "n"), "-");
  EXPECT_EQ(Cell(j, "missing"), "-");
  EXPECT_EQ(Cell(json("not an object"), "u"), "-");
  EXPECT_EQ(BytesCell(j, "u"), "1.23 kB");
  EXPECT_EQ(BytesCell(j, "missing"), "-");
  EXPECT_EQ(Count(j, "i"), 0u);
  EXPECT_EQ(Count(j, "s"), 0u);
}

TEST(Format, TableAlignsColumns) {
  Table t({{"NAME"}, {"PACKETS", Table::Align::kRight}}, "  ");
  t.Add({"a", "1"});
  t.Add({"longer", "1,000"});
  EXPECT_EQ(t.Render(),
            "  NAME    PACKETS\n"
            "  a             1\n"
            "  longer    1,000\n");
}

TEST(Render, StatsDropsOnlyShowsNonZeroDrops) {
  EXPECT_EQ(RenderStats(kStats, /*drops_only=*/true),
            "ENGINE  STAGE        DROP                     PACKETS\n"
            "rx      vxlan_decap  vxlan_decap_bad_flags          3\n"
            "rx      vxlan_decap  vxlan_decap_unknown_vni        7\n");
  json clean = kStats;
  clean["engines"][0]["stages"][1]["drops"] = json::object();
  EXPECT_EQ(RenderStats(clean, true), "no drops\n");
}

TEST(Render, StatsShowsStagesWorkersAndTotals) {
  const std::string out = RenderStats(kStats, false);
  EXPECT_TRUE(Contains(out, "engine rx (microflow)\n")) << out;
  EXPECT_TRUE(Contains(out, "  vxlan_decap     1,000,000    999,990     10\n")) << out;
  EXPECT_TRUE(Contains(out, "  vxlan_decap  vxlan_decap_unknown_vni        7\n")) << out;
  EXPECT_FALSE(Contains(out, "vxlan_decap_short")) << out;  // zero: not listed
  EXPECT_TRUE(Contains(
      out, "     all        7,813  1,000,000        190   1,000,000       7               1              7\n"))
      << out;
  EXPECT_TRUE(Contains(out, "  released micro-flows  7,813\n")) << out;
  EXPECT_TRUE(Contains(out, "  placement             spread (2 trials, spreading won 1; last: home "
                            "410,000, spread 530,000 pkt/s)\n"))
      << out;
  // An engine without the placement (an older daemon) has no such line.
  EXPECT_EQ(out.find("  placement "), out.rfind("  placement ")) << out;
  EXPECT_TRUE(Contains(out, "engine tx (microflow)\n  no stages\n")) << out;
  EXPECT_FALSE(Contains(out, "warning")) << out;
}

// Home beside a TCP elephant: one worker reads and runs every flow.
TEST(Render, CopiesPerByteAreShownPerPath) {
  json r = kStats;
  r["engines"][0]["copies"] = {{"kernel_bytes", 4000000}, {"user_bytes", 200000},
                               {"delivered_bytes", 2000000}, {"per_byte", 2.1}};
  r["engines"][1]["copies"] = {{"kernel_bytes", 0}, {"user_bytes", 0}, {"delivered_bytes", 0}};
  const std::string out = RenderStats(r, false);
  EXPECT_TRUE(Contains(out, "copies                2.10 per byte delivered (kernel 4.00 MB, user "
                            "200 kB; delivered 2.00 MB)"))
      << out;
  EXPECT_TRUE(Contains(out, "copies                - per byte delivered (kernel 0 B")) << out;
  // An older daemon sends no copies: no line.
  EXPECT_FALSE(Contains(RenderStats(kStats, false), "copies")) << RenderStats(kStats, false);
}

TEST(Render, SoloPlacementIsShown) {
  json r = kStats;
  r["engines"][0]["placement"] = {{"now", "home"}, {"solo", true}, {"trials", 3},
                                  {"spread_wins", 0}, {"last_home_pps", 690000},
                                  {"last_spread_pps", 595000}};
  EXPECT_TRUE(Contains(RenderStats(r, false),
                       "  placement             home, one worker (3 trials, spreading won 0; "
                       "last: home 690,000, spread 595,000 pkt/s)\n"))
      << RenderStats(r, false);
}

TEST(Render, OutOfOrderIsFlagged) {
  json r = kStats;
  r["engines"][0]["out_of_order"] = 2;
  EXPECT_TRUE(Contains(RenderStats(r, false), "warning: 2 packets left out of order"));
}

TEST(Render, MergeErrorsAreFlagged) {
  json r = kStats;
  EXPECT_FALSE(Contains(RenderStats(r, false), "broken invariant"));
  r["engines"][0]["merge_errors"] = 3;
  EXPECT_TRUE(Contains(RenderStats(r, false), "warning: the merge saw 3 broken invariant(s)"));
}

TEST(Render, PortsShowIfnameAndEveryAddress) {
  const json ports = json::parse(R"({"ok": true, "ports": [
      {"id": 0, "name": "podman/c1", "ifname": "eth0", "vni": 42, "netns": "/run/netns/c1",
       "addresses": ["198.19.0.5/24", "fd00:198:19::5/64"], "address": "198.19.0.5/24",
       "mac": "0a:58:c6:13:00:05", "mtu": 1450, "txqueuelen": 1000, "offloads": "csum"},
      {"id": 1, "name": "old", "vni": 42, "address": "198.19.0.6/24"}]})");
  const std::string out = RenderPorts(ports);
  EXPECT_TRUE(Contains(out, "podman/c1  eth0") && Contains(out, "198.19.0.5/24,fd00:198:19::5/64"))
      << out;
  EXPECT_TRUE(Contains(out, "198.19.0.6/24")) << out;  // an older daemon's single address
  EXPECT_TRUE(Contains(out, "MTU  TXQLEN  OFFLOADS") && Contains(out, "1450    1000  csum")) << out;
  const json added = {{"ok", true}, {"id", 3}, {"name", "podman/c1"}, {"ifname", "eth0"},
                      {"mac", "0a:58:c6:13:00:05"}, {"mtu", 1450}, {"ifindex", 7},
                      {"addresses", {"198.19.0.5/24", "fd00:198:19::5/64"}}};
  EXPECT_EQ(RenderPortAdd(added, "podman/c1"),
            "added port podman/c1 (id 3): eth0 (ifindex 7), mac 0a:58:c6:13:00:05, mtu 1450, "
            "198.19.0.5/24,fd00:198:19::5/64\n");
}

TEST(Render, MissingAndUnknownFieldsAreTolerated) {
  const json ports = json::parse(R"({"ok": true, "ports": [
      {"id": 0, "name": "mf0", "vni": 42, "rx_frames": 12345, "rx_bytes": 18000000, "future": [1, 2]}]})");
  const std::string out = RenderPorts(ports);
  EXPECT_TRUE(Contains(out, " 0  mf0   -        42  -      -          -      -       -  -\n")) << out;
  EXPECT_TRUE(Contains(out, "12,345   18.0 MB")) << out;
  // Wrong types and absent sections: no exception, something readable.
  const json odd = {{"ok", true}, {"ports", "surprise"}, {"peers", 3}, {"entries", {{"vni", "x"}}}};
  EXPECT_NO_THROW(RenderPorts(odd));
  EXPECT_NO_THROW(RenderPeers(odd));
  EXPECT_NO_THROW(RenderFdb(odd));
  EXPECT_NO_THROW(RenderFlows(odd));
  EXPECT_NO_THROW(RenderStats(odd, false));
  EXPECT_NO_THROW(RenderStatus(odd));
  EXPECT_TRUE(Contains(RenderStatus(json::object()), "mflowd -, pid -, up -\n"));
}

TEST(Render, StatusListsPortsWithIfnameAndAddresses) {
  const json r = json::parse(R"({"ok": true, "ports": 1, "port_list": [
      {"name": "podman/c1", "ifname": "eth0", "addresses": ["198.19.0.5/24", "fd00:198:19::5/64"]}]})");
  const std::string out = RenderStatus(r);
  EXPECT_TRUE(Contains(RenderStatus({{"tap_txqueuelen", 1000}}), "TAP txqueuelen  1000\n"))
      << RenderStatus({{"tap_txqueuelen", 1000}});
  EXPECT_TRUE(Contains(out, "PORT       IFNAME  ADDRESSES\n"
                            "podman/c1  eth0    198.19.0.5/24,fd00:198:19::5/64\n"))
      << out;
  EXPECT_FALSE(Contains(RenderStatus(json{{"ok", true}, {"ports", 0}}), "IFNAME"));
}

TEST(Render, StatusNamesTheCommitMflowdWasBuiltFrom) {
  const json r = {{"ok", true}, {"version", "0.1.0"}, {"commit", "2f2d5d6+local changes"}, {"pid", 7}};
  EXPECT_TRUE(Contains(RenderStatus(r), "mflowd 0.1.0 (commit 2f2d5d6+local changes), pid 7, up -\n"))
      << RenderStatus(r);
  // An older mflowd sends no commit: nothing in its place.
  EXPECT_TRUE(Contains(RenderStatus({{"version", "0.1.0"}, {"pid", 7}}), "mflowd 0.1.0, pid 7,"));
}

TEST(Render, ReloadListsAppliedAndNotApplied) {
  EXPECT_EQ(RenderReload(json{{"ok", true}, {"applied", json::array()}}), "reloaded: nothing changed\n");
  EXPECT_EQ(RenderReload(json{{"ok", true},
                              {"applied", {"underlay.local", "underlay.peers"}},
                              {"needs_restart", {"engine.workers"}}}),
            "reloaded: underlay.local, underlay.peers\nnot applied (need a restart): engine.workers\n");
}

TEST(Render, FdbSortedWithWhere) {
  const json fdb = json::parse(R"({"ok": true, "entries": [
      {"vni": 42, "mac": "02:00:00:00:00:02", "kind": "remote", "vtep": "198.18.0.2", "age_ms": 1500},
      {"vni": 7, "mac": "02:00:00:00:00:09", "kind": "local", "port": 1, "age_ms": 20},
      {"vni": 42, "mac": "02:00:00:00:00:01", "kind": "local", "port": 0}]})");
  EXPECT_EQ(RenderFdb(fdb),
            "VNI  MAC                KIND    WHERE             AGE\n"
            "  7  02:00:00:00:00:09  local   port 1           20ms\n"
            " 42  02:00:00:00:00:01  local   port 0              -\n"
            " 42  02:00:00:00:00:02  remote  vtep 198.18.0.2  1.5s\n"
            "3 entries\n");
}

}  // namespace
}  // namespace mflow::ctl

namespace mflow::ctl {
namespace {

TEST(RenderStoreTest, StatusSectionAndHostTable) {
  const nlohmann::json store = nlohmann::json::parse(R"({"state":"watching","subnet":"198.19.7.0/24",
    "host_id":"node-1","vtep_mac":"02:aa:00:00:00:01","revision":42,"peers":3,"udp_peers":2,
    "refused":1,"last_refusal":"/mflow/network/subnets/x: not JSON","last_error":"",
    "renewals":5,"renew_failures":0,"lease_lost":0,
    "endpoints":[{"url":"http://10.0.0.9:2379","up":false,"failures":2,"last_error":"timeout"}],
    "peer_list":[{"subnet":"198.19.7.0/24","host_id":"node-1","underlay":["198.18.1.1"],
                  "vtep_mac":"02:aa:00:00:00:01","mode":"microflow","self":true}]})");
  const std::string s = StatusStore({{"store", store}});
  EXPECT_NE(s.find("198.19.7.0/24"), std::string::npos) << s;
  EXPECT_NE(s.find("3 in the table (this one too), 2 on the UDP port"), std::string::npos) << s;
  EXPECT_NE(s.find("http://10.0.0.9:2379  no"), std::string::npos) << s;
  EXPECT_NE(s.find("not JSON"), std::string::npos) << s;
  EXPECT_EQ(StatusStore({{"ok", true}}), "");  // no store: no section
  const std::string t = RenderStore(store);
  EXPECT_NE(t.find("(this host)"), std::string::npos) << t;
}

}  // namespace
}  // namespace mflow::ctl
