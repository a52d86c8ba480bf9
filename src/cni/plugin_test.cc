// The verbs end to end in-process: RunPlugin against a fake mflowd (the
// real ControlServer with a handler that keeps ports in a map and speaks the
// port API contract) and an IPAM plugin that is either Debian's host-local
// (the reference; its store in a temp dataDir) or a small shell script that
// logs its calls and answers as told.
#include "cni/plugin.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "control/control_server.h"

namespace mflow::cni {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr const char* kHostLocalDir = "/usr/lib/cni";

// mflowd's side of the port API, as the contract describes it.
class FakeMflowd {
 public:
  std::string mode = "ok";  // ok | busy | fail | no_netns (set with SetMode: the server thread reads it)
  std::map<std::string, json> ports;  // name -> port-add request
  std::set<std::string> devices;      // "netns|ifname" already present
  std::vector<std::string> commands;

  void SetMode(const std::string& m) {
    std::lock_guard lock(mu);
    mode = m;
  }

  json Handle(const json& req) {
    std::lock_guard lock(mu);
    const std::string cmd = req.value("cmd", "");
    commands.push_back(cmd);
    if (mode == "busy") return {{"ok", false}, {"code", "busy"}, {"error", "mflowd is reloading"}};
    if (cmd == "port-add") {
      if (mode == "fail") return {{"ok", false}, {"code", "failed"}, {"error", "port-add: cannot open the TAP"}};
      if (mode == "no_netns") return {{"ok", false}, {"code", "not_found"}, {"error", "port-add: netns missing"}};
      const std::string name = req.value("name", "");
      const std::string dev = req.value("netns", "") + "|" + req.value("ifname", "");
      if (ports.count(name) || devices.count(dev))
        return {{"ok", false}, {"code", "exists"}, {"error", "port-add: eth0 exists in the namespace"}};
      ports[name] = req;
      devices.insert(dev);
      return {{"ok", true}, {"id", ports.size()}, {"name", name}, {"ifname", req["ifname"]},
              {"mac", "0a:58:c6:13:40:05"}, {"mtu", 1450}, {"ifindex", 2}};
    }
    if (cmd == "port-del") {
      const std::string name = req.value("name", "");
      auto it = ports.find(name);
      if (it == ports.end()) return {{"ok", false}, {"code", "not_found"}, {"error", "no port " + name}};
      devices.erase(it->second.value("netns", "") + "|" + it->second.value("ifname", ""));
      ports.erase(it);
      return {{"ok", true}};
    }
    if (cmd == "ports") {
      json list = json::array();
      for (const auto& [name, p] : ports) {
        const json addrs = p.value("addresses", json::array());
        list.push_back({{"name", name}, {"netns", p["netns"]}, {"ifname", p["ifname"]}, {"vni", p["vni"]},
                        {"mac", "0a:58:c6:13:40:05"}, {"addresses", addrs},
                        {"address", addrs.empty() ? "" : addrs[0].get<std::string>()}});
      }
      return {{"ok", true}, {"ports", list}};
    }
    if (cmd == "subnet") {
      if (subnet.empty()) return {{"ok", false}, {"code", "not_found"}, {"error", "no store"}};
      return {{"ok", true}, {"subnet", subnet}, {"network", "198.19.0.0/16"}};
    }
    return {{"ok", false}, {"code", "invalid"}, {"error", "unknown command"}};
  }
  std::string subnet;  // the store's answer to "subnet"; "" = mflowd without a store

  std::mutex mu;
};

class PluginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::signal(SIGPIPE, SIG_IGN);
    char tmpl[] = "/tmp/mflow-cni-test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    socket_ = dir_ + "/mflowd.sock";
    data_dir_ = dir_ + "/ipam";
    fs::create_directories(dir_ + "/bin");
    StartMflowd();
    opts_.log = nullptr;
    opts_.ipam_timeout = std::chrono::milliseconds(20000);
  }
  void TearDown() override {
    server_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  void StartMflowd() {
    auto s = ControlServer::Start(socket_, [this](const json& r) { return fake_.Handle(r); });
    ASSERT_TRUE(s.ok()) << s.status().message();
    server_ = std::move(s.value());
  }

  static bool HaveHostLocal() { return ::access((std::string(kHostLocalDir) + "/host-local").c_str(), X_OK) == 0; }

  json Config(const std::string& version = "1.0.0") const {
    return {{"cniVersion", version},
            {"name", "mflow-test"},
            {"type", "mflow"},
            {"vni", 42},
            {"socket", socket_},
            {"ipam",
             {{"type", "host-local"},
              {"dataDir", data_dir_},
              {"ranges", {{{{"subnet", "198.19.64.0/24"}, {"rangeStart", "198.19.64.10"},
                             {"rangeEnd", "198.19.64.200"}}}}},
              {"routes", {{{"dst", "198.19.128.0/24"}}}}}}};
  }

  // A shell-script IPAM plugin: logs "VERB CONTAINERID" to calls, then runs `body`.
  json ScriptConfig(const std::string& body) {
    const std::string path = dir_ + "/bin/fake-ipam";
    std::ofstream(path) << "#!/bin/sh\ncat >/dev/null\necho \"$CNI_COMMAND $CNI_CONTAINERID\" >>" << dir_
                        << "/calls\n"
                        << body << "\n";
    ::chmod(path.c_str(), 0755);
    json c = Config();
    c["ipam"] = {{"type", "fake-ipam"}};
    return c;
  }
  std::string Calls() const {
    std::ifstream f(dir_ + "/calls");
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
  }

  EnvMap Env(const std::string& command, const std::string& id = "c0ffee01", const std::string& ifname = "eth0") {
    return {{"CNI_COMMAND", command},
            {"CNI_CONTAINERID", id},
            {"CNI_NETNS", "/run/netns/mfc-" + id},
            {"CNI_IFNAME", ifname},
            {"CNI_PATH", dir_ + "/bin:" + kHostLocalDir}};
  }

  PluginOutput Run(const EnvMap& env, const json& config) { return RunPlugin(env, config.dump(), opts_); }

  // The error object of a failed run, checked for the spec's shape.
  json ErrorOf(const PluginOutput& out) {
    EXPECT_NE(out.exit_code, 0) << out.out;
    const json j = json::parse(out.out, nullptr, false);
    EXPECT_TRUE(j.is_object()) << out.out;
    if (!j.is_object()) return json::object();
    EXPECT_TRUE(j.contains("cniVersion"));
    EXPECT_TRUE(j["code"].is_number_unsigned());
    EXPECT_TRUE(j["msg"].is_string());
    return j;
  }

  // Addresses host-local holds: its store has one file per allocated IP.
  std::vector<std::string> Allocated() const {
    std::vector<std::string> out;
    const fs::path net = fs::path(data_dir_) / "mflow-test";
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(net, ec)) {
      const std::string n = e.path().filename().string();
      if (n.rfind("198.", 0) == 0) out.push_back(n);
    }
    return out;
  }

  size_t PortCount() {
    std::lock_guard lock(fake_.mu);
    return fake_.ports.size();
  }

  std::string dir_, socket_, data_dir_;
  FakeMflowd fake_;
  std::unique_ptr<ControlServer> server_;
  PluginOptions opts_;
};

TEST_F(PluginTest, VersionListsEverySupportedVersion) {
  auto out = RunPlugin({{"CNI_COMMAND", "VERSION"}}, R"({"cniVersion":"0.4.0"})", opts_);
  EXPECT_EQ(out.exit_code, 0);
  const json j = json::parse(out.out);
  EXPECT_EQ(j["cniVersion"], "0.4.0");
  EXPECT_EQ(j["supportedVersions"], json({"0.3.0", "0.3.1", "0.4.0", "1.0.0"}));
  out = RunPlugin({{"CNI_COMMAND", "VERSION"}}, "", opts_);
  EXPECT_EQ(json::parse(out.out)["cniVersion"], "1.0.0");
}

TEST_F(PluginTest, AddCreatesThePortWithIpamAddressesAndPrintsA100Result) {
  if (!HaveHostLocal()) GTEST_SKIP() << "host-local (containernetworking-plugins) not installed";
  auto out = Run(Env("ADD"), Config());
  ASSERT_EQ(out.exit_code, 0) << out.out;
  const json r = json::parse(out.out);
  EXPECT_EQ(r["cniVersion"], "1.0.0");
  EXPECT_EQ(r["interfaces"][0]["name"], "eth0");
  EXPECT_EQ(r["interfaces"][0]["mac"], "0a:58:c6:13:40:05");
  EXPECT_EQ(r["interfaces"][0]["sandbox"], "/run/netns/mfc-c0ffee01");
  EXPECT_EQ(r["ips"][0]["address"], "198.19.64.10/24");
  EXPECT_EQ(r["ips"][0]["gateway"], "198.19.64.1");
  EXPECT_EQ(r["ips"][0]["interface"], 0);
  EXPECT_FALSE(r["ips"][0].contains("version"));
  EXPECT_EQ(r["routes"][0], json({{"dst", "198.19.128.0/24"}, {"gw", "198.19.64.1"}}));

  std::lock_guard lock(fake_.mu);
  ASSERT_EQ(fake_.ports.size(), 1u);
  const json& req = fake_.ports.begin()->second;
  EXPECT_EQ(req["name"], "cni:c0ffee01:eth0");
  EXPECT_EQ(req["ifname"], "eth0");
  EXPECT_EQ(req["netns"], "/run/netns/mfc-c0ffee01");
  EXPECT_EQ(req["vni"], 42);
  EXPECT_EQ(req["addresses"], json({"198.19.64.10/24"}));
  EXPECT_EQ(req["gateway"], "none");
  EXPECT_EQ(req["routes"], json::array({{{"dst", "198.19.128.0/24"}, {"gw", "198.19.64.1"}}}));
}

TEST_F(PluginTest, AddAnswersInTheConfigsVersion) {
  if (!HaveHostLocal()) GTEST_SKIP();
  auto out = Run(Env("ADD"), Config("0.4.0"));
  ASSERT_EQ(out.exit_code, 0) << out.out;
  const json r = json::parse(out.out);
  EXPECT_EQ(r["cniVersion"], "0.4.0");
  EXPECT_EQ(r["ips"][0]["version"], "4");
  EXPECT_EQ(r["interfaces"][0]["sandbox"], "/run/netns/mfc-c0ffee01");
}

TEST_F(PluginTest, AddCopiesConfiguredDns) {
  json c = ScriptConfig(R"(echo '{"cniVersion":"1.0.0","ips":[{"address":"198.19.64.7/24"}]}')");
  c["dns"] = {{"nameservers", {"198.19.64.1"}}};
  auto out = Run(Env("ADD"), c);
  ASSERT_EQ(out.exit_code, 0) << out.out;
  EXPECT_EQ(json::parse(out.out)["dns"]["nameservers"][0], "198.19.64.1");
}

TEST_F(PluginTest, AddWithoutIpamMakesAnAddresslessPort) {
  json c = Config();
  c.erase("ipam");
  auto out = Run(Env("ADD"), c);
  ASSERT_EQ(out.exit_code, 0) << out.out;
  EXPECT_TRUE(json::parse(out.out)["ips"].empty());
  EXPECT_EQ(PortCount(), 1u);
}

TEST_F(PluginTest, AddOfAnExistingInterfaceIsCode103AndReleasesIpam) {
  if (!HaveHostLocal()) GTEST_SKIP();
  {
    std::lock_guard lock(fake_.mu);
    fake_.devices.insert("/run/netns/mfc-c0ffee01|eth0");
  }
  const json e = ErrorOf(Run(Env("ADD"), Config()));
  EXPECT_EQ(e["code"], kInterfaceExists);
  EXPECT_TRUE(Allocated().empty()) << "the IPAM allocation was not released";
}

TEST_F(PluginTest, AddFailingInMflowdIsCode100AndReleasesIpam) {
  if (!HaveHostLocal()) GTEST_SKIP();
  fake_.SetMode("fail");
  const json e = ErrorOf(Run(Env("ADD"), Config()));
  EXPECT_EQ(e["code"], kMflowdRefused);
  EXPECT_NE(e["msg"].get<std::string>().find("TAP"), std::string::npos);
  EXPECT_TRUE(Allocated().empty());
  fake_.SetMode("ok");
  auto out = Run(Env("ADD", "c0ffee02"), Config());
  ASSERT_EQ(out.exit_code, 0) << out.out;
  EXPECT_EQ(Allocated().size(), 1u);
}

TEST_F(PluginTest, AddWithMissingNetnsIsCode104AndReleasesIpam) {
  json c = ScriptConfig(R"(echo '{"cniVersion":"1.0.0","ips":[{"address":"198.19.64.7/24"}]}')");
  fake_.SetMode("no_netns");
  EXPECT_EQ(ErrorOf(Run(Env("ADD"), c))["code"], kNetnsNotFound);
  EXPECT_EQ(Calls(), "ADD c0ffee01\nDEL c0ffee01\n");
}

TEST_F(PluginTest, MflowdNotRunningOrBusyIsCode11AndReleasesIpam) {
  if (!HaveHostLocal()) GTEST_SKIP();
  fake_.SetMode("busy");
  EXPECT_EQ(ErrorOf(Run(Env("ADD"), Config()))["code"], kTryAgainLater);
  EXPECT_TRUE(Allocated().empty());
  server_.reset();  // mflowd stops: its socket file goes
  const json e = ErrorOf(Run(Env("ADD"), Config()));
  EXPECT_EQ(e["code"], kTryAgainLater);
  EXPECT_NE(e["msg"].get<std::string>().find("not running"), std::string::npos);
  EXPECT_TRUE(Allocated().empty());
}

TEST_F(PluginTest, IpamErrorsPassThroughWithTheirCode) {
  json c = ScriptConfig(R"(echo '{"cniVersion":"1.0.0","code":11,"msg":"store locked"}'; exit 1)");
  const json e = ErrorOf(Run(Env("ADD"), c));
  EXPECT_EQ(e["code"], 11);
  EXPECT_NE(e["msg"].get<std::string>().find("store locked"), std::string::npos);
  EXPECT_EQ(PortCount(), 0u);
}

TEST_F(PluginTest, UnreadableIpamOutputIsCode101AndIsReleased) {
  json c = ScriptConfig(R"(if [ "$CNI_COMMAND" = ADD ]; then echo 'not json'; fi)");
  EXPECT_EQ(ErrorOf(Run(Env("ADD"), c))["code"], kIpamFailed);
  EXPECT_EQ(Calls(), "ADD c0ffee01\nDEL c0ffee01\n");
  c = ScriptConfig("exit 3");  // fails without an error object
  EXPECT_EQ(ErrorOf(Run(Env("ADD"), c))["code"], kIpamFailed);
}

TEST_F(PluginTest, HungIpamIsKilledAfterTheTimeout) {
  json c = ScriptConfig("exec sleep 30");
  opts_.ipam_timeout = std::chrono::milliseconds(300);
  const json e = ErrorOf(Run(Env("ADD"), c));
  EXPECT_EQ(e["code"], kIpamFailed);
  EXPECT_NE(e["msg"].get<std::string>().find("did not finish"), std::string::npos);
}

TEST_F(PluginTest, MissingIpamPluginOrCniPath) {
  json c = Config();
  c["ipam"]["type"] = "no-such-ipam";
  json e = ErrorOf(Run(Env("ADD"), c));
  EXPECT_EQ(e["code"], kIpamFailed);
  EXPECT_NE(e["msg"].get<std::string>().find("no-such-ipam"), std::string::npos);
  EnvMap env = Env("ADD");
  env.erase("CNI_PATH");
  e = ErrorOf(Run(env, Config()));
  EXPECT_EQ(e["code"], kInvalidEnvironment);
  EXPECT_NE(e["msg"].get<std::string>().find("CNI_PATH"), std::string::npos);
}

TEST_F(PluginTest, DelRemovesPortAndAllocationAndIsIdempotent) {
  if (!HaveHostLocal()) GTEST_SKIP();
  ASSERT_EQ(Run(Env("ADD"), Config()).exit_code, 0);
  EXPECT_EQ(PortCount(), 1u);
  EXPECT_EQ(Allocated().size(), 1u);
  auto out = Run(Env("DEL"), Config());
  EXPECT_EQ(out.exit_code, 0) << out.out;
  EXPECT_TRUE(out.out.empty());
  EXPECT_EQ(PortCount(), 0u);
  EXPECT_TRUE(Allocated().empty());
  // Again: nothing left to remove is success; and without CNI_NETNS too.
  EXPECT_EQ(Run(Env("DEL"), Config()).exit_code, 0);
  EnvMap env = Env("DEL");
  env.erase("CNI_NETNS");
  EXPECT_EQ(Run(env, Config()).exit_code, 0);
}

TEST_F(PluginTest, DelAfterMflowdRestartLeavesNothing) {
  if (!HaveHostLocal()) GTEST_SKIP();
  ASSERT_EQ(Run(Env("ADD"), Config()).exit_code, 0);
  // mflowd dies (its ports with it) ...
  server_.reset();
  {
    std::lock_guard lock(fake_.mu);
    fake_.ports.clear();
    fake_.devices.clear();
  }
  // ... DEL while it is down still releases the address ...
  EXPECT_EQ(Run(Env("DEL"), Config()).exit_code, 0);
  EXPECT_TRUE(Allocated().empty());
  // ... and once it is back, DEL of the gone port succeeds too.
  StartMflowd();
  EXPECT_EQ(Run(Env("DEL"), Config()).exit_code, 0);
}

TEST_F(PluginTest, DelWhileMflowdIsBusyStillReleasesIpamAndSaysTryAgain) {
  json c = ScriptConfig("true");
  fake_.SetMode("busy");
  EXPECT_EQ(ErrorOf(Run(Env("DEL"), c))["code"], kTryAgainLater);
  EXPECT_EQ(Calls(), "DEL c0ffee01\n");
}

TEST_F(PluginTest, CheckPassesAfterAddAndFindsWhatIsMissing) {
  if (!HaveHostLocal()) GTEST_SKIP();
  auto add = Run(Env("ADD"), Config());
  ASSERT_EQ(add.exit_code, 0) << add.out;
  json c = Config();
  c["prevResult"] = json::parse(add.out);
  auto out = Run(Env("CHECK"), c);
  EXPECT_EQ(out.exit_code, 0) << out.out;

  json wrong = c;
  wrong["prevResult"]["ips"][0]["address"] = "198.19.64.99/24";
  json e = ErrorOf(Run(Env("CHECK"), wrong));
  EXPECT_EQ(e["code"], kCheckMismatch);
  EXPECT_NE(e["msg"].get<std::string>().find("198.19.64.99/24"), std::string::npos);

  EnvMap other_ns = Env("CHECK");
  other_ns["CNI_NETNS"] = "/run/netns/elsewhere";
  EXPECT_EQ(ErrorOf(Run(other_ns, c))["code"], kCheckMismatch);

  ASSERT_EQ(Run(Env("DEL"), Config()).exit_code, 0);
  e = ErrorOf(Run(Env("CHECK"), c));
  EXPECT_EQ(e["code"], kCheckMismatch);
  EXPECT_NE(e["msg"].get<std::string>().find("no port"), std::string::npos);
}

TEST_F(PluginTest, CheckTakesAnotherPathToTheSameNamespace) {
  json c = ScriptConfig(R"(echo '{"cniVersion":"1.0.0","ips":[{"address":"198.19.64.7/24"}]}')");
  EnvMap env = Env("ADD");
  env["CNI_NETNS"] = "/proc/self/ns/net";
  auto add = Run(env, c);
  ASSERT_EQ(add.exit_code, 0) << add.out;
  c["prevResult"] = json::parse(add.out);
  env["CNI_COMMAND"] = "CHECK";
  env["CNI_NETNS"] = "/proc/" + std::to_string(::getpid()) + "/ns/net";
  auto out = Run(env, c);
  EXPECT_EQ(out.exit_code, 0) << out.out;
}

TEST_F(PluginTest, CheckNeedsPrevResultAnd040) {
  json c = Config();
  EXPECT_EQ(ErrorOf(Run(Env("CHECK"), c))["code"], kInvalidConfig);
  c = Config("0.3.1");
  c["prevResult"] = {{"cniVersion", "0.3.1"}};
  EXPECT_EQ(ErrorOf(Run(Env("CHECK"), c))["code"], kIncompatibleVersion);
}

TEST_F(PluginTest, EveryInputErrorIsASpecErrorObject) {
  json e = ErrorOf(RunPlugin(Env("ADD"), "{not json", opts_));
  EXPECT_EQ(e["code"], kDecodeFailure);
  json c = Config();
  c["cniVersion"] = "0.2.0";
  EXPECT_EQ(ErrorOf(Run(Env("ADD"), c))["code"], kIncompatibleVersion);
  c = Config();
  c.erase("vni");
  e = ErrorOf(Run(Env("ADD"), c));
  EXPECT_EQ(e["code"], kInvalidConfig);
  EXPECT_NE(e["msg"].get<std::string>().find("vni"), std::string::npos);
  c = Config("0.4.0");
  c["isGateway"] = true;
  e = ErrorOf(Run(Env("ADD"), c));
  EXPECT_EQ(e["code"], kUnsupportedField);
  EXPECT_EQ(e["cniVersion"], "0.4.0");  // answered in the caller's version
  EnvMap env = Env("ADD");
  env.erase("CNI_IFNAME");
  e = ErrorOf(Run(env, Config()));
  EXPECT_EQ(e["code"], kInvalidEnvironment);
  EXPECT_NE(e["msg"].get<std::string>().find("CNI_IFNAME"), std::string::npos);
  EXPECT_EQ(PortCount(), 0u);
}

TEST_F(PluginTest, LogFileGetsTheLog) {
  json c = ScriptConfig("true");
  c["logFile"] = dir_ + "/cni.log";
  ASSERT_EQ(Run(Env("DEL"), c).exit_code, 0);
  std::ifstream f(dir_ + "/cni.log");
  std::stringstream s;
  s << f.rdbuf();
  EXPECT_NE(s.str().find("DEL mflow-test c0ffee01 eth0"), std::string::npos) << s.str();
}

TEST_F(PluginTest, ParallelAddAndDelOfDifferentContainers) {
  if (!HaveHostLocal()) GTEST_SKIP();
  constexpr int kContainers = 8;
  std::vector<PluginOutput> adds(kContainers);
  {
    std::vector<std::thread> threads;
    for (int i = 0; i < kContainers; ++i)
      threads.emplace_back([&, i] { adds[i] = Run(Env("ADD", "par" + std::to_string(i)), Config()); });
    for (auto& t : threads) t.join();
  }
  std::set<std::string> addresses;
  for (const auto& a : adds) {
    ASSERT_EQ(a.exit_code, 0) << a.out;
    addresses.insert(json::parse(a.out)["ips"][0]["address"].get<std::string>());
  }
  EXPECT_EQ(addresses.size(), size_t{kContainers});
  EXPECT_EQ(PortCount(), size_t{kContainers});
  {
    std::vector<std::thread> threads;
    std::vector<int> codes(kContainers, -1);
    for (int i = 0; i < kContainers; ++i)
      threads.emplace_back([&, i] { codes[i] = Run(Env("DEL", "par" + std::to_string(i)), Config()).exit_code; });
    for (auto& t : threads) t.join();
    for (int c : codes) EXPECT_EQ(c, 0);
  }
  EXPECT_EQ(PortCount(), 0u);
  EXPECT_TRUE(Allocated().empty());
}

}  // namespace
}  // namespace mflow::cni

namespace mflow::cni {
namespace {

// Store mode: host-local without a range takes the host's subnet from
// mflowd; the address's prefix is the whole overlay, the range the subnet.
TEST_F(PluginTest, HostLocalWithoutRangeTakesTheHostsSubnetFromMflowd) {
  if (!HaveHostLocal()) GTEST_SKIP() << "host-local (containernetworking-plugins) not installed";
  json c = Config();
  c["ipam"].erase("ranges");
  c["ipam"].erase("routes");
  {
    std::lock_guard lock(fake_.mu);
    fake_.subnet = "198.19.7.0/24";
  }
  auto out = Run(Env("ADD"), c);
  ASSERT_EQ(out.exit_code, 0) << out.out;
  const json r = json::parse(out.out);
  EXPECT_EQ(r["ips"][0]["address"], "198.19.7.2/16");
  EXPECT_EQ(r["ips"][0]["gateway"], "198.19.7.1");
  EXPECT_EQ(Allocated(), std::vector<std::string>{"198.19.7.2"});
  // DEL releases it; so does a DEL when mflowd cannot answer (a placeholder range).
  ASSERT_EQ(Run(Env("DEL"), c).exit_code, 0);
  EXPECT_TRUE(Allocated().empty());
  ASSERT_EQ(Run(Env("ADD", "c0ffee02"), c).exit_code, 0);
  server_.reset();
  ASSERT_EQ(Run(Env("DEL", "c0ffee02"), c).exit_code, 0);
  EXPECT_TRUE(Allocated().empty());
}

TEST_F(PluginTest, HostLocalWithoutRangeAndNoStoreFailsTheAdd) {
  if (!HaveHostLocal()) GTEST_SKIP();
  json c = Config();
  c["ipam"].erase("ranges");
  const json e = ErrorOf(Run(Env("ADD"), c));
  EXPECT_EQ(e["code"], 100);
  EXPECT_EQ(PortCount(), 0u);
}

}  // namespace
}  // namespace mflow::cni
