// The small SQL interface the repository is written against, with one
// driver per database (SQLite, PostgreSQL through libpq). Statements use `?`
// placeholders (the PostgreSQL driver numbers them). Every failure of the
// database throws StorageError.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace mortise::server {

using SqlValue = std::variant<std::nullptr_t, int64_t, std::string>;
// Columns as text (integers in decimal); nullopt for NULL.
using SqlRow = std::vector<std::optional<std::string>>;

class SqlDriver {
 public:
  virtual ~SqlDriver() = default;
  virtual std::vector<SqlRow> Query(std::string_view sql, const std::vector<SqlValue>& args) = 0;
  // Returns the number of rows changed. With `constraint_ok`, a constraint
  // violation (a duplicate key) returns -1 instead of throwing.
  virtual int64_t Exec(std::string_view sql, const std::vector<SqlValue>& args, bool constraint_ok = false) = 0;
  // Several statements, no parameters (migrations).
  virtual void Script(std::string_view sql) = 0;
  // A write transaction (SQLite: BEGIN IMMEDIATE).
  virtual void Begin() = 0;
  virtual void Commit() = 0;
  virtual void Rollback() noexcept = 0;
  virtual std::string_view name() const = 0;  // "sqlite", "postgresql"
};

}  // namespace mortise::server
