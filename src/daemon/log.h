// Structured logs for mflowd: one line per event, a message plus key=value
// fields, as logfmt (text) or one JSON object per line (json), on stderr.
// spdlog does the levels, the sink and the locking; this file only shapes
// the line.
//
// Thread-safety: Log and LogSetLevel from any thread; LogInit once, before
// other threads.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>

#include "common/status.h"

namespace mflow::daemon {

enum class Level { kDebug, kInfo, kWarn, kError };

struct Field {
  Field(std::string_view k, std::string_view v) : key(k), value(v), quoted(true) {}
  Field(std::string_view k, const char* v) : key(k), value(v), quoted(true) {}
  Field(std::string_view k, const std::string& v) : key(k), value(v), quoted(true) {}
  Field(std::string_view k, bool v) : key(k), value(v ? "true" : "false"), quoted(false) {}
  template <typename T, typename = std::enable_if_t<std::is_arithmetic_v<T>>>
  Field(std::string_view k, T v) : key(k), value(std::to_string(v)), quoted(false) {}
  std::string_view key;
  std::string value;
  bool quoted;  // a string (JSON: quoted), not a number or boolean
};

// level: debug|info|warn|error; format: text|json.
Status LogInit(std::string_view level, std::string_view format);
// Changes the level of a running logger (a reload); any thread.
Status LogSetLevel(std::string_view level);
void Log(Level level, std::string_view msg, std::initializer_list<Field> fields = {});

inline void LogDebug(std::string_view m, std::initializer_list<Field> f = {}) { Log(Level::kDebug, m, f); }
inline void LogInfo(std::string_view m, std::initializer_list<Field> f = {}) { Log(Level::kInfo, m, f); }
inline void LogWarn(std::string_view m, std::initializer_list<Field> f = {}) { Log(Level::kWarn, m, f); }
inline void LogError(std::string_view m, std::initializer_list<Field> f = {}) { Log(Level::kError, m, f); }

}  // namespace mflow::daemon
