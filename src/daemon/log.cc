#include "daemon/log.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <memory>

namespace mflow::daemon {
namespace {

std::shared_ptr<spdlog::logger> g_logger;
bool g_json = false;

spdlog::level::level_enum ToSpd(Level l) {
  switch (l) {
    case Level::kDebug:
      return spdlog::level::debug;
    case Level::kInfo:
      return spdlog::level::info;
    case Level::kWarn:
      return spdlog::level::warn;
    case Level::kError:
      return spdlog::level::err;
  }
  return spdlog::level::info;
}

// logfmt quotes values with spaces, quotes or '='; JSON escapes control
// characters too. Both escape '"' and '\'.
void AppendEscaped(std::string& out, std::string_view v) {
  for (char c : v) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += (c == '\n') ? "\\n" : "?";
    } else {
      out += c;
    }
  }
}

bool NeedsQuotes(std::string_view v) {
  if (v.empty()) return true;
  for (char c : v)
    if (c == ' ' || c == '"' || c == '=' || c == '\\' || static_cast<unsigned char>(c) < 0x20)
      return true;
  return false;
}

}  // namespace

Status LogInit(std::string_view level, std::string_view format) {
  g_logger = spdlog::stderr_logger_mt("mflowd");
  g_json = format == "json";
  // The timestamp and level are part of our line (JSON needs them inside).
  g_logger->set_pattern(g_json ? "{\"ts\":\"%Y-%m-%dT%H:%M:%S.%e%z\",\"level\":\"%l\",%v}"
                               : "ts=%Y-%m-%dT%H:%M:%S.%e%z level=%l %v");
  g_logger->flush_on(spdlog::level::debug);
  return LogSetLevel(level);
}

Status LogSetLevel(std::string_view level) {
  if (level == "debug")
    g_logger->set_level(spdlog::level::debug);
  else if (level == "info")
    g_logger->set_level(spdlog::level::info);
  else if (level == "warn")
    g_logger->set_level(spdlog::level::warn);
  else if (level == "error")
    g_logger->set_level(spdlog::level::err);
  else
    return Status::Error("log level '" + std::string(level) + "' is not debug, info, warn or error");
  return Status::Ok();
}

void Log(Level level, std::string_view msg, std::initializer_list<Field> fields) {
  if (!g_logger) LogInit("info", "text").ok() ? void() : void();
  if (!g_logger->should_log(ToSpd(level))) return;
  std::string line;
  line.reserve(128);
  if (g_json) {
    line += "\"msg\":\"";
    AppendEscaped(line, msg);
    line += '"';
    for (const Field& f : fields) {
      line += ",\"";
      line += f.key;
      line += "\":";
      if (f.quoted) line += '"';
      AppendEscaped(line, f.value);
      if (f.quoted) line += '"';
    }
  } else {
    line += "msg=\"";
    AppendEscaped(line, msg);
    line += '"';
    for (const Field& f : fields) {
      line += ' ';
      line += f.key;
      line += '=';
      const bool q = f.quoted && NeedsQuotes(f.value);
      if (q) line += '"';
      AppendEscaped(line, f.value);
      if (q) line += '"';
    }
  }
  g_logger->log(ToSpd(level), "{}", line);
}

}  // namespace mflow::daemon
