// The audit trail's service: turns who/what/where into AuditEvent rows,
// appends them, searches them, writes them as CSV, and purges what is older
// than the retention setting. Every change the services make goes through
// an event built here (the repository appends it in the change's own
// transaction); nothing here updates or deletes an event except the purge.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "auth_service.h"
#include "clock_random.h"
#include "repository.h"

namespace mortise::server {

// Who acts and from where: the signed-in principal, its membership of the
// organisation concerned (organisation routes), the client's address and
// user agent.
struct Actor {
  const Principal& principal;
  std::optional<MembershipRow> membership;
  std::string address;
  std::string user_agent;
};

struct AuditSettings {
  // Events older than this are purged (at start, then before a request at
  // most once an hour).
  // docs/server.md: [audit] retention_days, default 400 (a year and a
  // season, so a yearly review still sees last year's events).
  int64_t retention_days = 400;
};

class AuditTrail {
 public:
  AuditTrail(Repository& repo, const Clock& clock, AuditSettings settings);

  // An event for `actor` doing `action` on (object_type, object_id) in
  // `org_id` (nullopt: the account's own event), now.
  AuditEvent Event(const Actor& actor, std::optional<std::string> org_id, std::string action,
                   std::string object_type, std::string object_id, const nlohmann::json& detail) const;
  // Appends an event that is not part of a repository change of its own.
  void Record(const AuditEvent& event);
  // Purges if the last purge is an hour old or more; returns events purged.
  int64_t MaybePurge();

  std::vector<AuditEvent> Search(const AuditQuery& query) { return repo_.SearchAudit(query); }

  // RFC 4180 CSV (CRLF line ends, cells as CsvCell writes them: csv.h,
  // formula-safe) with a header row.
  static std::string Csv(const std::vector<AuditEvent>& events);

  const AuditSettings& settings() const { return settings_; }

 private:
  Repository& repo_;
  const Clock& clock_;
  AuditSettings settings_;
  // The clock at the last purge; -1: none yet. Atomic: HTTP threads race
  // here, and one of them purges.
  std::atomic<int64_t> last_purge_{-1};
};

}  // namespace mortise::server
