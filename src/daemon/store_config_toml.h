// The [store] table of mflowd's TOML file (store_config.h), apart so that
// only the config parsers include toml++.
#pragma once

#include <string_view>

#include <toml++/toml.h>

#include "daemon/store_config.h"

namespace mflow::daemon {

// Parses the [store] table; errors start with origin and name the field.
Status ParseStoreTable(const toml::table& t, std::string_view origin, StoreConfig* out);

}  // namespace mflow::daemon
