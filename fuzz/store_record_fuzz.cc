// Fuzz target: host records and the network config as any host or an
// operator's etcdctl may write them (src/store/subnet_record.h,
// network_config.h), and a PeerTable fed with them. Checks memory safety,
// that an accepted record or config round-trips through its JSON, and that
// the peer table never holds two overlapping subnets.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "store/peer_table.h"

using namespace mflow::store;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto r = ParseSubnetRecord(text); r.ok()) {
    auto again = ParseSubnetRecord(r->ToJson());
    FUZZ_CHECK(again.ok() && *again == *r);
  }
  if (auto c = ParseNetworkConfig(text); c.ok()) {
    auto again = ParseNetworkConfig(c->ToJson());
    FUZZ_CHECK(again.ok() && *again == *c);
    FUZZ_CHECK(c->SubnetCount() >= 2);
  }
  // The same bytes as the value of a few keys, through the watch and a listing.
  static const NetworkConfig config = ParseNetworkConfig(R"({"network":"198.19.0.0/16","vni":42})").value();
  PeerTable table("/m/", config);
  std::string value(text);
  const char* keys[] = {"/m/subnets/198.19.1.0-24", "/m/subnets/198.19.0.0-23", "/m/subnets/x"};
  int64_t rev = 1;
  for (const char* k : keys) table.Apply(WatchEvent{WatchEvent::Type::kPut, KeyValue{k, value, rev, rev, 1, 0}}), ++rev;
  for (const auto& [a, pa] : table.peers())
    for (const auto& [b, pb] : table.peers()) FUZZ_CHECK(a == b || !a.Overlaps(b));
  std::vector<KeyValue> list;
  for (const char* k : keys) list.push_back(KeyValue{k, value, rev, rev, 1, 0}), ++rev;
  table.Reconcile(list, rev);
  for (const auto& [a, pa] : table.peers())
    for (const auto& [b, pb] : table.peers()) FUZZ_CHECK(a == b || !a.Overlaps(b));
  return 0;
}
