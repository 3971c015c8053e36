// The storage interface every backend implements (SQLite now; PostgreSQL
// through libpq is the second backend, see docs/server.md). Rows are plain
// structs; times are Unix milliseconds; ids are the prefixed strings the API
// shows (acct_..., sess_..., key_...). Every method is one atomic statement
// or transaction, durable when it returns (an API answer given after it is
// never lost to a crash). Failures of the database itself throw
// StorageError; "not found" is an empty optional or false.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mortise::server {

struct AccountRow {
  std::string id;
  std::string email;          // normalised (lower case)
  std::string password_hash;  // Argon2id encoded string (libsodium)
  int64_t created_at = 0;
  int64_t password_changed_at = 0;
  std::optional<std::string> totp_secret;  // base32; set during enrolment
  bool totp_enabled = false;               // true once a code was confirmed
  std::optional<int64_t> totp_last_step;   // the last accepted time step
};

struct SessionRow {
  std::string id;
  std::string account_id;
  std::string token_hash;  // SHA-256 of the cookie value, hex
  std::string csrf_token;
  int64_t created_at = 0;
  int64_t last_seen_at = 0;
  int64_t expires_at = 0;  // absolute end
  std::string created_from;  // client address at sign-in
};

struct ApiKeyRow {
  std::string id;
  std::string account_id;
  std::string name;
  std::string token_hash;  // SHA-256 of the whole token, hex
  std::string prefix;      // the first characters of the token, shown in lists
  std::vector<std::string> scopes;
  int64_t created_at = 0;
  std::optional<int64_t> last_used_at;
};

class Repository {
 public:
  virtual ~Repository() = default;

  // Throws StorageError if the database does not answer.
  virtual void Ping() = 0;
  // The highest migration applied.
  virtual int SchemaVersion() = 0;

  // false: the email is taken.
  virtual bool CreateAccount(const AccountRow& row) = 0;
  virtual std::optional<AccountRow> AccountByEmail(std::string_view email) = 0;
  virtual std::optional<AccountRow> AccountById(std::string_view id) = 0;
  virtual void SetPasswordHash(std::string_view account_id, std::string_view hash, int64_t changed_at) = 0;
  // Sets (or clears) the TOTP secret and whether it is enabled; forgets the
  // last used step.
  virtual void SetTotp(std::string_view account_id, const std::optional<std::string>& secret, bool enabled) = 0;
  // Records `step` as used if it is later than the last used one (atomic
  // compare-and-set: two requests with the same code cannot both pass).
  // false: this step or a later one was already used.
  virtual bool ConsumeTotpStep(std::string_view account_id, int64_t step) = 0;
  // Deletes the account and everything that belongs to it.
  virtual void DeleteAccount(std::string_view account_id) = 0;

  // Replaces every recovery code of the account.
  virtual void ReplaceRecoveryCodes(std::string_view account_id, const std::vector<std::string>& hashes) = 0;
  // Deletes the code if present. false: no such unused code.
  virtual bool ConsumeRecoveryCode(std::string_view account_id, std::string_view hash) = 0;
  virtual int CountRecoveryCodes(std::string_view account_id) = 0;

  virtual void CreateSession(const SessionRow& row) = 0;
  virtual std::optional<SessionRow> SessionByTokenHash(std::string_view token_hash) = 0;
  virtual void TouchSession(std::string_view session_id, int64_t at) = 0;
  virtual void DeleteSession(std::string_view session_id) = 0;
  // Every session of the account except `except_id` (when given).
  virtual void DeleteSessions(std::string_view account_id, const std::optional<std::string>& except_id) = 0;
  virtual std::vector<SessionRow> Sessions(std::string_view account_id) = 0;

  virtual void CreateApiKey(const ApiKeyRow& row) = 0;
  virtual std::optional<ApiKeyRow> ApiKeyByTokenHash(std::string_view token_hash) = 0;
  // Keys of the account with id > after_id, in id order, at most `limit`.
  virtual std::vector<ApiKeyRow> ApiKeys(std::string_view account_id, std::string_view after_id, int limit) = 0;
  // false: no such key of this account.
  virtual bool DeleteApiKey(std::string_view account_id, std::string_view key_id) = 0;
  virtual void TouchApiKey(std::string_view key_id, int64_t at) = 0;
};

}  // namespace mortise::server
