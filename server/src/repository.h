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
#include <utility>
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

struct OrganisationRow {
  std::string id;    // org_...
  std::string name;
  std::string kind;  // "home" (one site) or "organisation"
  int64_t created_at = 0;
};

struct MembershipRow {
  std::string org_id;
  std::string account_id;
  std::string email;  // joined from accounts when read
  std::string role;   // owner, admin, member, guest, installer
  int64_t created_at = 0;
};

struct SiteRow {
  std::string id;  // site_...
  std::string org_id;
  std::string name;
  int64_t created_at = 0;
};

struct DoorRow {
  std::string id;  // door_...
  std::string org_id;
  std::string site_id;
  std::string name;
  std::string lock_id;           // 16 bytes, hex
  std::string lock_public_key;   // 65 bytes SEC 1, hex
  std::string owner_public_key;  // 65 bytes SEC 1, hex
  std::string registered_by;     // account id
  int64_t created_at = 0;
};

struct InvitationRow {
  std::string id;  // inv_...
  std::string org_id;
  std::string role;
  std::string note;        // who it is for, as the inviter wrote it
  std::string token_hash;  // SHA-256 of the token, hex; the token goes out of band
  std::string created_by;
  int64_t created_at = 0;
  int64_t expires_at = 0;
  std::optional<std::string> accepted_by;
  std::optional<int64_t> accepted_at;
};

struct DoorChallengeRow {
  std::string id;  // chal_...
  std::string org_id;
  std::string account_id;
  std::string challenge;  // 32 random bytes, hex
  int64_t expires_at = 0;
};

// One entry of the append-only audit trail.
struct AuditEvent {
  int64_t seq = 0;  // assigned by the repository, increasing
  int64_t at = 0;
  std::optional<std::string> org_id;  // none: the account's own event
  std::string actor_account_id;
  std::string actor_email;
  std::string actor_credential;  // "session", "api_key:key_..."
  std::string action;            // "door.register", "person.role", ...
  std::string object_type;       // "door", "person", ...
  std::string object_id;
  std::string address;
  std::string user_agent;
  std::string detail = "{}";  // a JSON object
};

struct AuditQuery {
  std::optional<std::string> org_id;  // required by the API; nullopt: account events of `actor`
  std::optional<std::string> actor;   // account id
  std::optional<std::string> action;
  std::optional<std::string> object_id;
  std::optional<int64_t> from;        // at >= from
  std::optional<int64_t> to;          // at < to
  std::optional<int64_t> before_seq;  // the cursor: seq < before_seq (newest first)
  int limit = 50;
};

// Outcome of accepting an invitation (one transaction).
enum class AcceptOutcome { kAccepted, kUnknown, kExpired, kUsed, kAlreadyMember };

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

  // --- Organisations. Every change takes the audit event that records it and
  // appends it in the same transaction (both or neither).

  // Creates the organisation, its first site (when `site` is given) and the
  // creator's owner membership.
  virtual void CreateOrganisation(const OrganisationRow& org, const std::optional<SiteRow>& site,
                                  const MembershipRow& owner, const AuditEvent& event) = 0;
  virtual std::optional<OrganisationRow> Organisation(std::string_view org_id) = 0;
  // The organisations `account_id` belongs to with its role, org id > after.
  virtual std::vector<std::pair<OrganisationRow, std::string>> OrganisationsOf(std::string_view account_id,
                                                                               std::string_view after_id,
                                                                               int limit) = 0;
  virtual void DeleteOrganisation(std::string_view org_id, const AuditEvent& event) = 0;

  virtual std::optional<MembershipRow> Membership(std::string_view org_id, std::string_view account_id) = 0;
  virtual std::vector<MembershipRow> Memberships(std::string_view org_id, std::string_view after_account_id,
                                                 int limit) = 0;
  virtual int CountOwners(std::string_view org_id) = 0;
  // Organisations whose only owner is `account_id`.
  virtual int CountSoleOwnerships(std::string_view account_id) = 0;
  // false: no such membership.
  virtual bool SetRole(std::string_view org_id, std::string_view account_id, std::string_view role,
                       const AuditEvent& event) = 0;
  virtual bool DeleteMembership(std::string_view org_id, std::string_view account_id, const AuditEvent& event) = 0;

  virtual void CreateSite(const SiteRow& site, const AuditEvent& event) = 0;
  // Scoped by organisation: a site of another organisation is not found.
  virtual std::optional<SiteRow> Site(std::string_view org_id, std::string_view site_id) = 0;
  virtual std::vector<SiteRow> Sites(std::string_view org_id, std::string_view after_id, int limit) = 0;
  virtual int CountDoorsOfSite(std::string_view org_id, std::string_view site_id) = 0;
  virtual bool DeleteSite(std::string_view org_id, std::string_view site_id, const AuditEvent& event) = 0;

  virtual void CreateDoorChallenge(const DoorChallengeRow& row) = 0;
  // Deletes and returns the challenge if it belongs to (org, account): single use.
  virtual std::optional<DoorChallengeRow> TakeDoorChallenge(std::string_view org_id, std::string_view account_id,
                                                            std::string_view challenge_id) = 0;
  // false: the lock id is already registered (with any organisation).
  virtual bool CreateDoor(const DoorRow& door, const AuditEvent& event) = 0;
  virtual std::optional<DoorRow> Door(std::string_view org_id, std::string_view door_id) = 0;
  virtual std::vector<DoorRow> Doors(std::string_view org_id, std::string_view after_id, int limit) = 0;
  virtual bool DeleteDoor(std::string_view org_id, std::string_view door_id, const AuditEvent& event) = 0;

  virtual void CreateInvitation(const InvitationRow& row, const AuditEvent& event) = 0;
  // Several at once (an import): all or none, each with its event.
  virtual void CreateInvitations(const std::vector<InvitationRow>& rows, const std::vector<AuditEvent>& events) = 0;
  virtual std::vector<InvitationRow> Invitations(std::string_view org_id, std::string_view after_id, int limit) = 0;
  virtual std::optional<InvitationRow> Invitation(std::string_view org_id, std::string_view invitation_id) = 0;
  virtual bool DeleteInvitation(std::string_view org_id, std::string_view invitation_id, const AuditEvent& event) = 0;
  // Marks the invitation used and adds the membership, atomically; the
  // event's org_id and object are filled from the invitation. `invitation`
  // receives the row when found.
  virtual AcceptOutcome AcceptInvitation(std::string_view token_hash, std::string_view account_id, int64_t now,
                                         AuditEvent event, InvitationRow& invitation) = 0;

  // --- The audit trail: append and read only, and the retention purge.
  virtual void AppendAudit(const AuditEvent& event) = 0;
  // Newest first.
  virtual std::vector<AuditEvent> SearchAudit(const AuditQuery& query) = 0;
  // Deletes events with at < cutoff; returns how many.
  virtual int64_t PurgeAuditBefore(int64_t cutoff) = 0;
};

}  // namespace mortise::server
