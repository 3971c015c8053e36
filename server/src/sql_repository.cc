#include "sql_repository.h"

#include <chrono>
#include <sstream>

#include "api_error.h"
#include "migrations.h"

namespace mortise::server {
namespace {

using Args = std::vector<SqlValue>;

SqlValue V(std::string_view s) { return std::string(s); }
SqlValue V(const std::string& s) { return s; }
SqlValue V(int64_t v) { return v; }
SqlValue V(bool b) { return static_cast<int64_t>(b ? 1 : 0); }
SqlValue V(const std::optional<std::string>& s) { return s ? SqlValue(*s) : SqlValue(nullptr); }
SqlValue V(const std::optional<int64_t>& v) { return v ? SqlValue(*v) : SqlValue(nullptr); }

std::string Text(const SqlRow& r, size_t i) { return r.at(i).value_or(""); }
int64_t Int(const SqlRow& r, size_t i) { return r.at(i) ? std::stoll(*r[i]) : 0; }
std::optional<int64_t> OptInt(const SqlRow& r, size_t i) {
  if (!r.at(i)) return std::nullopt;
  return std::stoll(*r[i]);
}

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
  for (const auto& m : all) {
    if (migrate_to > 0 && m.version > migrate_to) break;
    Transaction([&] {
      // Read inside the transaction: two servers starting at once apply
      // each migration once (SQLite: BEGIN IMMEDIATE serialises; PostgreSQL:
      // the primary key refuses the second insert and its transaction rolls back).
      const auto rows = driver_->Query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", {});
      const int64_t current = rows.empty() ? 0 : Int(rows[0], 0);
      if (current > static_cast<int64_t>(all.size())) {
        throw StorageError("database schema version " + std::to_string(current) +
                           " is newer than this server knows (" + std::to_string(all.size()) +
                           "); run a newer mortise-server");
      }
      if (m.version <= current) return;
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
  if (current > static_cast<int64_t>(all.size())) {
    throw StorageError("database schema version " + std::to_string(current) + " is newer than this server knows (" +
                       std::to_string(all.size()) + "); run a newer mortise-server");
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
