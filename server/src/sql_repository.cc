#include "sql_repository.h"

#include <chrono>
#include <sstream>

#include "api_error.h"
#include "migrations.h"
#include "sql_values.h"

namespace mortise::server {
namespace {

using namespace sql;

constexpr const char* kAccountColumns =
    "id, email, password_hash, created_at, password_changed_at, totp_secret, totp_enabled, totp_last_step";

AccountRow ReadAccount(const SqlRow& s) {
  AccountRow r;
  r.id = Text(s, 0);
  r.email = Text(s, 1);
  r.password_hash = Text(s, 2);
  r.created_at = Int(s, 3);
  r.password_changed_at = Int(s, 4);
  r.totp_secret = s.at(5);
  r.totp_enabled = Int(s, 6) != 0;
  r.totp_last_step = OptInt(s, 7);
  return r;
}

constexpr const char* kSessionColumns =
    "id, account_id, token_hash, csrf_token, created_at, last_seen_at, expires_at, created_from";

SessionRow ReadSession(const SqlRow& s) {
  SessionRow r;
  r.id = Text(s, 0);
  r.account_id = Text(s, 1);
  r.token_hash = Text(s, 2);
  r.csrf_token = Text(s, 3);
  r.created_at = Int(s, 4);
  r.last_seen_at = Int(s, 5);
  r.expires_at = Int(s, 6);
  r.created_from = Text(s, 7);
  return r;
}

constexpr const char* kApiKeyColumns = "id, account_id, name, token_hash, prefix, scopes, created_at, last_used_at";

ApiKeyRow ReadApiKey(const SqlRow& s) {
  ApiKeyRow r;
  r.id = Text(s, 0);
  r.account_id = Text(s, 1);
  r.name = Text(s, 2);
  r.token_hash = Text(s, 3);
  r.prefix = Text(s, 4);
  std::istringstream scopes(Text(s, 5));
  for (std::string scope; scopes >> scope;) r.scopes.push_back(scope);
  r.created_at = Int(s, 6);
  r.last_used_at = OptInt(s, 7);
  return r;
}

std::string JoinScopes(const std::vector<std::string>& scopes) {
  std::string out;
  for (const auto& s : scopes) {
    if (!out.empty()) out += ' ';
    out += s;
  }
  return out;
}

std::string Select(const char* columns, const char* rest) { return std::string("SELECT ") + columns + " " + rest; }

}  // namespace

template <typename F>
void SqlRepository::Transaction(F f) {
  driver_->Begin();
  try {
    f();
    driver_->Commit();
  } catch (...) {
    driver_->Rollback();
    throw;
  }
}

SqlRepository::SqlRepository(std::unique_ptr<SqlDriver> driver, const StorageOptions& options)
    : driver_(std::move(driver)) {
  Migrate(options.migrate_to);
}

void SqlRepository::Migrate(int migrate_to) {
  std::lock_guard lock(mu_);
  driver_->Script(
      "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, "
      "applied_at BIGINT NOT NULL)");
  const auto all = Migrations();
  const int64_t latest = all.empty() ? 0 : all.back().version;
  for (const auto& m : all) {
    if (migrate_to > 0 && m.version > migrate_to) break;
    Transaction([&] {
      // Read inside the transaction: two servers starting at once apply
      // each migration once (SQLite: BEGIN IMMEDIATE serialises; PostgreSQL:
      // the primary key refuses the second insert and its transaction rolls back).
      const auto rows = driver_->Query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", {});
      const int64_t current = rows.empty() ? 0 : Int(rows[0], 0);
      if (current > latest) {
        throw StorageError("database schema version " + std::to_string(current) +
                           " is newer than this server knows (" + std::to_string(latest) +
                           "); run a newer mortise-server");
      }
      // Applied already? (By its own row, not by the highest version: areas
      // number their migrations separately, so one may arrive below another.)
      if (!driver_->Query("SELECT 1 FROM schema_migrations WHERE version = ?", {V(static_cast<int64_t>(m.version))})
               .empty()) {
        return;
      }
      try {
        driver_->Script(m.sql);
      } catch (const StorageError& e) {
        throw StorageError("migration " + std::to_string(m.version) + " (" + std::string(m.name) + "): " + e.what());
      }
      const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
      driver_->Exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    {V(static_cast<int64_t>(m.version)), V(m.name), V(now)});
    });
  }
  // A database from a newer server is refused even when nothing was applied.
  const auto rows = driver_->Query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", {});
  const int64_t current = rows.empty() ? 0 : Int(rows[0], 0);
  if (current > latest) {
    throw StorageError("database schema version " + std::to_string(current) + " is newer than this server knows (" +
                       std::to_string(latest) + "); run a newer mortise-server");
  }
}

void SqlRepository::Ping() {
  std::lock_guard lock(mu_);
  driver_->Query("SELECT 1", {});
}

int SqlRepository::SchemaVersion() {
  std::lock_guard lock(mu_);
  const auto rows = driver_->Query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", {});
  return rows.empty() ? 0 : static_cast<int>(Int(rows[0], 0));
}

bool SqlRepository::CreateAccount(const AccountRow& r) {
  std::lock_guard lock(mu_);
  return driver_->Exec(
             "INSERT INTO accounts (id, email, password_hash, created_at, password_changed_at, totp_secret, "
             "totp_enabled, totp_last_step) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
             {V(r.id), V(r.email), V(r.password_hash), V(r.created_at), V(r.password_changed_at), V(r.totp_secret),
              V(r.totp_enabled), V(r.totp_last_step)},
             /*constraint_ok=*/true) == 1;
}

std::optional<AccountRow> SqlRepository::AccountByEmail(std::string_view email) {
  std::lock_guard lock(mu_);
  const auto rows = driver_->Query(Select(kAccountColumns, "FROM accounts WHERE email = ?"), {V(email)});
  if (rows.empty()) return std::nullopt;
  return ReadAccount(rows[0]);
}

std::optional<AccountRow> SqlRepository::AccountById(std::string_view id) {
  std::lock_guard lock(mu_);
  const auto rows = driver_->Query(Select(kAccountColumns, "FROM accounts WHERE id = ?"), {V(id)});
  if (rows.empty()) return std::nullopt;
  return ReadAccount(rows[0]);
}

void SqlRepository::SetPasswordHash(std::string_view account_id, std::string_view hash, int64_t changed_at) {
  std::lock_guard lock(mu_);
  driver_->Exec("UPDATE accounts SET password_hash = ?, password_changed_at = ? WHERE id = ?",
                {V(hash), V(changed_at), V(account_id)});
}

void SqlRepository::SetTotp(std::string_view account_id, const std::optional<std::string>& secret, bool enabled) {
  std::lock_guard lock(mu_);
  driver_->Exec("UPDATE accounts SET totp_secret = ?, totp_enabled = ?, totp_last_step = NULL WHERE id = ?",
                {V(secret), V(enabled), V(account_id)});
}

bool SqlRepository::ConsumeTotpStep(std::string_view account_id, int64_t step) {
  std::lock_guard lock(mu_);
  return driver_->Exec(
             "UPDATE accounts SET totp_last_step = ? WHERE id = ? AND (totp_last_step IS NULL OR totp_last_step < ?)",
             {V(step), V(account_id), V(step)}) == 1;
}

void SqlRepository::DeleteAccount(std::string_view account_id) {
  std::lock_guard lock(mu_);
  driver_->Exec("DELETE FROM accounts WHERE id = ?", {V(account_id)});
}

void SqlRepository::ReplaceRecoveryCodes(std::string_view account_id, const std::vector<std::string>& hashes) {
  std::lock_guard lock(mu_);
  Transaction([&] {
    driver_->Exec("DELETE FROM recovery_codes WHERE account_id = ?", {V(account_id)});
    for (const auto& h : hashes) {
      driver_->Exec("INSERT INTO recovery_codes (account_id, code_hash) VALUES (?, ?)", {V(account_id), V(h)});
    }
  });
}

bool SqlRepository::ConsumeRecoveryCode(std::string_view account_id, std::string_view hash) {
  std::lock_guard lock(mu_);
  return driver_->Exec("DELETE FROM recovery_codes WHERE account_id = ? AND code_hash = ?", {V(account_id), V(hash)}) ==
         1;
}

int SqlRepository::CountRecoveryCodes(std::string_view account_id) {
  std::lock_guard lock(mu_);
  const auto rows = driver_->Query("SELECT COUNT(*) FROM recovery_codes WHERE account_id = ?", {V(account_id)});
  return rows.empty() ? 0 : static_cast<int>(Int(rows[0], 0));
}

void SqlRepository::CreateSession(const SessionRow& r) {
  std::lock_guard lock(mu_);
  driver_->Exec(
      "INSERT INTO sessions (id, account_id, token_hash, csrf_token, created_at, last_seen_at, expires_at, "
      "created_from) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      {V(r.id), V(r.account_id), V(r.token_hash), V(r.csrf_token), V(r.created_at), V(r.last_seen_at),
       V(r.expires_at), V(r.created_from)});
}

std::optional<SessionRow> SqlRepository::SessionByTokenHash(std::string_view token_hash) {
  std::lock_guard lock(mu_);
  const auto rows = driver_->Query(Select(kSessionColumns, "FROM sessions WHERE token_hash = ?"), {V(token_hash)});
  if (rows.empty()) return std::nullopt;
  return ReadSession(rows[0]);
}

void SqlRepository::TouchSession(std::string_view session_id, int64_t at) {
  std::lock_guard lock(mu_);
  driver_->Exec("UPDATE sessions SET last_seen_at = ? WHERE id = ?", {V(at), V(session_id)});
}

void SqlRepository::DeleteSession(std::string_view session_id) {
  std::lock_guard lock(mu_);
  driver_->Exec("DELETE FROM sessions WHERE id = ?", {V(session_id)});
}

void SqlRepository::DeleteSessions(std::string_view account_id, const std::optional<std::string>& except_id) {
  std::lock_guard lock(mu_);
  driver_->Exec("DELETE FROM sessions WHERE account_id = ? AND id <> ?",
                {V(account_id), V(std::string_view(except_id.value_or("")))});
}

std::vector<SessionRow> SqlRepository::Sessions(std::string_view account_id) {
  std::lock_guard lock(mu_);
  std::vector<SessionRow> out;
  for (const auto& row : driver_->Query(Select(kSessionColumns, "FROM sessions WHERE account_id = ? ORDER BY id"),
                                        {V(account_id)})) {
    out.push_back(ReadSession(row));
  }
  return out;
}

void SqlRepository::CreateApiKey(const ApiKeyRow& r) {
  std::lock_guard lock(mu_);
  driver_->Exec(
      "INSERT INTO api_keys (id, account_id, name, token_hash, prefix, scopes, created_at, last_used_at) VALUES "
      "(?, ?, ?, ?, ?, ?, ?, ?)",
      {V(r.id), V(r.account_id), V(r.name), V(r.token_hash), V(r.prefix), V(std::string_view(JoinScopes(r.scopes))),
       V(r.created_at), V(r.last_used_at)});
}

std::optional<ApiKeyRow> SqlRepository::ApiKeyByTokenHash(std::string_view token_hash) {
  std::lock_guard lock(mu_);
  const auto rows = driver_->Query(Select(kApiKeyColumns, "FROM api_keys WHERE token_hash = ?"), {V(token_hash)});
  if (rows.empty()) return std::nullopt;
  return ReadApiKey(rows[0]);
}

std::vector<ApiKeyRow> SqlRepository::ApiKeys(std::string_view account_id, std::string_view after_id, int limit) {
  std::lock_guard lock(mu_);
  std::vector<ApiKeyRow> out;
  for (const auto& row :
       driver_->Query(Select(kApiKeyColumns, "FROM api_keys WHERE account_id = ? AND id > ? ORDER BY id LIMIT ?"),
                      {V(account_id), V(after_id), V(static_cast<int64_t>(limit))})) {
    out.push_back(ReadApiKey(row));
  }
  return out;
}

bool SqlRepository::DeleteApiKey(std::string_view account_id, std::string_view key_id) {
  std::lock_guard lock(mu_);
  return driver_->Exec("DELETE FROM api_keys WHERE account_id = ? AND id = ?", {V(account_id), V(key_id)}) == 1;
}

void SqlRepository::TouchApiKey(std::string_view key_id, int64_t at) {
  std::lock_guard lock(mu_);
  driver_->Exec("UPDATE api_keys SET last_used_at = ? WHERE id = ?", {V(at), V(key_id)});
}

std::string SqlRepository::QueryText(const std::string& sql) {
  std::lock_guard lock(mu_);
  if (sql.starts_with("SELECT") || sql.starts_with("PRAGMA")) {
    const auto rows = driver_->Query(sql, {});
    return rows.empty() || rows[0].empty() ? std::string() : rows[0][0].value_or("");
  }
  driver_->Exec(sql, {});
  return "";
}

std::unique_ptr<SqlRepository> OpenRepository(const std::string& url, const StorageOptions& options) {
  if (url.starts_with("sqlite:") && url.size() > 7) return OpenSqlite(url.substr(7), options);
  if (url.starts_with("postgresql://") || url.starts_with("postgres://")) return OpenPostgres(url, options);
  throw StorageError("database \"" + url + "\" must be sqlite:PATH or postgresql://...");
}

}  // namespace mortise::server

// ---------------------------------------------------------------------------
// Organisations, sites, doors, people, invitations, the audit trail.

namespace mortise::server {
namespace {

constexpr const char* kOrgColumns = "o.id, o.name, o.kind, o.created_at";

OrganisationRow ReadOrg(const SqlRow& s) { return {Text(s, 0), Text(s, 1), Text(s, 2), Int(s, 3)}; }

constexpr const char* kMemberColumns = "m.org_id, m.account_id, a.email, m.role, m.created_at";

MembershipRow ReadMember(const SqlRow& s) { return {Text(s, 0), Text(s, 1), Text(s, 2), Text(s, 3), Int(s, 4)}; }

constexpr const char* kSiteColumns = "id, org_id, name, created_at";

SiteRow ReadSite(const SqlRow& s) { return {Text(s, 0), Text(s, 1), Text(s, 2), Int(s, 3)}; }

constexpr const char* kDoorColumns =
    "id, org_id, site_id, name, lock_id, lock_public_key, owner_public_key, registered_by, created_at";

DoorRow ReadDoor(const SqlRow& s) {
  return {Text(s, 0), Text(s, 1), Text(s, 2), Text(s, 3), Text(s, 4),
          Text(s, 5), Text(s, 6), Text(s, 7), Int(s, 8)};
}

constexpr const char* kInvitationColumns =
    "id, org_id, role, note, token_hash, created_by, created_at, expires_at, accepted_by, accepted_at";

InvitationRow ReadInvitation(const SqlRow& s) {
  InvitationRow r;
  r.id = Text(s, 0);
  r.org_id = Text(s, 1);
  r.role = Text(s, 2);
  r.note = Text(s, 3);
  r.token_hash = Text(s, 4);
  r.created_by = Text(s, 5);
  r.created_at = Int(s, 6);
  r.expires_at = Int(s, 7);
  r.accepted_by = s.at(8);
  r.accepted_at = OptInt(s, 9);
  return r;
}

constexpr const char* kAuditColumns =
    "seq, at, org_id, actor_account_id, actor_email, actor_credential, action, object_type, object_id, address, "
    "user_agent, detail";

AuditEvent ReadAudit(const SqlRow& s) {
  AuditEvent e;
  e.seq = Int(s, 0);
  e.at = Int(s, 1);
  e.org_id = s.at(2);
  e.actor_account_id = Text(s, 3);
  e.actor_email = Text(s, 4);
  e.actor_credential = Text(s, 5);
  e.action = Text(s, 6);
  e.object_type = Text(s, 7);
  e.object_id = Text(s, 8);
  e.address = Text(s, 9);
  e.user_agent = Text(s, 10);
  e.detail = Text(s, 11);
  return e;
}

SqlValue Limit(int limit) { return static_cast<int64_t>(limit); }

template <typename R>
std::optional<R> First(const std::vector<SqlRow>& rows, R (*read)(const SqlRow&)) {
  if (rows.empty()) return std::nullopt;
  return read(rows[0]);
}

template <typename R>
std::vector<R> All(const std::vector<SqlRow>& rows, R (*read)(const SqlRow&)) {
  std::vector<R> out;
  out.reserve(rows.size());
  for (const auto& row : rows) out.push_back(read(row));
  return out;
}

}  // namespace

std::vector<SqlRow> SqlRepository::Rows(std::string_view sql, const std::vector<SqlValue>& args) {
  std::lock_guard lock(mu_);
  return driver_->Query(sql, args);
}

int SqlRepository::Count(std::string_view sql, const std::vector<SqlValue>& args) {
  const auto rows = Rows(sql, args);
  return rows.empty() ? 0 : static_cast<int>(Int(rows[0], 0));
}

bool SqlRepository::ChangeOne(std::string_view sql, const std::vector<SqlValue>& args, const AuditEvent& event) {
  std::lock_guard lock(mu_);
  bool changed = false;
  Transaction([&] {
    changed = driver_->Exec(sql, args) == 1;
    if (changed) Append(event);
  });
  return changed;
}

void SqlRepository::WriteTransaction(const std::function<void(SqlDriver&, const AuditAppend&)>& f) {
  std::lock_guard lock(mu_);
  const AuditAppend append = [this](const AuditEvent& e) { Append(e); };
  Transaction([&] { f(*driver_, append); });
}

void SqlRepository::Append(const AuditEvent& e) {
  const auto rows = driver_->Query("SELECT COALESCE(MAX(seq), 0) FROM audit_events", {});
  const int64_t seq = (rows.empty() ? 0 : Int(rows[0], 0)) + 1;
  driver_->Exec(
      "INSERT INTO audit_events (seq, at, org_id, actor_account_id, actor_email, actor_credential, action, "
      "object_type, object_id, address, user_agent, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      {V(seq), V(e.at), V(e.org_id), V(e.actor_account_id), V(e.actor_email), V(e.actor_credential), V(e.action),
       V(e.object_type), V(e.object_id), V(e.address), V(e.user_agent), V(e.detail)});
}

void SqlRepository::CreateOrganisation(const OrganisationRow& org, const std::optional<SiteRow>& site,
                                       const MembershipRow& owner, const AuditEvent& event) {
  std::lock_guard lock(mu_);
  Transaction([&] {
    driver_->Exec("INSERT INTO organisations (id, name, kind, created_at) VALUES (?, ?, ?, ?)",
                  {V(org.id), V(org.name), V(org.kind), V(org.created_at)});
    if (site) {
      driver_->Exec("INSERT INTO sites (id, org_id, name, created_at) VALUES (?, ?, ?, ?)",
                    {V(site->id), V(site->org_id), V(site->name), V(site->created_at)});
    }
    driver_->Exec("INSERT INTO memberships (org_id, account_id, role, created_at) VALUES (?, ?, ?, ?)",
                  {V(owner.org_id), V(owner.account_id), V(owner.role), V(owner.created_at)});
    Append(event);
  });
}

std::optional<OrganisationRow> SqlRepository::Organisation(std::string_view org_id) {
  return First(Rows(Select(kOrgColumns, "FROM organisations o WHERE o.id = ?"), {V(org_id)}), ReadOrg);
}

std::vector<std::pair<OrganisationRow, std::string>> SqlRepository::OrganisationsOf(std::string_view account_id,
                                                                                    std::string_view after_id,
                                                                                    int limit) {
  std::lock_guard lock(mu_);
  std::vector<std::pair<OrganisationRow, std::string>> out;
  for (const auto& row : driver_->Query(
           std::string("SELECT ") + kOrgColumns +
               ", m.role FROM organisations o JOIN memberships m ON m.org_id = o.id WHERE m.account_id = ? AND o.id > ? "
               "ORDER BY o.id LIMIT ?",
           {V(account_id), V(after_id), Limit(limit)})) {
    out.emplace_back(ReadOrg(row), Text(row, 4));
  }
  return out;
}

void SqlRepository::DeleteOrganisation(std::string_view org_id, const AuditEvent& event) {
  std::lock_guard lock(mu_);
  Transaction([&] {
    // Children first: SQLite enforces ON DELETE CASCADE only with
    // foreign_keys on, so the repository does not rely on it.
    for (const char* table : {"door_challenges", "invitations", "doors", "sites", "memberships"}) {
      driver_->Exec(std::string("DELETE FROM ") + table + " WHERE org_id = ?", {V(org_id)});
    }
    driver_->Exec("DELETE FROM organisations WHERE id = ?", {V(org_id)});
    Append(event);
  });
}

std::optional<MembershipRow> SqlRepository::Membership(std::string_view org_id, std::string_view account_id) {
  return First(Rows(Select(kMemberColumns, "FROM memberships m JOIN accounts a ON a.id = m.account_id WHERE "
                                           "m.org_id = ? AND m.account_id = ?"),
                    {V(org_id), V(account_id)}),
               ReadMember);
}

std::vector<MembershipRow> SqlRepository::Memberships(std::string_view org_id, std::string_view after_account_id,
                                                      int limit) {
  return All(Rows(Select(kMemberColumns, "FROM memberships m JOIN accounts a ON a.id = m.account_id WHERE "
                                         "m.org_id = ? AND m.account_id > ? ORDER BY m.account_id LIMIT ?"),
                  {V(org_id), V(after_account_id), Limit(limit)}),
             ReadMember);
}

int SqlRepository::CountOwners(std::string_view org_id) {
  return Count("SELECT COUNT(*) FROM memberships WHERE org_id = ? AND role = 'owner'", {V(org_id)});
}

int SqlRepository::CountSoleOwnerships(std::string_view account_id) {
  return Count(
      "SELECT COUNT(*) FROM memberships m WHERE m.account_id = ? AND m.role = 'owner' AND "
      "(SELECT COUNT(*) FROM memberships o WHERE o.org_id = m.org_id AND o.role = 'owner') = 1",
      {V(account_id)});
}

bool SqlRepository::SetRole(std::string_view org_id, std::string_view account_id, std::string_view role,
                            const AuditEvent& event) {
  return ChangeOne("UPDATE memberships SET role = ? WHERE org_id = ? AND account_id = ?",
                   {V(role), V(org_id), V(account_id)}, event);
}

bool SqlRepository::DeleteMembership(std::string_view org_id, std::string_view account_id, const AuditEvent& event) {
  return ChangeOne("DELETE FROM memberships WHERE org_id = ? AND account_id = ?", {V(org_id), V(account_id)}, event);
}

void SqlRepository::CreateSite(const SiteRow& site, const AuditEvent& event) {
  std::lock_guard lock(mu_);
  Transaction([&] {
    driver_->Exec("INSERT INTO sites (id, org_id, name, created_at) VALUES (?, ?, ?, ?)",
                  {V(site.id), V(site.org_id), V(site.name), V(site.created_at)});
    Append(event);
  });
}

std::optional<SiteRow> SqlRepository::Site(std::string_view org_id, std::string_view site_id) {
  return First(Rows(Select(kSiteColumns, "FROM sites WHERE org_id = ? AND id = ?"), {V(org_id), V(site_id)}),
               ReadSite);
}

std::vector<SiteRow> SqlRepository::Sites(std::string_view org_id, std::string_view after_id, int limit) {
  return All(Rows(Select(kSiteColumns, "FROM sites WHERE org_id = ? AND id > ? ORDER BY id LIMIT ?"),
                  {V(org_id), V(after_id), Limit(limit)}),
             ReadSite);
}

int SqlRepository::CountDoorsOfSite(std::string_view org_id, std::string_view site_id) {
  return Count("SELECT COUNT(*) FROM doors WHERE org_id = ? AND site_id = ?", {V(org_id), V(site_id)});
}

bool SqlRepository::DeleteSite(std::string_view org_id, std::string_view site_id, const AuditEvent& event) {
  return ChangeOne("DELETE FROM sites WHERE org_id = ? AND id = ?", {V(org_id), V(site_id)}, event);
}

void SqlRepository::CreateDoorChallenge(const DoorChallengeRow& r) {
  std::lock_guard lock(mu_);
  driver_->Exec("INSERT INTO door_challenges (id, org_id, account_id, challenge, expires_at) VALUES (?, ?, ?, ?, ?)",
                {V(r.id), V(r.org_id), V(r.account_id), V(r.challenge), V(r.expires_at)});
}

std::optional<DoorChallengeRow> SqlRepository::TakeDoorChallenge(std::string_view org_id, std::string_view account_id,
                                                                 std::string_view challenge_id) {
  std::lock_guard lock(mu_);
  std::optional<DoorChallengeRow> out;
  Transaction([&] {
    const auto rows = driver_->Query(
        "SELECT id, org_id, account_id, challenge, expires_at FROM door_challenges WHERE id = ? AND org_id = ? AND "
        "account_id = ?",
        {V(challenge_id), V(org_id), V(account_id)});
    if (rows.empty()) return;
    if (driver_->Exec("DELETE FROM door_challenges WHERE id = ?", {V(challenge_id)}) != 1) return;
    out = DoorChallengeRow{Text(rows[0], 0), Text(rows[0], 1), Text(rows[0], 2), Text(rows[0], 3), Int(rows[0], 4)};
  });
  return out;
}

bool SqlRepository::CreateDoor(const DoorRow& d, const AuditEvent& event) {
  std::lock_guard lock(mu_);
  bool created = false;
  Transaction([&] {
    created = driver_->Exec(
                  "INSERT INTO doors (id, org_id, site_id, name, lock_id, lock_public_key, owner_public_key, "
                  "registered_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                  {V(d.id), V(d.org_id), V(d.site_id), V(d.name), V(d.lock_id), V(d.lock_public_key),
                   V(d.owner_public_key), V(d.registered_by), V(d.created_at)},
                  /*constraint_ok=*/true) == 1;
    if (created) Append(event);
  });
  return created;
}

std::optional<DoorRow> SqlRepository::Door(std::string_view org_id, std::string_view door_id) {
  return First(Rows(Select(kDoorColumns, "FROM doors WHERE org_id = ? AND id = ?"), {V(org_id), V(door_id)}),
               ReadDoor);
}

std::vector<DoorRow> SqlRepository::Doors(std::string_view org_id, std::string_view after_id, int limit) {
  return All(Rows(Select(kDoorColumns, "FROM doors WHERE org_id = ? AND id > ? ORDER BY id LIMIT ?"),
                  {V(org_id), V(after_id), Limit(limit)}),
             ReadDoor);
}

bool SqlRepository::DeleteDoor(std::string_view org_id, std::string_view door_id, const AuditEvent& event) {
  return ChangeOne("DELETE FROM doors WHERE org_id = ? AND id = ?", {V(org_id), V(door_id)}, event);
}

void SqlRepository::CreateInvitation(const InvitationRow& r, const AuditEvent& event) {
  CreateInvitations({r}, {event});
}

void SqlRepository::CreateInvitations(const std::vector<InvitationRow>& rows, const std::vector<AuditEvent>& events) {
  std::lock_guard lock(mu_);
  Transaction([&] {
    for (const auto& r : rows) {
      driver_->Exec(
          "INSERT INTO invitations (id, org_id, role, note, token_hash, created_by, created_at, expires_at, "
          "accepted_by, accepted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
          {V(r.id), V(r.org_id), V(r.role), V(r.note), V(r.token_hash), V(r.created_by), V(r.created_at),
           V(r.expires_at), V(r.accepted_by), V(r.accepted_at)});
    }
    for (const auto& e : events) Append(e);
  });
}

std::vector<InvitationRow> SqlRepository::Invitations(std::string_view org_id, std::string_view after_id, int limit) {
  return All(Rows(Select(kInvitationColumns, "FROM invitations WHERE org_id = ? AND id > ? ORDER BY id LIMIT ?"),
                  {V(org_id), V(after_id), Limit(limit)}),
             ReadInvitation);
}

std::optional<InvitationRow> SqlRepository::Invitation(std::string_view org_id, std::string_view invitation_id) {
  auto rows = All(Rows(Select(kInvitationColumns, "FROM invitations WHERE org_id = ? AND id = ?"),
                       {V(org_id), V(invitation_id)}),
                  ReadInvitation);
  if (rows.empty()) return std::nullopt;
  return std::move(rows.front());
}

bool SqlRepository::DeleteInvitation(std::string_view org_id, std::string_view invitation_id,
                                     const AuditEvent& event) {
  return ChangeOne("DELETE FROM invitations WHERE org_id = ? AND id = ?", {V(org_id), V(invitation_id)}, event);
}

AcceptOutcome SqlRepository::AcceptInvitation(std::string_view token_hash, std::string_view account_id, int64_t now,
                                              AuditEvent event, InvitationRow& invitation) {
  std::lock_guard lock(mu_);
  AcceptOutcome outcome = AcceptOutcome::kUnknown;
  Transaction([&] {
    const auto rows =
        driver_->Query(Select(kInvitationColumns, "FROM invitations WHERE token_hash = ?"), {V(token_hash)});
    if (rows.empty()) return;
    invitation = ReadInvitation(rows[0]);
    if (invitation.accepted_at) {
      outcome = AcceptOutcome::kUsed;
      return;
    }
    if (now >= invitation.expires_at) {
      outcome = AcceptOutcome::kExpired;
      return;
    }
    if (!driver_->Query("SELECT 1 FROM memberships WHERE org_id = ? AND account_id = ?",
                        {V(invitation.org_id), V(account_id)})
             .empty()) {
      outcome = AcceptOutcome::kAlreadyMember;
      return;
    }
    // The compare-and-set makes the token single use under concurrency.
    if (driver_->Exec("UPDATE invitations SET accepted_by = ?, accepted_at = ? WHERE id = ? AND accepted_at IS NULL",
                      {V(account_id), V(now), V(invitation.id)}) != 1) {
      outcome = AcceptOutcome::kUsed;
      return;
    }
    driver_->Exec("INSERT INTO memberships (org_id, account_id, role, created_at) VALUES (?, ?, ?, ?)",
                  {V(invitation.org_id), V(account_id), V(invitation.role), V(now)});
    event.org_id = invitation.org_id;
    event.object_id = invitation.id;
    Append(event);
    invitation.accepted_by = std::string(account_id);
    invitation.accepted_at = now;
    outcome = AcceptOutcome::kAccepted;
  });
  return outcome;
}

void SqlRepository::AppendAudit(const AuditEvent& event) {
  std::lock_guard lock(mu_);
  Transaction([&] { Append(event); });
}

std::vector<AuditEvent> SqlRepository::SearchAudit(const AuditQuery& q) {
  std::lock_guard lock(mu_);
  std::string sql = std::string("SELECT ") + kAuditColumns + " FROM audit_events WHERE ";
  Args args;
  if (q.org_id) {
    sql += "org_id = ?";
    args.push_back(V(*q.org_id));
  } else {
    sql += "org_id IS NULL";
  }
  auto add = [&](const char* clause, SqlValue v) {
    sql += clause;
    args.push_back(std::move(v));
  };
  if (q.actor) add(" AND actor_account_id = ?", V(*q.actor));
  if (q.action) add(" AND action = ?", V(*q.action));
  if (q.object_id) add(" AND object_id = ?", V(*q.object_id));
  if (q.from) add(" AND at >= ?", V(*q.from));
  if (q.to) add(" AND at < ?", V(*q.to));
  if (q.before_seq) add(" AND seq < ?", V(*q.before_seq));
  sql += " ORDER BY seq DESC LIMIT ?";
  args.push_back(Limit(q.limit));
  std::vector<AuditEvent> out;
  for (const auto& row : driver_->Query(sql, args)) out.push_back(ReadAudit(row));
  return out;
}

int64_t SqlRepository::PurgeAuditBefore(int64_t cutoff) {
  std::lock_guard lock(mu_);
  return driver_->Exec("DELETE FROM audit_events WHERE at < ?", {V(cutoff)});
}

}  // namespace mortise::server
