#include "mortise/dljson/dl_json.h"

#include <array>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>

namespace mortise::dljson {
namespace {

using json = nlohmann::json;
using namespace core;

// Interaction Model statuses a Matter server answers with when it refuses a
// request before the cluster sees it (Matter Core specification, "Status
// Codes"); the cluster's own DlStatus values ("Occupied", "InvalidField", ...)
// travel in the same "status" field.
constexpr const char* kInvalidCommand = "InvalidCommand";          // 0x85: malformed, missing or unknown field
constexpr const char* kConstraintError = "ConstraintError";        // 0x87: a value outside its range or enum
constexpr const char* kUnsupportedCommand = "UnsupportedCommand";  // 0x81
constexpr const char* kUnsupportedAttribute = "UnsupportedAttribute";  // 0x86
constexpr const char* kUnsupportedWrite = "UnsupportedWrite";      // 0x88: read-only attribute
constexpr const char* kInvalidInState = "InvalidInState";          // 0xCB: not possible in the present state
constexpr const char* kInvalidAction = "InvalidAction";            // 0x80: not a request at all
constexpr const char* kFailure = "Failure";                        // 0x01

// A request the adapter refuses: the Interaction Model status and a message
// that goes back to the caller.
struct Refusal : std::runtime_error {
  Refusal(const std::string& what, const char* im_status = kInvalidCommand)
      : std::runtime_error(what), status(im_status) {}
  const char* status;
};

json Refused(const char* status, const std::string& message) {
  return json{{"ok", false}, {"status", status}, {"error", message}};
}

template <typename E>
struct EnumNames {
  const char* type;
  std::vector<std::pair<E, const char*>> names;

  const char* Name(E v) const {
    for (const auto& [e, n] : names)
      if (e == v) return n;
    return "Unknown";
  }
  std::optional<E> Parse(const json& j) const {
    if (j.is_string()) {
      for (const auto& [e, n] : names)
        if (j.get<std::string>() == n) return e;
      return std::nullopt;
    }
    if (j.is_number_integer()) {
      const int64_t v = j.get<int64_t>();
      for (const auto& [e, n] : names)
        if (static_cast<int64_t>(e) == v) return e;
    }
    return std::nullopt;
  }
  std::string Choices() const {
    std::string s;
    for (const auto& [e, n] : names) s += (s.empty() ? "" : ", ") + std::string(n);
    return s;
  }
};

const EnumNames<UserStatus> kUserStatus{
    "UserStatus",
    {{UserStatus::kAvailable, "Available"}, {UserStatus::kOccupiedEnabled, "OccupiedEnabled"},
     {UserStatus::kOccupiedDisabled, "OccupiedDisabled"}}};
const EnumNames<UserType> kUserType{
    "UserType",
    {{UserType::kUnrestrictedUser, "UnrestrictedUser"}, {UserType::kYearDayScheduleUser, "YearDayScheduleUser"},
     {UserType::kWeekDayScheduleUser, "WeekDayScheduleUser"}, {UserType::kProgrammingUser, "ProgrammingUser"},
     {UserType::kNonAccessUser, "NonAccessUser"}, {UserType::kForcedUser, "ForcedUser"},
     {UserType::kDisposableUser, "DisposableUser"}, {UserType::kExpiringUser, "ExpiringUser"},
     {UserType::kScheduleRestrictedUser, "ScheduleRestrictedUser"}, {UserType::kRemoteOnlyUser, "RemoteOnlyUser"}}};
const EnumNames<CredentialRule> kCredentialRule{
    "CredentialRule",
    {{CredentialRule::kSingle, "Single"}, {CredentialRule::kDual, "Dual"}, {CredentialRule::kTri, "Tri"}}};
const EnumNames<CredentialType> kCredentialType{
    "CredentialType",
    {{CredentialType::kProgrammingPIN, "ProgrammingPIN"}, {CredentialType::kPin, "PIN"},
     {CredentialType::kRfid, "RFID"}, {CredentialType::kFingerprint, "Fingerprint"},
     {CredentialType::kFingerVein, "FingerVein"}, {CredentialType::kFace, "Face"},
     {CredentialType::kAliroCredentialIssuerKey, "AliroCredentialIssuerKey"},
     {CredentialType::kAliroEvictableEndpointKey, "AliroEvictableEndpointKey"},
     {CredentialType::kAliroNonEvictableEndpointKey, "AliroNonEvictableEndpointKey"}}};
const EnumNames<DataOperationType> kDataOperation{
    "DataOperationType",
    {{DataOperationType::kAdd, "Add"}, {DataOperationType::kClear, "Clear"}, {DataOperationType::kModify, "Modify"}}};
const EnumNames<OperatingMode> kOperatingMode{
    "OperatingMode",
    {{OperatingMode::kNormal, "Normal"}, {OperatingMode::kVacation, "Vacation"}, {OperatingMode::kPrivacy, "Privacy"},
     {OperatingMode::kNoRemoteLockUnlock, "NoRemoteLockUnlock"}, {OperatingMode::kPassage, "Passage"}}};
const EnumNames<OperationSource> kSource{
    "OperationSource",
    {{OperationSource::kUnspecified, "Unspecified"}, {OperationSource::kManual, "Manual"},
     {OperationSource::kProprietaryRemote, "ProprietaryRemote"}, {OperationSource::kKeypad, "Keypad"},
     {OperationSource::kAuto, "Auto"}, {OperationSource::kButton, "Button"}, {OperationSource::kSchedule, "Schedule"},
     {OperationSource::kRemote, "Remote"}, {OperationSource::kRfid, "RFID"},
     {OperationSource::kBiometric, "Biometric"}}};
const EnumNames<OperationError> kOperationError{
    "OperationError",
    {{OperationError::kUnspecified, "Unspecified"}, {OperationError::kInvalidCredential, "InvalidCredential"},
     {OperationError::kDisabledUserDenied, "DisabledUserDenied"}, {OperationError::kRestricted, "Restricted"},
     {OperationError::kInsufficientBattery, "InsufficientBattery"}}};
const EnumNames<LockOperationType> kLockOperation{
    "LockOperationType",
    {{LockOperationType::kLock, "Lock"}, {LockOperationType::kUnlock, "Unlock"},
     {LockOperationType::kNonAccessUserEvent, "NonAccessUserEvent"},
     {LockOperationType::kForcedUserEvent, "ForcedUserEvent"}, {LockOperationType::kUnlatch, "Unlatch"}}};
const EnumNames<AlarmCode> kAlarm{
    "AlarmCode",
    {{AlarmCode::kLockJammed, "LockJammed"}, {AlarmCode::kLockFactoryReset, "LockFactoryReset"},
     {AlarmCode::kLockRadioPowerCycled, "LockRadioPowerCycled"}, {AlarmCode::kWrongCodeEntryLimit, "WrongCodeEntryLimit"},
     {AlarmCode::kFrontEsceutcheonRemoved, "FrontEsceutcheonRemoved"}, {AlarmCode::kDoorForcedOpen, "DoorForcedOpen"},
     {AlarmCode::kDoorAjar, "DoorAjar"}, {AlarmCode::kForcedUser, "ForcedUser"},
     {AlarmCode::kBatteryLow, "BatteryLow"}, {AlarmCode::kBatteryCritical, "BatteryCritical"},
     {AlarmCode::kEmergencyPowerConnected, "EmergencyPowerConnected"}}};
const EnumNames<DoorState> kDoorState{
    "DoorState",
    {{DoorState::kDoorOpen, "DoorOpen"}, {DoorState::kDoorClosed, "DoorClosed"}, {DoorState::kDoorJammed, "DoorJammed"},
     {DoorState::kDoorForcedOpen, "DoorForcedOpen"}, {DoorState::kDoorUnspecifiedError, "DoorUnspecifiedError"},
     {DoorState::kDoorAjar, "DoorAjar"}}};
const EnumNames<LockDataType> kLockDataType{
    "LockDataType",
    {{LockDataType::kUnspecified, "Unspecified"}, {LockDataType::kProgrammingCode, "ProgrammingCode"},
     {LockDataType::kUserIndex, "UserIndex"}, {LockDataType::kWeekDaySchedule, "WeekDaySchedule"},
     {LockDataType::kYearDaySchedule, "YearDaySchedule"}, {LockDataType::kHolidaySchedule, "HolidaySchedule"},
     {LockDataType::kPin, "PIN"}, {LockDataType::kRfid, "RFID"}, {LockDataType::kFingerprint, "Fingerprint"},
     {LockDataType::kFingerVein, "FingerVein"}, {LockDataType::kFace, "Face"}}};
const EnumNames<EventDetail> kDetail{
    "EventDetail",
    {{EventDetail::kNone, "None"}, {EventDetail::kInsideThumbTurn, "InsideThumbTurn"},
     {EventDetail::kInsideHandle, "InsideHandle"}, {EventDetail::kMechanicalKey, "MechanicalKey"},
     {EventDetail::kOutsideButton, "OutsideButton"}, {EventDetail::kUnexplainedMotion, "UnexplainedMotion"},
     {EventDetail::kLockedOut, "LockedOut"}, {EventDetail::kModeRestricted, "ModeRestricted"},
     {EventDetail::kScheduleRestricted, "ScheduleRestricted"}, {EventDetail::kTimeUnknown, "TimeUnknown"},
     {EventDetail::kMotorJammed, "MotorJammed"}, {EventDetail::kCredentialPartial, "CredentialPartial"},
     {EventDetail::kPinRequired, "PinRequired"}, {EventDetail::kUserExpired, "UserExpired"},
     {EventDetail::kPrivacyButton, "PrivacyButton"}, {EventDetail::kEmergencyPower, "EmergencyPower"},
     {EventDetail::kLockReserve, "LockReserve"}, {EventDetail::kUnlockReserve, "UnlockReserve"},
     {EventDetail::kNonAccessUser, "NonAccessUser"}, {EventDetail::kOfflinePin, "OfflinePin"},
     {EventDetail::kUtcOffsetChanged, "UtcOffsetChanged"}, {EventDetail::kPassageMode, "PassageMode"},
     {EventDetail::kSuperseded, "Superseded"}, {EventDetail::kKeyRevoked, "KeyRevoked"},
     {EventDetail::kKeyNotValidNow, "KeyNotValidNow"}, {EventDetail::kKeyUsesSpent, "KeyUsesSpent"},
     {EventDetail::kKeyNotIssued, "KeyNotIssued"}}};

// Reads a command's arguments; every accessor refuses with a message that
// names the command, the field and what is expected. Unknown fields are
// refused too, so a typo never silently becomes "field absent".
class Args {
 public:
  Args(std::string_view command, const json& j) : command_(command), j_(j) {
    if (!j.is_object()) Fail("arguments must be a JSON object");
  }

  [[noreturn]] void Fail(const std::string& what, const char* status = kInvalidCommand) const {
    throw Refusal(std::string(command_) + ": " + what, status);
  }

  bool Has(const char* name) {
    known_.insert(name);
    return j_.contains(name) && !j_.at(name).is_null();
  }
  // Present, possibly as an explicit null.
  bool Present(const char* name) {
    known_.insert(name);
    return j_.contains(name);
  }

  int64_t Int(const char* name, int64_t min, int64_t max) {
    if (!Has(name)) Fail(std::string("field '") + name + "' is required");
    return IntValue(name, min, max);
  }
  std::optional<int64_t> OptInt(const char* name, int64_t min, int64_t max) {
    if (!Has(name)) return std::nullopt;
    return IntValue(name, min, max);
  }

  template <typename E>
  E Enum(const char* name, const EnumNames<E>& names) {
    if (!Has(name)) Fail(std::string("field '") + name + "' is required");
    return EnumValue(name, names);
  }
  template <typename E>
  std::optional<E> OptEnum(const char* name, const EnumNames<E>& names) {
    if (!Has(name)) return std::nullopt;
    return EnumValue(name, names);
  }

  std::optional<std::string> OptString(const char* name, size_t max_len) {
    if (!Has(name)) return std::nullopt;
    const json& v = j_.at(name);
    if (!v.is_string()) Fail(std::string("field '") + name + "' must be a string");
    std::string s = v.get<std::string>();
    if (s.size() > max_len)
      Fail(std::string("field '") + name + "' must be at most " + std::to_string(max_len) + " bytes", kConstraintError);
    return s;
  }

  // A string's bytes, or {"hex": "..."}.
  std::vector<uint8_t> Bytes(const char* name, size_t max_len) {
    if (!Has(name)) Fail(std::string("field '") + name + "' is required");
    const json& v = j_.at(name);
    std::vector<uint8_t> out;
    if (v.is_string()) {
      const std::string s = v.get<std::string>();
      out.assign(s.begin(), s.end());
    } else if (v.is_object() && v.size() == 1 && v.contains("hex") && v.at("hex").is_string()) {
      const std::string h = v.at("hex").get<std::string>();
      if (h.size() % 2 != 0) Fail(std::string("field '") + name + "': hex needs an even number of digits");
      for (size_t i = 0; i < h.size(); i += 2) {
        auto nib = [&](char c) -> int {
          if (c >= '0' && c <= '9') return c - '0';
          if (c >= 'a' && c <= 'f') return c - 'a' + 10;
          if (c >= 'A' && c <= 'F') return c - 'A' + 10;
          char shown[8];
          std::snprintf(shown, sizeof(shown), "\\x%02X", static_cast<unsigned char>(c));
          Fail(std::string("field '") + name + "': byte " + shown + " is not a hex digit");
        };
        out.push_back(static_cast<uint8_t>(nib(h[i]) << 4 | nib(h[i + 1])));
      }
    } else {
      Fail(std::string("field '") + name + "' must be a string or {\"hex\": \"...\"}");
    }
    if (out.size() > max_len)
      Fail(std::string("field '") + name + "' must be at most " + std::to_string(max_len) + " bytes", kConstraintError);
    return out;
  }

  // A CredentialStruct {"credentialType": ..., "credentialIndex": ...}.
  std::optional<CredentialRef> OptCredential(const char* name) {
    if (!Has(name)) return std::nullopt;
    Args c(std::string(command_) + "." + name, j_.at(name));
    CredentialRef r;
    r.type = c.Enum("credentialType", kCredentialType);
    r.index = static_cast<uint16_t>(c.Int("credentialIndex", 0, 0xFFFF));
    c.Done();
    return r;
  }

  // Refuses fields the command does not know.
  void Done() const {
    for (const auto& [k, v] : j_.items())
      if (!known_.count(k)) Fail("unknown field '" + k + "'");
  }

 private:
  int64_t IntValue(const char* name, int64_t min, int64_t max) {
    const json& v = j_.at(name);
    // An unsigned value above INT64_MAX would wrap negative through get<int64_t>.
    const bool huge = v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(INT64_MAX);
    if (!v.is_number_integer() || huge || v.get<int64_t>() < min || v.get<int64_t>() > max)
      Fail(std::string("field '") + name + "' must be an integer from " + std::to_string(min) + " to " +
               std::to_string(max),
           v.is_number_integer() ? kConstraintError : kInvalidCommand);
    return v.get<int64_t>();
  }
  template <typename E>
  E EnumValue(const char* name, const EnumNames<E>& names) {
    const json& v = j_.at(name);
    auto e = names.Parse(v);
    // A value of the enum's kind that names no member is out of range
    // (CONSTRAINT_ERROR, as a Matter server answers for an unknown enum
    // value); anything else is not the field at all.
    if (!e)
      Fail(std::string("field '") + name + "' must be a " + names.type + ": " + names.Choices(),
           v.is_string() || v.is_number_integer() ? kConstraintError : kInvalidCommand);
    return *e;
  }

  std::string command_;
  const json& j_;
  std::set<std::string> known_;
};

json Opt(const std::optional<uint16_t>& v) { return v ? json(*v) : json(nullptr); }

json StatusJson(DlStatus s) { return json{{"ok", true}, {"status", DlStatusName(s)}}; }

json Operation(const OperationResult& r) {
  json out = StatusJson(r.status);
  if (!r.ok()) {
    out["error"] = kOperationError.Name(r.error);
    if (r.detail != EventDetail::kNone) out["detail"] = kDetail.Name(r.detail);
  }
  return out;
}

json UserJson(const GetUserResponse& r) {
  json out = StatusJson(r.status);
  out["userIndex"] = r.user_index;
  out["nextUserIndex"] = Opt(r.next_user_index);
  if (!r.occupied) {
    for (const char* f : {"userName", "userUniqueID", "userStatus", "userType", "credentialRule", "credentials",
                          "creatorFabricIndex", "lastModifiedFabricIndex"})
      out[f] = nullptr;
    return out;
  }
  const User& u = r.user;
  out["userName"] = std::string(u.name_view());
  out["userUniqueID"] = u.unique_id == 0xFFFFFFFF ? json(nullptr) : json(u.unique_id);
  out["userStatus"] = kUserStatus.Name(u.status);
  out["userType"] = kUserType.Name(u.type);
  out["credentialRule"] = kCredentialRule.Name(u.rule);
  json creds = json::array();
  for (uint8_t i = 0; i < r.credential_count; ++i)
    creds.push_back({{"credentialType", kCredentialType.Name(r.credentials[i].type)},
                     {"credentialIndex", r.credentials[i].index}});
  out["credentials"] = creds;
  out["creatorFabricIndex"] = u.creator;
  out["lastModifiedFabricIndex"] = u.last_modifier;
  return out;
}

}  // namespace

DoorLockJson::DoorLockJson(DoorLock& lock, Actor actor, uint16_t user_index)
    : lock_(lock), actor_(actor), user_index_(user_index) {}

const std::vector<std::string>& DoorLockJson::CommandNames() {
  static const std::vector<std::string> names = {
      "LockDoor", "UnlockDoor", "UnlockWithTimeout", "UnboltDoor",
      "SetUser", "GetUser", "ClearUser",
      "SetCredential", "GetCredentialStatus", "ClearCredential",
      "SetWeekDaySchedule", "GetWeekDaySchedule", "ClearWeekDaySchedule",
      "SetYearDaySchedule", "GetYearDaySchedule", "ClearYearDaySchedule",
      "SetHolidaySchedule", "GetHolidaySchedule", "ClearHolidaySchedule"};
  return names;
}

json DoorLockJson::Invoke(std::string_view command, const json& args_json) {
  try {
    Args a(command, args_json);
    UserDatabase& db = lock_.users();
    json out;
    auto remote = [&](auto&& call) {
      RemoteOperation op;
      op.source = actor_.source;
      op.user_index = user_index_;
      op.key = key_;
      std::vector<uint8_t> pin;
      if (a.Has("PINCode")) {
        pin = a.Bytes("PINCode", config::kMaxPinLength + 4);
        op.pin = std::span<const uint8_t>(pin);
      }
      return call(op);
    };
    if (command == "LockDoor") {
      out = remote([&](const RemoteOperation& op) { a.Done(); return Operation(lock_.LockDoor(op)); });
    } else if (command == "UnlockDoor") {
      out = remote([&](const RemoteOperation& op) { a.Done(); return Operation(lock_.UnlockDoor(op)); });
    } else if (command == "UnboltDoor") {
      out = remote([&](const RemoteOperation& op) { a.Done(); return Operation(lock_.UnboltDoor(op)); });
    } else if (command == "UnlockWithTimeout") {
      const auto timeout = static_cast<uint16_t>(a.Int("timeout", 1, 0xFFFF));
      out = remote([&](const RemoteOperation& op) {
        a.Done();
        return Operation(lock_.UnlockWithTimeout(op, timeout));
      });
    } else if (command == "SetUser") {
      SetUserRequest r;
      r.operation = a.Enum("operationType", kDataOperation);
      r.user_index = static_cast<uint16_t>(a.Int("userIndex", 0, 0xFFFF));
      auto name = a.OptString("userName", config::kMaxUserNameLength);
      if (name) r.user_name = *name;
      if (auto id = a.OptInt("userUniqueID", 0, 0xFFFFFFFF)) r.user_unique_id = static_cast<uint32_t>(*id);
      r.user_status = a.OptEnum("userStatus", kUserStatus);
      r.user_type = a.OptEnum("userType", kUserType);
      r.credential_rule = a.OptEnum("credentialRule", kCredentialRule);
      a.Done();
      out = StatusJson(db.SetUser(r, actor_));
    } else if (command == "GetUser") {
      const auto index = static_cast<uint16_t>(a.Int("userIndex", 0, 0xFFFF));
      a.Done();
      out = UserJson(db.GetUser(index));
    } else if (command == "ClearUser") {
      const auto index = static_cast<uint16_t>(a.Int("userIndex", 0, 0xFFFF));
      a.Done();
      out = StatusJson(db.ClearUser(index, actor_));
    } else if (command == "SetCredential") {
      SetCredentialRequest r;
      r.operation = a.Enum("operationType", kDataOperation);
      auto cred = a.OptCredential("credential");
      if (!cred) a.Fail("field 'credential' is required");
      r.credential = *cred;
      const std::vector<uint8_t> data = a.Bytes("credentialData", 64);
      r.credential_data = data;
      if (auto u = a.OptInt("userIndex", 0, 0xFFFF)) r.user_index = static_cast<uint16_t>(*u);
      r.user_status = a.OptEnum("userStatus", kUserStatus);
      r.user_type = a.OptEnum("userType", kUserType);
      a.Done();
      auto resp = db.SetCredential(r, actor_);
      out = StatusJson(resp.status);
      out["userIndex"] = Opt(resp.user_index);
      out["nextCredentialIndex"] = Opt(resp.next_credential_index);
    } else if (command == "GetCredentialStatus") {
      auto cred = a.OptCredential("credential");
      if (!cred) a.Fail("field 'credential' is required");
      a.Done();
      auto resp = db.GetCredentialStatus(*cred);
      out = StatusJson(DlStatus::kSuccess);
      out["credentialExists"] = resp.credential_exists;
      out["userIndex"] = Opt(resp.user_index);
      out["creatorFabricIndex"] = resp.creator ? json(*resp.creator) : json(nullptr);
      out["lastModifiedFabricIndex"] = resp.last_modifier ? json(*resp.last_modifier) : json(nullptr);
      out["nextCredentialIndex"] = Opt(resp.next_credential_index);
    } else if (command == "ClearCredential") {
      // Clearing everything needs an explicit "credential": null; a missing
      // field is a mistake, not the most destructive request there is.
      if (!a.Present("credential")) a.Fail("field 'credential' is required (null clears every credential)");
      auto cred = a.OptCredential("credential");
      a.Done();
      out = StatusJson(db.ClearCredential(cred, actor_));
    } else if (command == "SetWeekDaySchedule" || command == "GetWeekDaySchedule" ||
               command == "ClearWeekDaySchedule") {
      const auto index = static_cast<uint8_t>(a.Int("weekDayIndex", 0, 0xFF));
      const auto user = static_cast<uint16_t>(a.Int("userIndex", 0, 0xFFFF));
      if (command == "SetWeekDaySchedule") {
        WeekDaySchedule s;
        s.days_mask = static_cast<uint8_t>(a.Int("daysMask", 0, 0xFF));
        s.start_hour = static_cast<uint8_t>(a.Int("startHour", 0, 0xFF));
        s.start_minute = static_cast<uint8_t>(a.Int("startMinute", 0, 0xFF));
        s.end_hour = static_cast<uint8_t>(a.Int("endHour", 0, 0xFF));
        s.end_minute = static_cast<uint8_t>(a.Int("endMinute", 0, 0xFF));
        a.Done();
        out = StatusJson(db.SetWeekDaySchedule(index, user, s, actor_));
      } else if (command == "GetWeekDaySchedule") {
        a.Done();
        auto r = db.GetWeekDaySchedule(index, user);
        out = StatusJson(r.status);
        out["weekDayIndex"] = r.week_day_index;
        out["userIndex"] = r.user_index;
        if (r.status == DlStatus::kSuccess) {
          out["daysMask"] = r.schedule.days_mask;
          out["startHour"] = r.schedule.start_hour;
          out["startMinute"] = r.schedule.start_minute;
          out["endHour"] = r.schedule.end_hour;
          out["endMinute"] = r.schedule.end_minute;
        }
      } else {
        a.Done();
        out = StatusJson(db.ClearWeekDaySchedule(index, user, actor_));
      }
    } else if (command == "SetYearDaySchedule" || command == "GetYearDaySchedule" ||
               command == "ClearYearDaySchedule") {
      const auto index = static_cast<uint8_t>(a.Int("yearDayIndex", 0, 0xFF));
      const auto user = static_cast<uint16_t>(a.Int("userIndex", 0, 0xFFFF));
      if (command == "SetYearDaySchedule") {
        YearDaySchedule s;
        s.local_start = static_cast<uint32_t>(a.Int("localStartTime", 0, 0xFFFFFFFF));
        s.local_end = static_cast<uint32_t>(a.Int("localEndTime", 0, 0xFFFFFFFF));
        a.Done();
        out = StatusJson(db.SetYearDaySchedule(index, user, s, actor_));
      } else if (command == "GetYearDaySchedule") {
        a.Done();
        auto r = db.GetYearDaySchedule(index, user);
        out = StatusJson(r.status);
        out["yearDayIndex"] = r.year_day_index;
        out["userIndex"] = r.user_index;
        if (r.status == DlStatus::kSuccess) {
          out["localStartTime"] = r.schedule.local_start;
          out["localEndTime"] = r.schedule.local_end;
        }
      } else {
        a.Done();
        out = StatusJson(db.ClearYearDaySchedule(index, user, actor_));
      }
    } else if (command == "SetHolidaySchedule" || command == "GetHolidaySchedule" ||
               command == "ClearHolidaySchedule") {
      const auto index = static_cast<uint8_t>(a.Int("holidayIndex", 0, 0xFF));
      if (command == "SetHolidaySchedule") {
        HolidaySchedule s;
        s.local_start = static_cast<uint32_t>(a.Int("localStartTime", 0, 0xFFFFFFFF));
        s.local_end = static_cast<uint32_t>(a.Int("localEndTime", 0, 0xFFFFFFFF));
        s.mode = a.Enum("operatingMode", kOperatingMode);
        a.Done();
        out = StatusJson(db.SetHolidaySchedule(index, s, actor_));
      } else if (command == "GetHolidaySchedule") {
        a.Done();
        auto r = db.GetHolidaySchedule(index);
        out = StatusJson(r.status);
        out["holidayIndex"] = r.holiday_index;
        if (r.status == DlStatus::kSuccess) {
          out["localStartTime"] = r.schedule.local_start;
          out["localEndTime"] = r.schedule.local_end;
          out["operatingMode"] = kOperatingMode.Name(r.schedule.mode);
        }
      } else {
        a.Done();
        out = StatusJson(db.ClearHolidaySchedule(index, actor_));
      }
    } else {
      std::string known;
      for (const auto& n : CommandNames()) known += (known.empty() ? "" : ", ") + n;
      throw Refusal("unknown command '" + std::string(command) + "'; Door Lock commands: " + known,
                    kUnsupportedCommand);
    }
    return out;
  } catch (const Refusal& r) {
    return Refused(r.status, r.what());
  } catch (const json::exception& e) {
    return Refused(kInvalidCommand, std::string(command) + ": " + e.what());
  } catch (const std::exception& e) {
    return Refused(kFailure, std::string(command) + ": internal error: " + e.what());
  }
}

json DoorLockJson::Read(std::string_view attribute) {
  const AttributeInfo* info = FindAttribute(attribute);
  if (info == nullptr) return Refused(kUnsupportedAttribute, "unknown attribute '" + std::string(attribute) + "'");
  auto v = lock_.ReadAttribute(info->id);
  if (!v.ok()) return Refused(kFailure, std::string("cannot read ") + info->name);
  return json{{"ok", true}, {"attribute", info->name}, {"value", *v}};
}

json DoorLockJson::Write(std::string_view attribute, const json& value) {
  const AttributeInfo* info = FindAttribute(attribute);
  if (info == nullptr) return Refused(kUnsupportedAttribute, "unknown attribute '" + std::string(attribute) + "'");
  if (!info->writable) return Refused(kUnsupportedWrite, std::string(info->name) + " is read-only");
  int64_t v;
  if (value.is_boolean() && info->min == 0 && info->max == 1) {
    v = value.get<bool>() ? 1 : 0;
  } else if (value.is_number_integer() &&
             !(value.is_number_unsigned() && value.get<uint64_t>() > uint64_t(INT64_MAX))) {
    v = value.get<int64_t>();
  } else if (info->id == AttributeId::kOperatingMode && kOperatingMode.Parse(value)) {
    v = static_cast<int64_t>(*kOperatingMode.Parse(value));
  } else {
    // An integer beyond 64 bits, or an OperatingMode name that is no mode,
    // is out of range; any other value of the wrong kind is not a value of
    // this attribute.
    const bool out_of_range =
        value.is_number_integer() || (value.is_string() && info->id == AttributeId::kOperatingMode);
    return Refused(out_of_range ? kConstraintError : kInvalidCommand,
                   std::string(info->name) + (info->max == 1                                ? " takes true, false, 0 or 1"
                                              : info->id == AttributeId::kOperatingMode ? " takes an integer or one of " +
                                                                                              kOperatingMode.Choices()
                                                                                        : " takes an integer"));
  }
  if (v < info->min || v > info->max)
    return Refused(kConstraintError, std::string(info->name) + " must be from " + std::to_string(info->min) + " to " +
                                         std::to_string(info->max));
  Status s = lock_.WriteAttribute(info->id, v, actor_.source);
  if (!s.ok()) {
    const bool state = s.code() == StatusCode::kFailedPrecondition;
    const bool range = s.code() == StatusCode::kInvalidArgument;
    std::string why = state ? "not possible in the lock's present state"
                      : range ? "not a value the lock supports, or inconsistent with the other settings"
                              : "could not be stored";
    return Refused(state ? kInvalidInState : range ? kConstraintError : kFailure,
                   std::string(info->name) + " = " + std::to_string(v) + ": " + why);
  }
  return json{{"ok", true}, {"attribute", info->name}, {"value", v}};
}

std::string DoorLockJson::HandleLine(std::string_view line) {
  try {
    return HandleLineImpl(line);
  } catch (const std::exception& e) {
    // Nothing escapes the module edge; nothing was changed past validation.
    return Refused(kFailure, std::string("internal error: ") + e.what()).dump(
        -1, ' ', false, json::error_handler_t::replace);
  }
}

std::string DoorLockJson::HandleLineImpl(std::string_view line) {
  json req = json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  json resp;
  if (req.is_discarded()) {
    resp = Refused(kInvalidAction, "malformed JSON: expected one object per line");
  } else if (!req.is_object()) {
    resp = Refused(kInvalidAction, "a request is a JSON object with \"invoke\", \"read\" or \"write\"");
  } else if (req.contains("invoke") && req.at("invoke").is_string()) {
    for (const auto& [k, v] : req.items())
      if (k != "invoke" && k != "args") return Refused(kInvalidAction, "unknown request field '" + k + "'").dump();
    resp = Invoke(req.at("invoke").get<std::string>(), req.contains("args") ? req.at("args") : json::object());
  } else if (req.contains("read") && req.at("read").is_string() && req.size() == 1) {
    resp = Read(req.at("read").get<std::string>());
  } else if (req.contains("write") && req.at("write").is_string() && req.contains("value") && req.size() == 2) {
    resp = Write(req.at("write").get<std::string>(), req.at("value"));
  } else {
    resp = Refused(kInvalidAction,
                   "a request is {\"invoke\": name, \"args\": {...}}, {\"read\": name} or "
                   "{\"write\": name, \"value\": v}");
  }
  return resp.dump(-1, ' ', false, json::error_handler_t::replace);
}

json EventToJson(const LockEvent& e) {
  json out{{"event", EventKindName(e.kind)}, {"utc", e.utc_seconds}, {"monotonicMs", e.monotonic_ms}};
  switch (e.kind) {
    case EventKind::kLockOperation:
    case EventKind::kLockOperationError:
      out["lockOperationType"] = kLockOperation.Name(e.operation);
      out["operationSource"] = kSource.Name(e.source);
      out["userIndex"] = e.user_index == 0 ? json(nullptr) : json(e.user_index);
      // Matter: Credentials, a nullable list of CredentialStruct; FabricIndex
      // and SourceNode belong to a Matter bridge and are null here.
      out["credentials"] = e.has_credential ? json::array({json{{"credentialType", kCredentialType.Name(e.credential.type)},
                                                                {"credentialIndex", e.credential.index}}})
                                            : json(nullptr);
      out["fabricIndex"] = nullptr;
      out["sourceNode"] = nullptr;
      if (e.kind == EventKind::kLockOperationError) out["operationError"] = kOperationError.Name(e.error);
      break;
    case EventKind::kLockUserChange:
      out["lockDataType"] = kLockDataType.Name(e.data_type);
      out["dataOperationType"] = kDataOperation.Name(e.data_operation);
      out["operationSource"] = kSource.Name(e.source);
      out["userIndex"] = e.user_index == 0 ? json(nullptr) : json(e.user_index);
      out["dataIndex"] = e.data_index == 0 ? json(nullptr) : json(e.data_index);
      break;
    case EventKind::kDoorStateChange: out["doorState"] = kDoorState.Name(e.door_state); break;
    case EventKind::kDoorLockAlarm:
      out["alarmCode"] = kAlarm.Name(e.alarm);
      // Codes 0x80 and up are Mortise's power alarms, not Matter AlarmCodeEnum values.
      if (static_cast<uint8_t>(e.alarm) >= 0x80) out["mortiseExtension"] = true;
      break;
    // Mortise's own kinds (core/event.h): not Matter events.
    case EventKind::kOperatingModeChange:
      out["operatingMode"] = kOperatingMode.Name(static_cast<OperatingMode>(e.data_index));
      out["operationSource"] = kSource.Name(e.source);
      out["mortiseExtension"] = true;
      break;
    case EventKind::kAccessListChange:
    case EventKind::kKeyRefused:
      out["operationSource"] = kSource.Name(e.source);
      out["credentials"] = e.has_credential ? json::array({json{{"credentialType", kCredentialType.Name(e.credential.type)},
                                                                {"credentialIndex", e.credential.index}}})
                                            : json(nullptr);
      out[e.kind == EventKind::kKeyRefused ? "unrecordedBefore" : "keysListed"] = e.data_index;
      out["mortiseExtension"] = true;
      break;
  }
  if (e.detail != EventDetail::kNone) out["detail"] = kDetail.Name(e.detail);
  return out;
}

}  // namespace mortise::dljson
