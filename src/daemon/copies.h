// mflowd's copies per byte (port/copy_stats.h) as `mflowctl stats` shows
// them: a "copies" object in each engine path of the stats reply.
//
//   {"kernel_bytes": N, "user_bytes": N, "delivered_bytes": N, "per_byte": X}
//
// Thread-safety: pure function.
#pragma once

#include <nlohmann/json.hpp>

#include "port/copy_stats.h"

namespace mflow::daemon {

nlohmann::json CopiesJson(const PathCopies& c);

}  // namespace mflow::daemon
