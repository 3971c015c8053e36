// The `mortise` commands: one options struct and one function per command.
// app.cc builds the CLI11 tree, fills the structs and calls the functions;
// each function returns the exit code or throws Error.
//
// commands_keyring.cc: init, id, lock list/forget; commands_info.cc: info;
// commands_lock.cc: claim, status, lock, unlock, unlatch, mode, time;
// commands_manage.cc: user, pin, card, finger, schedule, dl;
// commands_keys.cc: key share/accept/revoke/list, log;
// commands_settings.cc: settings, lock rename.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "keyring.h"
#include "mortise/protocol/remote.h"
#include "output.h"
#include "passphrase.h"
#include "secret_string.h"
#include "transport.h"

namespace mortise::cli {

struct GlobalOptions {
  std::string keyring;     // --keyring; empty: DefaultKeyringPath()
  bool json = false;       // --json
  int passphrase_fd = -1;  // --passphrase-fd
  double timeout_s = 5.0;  // --timeout, seconds
  double wait_s = 6.0;     // --wait: seconds to wait for the bolt after lock/unlock/unlatch
  std::string lock;        // --lock; empty: the only lock in the keyring
};

// What every command gets: the global options and the services built on
// them. Not thread-safe; one per process.
class Context {
 public:
  Context(GlobalOptions options, Output& out) : options_(std::move(options)), out_(out) {}

  const GlobalOptions& options() const { return options_; }
  Output& out() { return out_; }

  std::filesystem::path KeyringPath() const;
  std::chrono::milliseconds timeout() const;
  // UTC seconds from the system clock.
  int64_t Now() const;
  crypto::Drbg& drbg();

  // The passphrase, read once per process from the sources of passphrase.h.
  // `creating`: ask twice on a terminal and refuse one shorter than
  // kMinNewPassphrase characters (exit 2).
  static constexpr size_t kMinNewPassphrase = 8;
  const SecretString& Passphrase(bool creating = false);
  // Opens the keyring (with a progress spinner while Argon2id runs).
  Keyring OpenKeyring(Keyring::Access access);
  // Creates a new keyring holding `initial`.
  Keyring CreateKeyring(KeyringContent initial);
  // The lock chosen by --lock (or the only one).
  LockEntry& SelectLock(Keyring& keyring);
  // Connects to `endpoint` within the timeout (spinner while it waits).
  Transport Connect(const Endpoint& endpoint);

  // Test seam: where the passphrase prompt goes.
  void set_passphrase_source(PassphraseSource source) { source_override_ = std::move(source); }

 private:
  GlobalOptions options_;
  Output& out_;
  std::optional<SecretString> passphrase_;
  std::optional<PassphraseSource> source_override_;
};

// --- keyring and identities (implemented) -----------------------------------

struct InitOptions {
  std::string identity = "default";
};
int CmdInit(Context& ctx, const InitOptions& o);

struct IdNewOptions {
  std::string name;
  bool make_default = false;
};
int CmdIdNew(Context& ctx, const IdNewOptions& o);
int CmdIdList(Context& ctx);

struct IdShowOptions {
  std::string name;  // empty: the default identity
  bool no_qr = false;
  bool ascii_qr = false;
};
int CmdIdShow(Context& ctx, const IdShowOptions& o);

int CmdLockList(Context& ctx);

struct LockForgetOptions {
  std::string name;
  bool yes = false;
};
int CmdLockForget(Context& ctx, const LockForgetOptions& o);

struct LockEndpointOptions {
  std::string name;      // the lock's local name
  std::string endpoint;  // the new endpoint (a relative socket path is made absolute)
};
int CmdLockEndpoint(Context& ctx, const LockEndpointOptions& o);

// lock rename: the lock's local name in the keyring (the lock has none of its own).
struct LockRenameOptions {
  std::string name;
  std::string new_name;
};
int CmdLockRename(Context& ctx, const LockRenameOptions& o);

// lock transfer / lock take-over (commands_transfer.cc): ownership handed
// to another owner key without a factory reset.
struct LockTransferOptions {
  std::string to;          // the new owner's public key (MKP1.)
  bool clear_users = false;
  bool yes = false;
  std::string out;         // also write the MKT1. text here (durably, 0600) before the lock is forgotten
};
int CmdLockTransfer(Context& ctx, const LockTransferOptions& o);
struct LockTakeOverOptions {
  std::string text;      // the MKT1. string the old owner's lock transfer printed
  std::string name;      // local name (default: the string's hint)
  std::string identity;  // the identity the transfer was made for (default: the default identity)
  std::string endpoint;  // overrides the string's endpoint hint
  std::string key_hash;  // optional: the key hash on the lock's label, compared with the string's lock key
};
int CmdLockTakeOver(Context& ctx, const LockTakeOverOptions& o);

// settings show | set NAME VALUE (commands_settings.cc): the lock's Door Lock
// attributes by name (auto-relock, wrong-code-limit, lockout-time, ...).
struct SettingsOptions {
  std::string action;  // show | set
  std::string name;
  std::string value;
};
int CmdSettings(Context& ctx, const SettingsOptions& o);

// --- talking to a lock -------------------------------------------------------

struct InfoOptions {
  std::string endpoint;  // empty: the selected lock's endpoint from the keyring
};
int CmdInfo(Context& ctx, const InfoOptions& o);  // implemented

struct ClaimOptions {
  std::string label;     // "MC1." text from the lock's label or QR code
  std::string endpoint;  // where the unclaimed lock listens
  std::string name;      // local name for the lock (default "lock", or "lock-N")
  std::string identity;  // which identity becomes the owner key (default: the default identity)
  std::string time;      // the lock's time to set after claiming: ISO 8601 UTC, "now" (default) or "none"
  std::string key_hash;  // with a bare setup code: the key hash printed on the label (16 hex digits)
};
int CmdClaim(Context& ctx, const ClaimOptions& o);

struct StatusOptions {
  bool via_server = false;  // the state the lock last published, from mortise-server
};
int CmdStatus(Context& ctx, const StatusOptions& o);
struct OperateOptions {
  bool remote = false;  // through an end-to-end remote envelope rather than a session
  bool via_server = false;  // through mortise-server (the lock's registered door), signed here
};
int CmdLockDoor(Context& ctx, const OperateOptions& o);

struct UnlockOptions {
  uint32_t for_seconds = 0;  // 0: plain unlock; else UnlockWithTimeout
  bool remote = false;       // through an end-to-end remote envelope rather than a session
  bool via_server = false;   // through mortise-server (the lock's registered door), signed here
};
int CmdUnlock(Context& ctx, const UnlockOptions& o);
int CmdUnlatch(Context& ctx, const OperateOptions& o);

struct ModeOptions {
  std::string mode;  // empty: show; normal|vacation|privacy|passage|no-remote
};
int CmdMode(Context& ctx, const ModeOptions& o);

struct TimeOptions {
  std::string action;  // show | sync | set
  std::string value;   // set: ISO 8601 UTC time
  bool backwards = false;
};
int CmdTime(Context& ctx, const TimeOptions& o);

// user list|show|add|update|remove|enable|disable
struct UserOptions {
  std::string action;
  uint16_t index = 0;        // the Matter user index (1-based); 0: next free (add)
  std::string name;
  std::string type = "unrestricted";  // Matter UserTypeEnum, by its dljson name
  std::string credential_rule = "single";
};
int CmdUser(Context& ctx, const UserOptions& o);

// pin list|add|remove and pin offline one-time|window|recurring|erase-all
struct PinOptions {
  std::string action;       // list | add | remove | offline | programming
  std::string programming;  // set | clear | show (action "programming")
  std::string offline_kind; // one-time | window | recurring | erase-all (action "offline")
  uint16_t user = 0;        // user index the PIN belongs to
  uint16_t slot = 0;        // credential index; 0: next free
  bool pin_from_stdin = false;  // read the PIN from stdin instead of a prompt
  std::string from;         // offline: start (ISO 8601 local time or "now")
  std::string until;        // offline window: end
  std::string hours;        // offline recurring: "HH:MM-HH:MM" daily
  uint32_t valid_hours = 0; // offline one-time: validity in hours from --from
};
int CmdPin(Context& ctx, const PinOptions& o);

// card list|add|remove, finger list|enroll|remove
struct CredentialOptions {
  std::string action;
  uint16_t user = 0;
  uint16_t slot = 0;
  std::string uid;  // card: the UID in hex (add); else read at the lock
};
int CmdCard(Context& ctx, const CredentialOptions& o);
int CmdFinger(Context& ctx, const CredentialOptions& o);

// schedule weekday|yearday|holiday  list|add|remove
struct ScheduleOptions {
  std::string kind;    // weekday | yearday | holiday
  std::string action;  // list | add | remove
  uint16_t user = 0;   // weekday, yearday
  uint8_t slot = 0;    // schedule index
  std::string days;    // weekday: "mon-fri", "sat,sun"
  std::string hours;   // weekday: "HH:MM-HH:MM"
  std::string from;    // yearday, holiday: ISO 8601
  std::string until;
  std::string mode;    // holiday: operating mode during it
};
int CmdSchedule(Context& ctx, const ScheduleOptions& o);

struct DlOptions {
  // <Command> [JSON args] | read <Attribute> | write <Attribute> <value> |
  // a whole JSON line | "-" (JSON lines from stdin)
  std::vector<std::string> words;
};
int CmdDl(Context& ctx, const DlOptions& o);

struct KeyShareOptions {
  std::string to;        // the holder's "MKP1." public key
  std::string holder_name;
  std::string role = "guest";
  std::vector<std::string> permissions;  // empty: the role's usual set
  std::string from;      // not_before, ISO 8601 or "now"
  std::string until;     // not_after
  std::string days;      // schedule days, "mon-fri"
  std::string hours;     // schedule hours, "HH:MM-HH:MM"
  uint32_t uses = 0;     // 0: unlimited
  bool remote_only = false;
  std::string endpoint_hint;  // default: the lock's endpoint in the keyring
  bool no_qr = false;
  std::string out;       // also write the key string to this file
  uint32_t revalidate_every = 0;  // seconds: the key needs a revalidation token younger than this (0: never)
  bool custody = false;  // a log-custody key: role admin, the log-custody right alone (owner only)
  bool time = false;     // a time-statement key: role admin, the time-statement right alone (owner only)
  std::string group;     // a group-scoped key for this group of yours (empty: this lock only)
};
int CmdKeyShare(Context& ctx, const KeyShareOptions& o);
// What CmdKeyShare signs and records (the keyring is saved), without printing:
// the MKS1 text and the certificate's fields. `server duty` certifies the
// server's duty key with it.
struct SharedKey {
  std::string text;
  protocol::CertificateFields fields;
};
SharedKey ShareKey(Context& ctx, Keyring& keyring, LockEntry& lock, const KeyShareOptions& o);

// key revalidate: the owner issues a revalidation token (MKR1...) for a key
// that demands freshness; key token: the holder stores one.
struct KeyRevalidateOptions {
  std::string key;       // serial or holder name
  std::string at;        // issued-at time (UTC ISO 8601 or "now"); default now
  bool no_qr = false;
};
int CmdKeyRevalidate(Context& ctx, const KeyRevalidateOptions& o);
struct KeyTokenOptions {
  std::string text;      // "MKR1." string; "-": read it from stdin
  bool from_server = false;  // fetch it through mortise-server instead (CmdKeyTokenFromServer)
};
int CmdKeyToken(Context& ctx, const KeyTokenOptions& o);
// key token --from-server: fetch a fresh token for this device's key at the
// selected lock through mortise-server (POST .../revalidation) and store it.
struct KeyTokenFetchOptions {
  std::string org;   // default: the door remembered for the lock
  std::string door;
};
int CmdKeyTokenFromServer(Context& ctx, const KeyTokenFetchOptions& o);
// Before a door operation: when the selected lock's key demands
// revalidation, its stored token is missing or in the last tenth of its
// life, and the lock is on a server this device is signed in to, fetches a
// fresh one (CmdKeyTokenFromServer). A failure is a note, never an error:
// the lock then refuses the key and says why.
void RefreshRevalidationTokenIfDue(Context& ctx);

// server duty: certify the server's duty key for the lock's door with one
// duty's right alone (owner only), signed on this device, and upload it.
struct ServerDutyOptions {
  std::string lock;  // default: --lock or the only one
  bool time = false;
  bool revalidate = false;
};
int CmdServerDuty(Context& ctx, const ServerDutyOptions& o);

struct KeyAcceptOptions {
  std::string text;      // "MKS1." string; "-": read it from stdin
  std::string name;      // local lock name (default: the string's hint)
  std::string identity;  // must be the identity the key was issued to (default: found by key)
  std::string endpoint;  // overrides the string's endpoint hint
};
int CmdKeyAccept(Context& ctx, const KeyAcceptOptions& o);

// group create|add-door|remove-door|show|list: the owner's access groups
// (commands_groups.cc).
struct GroupOptions {
  std::string group;     // the group's name
  std::string lock;      // add-door/remove-door: the lock (default: --lock, or the only one)
  std::string identity;  // create: whose group (default: the default identity)
};
int CmdGroupCreate(Context& ctx, const GroupOptions& o);
int CmdGroupDoor(Context& ctx, const GroupOptions& o, bool add);
int CmdGroupShow(Context& ctx, const GroupOptions& o);
int CmdGroupList(Context& ctx);
// The group named `name` in the keyring: its 64-bit id and the identity
// that owns it. Throws Error(kUsage) when there is none.
struct GroupRef {
  uint64_t id = 0;
  std::string identity;
};
GroupRef FindGroup(Keyring& keyring, const std::string& name);
// A group id as the keyring and the output write it: 16 hex digits.
std::string GroupIdText(uint64_t id);
// The group of a group key's chain (its last certificate), nullopt for a
// lock key or a chain that does not parse.
std::optional<uint64_t> GroupOfChain(std::span<const uint8_t> chain);
// The owner revoked `key`, a key of group `group`, at lock `from`: adds it
// to the access list of every other lock of `from`'s identity whose
// membership (as this keyring signed it) lists the group, signs the next
// snapshot of each and keeps it as that lock's pending access list (the
// caller saves). Returns those locks' names.
std::vector<std::string> RevokeAtGroupDoors(Context& ctx, Keyring& keyring, const LockEntry& from,
                                            const protocol::KeyRef& key, uint64_t group);
// The groups of `lock`'s membership as this keyring last signed it, and its
// version (0: none).
std::vector<uint64_t> DoorGroups(const LockEntry& lock);
uint64_t KnownMembershipVersion(const LockEntry& lock);
// Signs the membership `groups` for `lock` at version `version` with the
// owner's identity, records it (version, groups, the signed update kept as
// pending) and saves, before anything is sent.
std::vector<uint8_t> SignMembershipAndKeep(Context& ctx, Keyring& keyring, LockEntry& lock,
                                           const std::vector<uint64_t>& groups, uint64_t version);
// The keys of group `id` the owner revoked, as the keyring remembers them
// (group entry "revoked": [{"issuer": 16 hex digits, "serial": n}]).
std::vector<protocol::KeyRef> GroupRevoked(Keyring& keyring, uint64_t id);
// Signs the next snapshot of `l`'s owner access list and keeps it as the
// lock's pending access list (the caller saves).
void SignPendingAccessList(Context& ctx, Keyring& keyring, LockEntry& l);
// Adds the group's revoked keys missing from `lock`'s owner access list;
// true when one was missing (sign the next snapshot then).
bool AddGroupRevocations(Keyring& keyring, LockEntry& lock, uint64_t group);
// The lock `name` (empty: --lock or the only one) for a door of `group`:
// owned by the group's identity, else Error(kRefused).
LockEntry& GroupDoorLock(Context& ctx, Keyring& keyring, const GroupRef& group, const std::string& name);
// Sends each named lock's pending access list in frame 0x05 (no session)
// and forgets it once the lock holds it. Returns, per lock, "lock",
// "status" (ok, unreachable, or the lock's refusal) and "version" (the
// version the lock holds). Never throws for one lock's failure.
nlohmann::json PushPendingAccessLists(Context& ctx, const std::vector<std::string>& locks);

// key reshare: a group key issued from this keyring, as an MKS1 string for
// another door of its group (commands_groups.cc).
struct KeyReshareOptions {
  std::string key;   // serial or holder name
  std::string door;  // the lock the string names for the holder
  bool no_qr = false;
};
int CmdKeyReshare(Context& ctx, const KeyReshareOptions& o);

struct KeyRevokeOptions {
  std::string key;       // serial (decimal) or holder name
  bool no_push = false;  // sign the access list but do not send it to the lock now
  bool via_server = false;  // upload it to mortise-server (the lock's registered door) instead
  double wait_s = 0;     // through the server: poll until the lock confirmed it, at most this long
};
int CmdKeyRevoke(Context& ctx, const KeyRevokeOptions& o);
int CmdKeyList(Context& ctx);

struct LogOptions {
  bool follow = false;
  uint64_t from = 0;     // 0: from the keyring's cursor
  uint32_t limit = 0;    // 0: everything new
  double interval_s = 2.0;
  bool server = false;   // the copy mortise-server stores, verified here (commands_relay.cc)
};
int CmdLog(Context& ctx, const LogOptions& o);

// log ack: a log-custody holder (or the owner) acknowledges that it holds
// the lock's log through a record, which moves the lock's upload cursor.
struct LogAckOptions {
  uint64_t through = 0;  // 0: the end of the last verified `mortise log` read
  std::string chain;     // h(through), 32 hex digits; default: the keyring's from that read
};
int CmdLogAck(Context& ctx, const LogAckOptions& o);
// commands_server.cc: mortise-server (docs/cli.md, "The server").
struct ServerLoginOptions {
  std::string url;
  std::string email;
  int password_fd = -1;  // --password-fd; else MORTISE_SERVER_PASSWORD, else a prompt
  std::string totp;      // --totp; else MORTISE_SERVER_TOTP, else a prompt when the account needs it
  std::string ca;        // --ca: PEM CA file trusted for https:// (kept with the session)
};
int CmdServerLogin(Context& ctx, const ServerLoginOptions& o);
// Creates an account (POST /api/v1/accounts; the password asked twice on a
// terminal), then signs in as CmdServerLogin does.
int CmdServerSignup(Context& ctx, const ServerLoginOptions& o);
struct ServerOrgCreateOptions {
  std::string name;
  std::string kind;  // --kind home|organisation; empty: the server's default (home)
};
// Creates an organisation owned by the signed-in account; prints its id.
int CmdServerOrgCreate(Context& ctx, const ServerOrgCreateOptions& o);
// The organisations the signed-in account is in: id, name, kind, role.
int CmdServerOrgs(Context& ctx);
struct ServerDoorsOptions {
  std::string org;  // empty: every organisation I am in
};
int CmdServerDoors(Context& ctx, const ServerDoorsOptions& o);
struct ServerRegisterOptions {
  std::string lock;  // keyring name; empty: --lock or the only lock
  std::string org;
  std::string site;  // empty: the organisation's first site
  std::string name;  // empty: the lock's keyring name
};
int CmdServerRegister(Context& ctx, const ServerRegisterOptions& o);
// commands_server_groups.cc: access through the server.
struct ServerGroupOptions {
  std::string org;
  std::string group;     // the keyring's group name
  std::string lock;      // add-door/remove-door: keyring name; empty: --lock or the only lock
  std::string schedule;  // create: a summary for people
};
int CmdServerGroupCreate(Context& ctx, const ServerGroupOptions& o);
int CmdServerGroupList(Context& ctx, const ServerGroupOptions& o);
int CmdServerGroupDoor(Context& ctx, const ServerGroupOptions& o, bool add);
struct ServerPersonOptions {
  std::string org;
  std::string account;  // acct_...
};
int CmdServerRemoveEverywhere(Context& ctx, const ServerPersonOptions& o);
struct ServerSiteOptions {
  std::string org;
  std::string site;  // the site's id (site_...) or name
};
int CmdServerSiteLockdown(Context& ctx, const ServerSiteOptions& o);

// Through mortise-server (commands_relay.cc). The door a lock is on is kept
// in its keyring entry (extra.server) by `server register`.
struct ServerDoorRef {
  std::string url, org, door;
};
std::optional<ServerDoorRef> ServerDoorOf(const LockEntry& lock);
void RememberServerDoor(LockEntry& lock, const ServerDoorRef& ref);
// Is the selected lock registered on a server? (false when none is selected)
bool RegisteredOnServer(Context& ctx);
// The verdict on a verified remote answer: returns when the lock did it;
// throws the Error for unconfirmed (kUnreachable), ambiguous (kUnreachable)
// and refused answers. `s`: the local session, when there is one (for the
// refusal's details).
class LockSession;
void CheckRemoteOutcome(const protocol::RemoteOutcome& r, const std::string& verb, LockSession* s);
int OperateViaServer(Context& ctx, protocol::Command command, int64_t value, const char* verb, const char* done);
// One remote envelope for `lock`, signed with `key` (its identity's) and the
// counter the caller spent and saved; `client` verifies the lock's answer.
struct SignedRemote {
  SignedRemote(Context& ctx, const crypto::P256KeyPair& key, const LockEntry& lock, uint32_t counter,
               protocol::Command command, int64_t value);
  protocol::RemoteClient client;
  std::vector<uint8_t> envelope;
};
int StatusViaServer(Context& ctx);
// `mortise key revoke` through the server: the pending access lists
// CmdKeyRevoke signed for `locks` (the revoked key's lock first, then the
// other doors of its group) uploaded to the server each lock is registered
// on; per door, what the server says the lock holds. Exit 0 when every lock
// confirmed it, else Error(kPending) (stored, not confirmed yet), or
// Error(kRefused) when a lock refused it.
int RevokeViaServer(Context& ctx, uint64_t serial, const std::vector<std::string>& locks, double wait_s);
// Where a door's update of `version` stands, from the server's row of it
// (GET/POST .../updates). "confirmed" only when the row's `receipt` (the
// lock's signed answer to frame 0x05, docs/protocol.md section 12) verifies
// here against `pinned`: the lock key pinned in this keyring and the exact
// access list this device signed (its lock id and claim generation are read
// from those bytes), saying the lock holds at least `version`. Everything
// else the row says (confirmed_version included) is the server's word:
// "reported", "sent", "pending" or "failed" (the server says the lock
// refused it). Without `pinned`, never "confirmed".
struct HeldState {
  std::string state;   // pending, sent, reported, confirmed, failed
  std::string reason;  // in words
};
struct PinnedUpdate {
  std::array<uint8_t, crypto::kP256PublicKeySize> lock_key{};
  std::vector<uint8_t> update;  // the access list as this device signed it
};
HeldState HeldStateOf(const nlohmann::json& row, uint64_t version, const PinnedUpdate* pinned = nullptr);
// commands_server_groups.cc: the door's stored update of `kind` and `issuer`
// in a GET .../updates answer (null: none), and the owner's stored access
// list verified with this keyring's owner key for `lock` (nullopt: none
// stored; Error(kVerification) when it is not the owner's, or more than
// 2^32 above what the keyring knows). Never number from the server's JSON.
nlohmann::json StoredUpdate(const nlohmann::json& updates, const std::string& kind, const std::string& issuer);
std::optional<protocol::AccessListState> VerifiedStoredList(const nlohmann::json& stored, const Keyring& keyring,
                                                            const LockEntry& lock);
// The version to sign the next owner list above: the keyring's, or the
// verified stored one when higher.
uint64_t StoredListVersion(const nlohmann::json& stored, const Keyring& keyring, const LockEntry& lock);
// `mortise log --server`: the raw pages the server stores, verified here
// with the pinned lock key (stored_log.h) and printed as `mortise log` does.
int LogViaServer(Context& ctx, const LogOptions& o);
struct ServerUplinkCertOptions {
  std::string request;  // the lock's uplink-request.json
  std::string out;      // the certificate, PEM
};
int CmdServerUplinkCert(Context& ctx, const ServerUplinkCertOptions& o);

}  // namespace mortise::cli
