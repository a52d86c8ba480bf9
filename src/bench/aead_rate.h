// mflow-bench --aead-only: the single-core rate of the AesGcm class itself,
// sealing and opening one message size in place (8 bytes of AAD, as ESP
// without ESN), so that the cost of the calls around AES can be set against
// `openssl speed -evp aes-128-gcm -bytes N`, the ceiling on the same core.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace mflow::bench {

struct AeadRate {
  double seal_gbytes = 0;  // 10^9 bytes of message per second
  double open_gbytes = 0;
};

// alg: aes-128-gcm or aes-256-gcm; bytes: message size; ms: per direction.
StatusOr<AeadRate> MeasureAead(const std::string& alg, uint32_t bytes, uint32_t ms);

// The machine's own ceiling for spreading crypto over cores: `threads`
// threads seal at the same time for ms, each with its own context and
// buffer (as the engine's workers do), and their rates are summed (10^9
// bytes/s). Divided by one thread's rate it is the most any engine could
// gain from that many workers on AES-GCM here: well below `threads` on a
// VM whose vCPUs share a physical core or whose host is busy.
StatusOr<double> MeasureSealTogether(const std::string& alg, uint32_t bytes, uint32_t ms,
                                     uint32_t threads);

}  // namespace mflow::bench
