#include "sqlite_repository.h"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>

#include <sqlite3.h>

#include "api_error.h"
#include "migrations.h"

namespace mortise::server {
namespace {

[[noreturn]] void Fail(sqlite3* db, const std::string& what) {
  throw StorageError("sqlite: " + what + ": " + (db ? sqlite3_errmsg(db) : "out of memory"));
}

// A prepared statement with positional binding; finalised on scope exit.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &st_, nullptr) != SQLITE_OK) Fail(db, "prepare");
  }
  ~Stmt() { sqlite3_finalize(st_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& Bind(std::string_view v) {
    Check(sqlite3_bind_text(st_, ++n_, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
    return *this;
  }
  Stmt& Bind(const char* v) { return Bind(std::string_view(v)); }
  Stmt& Bind(const std::string& v) { return Bind(std::string_view(v)); }
  Stmt& Bind(int64_t v) {
    Check(sqlite3_bind_int64(st_, ++n_, v));
    return *this;
  }
  Stmt& Bind(int v) { return Bind(static_cast<int64_t>(v)); }
  Stmt& Bind(bool v) { return Bind(static_cast<int64_t>(v ? 1 : 0)); }
  Stmt& Bind(const std::optional<std::string>& v) {
    if (!v) {
      Check(sqlite3_bind_null(st_, ++n_));
      return *this;
    }
    return Bind(std::string_view(*v));
  }
  Stmt& Bind(const std::optional<int64_t>& v) {
    if (!v) {
      Check(sqlite3_bind_null(st_, ++n_));
      return *this;
    }
    return Bind(*v);
  }

  // true: a row is ready.
  bool Step() {
    const int rc = sqlite3_step(st_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    Fail(db_, "step");
  }
  // Runs to completion; returns the rows changed. false on a constraint
  // violation when `constraint_ok`.
  int Exec() {
    const int rc = sqlite3_step(st_);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) Fail(db_, "exec");
    return sqlite3_changes(db_);
  }
  bool ExecUnique() {
    const int rc = sqlite3_step(st_);
    if ((rc & 0xff) == SQLITE_CONSTRAINT) return false;
    if (rc != SQLITE_DONE) Fail(db_, "exec");
    return true;
  }

  std::string Text(int col) const {
    const auto* p = sqlite3_column_text(st_, col);
    return p ? std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(st_, col)) : std::string();
  }
  int64_t Int(int col) const { return sqlite3_column_int64(st_, col); }
  bool IsNull(int col) const { return sqlite3_column_type(st_, col) == SQLITE_NULL; }
  std::optional<std::string> OptText(int col) const {
    if (IsNull(col)) return std::nullopt;
    return Text(col);
  }
  std::optional<int64_t> OptInt(int col) const {
    if (IsNull(col)) return std::nullopt;
    return Int(col);
  }

 private:
  void Check(int rc) {
    if (rc != SQLITE_OK) Fail(db_, "bind");
  }
  sqlite3* db_;
  sqlite3_stmt* st_ = nullptr;
  int n_ = 0;
};

void ExecScript(sqlite3* db, const std::string& sql, const std::string& what) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    throw StorageError("sqlite: " + what + ": " + msg);
  }
}

constexpr const char* kAccountColumns =
    "id, email, password_hash, created_at, password_changed_at, totp_secret, totp_enabled, totp_last_step";

AccountRow ReadAccount(const Stmt& s) {
  AccountRow r;
  r.id = s.Text(0);
  r.email = s.Text(1);
  r.password_hash = s.Text(2);
  r.created_at = s.Int(3);
  r.password_changed_at = s.Int(4);
  r.totp_secret = s.OptText(5);
  r.totp_enabled = s.Int(6) != 0;
  r.totp_last_step = s.OptInt(7);
  return r;
}

constexpr const char* kSessionColumns =
    "id, account_id, token_hash, csrf_token, created_at, last_seen_at, expires_at, created_from";

SessionRow ReadSession(const Stmt& s) {
  SessionRow r;
  r.id = s.Text(0);
  r.account_id = s.Text(1);
  r.token_hash = s.Text(2);
  r.csrf_token = s.Text(3);
  r.created_at = s.Int(4);
  r.last_seen_at = s.Int(5);
  r.expires_at = s.Int(6);
  r.created_from = s.Text(7);
  return r;
}

constexpr const char* kApiKeyColumns = "id, account_id, name, token_hash, prefix, scopes, created_at, last_used_at";

ApiKeyRow ReadApiKey(const Stmt& s) {
  ApiKeyRow r;
  r.id = s.Text(0);
  r.account_id = s.Text(1);
  r.name = s.Text(2);
  r.token_hash = s.Text(3);
  r.prefix = s.Text(4);
  std::istringstream scopes(s.Text(5));
  for (std::string scope; scopes >> scope;) r.scopes.push_back(scope);
  r.created_at = s.Int(6);
  r.last_used_at = s.OptInt(7);
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

sqlite3* OpenRaw(const std::string& path, int flags, int busy_timeout_ms) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, flags | SQLITE_OPEN_FULLMUTEX, nullptr) != SQLITE_OK) {
    const std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    throw StorageError("sqlite: cannot open " + path + ": " + msg);
  }
  sqlite3_busy_timeout(db, busy_timeout_ms);
  return db;
}

}  // namespace

std::unique_ptr<SqliteRepository> SqliteRepository::Open(const std::string& path, const SqliteOptions& options) {
  sqlite3* db = OpenRaw(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, options.busy_timeout_ms);
  std::unique_ptr<SqliteRepository> repo(new SqliteRepository(db));
  // WAL: readers never block the writer and a backup can run beside the
  // server; FULL: a commit is on disk (WAL fsynced) before the call returns.
  ExecScript(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;", "configure " + path);
  {
    Stmt s(db, "PRAGMA journal_mode");
    if (!s.Step() || s.Text(0) != "wal") throw StorageError("sqlite: " + path + " cannot use WAL mode");
  }
  repo->Migrate(options.migrate_to);
  return repo;
}

SqliteRepository::~SqliteRepository() { sqlite3_close(db_); }

void SqliteRepository::Migrate(int migrate_to) {
  std::lock_guard lock(mu_);
  ExecScript(db_,
             "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, "
             "applied_at BIGINT NOT NULL)",
             "create schema_migrations");
  int64_t current = 0;
  {
    Stmt s(db_, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
    if (s.Step()) current = s.Int(0);
  }
  const auto all = Migrations();
  if (current > static_cast<int64_t>(all.size())) {
    throw StorageError("database schema version " + std::to_string(current) + " is newer than this server knows (" +
                       std::to_string(all.size()) + "); run a newer mortise-server");
  }
  for (const auto& m : all) {
    if (m.version <= current) continue;
    if (migrate_to > 0 && m.version > migrate_to) break;
    const std::string what = "migration " + std::to_string(m.version) + " (" + std::string(m.name) + ")";
    ExecScript(db_, "BEGIN IMMEDIATE", what);
    try {
      ExecScript(db_, std::string(m.sql), what);
      Stmt ins(db_, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, CAST(strftime('%s','now') AS INTEGER) * 1000)");
      ins.Bind(static_cast<int64_t>(m.version)).Bind(m.name).Exec();
      ExecScript(db_, "COMMIT", what);
    } catch (...) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
  }
}

void SqliteRepository::Ping() {
  std::lock_guard lock(mu_);
  Stmt s(db_, "SELECT 1");
  s.Step();
}

int SqliteRepository::SchemaVersion() {
  std::lock_guard lock(mu_);
  Stmt s(db_, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
  return s.Step() ? static_cast<int>(s.Int(0)) : 0;
}

bool SqliteRepository::CreateAccount(const AccountRow& r) {
  std::lock_guard lock(mu_);
  Stmt s(db_,
         "INSERT INTO accounts (id, email, password_hash, created_at, password_changed_at, totp_secret, totp_enabled, "
         "totp_last_step) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
  s.Bind(r.id).Bind(r.email).Bind(r.password_hash).Bind(r.created_at).Bind(r.password_changed_at).Bind(r.totp_secret);
  s.Bind(r.totp_enabled).Bind(r.totp_last_step);
  return s.ExecUnique();
}

std::optional<AccountRow> SqliteRepository::AccountByEmail(std::string_view email) {
  std::lock_guard lock(mu_);
  Stmt s(db_, (std::string("SELECT ") + kAccountColumns + " FROM accounts WHERE email = ?").c_str());
  s.Bind(email);
  if (!s.Step()) return std::nullopt;
  return ReadAccount(s);
}

std::optional<AccountRow> SqliteRepository::AccountById(std::string_view id) {
  std::lock_guard lock(mu_);
  Stmt s(db_, (std::string("SELECT ") + kAccountColumns + " FROM accounts WHERE id = ?").c_str());
  s.Bind(id);
  if (!s.Step()) return std::nullopt;
  return ReadAccount(s);
}

void SqliteRepository::SetPasswordHash(std::string_view account_id, std::string_view hash, int64_t changed_at) {
  std::lock_guard lock(mu_);
  Stmt s(db_, "UPDATE accounts SET password_hash = ?, password_changed_at = ? WHERE id = ?");
  s.Bind(hash).Bind(changed_at).Bind(account_id).Exec();
}

void SqliteRepository::SetTotp(std::string_view account_id, const std::optional<std::string>& secret, bool enabled) {
  std::lock_guard lock(mu_);
  Stmt s(db_, "UPDATE accounts SET totp_secret = ?, totp_enabled = ?, totp_last_step = NULL WHERE id = ?");
  s.Bind(secret).Bind(enabled).Bind(account_id).Exec();
}

bool SqliteRepository::ConsumeTotpStep(std::string_view account_id, int64_t step) {
  std::lock_guard lock(mu_);
  Stmt s(db_,
         "UPDATE accounts SET totp_last_step = ? WHERE id = ? AND (totp_last_step IS NULL OR totp_last_step < ?)");
  s.Bind(step).Bind(account_id).Bind(step);
  return s.Exec() == 1;
}

void SqliteRepository::DeleteAccount(std::string_view account_id) {
  std::lock_guard lock(mu_);
  Stmt s(db_, "DELETE FROM accounts WHERE id = ?");
  s.Bind(account_id).Exec();
}

void SqliteRepository::ReplaceRecoveryCodes(std::string_view account_id, const std::vector<std::string>& hashes) {
  std::lock_guard lock(mu_);
  ExecScript(db_, "BEGIN IMMEDIATE", "replace recovery codes");
  try {
    Stmt del(db_, "DELETE FROM recovery_codes WHERE account_id = ?");
    del.Bind(account_id).Exec();
    for (const auto& h : hashes) {
      Stmt ins(db_, "INSERT INTO recovery_codes (account_id, code_hash) VALUES (?, ?)");
      ins.Bind(account_id).Bind(h).Exec();
    }
    ExecScript(db_, "COMMIT", "replace recovery codes");
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

bool SqliteRepository::ConsumeRecoveryCode(std::string_view account_id, std::string_view hash) {
  std::lock_guard lock(mu_);
  Stmt s(db_, "DELETE FROM recovery_codes WHERE account_id = ? AND code_hash = ?");
  s.Bind(account_id).Bind(hash);
  return s.Exec() == 1;
}

int SqliteRepository::CountRecoveryCodes(std::string_view account_id) {
  std::lock_guard lock(mu_);
  Stmt s(db_, "SELECT COUNT(*) FROM recovery_codes WHERE account_id = ?");
  s.Bind(account_id);
  return s.Step() ? static_cast<int>(s.Int(0)) : 0;
}

void SqliteRepository::CreateSession(const SessionRow& r) {
  std::lock_guard lock(mu_);
  Stmt s(db_,
         "INSERT INTO sessions (id, account_id, token_hash, csrf_token, created_at, last_seen_at, expires_at, "
         "created_from) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
  s.Bind(r.id).Bind(r.account_id).Bind(r.token_hash).Bind(r.csrf_token).Bind(r.created_at).Bind(r.last_seen_at);
  s.Bind(r.expires_at).Bind(r.created_from).Exec();
}

std::optional<SessionRow> SqliteRepository::SessionByTokenHash(std::string_view token_hash) {
  std::lock_guard lock(mu_);
  Stmt s(db_, (std::string("SELECT ") + kSessionColumns + " FROM sessions WHERE token_hash = ?").c_str());
  s.Bind(token_hash);
  if (!s.Step()) return std::nullopt;
  return ReadSession(s);
}

void SqliteRepository::TouchSession(std::string_view session_id, int64_t at) {
  std::lock_guard lock(mu_);
  Stmt s(db_, "UPDATE sessions SET last_seen_at = ? WHERE id = ?");
  s.Bind(at).Bind(session_id).Exec();
}

void SqliteRepository::DeleteSession(std::string_view session_id) {
  std::lock_guard lock(mu_);
  Stmt s(db_, "DELETE FROM sessions WHERE id = ?");
  s.Bind(session_id).Exec();
}

void SqliteRepository::DeleteSessions(std::string_view account_id, const std::optional<std::string>& except_id) {
  std::lock_guard lock(mu_);
  Stmt s(db_, "DELETE FROM sessions WHERE account_id = ? AND id <> ?");
  s.Bind(account_id).Bind(except_id.value_or("")).Exec();
}

std::vector<SessionRow> SqliteRepository::Sessions(std::string_view account_id) {
  std::lock_guard lock(mu_);
  Stmt s(db_, (std::string("SELECT ") + kSessionColumns + " FROM sessions WHERE account_id = ? ORDER BY id").c_str());
  s.Bind(account_id);
  std::vector<SessionRow> out;
  while (s.Step()) out.push_back(ReadSession(s));
  return out;
}

void SqliteRepository::CreateApiKey(const ApiKeyRow& r) {
  std::lock_guard lock(mu_);
  Stmt s(db_,
         "INSERT INTO api_keys (id, account_id, name, token_hash, prefix, scopes, created_at, last_used_at) VALUES "
         "(?, ?, ?, ?, ?, ?, ?, ?)");
  s.Bind(r.id).Bind(r.account_id).Bind(r.name).Bind(r.token_hash).Bind(r.prefix).Bind(JoinScopes(r.scopes));
  s.Bind(r.created_at).Bind(r.last_used_at).Exec();
}

std::optional<ApiKeyRow> SqliteRepository::ApiKeyByTokenHash(std::string_view token_hash) {
  std::lock_guard lock(mu_);
  Stmt s(db_, (std::string("SELECT ") + kApiKeyColumns + " FROM api_keys WHERE token_hash = ?").c_str());
  s.Bind(token_hash);
  if (!s.Step()) return std::nullopt;
  return ReadApiKey(s);
}

std::vector<ApiKeyRow> SqliteRepository::ApiKeys(std::string_view account_id, std::string_view after_id, int limit) {
  std::lock_guard lock(mu_);
  Stmt s(db_, (std::string("SELECT ") + kApiKeyColumns +
               " FROM api_keys WHERE account_id = ? AND id > ? ORDER BY id LIMIT ?")
                  .c_str());
  s.Bind(account_id).Bind(after_id).Bind(static_cast<int64_t>(limit));
  std::vector<ApiKeyRow> out;
  while (s.Step()) out.push_back(ReadApiKey(s));
  return out;
}

bool SqliteRepository::DeleteApiKey(std::string_view account_id, std::string_view key_id) {
  std::lock_guard lock(mu_);
  Stmt s(db_, "DELETE FROM api_keys WHERE account_id = ? AND id = ?");
  s.Bind(account_id).Bind(key_id);
  return s.Exec() == 1;
}

void SqliteRepository::TouchApiKey(std::string_view key_id, int64_t at) {
  std::lock_guard lock(mu_);
  Stmt s(db_, "UPDATE api_keys SET last_used_at = ? WHERE id = ?");
  s.Bind(at).Bind(key_id).Exec();
}

std::string SqliteRepository::QueryText(const std::string& sql) {
  std::lock_guard lock(mu_);
  Stmt s(db_, sql.c_str());
  return s.Step() ? s.Text(0) : std::string();
}

void BackupSqlite(const std::string& source, const std::string& out) {
  namespace fs = std::filesystem;
  if (fs::exists(out)) throw StorageError("backup: " + out + " exists; choose a new file name");
  if (!fs::exists(source)) throw StorageError("backup: no database at " + source);
  const std::string tmp = out + ".tmp";
  fs::remove(tmp);
  sqlite3* src = OpenRaw(source, SQLITE_OPEN_READONLY, 5000);
  sqlite3* dst = nullptr;
  try {
    dst = OpenRaw(tmp, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, 5000);
    sqlite3_backup* b = sqlite3_backup_init(dst, "main", src, "main");
    if (!b) Fail(dst, "backup of " + source);
    int rc;
    // One step copies every page under one read transaction: the snapshot is
    // of a single committed state even while the server keeps writing.
    do {
      rc = sqlite3_backup_step(b, -1);
    } while (rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
    sqlite3_backup_finish(b);
    if (rc != SQLITE_DONE) Fail(dst, "backup of " + source);
    // The copy is a plain rollback-journal database file; the server turns
    // WAL on when it opens it.
    ExecScript(dst, "PRAGMA journal_mode=DELETE", "backup");
  } catch (...) {
    sqlite3_close(dst);
    sqlite3_close(src);
    fs::remove(tmp);
    throw;
  }
  sqlite3_close(dst);
  sqlite3_close(src);
  const int fd = ::open(tmp.c_str(), O_RDONLY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
  fs::rename(tmp, out);
  const int dir = ::open(fs::absolute(out).parent_path().c_str(), O_RDONLY | O_DIRECTORY);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
}

}  // namespace mortise::server
