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

// In version order. Numbers are reserved per area (0005 groups, 0006 lock
// link, 0007 logs, 0008 platform), so a build may skip some; the latest is
// the last one's version.
std::span<const Migration> Migrations();

}  // namespace mortise::server
