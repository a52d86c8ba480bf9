#include "control/format.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace mflow::ctl {

using nlohmann::json;

std::string Thousands(uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  out.reserve(digits.size() + digits.size() / 3);
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

std::string SiBytes(uint64_t n) {
  if (n < 1000) return std::to_string(n) + " B";
  static const char* const kUnits[] = {"kB", "MB", "GB", "TB", "PB", "EB"};
  double v = static_cast<double>(n) / 1000.0;
  size_t u = 0;
  // Three significant digits; move up a unit where rounding would print 1000.
  while (v >= 999.5 && u + 1 < std::size(kUnits)) {
    v /= 1000.0;
    ++u;
  }
  char buf[32];
  if (v < 9.995) {
    std::snprintf(buf, sizeof buf, "%.2f %s", v, kUnits[u]);
  } else if (v < 99.95) {
    std::snprintf(buf, sizeof buf, "%.1f %s", v, kUnits[u]);
  } else {
    std::snprintf(buf, sizeof buf, "%.0f %s", v, kUnits[u]);
  }
  return buf;
}

std::string Duration(double seconds) {
  if (!(seconds >= 0)) return kMissing;  // negative or NaN: not a duration
  char buf[64];
  if (seconds < 60) {
    std::snprintf(buf, sizeof buf, "%.1fs", seconds);
    return buf;
  }
  auto s = static_cast<uint64_t>(seconds);
  const uint64_t d = s / 86400, h = s / 3600 % 24, m = s / 60 % 60;
  s %= 60;
  if (d > 0) {
    std::snprintf(buf, sizeof buf, "%llud %lluh %llum %llus", static_cast<unsigned long long>(d),
                  static_cast<unsigned long long>(h), static_cast<unsigned long long>(m),
                  static_cast<unsigned long long>(s));
  } else if (h > 0) {
    std::snprintf(buf, sizeof buf, "%lluh %llum %llus", static_cast<unsigned long long>(h),
                  static_cast<unsigned long long>(m), static_cast<unsigned long long>(s));
  } else {
    std::snprintf(buf, sizeof buf, "%llum %llus", static_cast<unsigned long long>(m),
                  static_cast<unsigned long long>(s));
  }
  return buf;
}

std::string Milliseconds(uint64_t ms) {
  if (ms < 1000) return std::to_string(ms) + "ms";
  return Duration(static_cast<double>(ms) / 1000.0);
}

namespace {

const json* Find(const json& j, std::string_view key) {
  if (!j.is_object()) return nullptr;
  const auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}

std::string Scalar(const json& v) {
  switch (v.type()) {
    case json::value_t::number_unsigned:
      return Thousands(v.get<uint64_t>());
    case json::value_t::number_integer: {
      const auto n = v.get<int64_t>();
      return n < 0 ? "-" + Thousands(0 - static_cast<uint64_t>(n)) : Thousands(static_cast<uint64_t>(n));
    }
    case json::value_t::number_float: {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.6g", v.get<double>());
      return buf;
    }
    case json::value_t::string:
      return v.get<std::string>();
    case json::value_t::boolean:
      return v.get<bool>() ? "yes" : "no";
    case json::value_t::array: {
      std::string out;
      for (const json& e : v) {
        if (!out.empty()) out += ",";
        out += e.is_string() ? e.get<std::string>() : e.dump();
      }
      return out.empty() ? kMissing : out;
    }
    case json::value_t::null:
    case json::value_t::discarded:
      return kMissing;
    default:
      return v.dump();
  }
}

}  // namespace

std::string Cell(const json& j, std::string_view key) {
  const json* v = Find(j, key);
  return v ? Scalar(*v) : kMissing;
}

std::string Plain(const json& j, std::string_view key) {
  const json* v = Find(j, key);
  if (v && (v->is_number_integer())) return v->dump();  // covers unsigned too
  return v ? Scalar(*v) : kMissing;
}

std::string BytesCell(const json& j, std::string_view key) {
  const json* v = Find(j, key);
  if (!v || !v->is_number()) return v ? Scalar(*v) : kMissing;
  return SiBytes(Count(j, key));
}

uint64_t Count(const json& j, std::string_view key) {
  const json* v = Find(j, key);
  if (!v) return 0;
  if (v->is_number_unsigned()) return v->get<uint64_t>();
  if (v->is_number_integer()) return static_cast<uint64_t>(std::max<int64_t>(0, v->get<int64_t>()));
  if (v->is_number_float() && v->get<double>() >= 0) return static_cast<uint64_t>(v->get<double>());
  return 0;
}

const json& Array(const json& j, std::string_view key) {
  static const json kEmpty = json::array();
  const json* v = Find(j, key);
  return v && v->is_array() ? *v : kEmpty;
}

const json& Object(const json& j, std::string_view key) {
  static const json kEmpty = json::object();
  const json* v = Find(j, key);
  return v && v->is_object() ? *v : kEmpty;
}

Table::Table(std::vector<Column> columns, std::string indent)
    : columns_(std::move(columns)), indent_(std::move(indent)) {}

void Table::Add(std::vector<std::string> row) {
  row.resize(columns_.size(), kMissing);
  rows_.push_back(std::move(row));
}

std::string Table::Render() const {
  std::vector<size_t> width(columns_.size());
  for (size_t c = 0; c < columns_.size(); ++c) {
    width[c] = columns_[c].header.size();
    for (const auto& row : rows_) width[c] = std::max(width[c], row[c].size());
  }
  std::string out;
  auto line = [&](const auto& cell_of) {
    std::string s = indent_;
    for (size_t c = 0; c < columns_.size(); ++c) {
      const std::string& cell = cell_of(c);
      const std::string pad(width[c] - cell.size(), ' ');
      if (c > 0) s += "  ";
      s += columns_[c].align == Align::kRight ? pad + cell : cell + pad;
    }
    while (!s.empty() && s.back() == ' ') s.pop_back();  // no trailing blanks
    out += s;
    out += '\n';
  };
  line([&](size_t c) -> const std::string& { return columns_[c].header; });
  for (const auto& row : rows_) line([&](size_t c) -> const std::string& { return row[c]; });
  return out;
}

std::string KeyValues(const std::vector<std::pair<std::string, std::string>>& kv, const std::string& indent) {
  size_t w = 0;
  for (const auto& [k, v] : kv) w = std::max(w, k.size());
  std::string out;
  for (const auto& [k, v] : kv) out += indent + k + std::string(w - k.size() + 2, ' ') + v + "\n";
  return out;
}

}  // namespace mflow::ctl
