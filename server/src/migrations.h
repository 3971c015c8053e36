// The numbered SQL migrations (server/migrations/NNNN_name.sql), embedded at
// build time. Each runs once, in its own transaction, recorded in
// schema_migrations; the same text runs on every backend.
#pragma once

#include <span>
#include <string_view>

namespace mortise::server {

struct Migration {
  int version;
  std::string_view name;
  std::string_view sql;
};

// In increasing version order (each area of the server numbers its own).
std::span<const Migration> Migrations();

}  // namespace mortise::server
