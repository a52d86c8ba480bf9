// Fuzz target: the etcd gateway reply parsers (src/store/etcd_json.h) on
// arbitrary bytes; the first byte picks the parser. Replies come from the
// network, so besides memory safety it checks what an accepted reply
// promises: revisions are not negative, events come in revision order and
// none is after its message's header revision.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.h"
#include "store/etcd_json.h"

using namespace mflow::store;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 6) {
    case 0: {
      auto r = ParseRangeReply(body);
      if (r.ok())
        for (const auto& kv : r->kvs) FUZZ_CHECK(kv.mod_revision >= 0 && kv.create_revision >= 0 && kv.lease >= 0);
      break;
    }
    case 1: {
      auto r = ParseTxnReply(body);
      (void)r;
      break;
    }
    case 2: {
      auto g = ParseLeaseGrantReply(body);
      if (g.ok()) FUZZ_CHECK(g->id > 0 && g->ttl > 0);
      break;
    }
    case 3: {
      auto t = ParseKeepAliveReply(body);
      if (t.ok()) FUZZ_CHECK(*t >= 0);
      break;
    }
    case 4: {
      auto m = ParseWatchMessage(body);
      if (m.ok()) {
        FUZZ_CHECK(m->compact_revision >= 0);
        int64_t prev = 0;
        for (const auto& e : m->events) {
          FUZZ_CHECK(e.kv.mod_revision > 0 && e.kv.mod_revision <= m->revision);
          FUZZ_CHECK(e.kv.mod_revision >= prev);
          prev = e.kv.mod_revision;
        }
      }
      break;
    }
    default: {
      auto r = ParseRevisionReply(body);
      (void)r;
      (void)GatewayErrorCode(body);
      break;
    }
  }
  return 0;
}
