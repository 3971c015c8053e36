// Users, credentials and schedules with the Matter Door Lock cluster's
// management commands and their status rules.
//
// The database keeps a RAM mirror of everything (fixed arrays sized by
// config.h) so that an access decision never touches storage, and writes
// each change through the DurableStore facade before it changes RAM: a
// command that fails to persist changes nothing.
//
// Credential data is never kept in clear: each credential is stored as a
// 128-bit keyed digest AES-CMAC(K, type || data), where K is derived from
// the lock's own secret (HMAC-SHA256(secret, "mortise-cred-digest-v1")).
// CMAC costs one AES call for a PIN, where HMAC-SHA256 would cost two
// SHA-256 compressions; most lock MCUs also have AES in hardware. Lookups go through an open-addressed index on that digest, so
// the work done for a wrong PIN depends only on a pseudo-random value and
// says nothing about how close the guess was to any stored PIN.
//
// Deviations from the Matter SDK server, all towards the specification's
// text (docs/core.md lists them): clearing all credentials of a type clears
// every slot; modifying a credential to its own current data is not a
// duplicate; GetCredentialStatus reports no user for the programming PIN;
// SetCredential that must create a user when none is free answers
// ResourceExhausted; setting a schedule on an UnrestrictedUser makes it a
// ScheduleRestrictedUser (the specification allows it; it is what an
// administrator who sets a schedule means).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "mortise/core/config.h"
#include "mortise/core/durable_store.h"
#include "mortise/core/event_sink.h"
#include "mortise/core/types.h"
#include "mortise/crypto/cmac.h"
#include "mortise/status.h"

namespace mortise::core {

// Who asks for a management change: the source recorded in events and a
// creator id (Matter's fabric index; Mortise's key-holder slot; 0 = local).
struct Actor {
  OperationSource source = OperationSource::kRemote;
  uint8_t id = 0;
};

struct WeekDaySchedule {
  uint8_t days_mask = 0;  // 0: slot empty
  uint8_t start_hour = 0;
  uint8_t start_minute = 0;
  uint8_t end_hour = 0;
  uint8_t end_minute = 0;
  bool used() const { return days_mask != 0; }
};

// Local times are seconds since 1970-01-01 in the lock's local time (UTC plus
// the UtcOffset attribute). A Matter bridge converts from Matter's 2000 epoch.
struct YearDaySchedule {
  uint32_t local_start = 0;
  uint32_t local_end = 0;  // 0: slot empty
  bool used() const { return local_end != 0; }
};

struct HolidaySchedule {
  uint32_t local_start = 0;
  uint32_t local_end = 0;  // 0: slot empty
  OperatingMode mode = OperatingMode::kNormal;
  bool used() const { return local_end != 0; }
};

struct User {
  UserStatus status = UserStatus::kAvailable;
  UserType type = UserType::kUnrestrictedUser;
  CredentialRule rule = CredentialRule::kSingle;
  uint8_t name_length = 0;
  char name[config::kMaxUserNameLength] = {};
  uint32_t unique_id = 0xFFFFFFFF;  // 0xFFFFFFFF: none
  uint8_t creator = 0;
  uint8_t last_modifier = 0;
  // ExpiringUser: UTC second after which the user is disabled; 0 until first use.
  uint32_t expires_at_utc = 0;
  WeekDaySchedule week_day[config::kWeekDaySchedulesPerUser];
  YearDaySchedule year_day[config::kYearDaySchedulesPerUser];

  bool occupied() const { return status != UserStatus::kAvailable; }
  std::string_view name_view() const { return {name, name_length}; }
};

inline constexpr size_t kCredentialDigestSize = 16;

// --- Command payloads (Matter field names in comments) -------------------

struct SetUserRequest {
  DataOperationType operation = DataOperationType::kAdd;  // OperationType
  uint16_t user_index = 0;                                // UserIndex
  std::optional<std::string_view> user_name;              // UserName
  std::optional<uint32_t> user_unique_id;                 // UserUniqueID
  std::optional<UserStatus> user_status;                  // UserStatus
  std::optional<UserType> user_type;                      // UserType
  std::optional<CredentialRule> credential_rule;          // CredentialRule
};

struct GetUserResponse {
  DlStatus status = DlStatus::kSuccess;  // kInvalidField for an invalid index (no payload)
  uint16_t user_index = 0;
  bool occupied = false;  // false: every nullable field below is null
  User user;
  CredentialRef credentials[config::kMaxCredentialsPerUser];
  uint8_t credential_count = 0;
  std::optional<uint16_t> next_user_index;  // next occupied index after user_index
};

struct SetCredentialRequest {
  DataOperationType operation = DataOperationType::kAdd;
  CredentialRef credential;
  std::span<const uint8_t> credential_data;
  std::optional<uint16_t> user_index;
  std::optional<UserStatus> user_status;
  std::optional<UserType> user_type;
};

struct SetCredentialResponse {
  DlStatus status = DlStatus::kSuccess;
  std::optional<uint16_t> user_index;             // set when the command created a user
  std::optional<uint16_t> next_credential_index;  // next free slot of the type after the index
};

struct GetCredentialStatusResponse {
  bool credential_exists = false;
  std::optional<uint16_t> user_index;
  std::optional<uint8_t> creator;
  std::optional<uint8_t> last_modifier;
  std::optional<uint16_t> next_credential_index;  // next occupied slot of the type after the index
};

struct GetWeekDayScheduleResponse {
  uint8_t week_day_index = 0;
  uint16_t user_index = 0;
  DlStatus status = DlStatus::kSuccess;
  WeekDaySchedule schedule;  // valid when status is kSuccess
};

struct GetYearDayScheduleResponse {
  uint8_t year_day_index = 0;
  uint16_t user_index = 0;
  DlStatus status = DlStatus::kSuccess;
  YearDaySchedule schedule;
};

struct GetHolidayScheduleResponse {
  uint8_t holiday_index = 0;
  DlStatus status = DlStatus::kSuccess;
  HolidaySchedule schedule;
};

// The result of looking up presented credential data.
struct CredentialMatch {
  uint16_t user_index = 0;
  CredentialRef credential;
};

class UserDatabase {
 public:
  // `events` receives LockUserChange events, already time-stamped by the
  // caller's sink. Neither reference may be null; both must outlive this.
  UserDatabase(DurableStore& store, EventSink& events);

  // Loads the lock secret (installing `new_secret_if_absent` on first start)
  // and every user, credential and schedule from the store. Records that
  // fail validation are dropped and counted in dropped_records(); a corrupt
  // secret drops the credentials only (they can no longer be verified) and
  // installs `new_secret_if_absent`. Errors: the store's, when it fails to
  // read or write.
  Status Load(std::span<const uint8_t, 32> new_secret_if_absent);

  // Erases every user, credential and schedule and installs a new secret.
  Status Wipe(std::span<const uint8_t, 32> new_secret);

  // Derives the credential digest key from the lock secret.
  void InstallSecret(std::span<const uint8_t, 32> secret);

  uint32_t dropped_records() const { return dropped_records_; }

  // --- Matter management commands -----------------------------------------
  DlStatus SetUser(const SetUserRequest& request, const Actor& actor);
  GetUserResponse GetUser(uint16_t user_index) const;
  DlStatus ClearUser(uint16_t user_index, const Actor& actor);  // 0xFFFE: all

  SetCredentialResponse SetCredential(const SetCredentialRequest& request, const Actor& actor);
  GetCredentialStatusResponse GetCredentialStatus(CredentialRef credential) const;
  // nullopt: every credential of every type except the programming PIN.
  // index 0xFFFE: every credential of that type.
  DlStatus ClearCredential(std::optional<CredentialRef> credential, const Actor& actor);

  DlStatus SetWeekDaySchedule(uint8_t index, uint16_t user_index, const WeekDaySchedule& s, const Actor& actor);
  GetWeekDayScheduleResponse GetWeekDaySchedule(uint8_t index, uint16_t user_index) const;
  DlStatus ClearWeekDaySchedule(uint8_t index, uint16_t user_index, const Actor& actor);  // 0xFE: all

  DlStatus SetYearDaySchedule(uint8_t index, uint16_t user_index, const YearDaySchedule& s, const Actor& actor);
  GetYearDayScheduleResponse GetYearDaySchedule(uint8_t index, uint16_t user_index) const;
  DlStatus ClearYearDaySchedule(uint8_t index, uint16_t user_index, const Actor& actor);

  DlStatus SetHolidaySchedule(uint8_t index, const HolidaySchedule& s, const Actor& actor);
  GetHolidayScheduleResponse GetHolidaySchedule(uint8_t index) const;
  DlStatus ClearHolidaySchedule(uint8_t index, const Actor& actor);  // 0xFE: all

  // --- Used by the access decision -----------------------------------------

  // Finds the credential of `type` whose data is `data`. nullopt if none.
  std::optional<CredentialMatch> Find(CredentialType type, std::span<const uint8_t> data) const;

  // The user at a valid, occupied index, else nullptr.
  const User* user(uint16_t user_index) const;
  // Persists a status / expiry change the lock makes on its own (disposable
  // user used, expiring user started or expired) and emits LockUserChange
  // with `source`. Returns the store's error if it could not persist.
  Status UpdateUserState(uint16_t user_index, UserStatus status, uint32_t expires_at_utc,
                         OperationSource source);
  // Number of credentials the user holds.
  uint8_t CredentialCount(uint16_t user_index) const;

  const HolidaySchedule& holiday(uint8_t zero_based) const { return holidays_[zero_based]; }

  static uint16_t MaxIndex(CredentialType type);
  static bool ValidUserIndex(uint16_t i) { return i >= 1 && i <= config::kMaxUsers; }

 private:
  struct Slot {
    uint16_t user = 0;  // 0: free
    uint8_t creator = 0;
    uint8_t last_modifier = 0;
    uint8_t digest[kCredentialDigestSize] = {};
  };

  static constexpr uint32_t kIndexSize = [] {
    uint32_t n = 1;
    while (n < uint32_t(config::kTotalCredentialSlots) + config::kTotalCredentialSlots / 4) n <<= 1;
    return n;
  }();
  // Bucket arithmetic is 16-bit: the index may hold at most 32,768 buckets,
  // so a configuration may have at most 26,214 credential slots.
  static_assert(kIndexSize >= 2 && kIndexSize <= 32768, "too many credential slots for the digest index");
  static constexpr uint16_t kEmpty = 0xFFFF;

  static uint16_t SlotId(CredentialRef c);
  static CredentialRef RefOf(uint16_t slot_id);
  static bool ValidCredentialIndex(CredentialRef c);
  static bool DataLengthValid(CredentialType type, size_t length);

  void Digest(CredentialType type, std::span<const uint8_t> data, uint8_t out[kCredentialDigestSize]) const;
  uint16_t IndexLookup(const uint8_t digest[kCredentialDigestSize]) const;  // slot id or kEmpty
  void IndexInsert(uint16_t slot_id);
  void IndexRemove(uint16_t slot_id);
  void RebuildIndex();

  std::optional<uint16_t> NextFreeCredential(CredentialRef c) const;
  std::optional<uint16_t> NextOccupiedCredential(CredentialRef c) const;
  std::optional<uint16_t> FirstFreeUser() const;

  // Persistence: each returns the store's status; RAM is changed only by the
  // caller after success.
  Status WriteUser(uint16_t index, const User& u);
  Status WriteSlot(uint16_t slot_id, const Slot& s);
  Status WriteHoliday(uint8_t index, const HolidaySchedule& h);

  // Clears a user, its credentials and schedules in one transaction.
  Status ClearUserRecords(uint16_t user_index);
  DlStatus ClearOneCredential(CredentialRef c, const Actor& actor, bool emit_event);
  DlStatus ClearCredentialType(CredentialType type, const Actor& actor);

  template <typename S, size_t N>
  DlStatus SetSchedule(S (User::*slots)[N], LockDataType type, uint8_t index, uint16_t user_index, const S& s,
                       bool valid, const Actor& actor);
  template <typename S, size_t N>
  DlStatus GetSchedule(S (User::*slots)[N], uint8_t index, uint16_t user_index, S* out) const;
  template <typename S, size_t N>
  DlStatus ClearSchedule(S (User::*slots)[N], LockDataType type, uint8_t index, uint16_t user_index,
                         const Actor& actor);

  void EmitUserChange(LockDataType type, DataOperationType op, uint16_t user_index, uint16_t data_index,
                      OperationSource source);

  DurableStore& store_;
  EventSink& events_;
  crypto::AesCmac digester_;
  uint32_t dropped_records_ = 0;

  User users_[config::kMaxUsers];
  Slot slots_[config::kTotalCredentialSlots];
  uint16_t index_[kIndexSize];
  HolidaySchedule holidays_[config::kHolidaySchedules];
};

// Record kinds the core stores (see durable_store.h for the key layout).
enum CoreRecordKind : uint16_t {
  kRecordSettings = 0x0001,
  kRecordSecret = 0x0002,
  kRecordLockout = 0x0003,
  kRecordTime = 0x0004,
  kRecordOfflineSecret = 0x0005,
  kRecordOfflineEntry = 0x0006,  // index: table slot
  kRecordOfflineErase = 0x0007,
  kRecordOfflineBudget = 0x0008,
  kRecordUser = 0x0010,
  kRecordCredential = 0x0011,  // index: credential slot id
  kRecordHoliday = 0x0012,
};

}  // namespace mortise::core
