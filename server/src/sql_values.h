// Values in and out of SqlDriver statements, shared by every store over the
// driver (sql_repository.cc, groups_store.cc, log_store.cc, log_custody.cc,
// duty_keys.cc, duty_time.cc).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sql_driver.h"

namespace mortise::server::sql {

using Args = std::vector<SqlValue>;

inline SqlValue V(std::string_view s) { return std::string(s); }
inline SqlValue V(const std::string& s) { return s; }
inline SqlValue V(const char* s) { return std::string(s); }
inline SqlValue V(int64_t v) { return v; }
inline SqlValue V(uint64_t v) { return static_cast<int64_t>(v); }
inline SqlValue V(bool b) { return static_cast<int64_t>(b ? 1 : 0); }
inline SqlValue V(const std::optional<std::string>& s) { return s ? SqlValue(*s) : SqlValue(nullptr); }
inline SqlValue V(const std::optional<int64_t>& v) { return v ? SqlValue(*v) : SqlValue(nullptr); }

inline std::string Text(const SqlRow& r, size_t i) { return r.at(i).value_or(""); }
inline int64_t Int(const SqlRow& r, size_t i) { return r.at(i) ? std::stoll(*r[i]) : 0; }
inline std::optional<int64_t> OptInt(const SqlRow& r, size_t i) {
  if (!r.at(i)) return std::nullopt;
  return std::stoll(*r[i]);
}

}  // namespace mortise::server::sql
