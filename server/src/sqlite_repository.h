// The SQLite backend (the default: --db sqlite:PATH). One connection in WAL
// mode with synchronous=FULL, foreign keys on and a busy timeout; calls are
// serialised by a mutex (SQLite writes one transaction at a time anyway).
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "repository.h"

struct sqlite3;

namespace mortise::server {

struct SqliteOptions {
  int busy_timeout_ms = 5000;
  // Apply migrations up to this version only (tests of an older schema);
  // 0: all.
  int migrate_to = 0;
};

class SqliteRepository final : public Repository {
 public:
  // Opens (creating if needed) and migrates. Throws StorageError with the
  // path and SQLite's reason; refuses a database whose schema is newer than
  // this program knows.
  static std::unique_ptr<SqliteRepository> Open(const std::string& path, const SqliteOptions& options = {});
  ~SqliteRepository() override;

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

  // Raw SQL for tests of the schema (returns the first column of the first
  // row as text, "" when none).
  std::string QueryText(const std::string& sql);

 private:
  explicit SqliteRepository(sqlite3* db) : db_(db) {}
  void Migrate(int migrate_to);

  std::mutex mu_;
  sqlite3* db_;
};

// A consistent snapshot of a (possibly running) database at `source` into
// the new file `out` (SQLite online backup API; written to out.tmp, synced,
// then renamed). Throws StorageError; refuses an existing `out`.
void BackupSqlite(const std::string& source, const std::string& out);

}  // namespace mortise::server
