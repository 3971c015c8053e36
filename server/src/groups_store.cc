#include "groups_store.h"

#include "sql_values.h"

namespace mortise::server {
namespace {

using namespace sql;

constexpr const char* kGroupColumns = "id, org_id, name, group_id, owner_public_key, schedule, created_by, created_at";

AccessGroupRow ReadGroup(const SqlRow& s) {
  return AccessGroupRow{Text(s, 0), Text(s, 1), Text(s, 2), Text(s, 3), Text(s, 4), Text(s, 5), Text(s, 6), Int(s, 7)};
}

constexpr const char* kUpdateColumns =
    "door_id, org_id, kind, issuer, version, claim_generation, update_hex, summary, uploaded_by, uploaded_at, "
    "reported_version, reported_at, confirmed_version, confirmed_at, attempts, next_attempt_at, last_attempt_at, "
    "last_status, receipt";

DoorUpdateRow ReadUpdate(const SqlRow& s) {
  DoorUpdateRow r;
  r.door_id = Text(s, 0);
  r.org_id = Text(s, 1);
  r.kind = Text(s, 2);
  r.issuer = Text(s, 3);
  r.version = Int(s, 4);
  r.claim_generation = Int(s, 5);
  r.update_hex = Text(s, 6);
  r.summary = Text(s, 7);
  r.uploaded_by = Text(s, 8);
  r.uploaded_at = Int(s, 9);
  r.reported_version = Int(s, 10);
  r.reported_at = OptInt(s, 11);
  r.confirmed_version = Int(s, 12);
  r.confirmed_at = OptInt(s, 13);
  r.attempts = Int(s, 14);
  r.next_attempt_at = Int(s, 15);
  r.last_attempt_at = OptInt(s, 16);
  r.last_status = Text(s, 17);
  r.receipt = Text(s, 18);
  return r;
}

constexpr const char* kKeyColumns =
    "id, org_id, account_id, scope, door_id, group_ref, chain_hex, issuer_key_id, serial, summary, uploaded_by, "
    "created_at";

DoorKeyRow ReadKey(const SqlRow& s) {
  DoorKeyRow r;
  r.id = Text(s, 0);
  r.org_id = Text(s, 1);
  r.account_id = Text(s, 2);
  r.scope = Text(s, 3);
  r.door_id = s.at(4);
  r.group_ref = s.at(5);
  r.chain_hex = Text(s, 6);
  r.issuer_key_id = Text(s, 7);
  r.serial = Text(s, 8);
  r.summary = Text(s, 9);
  r.uploaded_by = Text(s, 10);
  r.created_at = Int(s, 11);
  return r;
}

BulkJobRow ReadJob(const SqlRow& s) {
  return BulkJobRow{Text(s, 0), Text(s, 1), Text(s, 2), Text(s, 3), Text(s, 4), Int(s, 5)};
}

BulkJobDoorRow ReadJobDoor(const SqlRow& s) {
  return BulkJobDoorRow{Text(s, 0), Text(s, 1), Text(s, 2), Text(s, 3), Int(s, 4), Text(s, 5), Text(s, 6), Text(s, 7)};
}

template <typename R>
std::vector<R> All(const std::vector<SqlRow>& rows, R (*read)(const SqlRow&)) {
  std::vector<R> out;
  out.reserve(rows.size());
  for (const auto& row : rows) out.push_back(read(row));
  return out;
}

template <typename R>
std::optional<R> First(const std::vector<SqlRow>& rows, R (*read)(const SqlRow&)) {
  if (rows.empty()) return std::nullopt;
  return read(rows[0]);
}

void InsertJobDoors(SqlDriver& d, const std::vector<BulkJobDoorRow>& doors) {
  for (const auto& j : doors) {
    d.Exec("INSERT INTO bulk_job_doors (job_id, door_id, kind, issuer, version, outcome, reason, answer) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
           {V(j.job_id), V(j.door_id), V(j.kind), V(j.issuer), V(j.version), V(j.outcome), V(j.reason),
            V(j.answer)});
  }
}

void InsertJob(SqlDriver& d, const BulkJobRow& job) {
  d.Exec("INSERT INTO bulk_jobs (id, org_id, kind, subject, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?)",
         {V(job.id), V(job.org_id), V(job.kind), V(job.subject), V(job.created_by), V(job.created_at)});
}

}  // namespace

bool GroupsStore::CreateGroup(const AccessGroupRow& g, const AuditEvent& event) {
  bool created = false;
  repo_.WriteTransaction([&](SqlDriver& d, const SqlRepository::AuditAppend& append) {
    created = d.Exec("INSERT INTO access_groups (id, org_id, name, group_id, owner_public_key, schedule, created_by, "
                     "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                     {V(g.id), V(g.org_id), V(g.name), V(g.group_id), V(g.owner_public_key), V(g.schedule),
                      V(g.created_by), V(g.created_at)},
                     /*constraint_ok=*/true) == 1;
    if (created) append(event);
  });
  return created;
}

std::optional<AccessGroupRow> GroupsStore::Group(std::string_view org_id, std::string_view id) {
  return First(repo_.Read(std::string("SELECT ") + kGroupColumns + " FROM access_groups WHERE org_id = ? AND id = ?",
                          {V(org_id), V(id)}),
               ReadGroup);
}

std::vector<AccessGroupRow> GroupsStore::Groups(std::string_view org_id, std::string_view after_id, int limit) {
  return All(repo_.Read(std::string("SELECT ") + kGroupColumns +
                            " FROM access_groups WHERE org_id = ? AND id > ? ORDER BY id LIMIT ?",
                        {V(org_id), V(after_id), V(static_cast<int64_t>(limit))}),
             ReadGroup);
}

std::vector<AccessGroupRow> GroupsStore::AllGroups(std::string_view org_id) {
  return All(repo_.Read(std::string("SELECT ") + kGroupColumns + " FROM access_groups WHERE org_id = ? ORDER BY id",
                        {V(org_id)}),
             ReadGroup);
}

std::optional<DoorUpdateRow> GroupsStore::Update(std::string_view door_id, std::string_view kind,
                                                 std::string_view issuer) {
  return First(repo_.Read(std::string("SELECT ") + kUpdateColumns +
                              " FROM door_updates WHERE door_id = ? AND kind = ? AND issuer = ?",
                          {V(door_id), V(kind), V(issuer)}),
               ReadUpdate);
}

std::vector<DoorUpdateRow> GroupsStore::UpdatesOfDoor(std::string_view door_id) {
  return All(repo_.Read(std::string("SELECT ") + kUpdateColumns +
                            " FROM door_updates WHERE door_id = ? ORDER BY kind, issuer",
                        {V(door_id)}),
             ReadUpdate);
}

std::vector<DoorUpdateRow> GroupsStore::UpdatesOfOrg(std::string_view org_id, std::string_view kind) {
  return All(repo_.Read(std::string("SELECT ") + kUpdateColumns +
                            " FROM door_updates WHERE org_id = ? AND kind = ? ORDER BY door_id, issuer",
                        {V(org_id), V(kind)}),
             ReadUpdate);
}

int64_t GroupsStore::ClaimGeneration(std::string_view door_id) {
  const auto rows =
      repo_.Read("SELECT COALESCE(MAX(claim_generation), 0) FROM door_updates WHERE door_id = ?", {V(door_id)});
  return rows.empty() ? 0 : Int(rows[0], 0);
}

int GroupsStore::PutUpdates(const std::vector<DoorUpdateRow>& rows, const std::vector<AuditEvent>& events,
                            const std::vector<BulkJobDoorRow>& job_doors, const BulkJobRow* job) {
  int refused = -1;
  struct NotAbove {};
  try {
    repo_.WriteTransaction([&](SqlDriver& d, const SqlRepository::AuditAppend& append) {
      for (size_t i = 0; i < rows.size(); ++i) {
        const DoorUpdateRow& r = rows[i];
        const auto old = d.Query("SELECT version FROM door_updates WHERE door_id = ? AND kind = ? AND issuer = ?",
                                 {V(r.door_id), V(r.kind), V(r.issuer)});
        if (!old.empty() && Int(old[0], 0) >= r.version) {
          refused = static_cast<int>(i);
          throw NotAbove{};  // rolls the whole batch back
        }
        if (old.empty()) {
          d.Exec("INSERT INTO door_updates (door_id, org_id, kind, issuer, version, claim_generation, update_hex, "
                 "summary, uploaded_by, uploaded_at, reported_version, reported_at, confirmed_version, "
                 "confirmed_at, attempts, next_attempt_at, last_attempt_at, last_status) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, NULL, 0, NULL, 0, ?, NULL, 'pending')",
                 {V(r.door_id), V(r.org_id), V(r.kind), V(r.issuer), V(r.version), V(r.claim_generation),
                  V(r.update_hex), V(r.summary), V(r.uploaded_by), V(r.uploaded_at), V(r.uploaded_at)});
        } else {
          d.Exec("UPDATE door_updates SET version = ?, claim_generation = ?, update_hex = ?, summary = ?, "
                 "uploaded_by = ?, uploaded_at = ?, attempts = 0, next_attempt_at = ?, last_status = 'pending', receipt = '' "
                 "WHERE door_id = ? AND kind = ? AND issuer = ?",
                 {V(r.version), V(r.claim_generation), V(r.update_hex), V(r.summary), V(r.uploaded_by),
                  V(r.uploaded_at), V(r.uploaded_at), V(r.door_id), V(r.kind), V(r.issuer)});
        }
      }
      if (job) InsertJob(d, *job);
      InsertJobDoors(d, job_doors);
      for (const auto& e : events) append(e);
    });
  } catch (const NotAbove&) {
    return refused;
  }
  return -1;
}

std::vector<DoorUpdateRow> GroupsStore::Due(int64_t now, int limit) {
  return All(repo_.Read(std::string("SELECT ") + kUpdateColumns +
                            " FROM door_updates WHERE confirmed_version < version AND next_attempt_at <= ? "
                            "ORDER BY kind, next_attempt_at, door_id, issuer LIMIT ?",
                        {V(now), V(static_cast<int64_t>(limit))}),
             ReadUpdate);
}

void GroupsStore::Defer(const DoorUpdateRow& row, int64_t next_at) {
  repo_.WriteTransaction([&](SqlDriver& d, const SqlRepository::AuditAppend&) {
    d.Exec("UPDATE door_updates SET next_attempt_at = ? WHERE door_id = ? AND kind = ? AND issuer = ? AND version = ?",
           {V(next_at), V(row.door_id), V(row.kind), V(row.issuer), V(row.version)});
  });
}

void GroupsStore::RecordAttempt(const DoorUpdateRow& row, int64_t now, int64_t next_at, std::string_view status,
                                std::optional<int64_t> reported) {
  repo_.WriteTransaction([&](SqlDriver& d, const SqlRepository::AuditAppend&) {
    // Only for the version attempted: an upload meanwhile starts afresh.
    d.Exec("UPDATE door_updates SET attempts = attempts + 1, next_attempt_at = ?, last_attempt_at = ?, "
           "last_status = ? WHERE door_id = ? AND kind = ? AND issuer = ? AND version = ?",
           {V(next_at), V(now), V(status), V(row.door_id), V(row.kind), V(row.issuer), V(row.version)});
    if (reported) {
      d.Exec("UPDATE door_updates SET reported_version = ?, reported_at = ? "
             "WHERE door_id = ? AND kind = ? AND issuer = ? AND reported_version < ?",
             {V(*reported), V(now), V(row.door_id), V(row.kind), V(row.issuer), V(*reported)});
    }
  });
}

std::optional<std::pair<std::string, std::string>> GroupsStore::RecordConfirmed(std::string_view lock_id_hex,
                                                                                std::string_view kind,
                                                                                std::string_view issuer,
                                                                                int64_t version, int64_t now) {
  const auto door = repo_.Read("SELECT id, org_id FROM doors WHERE lock_id = ?", {V(lock_id_hex)});
  if (door.empty()) return std::nullopt;
  const std::string door_id = Text(door[0], 0), org_id = Text(door[0], 1);
  repo_.WriteTransaction([&](SqlDriver& d, const SqlRepository::AuditAppend&) {
    d.Exec("UPDATE door_updates SET confirmed_version = ?, confirmed_at = ? "
           "WHERE door_id = ? AND kind = ? AND issuer = ? AND confirmed_version < ?",
           {V(version), V(now), V(door_id), V(kind), V(issuer), V(version)});
    d.Exec("UPDATE door_updates SET reported_version = ?, reported_at = ? "
           "WHERE door_id = ? AND kind = ? AND issuer = ? AND reported_version < ?",
           {V(version), V(now), V(door_id), V(kind), V(issuer), V(version)});
  });
  return std::make_pair(org_id, door_id);
}

void GroupsStore::RecordReceipt(const DoorUpdateRow& row, std::string_view receipt_hex) {
  repo_.WriteTransaction([&](SqlDriver& d, const SqlRepository::AuditAppend&) {
    // Only on the version it was verified for: the receipt names its bytes.
    d.Exec("UPDATE door_updates SET receipt = ? WHERE door_id = ? AND kind = ? AND issuer = ? AND version = ?",
           {V(receipt_hex), V(row.door_id), V(row.kind), V(row.issuer), V(row.version)});
  });
}

bool GroupsStore::CreateKey(const DoorKeyRow& k, const AuditEvent& event) {
  bool created = false;
  repo_.WriteTransaction([&](SqlDriver& d, const SqlRepository::AuditAppend& append) {
    created = d.Exec("INSERT INTO door_keys (id, org_id, account_id, scope, door_id, group_ref, chain_hex, "
                     "issuer_key_id, serial, summary, uploaded_by, created_at) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     {V(k.id), V(k.org_id), V(k.account_id), V(k.scope), V(k.door_id), V(k.group_ref),
                      V(k.chain_hex), V(k.issuer_key_id), V(k.serial), V(k.summary), V(k.uploaded_by),
                      V(k.created_at)},
                     /*constraint_ok=*/true) == 1;
    if (created) append(event);
  });
  return created;
}

std::vector<DoorKeyRow> GroupsStore::Keys(std::string_view org_id, std::optional<std::string_view> account_id,
                                          std::string_view after_id, int limit) {
  if (account_id) {
    return All(repo_.Read(std::string("SELECT ") + kKeyColumns +
                              " FROM door_keys WHERE org_id = ? AND account_id = ? AND id > ? ORDER BY id LIMIT ?",
                          {V(org_id), V(*account_id), V(after_id), V(static_cast<int64_t>(limit))}),
               ReadKey);
  }
  return All(repo_.Read(std::string("SELECT ") + kKeyColumns +
                            " FROM door_keys WHERE org_id = ? AND id > ? ORDER BY id LIMIT ?",
                        {V(org_id), V(after_id), V(static_cast<int64_t>(limit))}),
             ReadKey);
}

void GroupsStore::CreateJob(const BulkJobRow& job, const std::vector<BulkJobDoorRow>& doors, const AuditEvent& event) {
  repo_.WriteTransaction([&](SqlDriver& d, const SqlRepository::AuditAppend& append) {
    InsertJob(d, job);
    InsertJobDoors(d, doors);
    append(event);
  });
}

std::optional<BulkJobRow> GroupsStore::Job(std::string_view org_id, std::string_view id) {
  return First(repo_.Read("SELECT id, org_id, kind, subject, created_by, created_at FROM bulk_jobs "
                          "WHERE org_id = ? AND id = ?",
                          {V(org_id), V(id)}),
               ReadJob);
}

std::vector<BulkJobDoorRow> GroupsStore::JobDoors(std::string_view job_id) {
  return All(repo_.Read("SELECT job_id, door_id, kind, issuer, version, outcome, reason, answer FROM bulk_job_doors "
                        "WHERE job_id = ? ORDER BY door_id",
                        {V(job_id)}),
             ReadJobDoor);
}

std::optional<DoorRow> GroupsStore::DoorByLockId(std::string_view lock_id_hex) {
  const auto rows = repo_.Read("SELECT id, org_id FROM doors WHERE lock_id = ?", {V(lock_id_hex)});
  if (rows.empty()) return std::nullopt;
  return repo_.Door(Text(rows[0], 1), Text(rows[0], 0));
}

}  // namespace mortise::server
