// Fuzz target: what a container runtime and an IPAM plugin hand mflow-cni.
// The network configuration on stdin goes through ParseNetConfig; any JSON
// object also goes through ParseResult (an IPAM plugin's output, a
// prevResult), and an accepted result must survive being written in every
// CNI version the plugin speaks and read back. Checks memory safety, that
// every refusal carries one of the codes the decoders document with a
// message, and that an accepted config holds only values in range.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "cni/cni_result.h"
#include "cni/net_config.h"
#include "fuzz_check.h"

using namespace mflow::cni;

namespace {

void FuzzNetConfig(std::string_view text) {
  (void)PeekCniVersion(text);
  auto cfg = ParseNetConfig(text);
  if (!cfg.ok()) {
    const int code = cfg.error().code;
    FUZZ_CHECK(code == kIncompatibleVersion || code == kUnsupportedField ||
               code == kDecodeFailure || code == kInvalidConfig);
    FUZZ_CHECK(!cfg.error().msg.empty());
    return;
  }
  FUZZ_CHECK(VersionSupported(cfg->cni_version));
  FUZZ_CHECK(cfg->vni >= 1 && cfg->vni <= 16777215);
  FUZZ_CHECK(cfg->mtu == 0 || (cfg->mtu >= 68 && cfg->mtu <= 65535));
  FUZZ_CHECK(!cfg->socket.empty() && cfg->socket.front() == '/');
  FUZZ_CHECK(cfg->raw == text);  // handed to the IPAM plugin unchanged
}

void FuzzResult(std::string_view text) {
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) return;
  auto r = ParseResult(j, "fuzz input");
  if (!r.ok()) {
    FUZZ_CHECK(!r.error().msg.empty());
    return;
  }
  (void)PortRoutes(*r);
  AddResult add;
  add.ifname = "eth0";
  add.mac = "0a:58:c6:13:40:0a";
  add.sandbox = "/var/run/netns/x";
  add.ips = r->ips;
  add.routes = r->routes;
  add.dns = r->dns;
  for (const std::string& v : SupportedVersions()) {
    auto again = ParseResult(BuildResult(add, v), "written result");
    FUZZ_CHECK(again.ok());
    FUZZ_CHECK(again->ips.size() == r->ips.size());
    FUZZ_CHECK(again->routes.size() == r->routes.size());
    for (size_t i = 0; i < r->ips.size(); ++i) {
      FUZZ_CHECK(again->ips[i].address == r->ips[i].address);
      FUZZ_CHECK(again->ips[i].gateway == r->ips[i].gateway);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  FuzzNetConfig(text);
  FuzzResult(text);
  return 0;
}
