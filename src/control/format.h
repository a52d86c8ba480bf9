// Text formatting for mflowctl: aligned tables and readable numbers.
//
// Replies come from a daemon that may be newer or older than mflowctl, so
// every accessor here tolerates a missing field or a field of another type
// and shows it as "-" instead of failing.
//
// Thread-safety: pure functions; a Table belongs to one thread.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace mflow::ctl {

inline constexpr const char* kMissing = "-";

std::string Thousands(uint64_t n);           // 1234567 -> "1,234,567"
std::string SiBytes(uint64_t n);             // 1500 -> "1.50 kB", 999 -> "999 B"
std::string Duration(double seconds);        // 93784.5 -> "1d 2h 3m 4s", 12.5 -> "12.5s"
std::string Milliseconds(uint64_t ms);       // 850 -> "850ms", 1500 -> "1.5s", 90000 -> "1m 30s"

// j[key] rendered for a table cell: integers with thousands separators,
// other numbers as they are, strings as they are, bools as yes/no, arrays
// joined with ",", missing or null as "-".
std::string Cell(const nlohmann::json& j, std::string_view key);
// Like Cell, but integers without separators (ids, VNIs, MTUs, pids).
std::string Plain(const nlohmann::json& j, std::string_view key);
// j[key] as a byte count in SI units, "-" when missing.
std::string BytesCell(const nlohmann::json& j, std::string_view key);
// j[key] as an unsigned integer, 0 when missing or not one.
uint64_t Count(const nlohmann::json& j, std::string_view key);
// j[key] when it is an array / object, else an empty one (never throws).
const nlohmann::json& Array(const nlohmann::json& j, std::string_view key);
const nlohmann::json& Object(const nlohmann::json& j, std::string_view key);

// Columns are left-aligned, or right-aligned when their header is declared
// numeric; two spaces between columns; an optional indent for every line.
class Table {
 public:
  enum class Align { kLeft, kRight };
  struct Column {
    std::string header;
    Align align = Align::kLeft;
  };
  explicit Table(std::vector<Column> columns, std::string indent = "");
  void Add(std::vector<std::string> row);
  bool empty() const { return rows_.empty(); }
  std::string Render() const;

 private:
  std::vector<Column> columns_;
  std::string indent_;
  std::vector<std::vector<std::string>> rows_;
};

// "key  value" lines with the keys padded to one width.
std::string KeyValues(const std::vector<std::pair<std::string, std::string>>& kv,
                      const std::string& indent = "");

}  // namespace mflow::ctl
