// The Repository over any SqlDriver: the same statements and the same
// numbered migrations on SQLite and PostgreSQL. Calls are serialised by a
// mutex over the driver's single connection.
#pragma once

#include <functional>
#include <memory>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "repository.h"
#include "sql_driver.h"

namespace mortise::server {

struct StorageOptions {
  int busy_timeout_ms = 5000;  // SQLite
  // Apply migrations up to this version only (tests of an older schema);
  // 0: all.
  int migrate_to = 0;
};

// The repository's mutex over its one connection, counted for /metrics
// (mortise_server_db_*): whether the connection is in use, how many callers
// wait for it now, how many ever had to wait and for how long in all.
// A Lockable: std::lock_guard works on it as on std::mutex.
class CountingMutex {
 public:
  void lock() {
    if (mu_.try_lock()) {
      in_use_.store(1);
      return;
    }
    waiting_.fetch_add(1);
    const auto start = std::chrono::steady_clock::now();
    mu_.lock();
    const auto waited = std::chrono::steady_clock::now() - start;
    waiting_.fetch_sub(1);
    waits_.fetch_add(1);
    wait_ns_.fetch_add(static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(waited).count()));
    in_use_.store(1);
  }
  bool try_lock() {
    if (!mu_.try_lock()) return false;
    in_use_.store(1);
    return true;
  }
  void unlock() {
    in_use_.store(0);
    mu_.unlock();
  }

  int in_use() const { return in_use_.load(); }
  int waiting() const { return waiting_.load(); }
  uint64_t waits() const { return waits_.load(); }
  double wait_seconds() const { return static_cast<double>(wait_ns_.load()) / 1e9; }

 private:
  std::mutex mu_;
  std::atomic<int> in_use_{0}, waiting_{0};
  std::atomic<uint64_t> waits_{0}, wait_ns_{0};
};

class SqlRepository final : public Repository {
 public:
  // Migrates the database on `driver`. Throws StorageError; refuses a
  // database whose schema is newer than this program knows.
  SqlRepository(std::unique_ptr<SqlDriver> driver, const StorageOptions& options);

  void Ping() override;
  int SchemaVersion() override;

  bool CreateAccount(const AccountRow& row) override;
  std::optional<AccountRow> AccountByEmail(std::string_view email) override;
  std::optional<AccountRow> AccountById(std::string_view id) override;
  void SetPasswordHash(std::string_view account_id, std::string_view hash, int64_t changed_at) override;
  void SetTotp(std::string_view account_id, const std::optional<std::string>& secret, bool enabled) override;
  bool ConsumeTotpStep(std::string_view account_id, int64_t step) override;
  void DeleteAccount(std::string_view account_id) override;

  void ReplaceRecoveryCodes(std::string_view account_id, const std::vector<std::string>& hashes) override;
  bool ConsumeRecoveryCode(std::string_view account_id, std::string_view hash) override;
  int CountRecoveryCodes(std::string_view account_id) override;

  void CreateSession(const SessionRow& row) override;
  std::optional<SessionRow> SessionByTokenHash(std::string_view token_hash) override;
  void TouchSession(std::string_view session_id, int64_t at) override;
  void DeleteSession(std::string_view session_id) override;
  void DeleteSessions(std::string_view account_id, const std::optional<std::string>& except_id) override;
  std::vector<SessionRow> Sessions(std::string_view account_id) override;

  void CreateApiKey(const ApiKeyRow& row) override;
  std::optional<ApiKeyRow> ApiKeyByTokenHash(std::string_view token_hash) override;
  std::vector<ApiKeyRow> ApiKeys(std::string_view account_id, std::string_view after_id, int limit) override;
  bool DeleteApiKey(std::string_view account_id, std::string_view key_id) override;
  void TouchApiKey(std::string_view key_id, int64_t at) override;

  void CreateOrganisation(const OrganisationRow& org, const std::optional<SiteRow>& site, const MembershipRow& owner,
                          const AuditEvent& event) override;
  std::optional<OrganisationRow> Organisation(std::string_view org_id) override;
  std::vector<std::pair<OrganisationRow, std::string>> OrganisationsOf(std::string_view account_id,
                                                                       std::string_view after_id, int limit) override;
  void DeleteOrganisation(std::string_view org_id, const AuditEvent& event) override;
  std::optional<MembershipRow> Membership(std::string_view org_id, std::string_view account_id) override;
  std::vector<MembershipRow> Memberships(std::string_view org_id, std::string_view after_account_id,
                                         int limit) override;
  int CountOwners(std::string_view org_id) override;
  int CountSoleOwnerships(std::string_view account_id) override;
  bool SetRole(std::string_view org_id, std::string_view account_id, std::string_view role,
               const AuditEvent& event) override;
  bool DeleteMembership(std::string_view org_id, std::string_view account_id, const AuditEvent& event) override;
  void CreateSite(const SiteRow& site, const AuditEvent& event) override;
  std::optional<SiteRow> Site(std::string_view org_id, std::string_view site_id) override;
  std::vector<SiteRow> Sites(std::string_view org_id, std::string_view after_id, int limit) override;
  int CountDoorsOfSite(std::string_view org_id, std::string_view site_id) override;
  bool DeleteSite(std::string_view org_id, std::string_view site_id, const AuditEvent& event) override;
  void CreateDoorChallenge(const DoorChallengeRow& row) override;
  std::optional<DoorChallengeRow> TakeDoorChallenge(std::string_view org_id, std::string_view account_id,
                                                    std::string_view challenge_id) override;
  bool CreateDoor(const DoorRow& door, const AuditEvent& event) override;
  std::optional<DoorRow> Door(std::string_view org_id, std::string_view door_id) override;
  std::vector<DoorRow> Doors(std::string_view org_id, std::string_view after_id, int limit) override;
  bool DeleteDoor(std::string_view org_id, std::string_view door_id, const AuditEvent& event) override;
  void CreateInvitation(const InvitationRow& row, const AuditEvent& event) override;
  void CreateInvitations(const std::vector<InvitationRow>& rows, const std::vector<AuditEvent>& events) override;
  std::vector<InvitationRow> Invitations(std::string_view org_id, std::string_view after_id, int limit) override;
  std::optional<InvitationRow> Invitation(std::string_view org_id, std::string_view invitation_id) override;
  bool DeleteInvitation(std::string_view org_id, std::string_view invitation_id, const AuditEvent& event) override;
  AcceptOutcome AcceptInvitation(std::string_view token_hash, std::string_view account_id, int64_t now,
                                 AuditEvent event, InvitationRow& invitation) override;
  void AppendAudit(const AuditEvent& event) override;
  std::vector<AuditEvent> SearchAudit(const AuditQuery& query) override;
  int64_t PurgeAuditBefore(int64_t cutoff) override;

  // For the stores of other areas over this connection (groups_store.h):
  // `f(driver)` runs under the mutex in one write transaction, rolled back
  // when it throws; `append(event)` adds an audit event inside it.
  using AuditAppend = std::function<void(const AuditEvent&)>;
  void WriteTransaction(const std::function<void(SqlDriver&, const AuditAppend& append)>& f);
  // One query under the mutex.
  std::vector<SqlRow> Read(std::string_view sql, const std::vector<SqlValue>& args) { return Rows(sql, args); }

  // Raw SQL for tests: the first column of the first row, "" when none.
  std::string QueryText(const std::string& sql);
  std::string_view backend() const { return driver_->name(); }
  // The connection's use, for the mortise_server_db_* gauges.
  const CountingMutex& connection_use() const { return mu_; }

  // The server's stores outside the Repository interface (door_state,
  // log_store, ...) use the same connection (their own tables and
  // migrations): `f(driver)` runs under the repository's mutex.
  template <typename F>
  decltype(auto) WithDriver(F&& f) {
    std::lock_guard lock(mu_);
    return f(*driver_);
  }

 private:
  void Migrate(int migrate_to);
  template <typename F>
  void Transaction(F f);
  // Appends inside the caller's transaction (mu_ held): seq = last + 1.
  void Append(const AuditEvent& event);
  // A query under the mutex; its first column as a count.
  std::vector<SqlRow> Rows(std::string_view sql, const std::vector<SqlValue>& args);
  int Count(std::string_view sql, const std::vector<SqlValue>& args);
  // A statement changing at most one row and, when it changed one, its
  // audit event: one transaction.
  bool ChangeOne(std::string_view sql, const std::vector<SqlValue>& args, const AuditEvent& event);

  CountingMutex mu_;
  std::unique_ptr<SqlDriver> driver_;
};

// Opens `sqlite:PATH` or `postgresql://...` (any libpq URI) and migrates.
std::unique_ptr<SqlRepository> OpenRepository(const std::string& url, const StorageOptions& options = {});
std::unique_ptr<SqlRepository> OpenSqlite(const std::string& path, const StorageOptions& options = {});
std::unique_ptr<SqlRepository> OpenPostgres(const std::string& conninfo, const StorageOptions& options = {});

// A consistent snapshot of a (possibly running) SQLite database at `source`
// into the new file `out` (SQLite online backup API; written to out.tmp,
// synced, then renamed). Throws StorageError; refuses an existing `out`.
void BackupSqlite(const std::string& source, const std::string& out);

}  // namespace mortise::server
