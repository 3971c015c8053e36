// The store of access groups, signed door updates (access lists, group
// memberships), keys assigned to people, and bulk jobs (migration 0005),
// over the repository's connection (SqlRepository::WriteTransaction / Read).
// Rows only: the rules are in groups_service.h, the verification in
// door_updates.h. Every change is written with its audit event in one
// transaction.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "repository.h"
#include "sql_repository.h"

namespace mortise::server {

inline constexpr std::string_view kKindAccessList = "access_list";
inline constexpr std::string_view kKindMembership = "group_membership";
// The issuer of a membership: one sequence per lock (owner and admins).
inline constexpr std::string_view kIssuerLock = "lock";
inline constexpr std::string_view kIssuerOwner = "owner";

struct AccessGroupRow {
  std::string id;  // grp_...
  std::string org_id;
  std::string name;
  std::string group_id;          // the protocol's 64-bit id, 16 lower-case hex digits
  std::string owner_public_key;  // hex, 65 bytes: the owner key the group belongs to
  std::string schedule;          // a summary for people ("weekdays 07:00-19:00")
  std::string created_by;
  int64_t created_at = 0;
};

// The newest verified update of one (door, kind, issuer) and what the door
// is known to hold.
struct DoorUpdateRow {
  std::string door_id;
  std::string org_id;
  std::string kind;    // kKindAccessList, kKindMembership
  std::string issuer;  // "owner", "admin:<key id hex>", "lock"
  int64_t version = 0;
  int64_t claim_generation = 0;
  std::string update_hex;  // the signed bytes as uploaded
  std::string summary;     // JSON object decoded from them
  std::string uploaded_by;
  int64_t uploaded_at = 0;
  int64_t reported_version = 0;  // the lock's unsigned frame 0x05 answer (advisory)
  std::optional<int64_t> reported_at;
  int64_t confirmed_version = 0;  // a lock-signed record
  std::optional<int64_t> confirmed_at;
  int64_t attempts = 0;  // deliveries of this version
  int64_t next_attempt_at = 0;
  std::optional<int64_t> last_attempt_at;
  std::string last_status;  // "pending", "sent", "applied", "held", "offline", "no_answer", "refused:<status>", "busy",
                            // "bad_answer"
  // The lock's signed answer (75 bytes, hex) that verified against the door's
  // lock key and update_hex and says it holds at least `version`; "" until
  // then (migration 0012). Devices verify it again themselves.
  std::string receipt;
};

struct DoorKeyRow {
  std::string id;  // key_...
  std::string org_id;
  std::string account_id;
  std::string scope;  // "lock", "group"
  std::optional<std::string> door_id;    // scope lock
  std::optional<std::string> group_ref;  // scope group: access_groups.id
  std::string chain_hex;
  std::string issuer_key_id;  // hex, 8 bytes
  std::string serial;         // 16 hex digits
  std::string summary;        // JSON object
  std::string uploaded_by;
  int64_t created_at = 0;
};

struct BulkJobRow {
  std::string id;  // job_...
  std::string org_id;
  std::string kind;     // "remove_person", "site_lockdown"
  std::string subject;  // the account id, the site id
  std::string created_by;
  int64_t created_at = 0;
};

struct BulkJobDoorRow {
  std::string job_id;
  std::string door_id;
  std::string kind;    // remove_person: the update's kind; site_lockdown: "remote"
  std::string issuer;  // remove_person: the update's issuer
  int64_t version = 0;
  std::string outcome;  // site_lockdown: "confirmed", "refused", "unconfirmed", "bad_answer",
                        //   "no_answer", "offline" (remote_verdict.h); remove_person: ""
  std::string reason;
  std::string answer;  // site_lockdown: the lock's answer frame, hex ("" without one)
};

class GroupsStore {
 public:
  explicit GroupsStore(SqlRepository& repo) : repo_(repo) {}

  // false: the organisation has this group id under this owner key already.
  bool CreateGroup(const AccessGroupRow& row, const AuditEvent& event);
  std::optional<AccessGroupRow> Group(std::string_view org_id, std::string_view id);
  std::vector<AccessGroupRow> Groups(std::string_view org_id, std::string_view after_id, int limit);
  std::vector<AccessGroupRow> AllGroups(std::string_view org_id);

  std::optional<DoorUpdateRow> Update(std::string_view door_id, std::string_view kind, std::string_view issuer);
  std::vector<DoorUpdateRow> UpdatesOfDoor(std::string_view door_id);
  std::vector<DoorUpdateRow> UpdatesOfOrg(std::string_view org_id, std::string_view kind);
  // The highest claim generation a verified update names for the door (0: none).
  int64_t ClaimGeneration(std::string_view door_id);
  // Stores each row if its version is above the stored one of its (door,
  // kind, issuer) — all or none, with `events`, in one transaction. The
  // evidence of what the door holds is kept; the deliverer starts afresh.
  // Returns the index of the first row not above (nothing stored), or -1.
  int PutUpdates(const std::vector<DoorUpdateRow>& rows, const std::vector<AuditEvent>& events,
                 const std::vector<BulkJobDoorRow>& job_doors = {}, const BulkJobRow* job = nullptr);

  // The deliverer's view: updates not confirmed whose next attempt is due.
  std::vector<DoorUpdateRow> Due(int64_t now, int limit);
  // A row skipped without an attempt (door offline, membership waiting for
  // its list): looked at again at `next_at`, nothing else changes.
  void Defer(const DoorUpdateRow& row, int64_t next_at);
  // After an attempt at `version`: the status, the next attempt, and the
  // version the lock reported holding (raised only).
  void RecordAttempt(const DoorUpdateRow& row, int64_t now, int64_t next_at, std::string_view status,
                     std::optional<int64_t> reported);
  // Keeps the lock-signed receipt verified for `row` (only while the row is
  // still at row.version).
  void RecordReceipt(const DoorUpdateRow& row, std::string_view receipt_hex);
  // A lock-signed record says the door holds `version` of (kind, issuer):
  // raises confirmed_version (and reported_version) of the door with this
  // lock id. Returns the door's org id and id, nullopt for an unknown lock.
  std::optional<std::pair<std::string, std::string>> RecordConfirmed(std::string_view lock_id_hex,
                                                                     std::string_view kind, std::string_view issuer,
                                                                     int64_t version, int64_t now);

  // false: the key (issuer, serial) is stored already.
  bool CreateKey(const DoorKeyRow& row, const AuditEvent& event);
  std::vector<DoorKeyRow> Keys(std::string_view org_id, std::optional<std::string_view> account_id,
                               std::string_view after_id, int limit);

  void CreateJob(const BulkJobRow& job, const std::vector<BulkJobDoorRow>& doors, const AuditEvent& event);
  std::optional<BulkJobRow> Job(std::string_view org_id, std::string_view id);
  std::vector<BulkJobDoorRow> JobDoors(std::string_view job_id);

  // Doors by lock id (hex), any organisation.
  std::optional<DoorRow> DoorByLockId(std::string_view lock_id_hex);

 private:
  SqlRepository& repo_;
};

}  // namespace mortise::server
