// Matter names of the core's enums and the Interaction Model refusals, shared
// by the translator (translate.cc), the Door Lock adapter (dl_json.cc) and the
// event renderer (event_json.cc). Internal to the module.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "mortise/core/event.h"
#include "mortise/core/types.h"

namespace mortise::dljson::enum_names {

using json = nlohmann::json;
using namespace core;  // NOLINT: Matter names beside the core's enums

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

inline const EnumNames<UserStatus> kUserStatus{
    "UserStatus",
    {{UserStatus::kAvailable, "Available"}, {UserStatus::kOccupiedEnabled, "OccupiedEnabled"},
     {UserStatus::kOccupiedDisabled, "OccupiedDisabled"}}};
inline const EnumNames<UserType> kUserType{
    "UserType",
    {{UserType::kUnrestrictedUser, "UnrestrictedUser"}, {UserType::kYearDayScheduleUser, "YearDayScheduleUser"},
     {UserType::kWeekDayScheduleUser, "WeekDayScheduleUser"}, {UserType::kProgrammingUser, "ProgrammingUser"},
     {UserType::kNonAccessUser, "NonAccessUser"}, {UserType::kForcedUser, "ForcedUser"},
     {UserType::kDisposableUser, "DisposableUser"}, {UserType::kExpiringUser, "ExpiringUser"},
     {UserType::kScheduleRestrictedUser, "ScheduleRestrictedUser"}, {UserType::kRemoteOnlyUser, "RemoteOnlyUser"}}};
inline const EnumNames<CredentialRule> kCredentialRule{
    "CredentialRule",
    {{CredentialRule::kSingle, "Single"}, {CredentialRule::kDual, "Dual"}, {CredentialRule::kTri, "Tri"}}};
inline const EnumNames<CredentialType> kCredentialType{
    "CredentialType",
    {{CredentialType::kProgrammingPIN, "ProgrammingPIN"}, {CredentialType::kPin, "PIN"},
     {CredentialType::kRfid, "RFID"}, {CredentialType::kFingerprint, "Fingerprint"},
     {CredentialType::kFingerVein, "FingerVein"}, {CredentialType::kFace, "Face"},
     {CredentialType::kAliroCredentialIssuerKey, "AliroCredentialIssuerKey"},
     {CredentialType::kAliroEvictableEndpointKey, "AliroEvictableEndpointKey"},
     {CredentialType::kAliroNonEvictableEndpointKey, "AliroNonEvictableEndpointKey"}}};
inline const EnumNames<DataOperationType> kDataOperation{
    "DataOperationType",
    {{DataOperationType::kAdd, "Add"}, {DataOperationType::kClear, "Clear"}, {DataOperationType::kModify, "Modify"}}};
inline const EnumNames<OperatingMode> kOperatingMode{
    "OperatingMode",
    {{OperatingMode::kNormal, "Normal"}, {OperatingMode::kVacation, "Vacation"}, {OperatingMode::kPrivacy, "Privacy"},
     {OperatingMode::kNoRemoteLockUnlock, "NoRemoteLockUnlock"}, {OperatingMode::kPassage, "Passage"}}};
inline const EnumNames<OperationSource> kSource{
    "OperationSource",
    {{OperationSource::kUnspecified, "Unspecified"}, {OperationSource::kManual, "Manual"},
     {OperationSource::kProprietaryRemote, "ProprietaryRemote"}, {OperationSource::kKeypad, "Keypad"},
     {OperationSource::kAuto, "Auto"}, {OperationSource::kButton, "Button"}, {OperationSource::kSchedule, "Schedule"},
     {OperationSource::kRemote, "Remote"}, {OperationSource::kRfid, "RFID"},
     {OperationSource::kBiometric, "Biometric"}}};
inline const EnumNames<OperationError> kOperationError{
    "OperationError",
    {{OperationError::kUnspecified, "Unspecified"}, {OperationError::kInvalidCredential, "InvalidCredential"},
     {OperationError::kDisabledUserDenied, "DisabledUserDenied"}, {OperationError::kRestricted, "Restricted"},
     {OperationError::kInsufficientBattery, "InsufficientBattery"}}};
inline const EnumNames<LockOperationType> kLockOperation{
    "LockOperationType",
    {{LockOperationType::kLock, "Lock"}, {LockOperationType::kUnlock, "Unlock"},
     {LockOperationType::kNonAccessUserEvent, "NonAccessUserEvent"},
     {LockOperationType::kForcedUserEvent, "ForcedUserEvent"}, {LockOperationType::kUnlatch, "Unlatch"}}};
inline const EnumNames<AlarmCode> kAlarm{
    "AlarmCode",
    {{AlarmCode::kLockJammed, "LockJammed"}, {AlarmCode::kLockFactoryReset, "LockFactoryReset"},
     {AlarmCode::kLockRadioPowerCycled, "LockRadioPowerCycled"}, {AlarmCode::kWrongCodeEntryLimit, "WrongCodeEntryLimit"},
     {AlarmCode::kFrontEsceutcheonRemoved, "FrontEsceutcheonRemoved"}, {AlarmCode::kDoorForcedOpen, "DoorForcedOpen"},
     {AlarmCode::kDoorAjar, "DoorAjar"}, {AlarmCode::kForcedUser, "ForcedUser"},
     {AlarmCode::kBatteryLow, "BatteryLow"}, {AlarmCode::kBatteryCritical, "BatteryCritical"},
     {AlarmCode::kEmergencyPowerConnected, "EmergencyPowerConnected"}}};
inline const EnumNames<DoorState> kDoorState{
    "DoorState",
    {{DoorState::kDoorOpen, "DoorOpen"}, {DoorState::kDoorClosed, "DoorClosed"}, {DoorState::kDoorJammed, "DoorJammed"},
     {DoorState::kDoorForcedOpen, "DoorForcedOpen"}, {DoorState::kDoorUnspecifiedError, "DoorUnspecifiedError"},
     {DoorState::kDoorAjar, "DoorAjar"}}};
inline const EnumNames<LockDataType> kLockDataType{
    "LockDataType",
    {{LockDataType::kUnspecified, "Unspecified"}, {LockDataType::kProgrammingCode, "ProgrammingCode"},
     {LockDataType::kUserIndex, "UserIndex"}, {LockDataType::kWeekDaySchedule, "WeekDaySchedule"},
     {LockDataType::kYearDaySchedule, "YearDaySchedule"}, {LockDataType::kHolidaySchedule, "HolidaySchedule"},
     {LockDataType::kPin, "PIN"}, {LockDataType::kRfid, "RFID"}, {LockDataType::kFingerprint, "Fingerprint"},
     {LockDataType::kFingerVein, "FingerVein"}, {LockDataType::kFace, "Face"}}};
inline const EnumNames<EventDetail> kDetail{
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
     {EventDetail::kKeyNotIssued, "KeyNotIssued"}, {EventDetail::kOwnershipTransferred, "OwnershipTransferred"}}};

// Interaction Model statuses a Matter server answers with when it refuses a
// request before the cluster sees it (Matter Core specification, "Status
// Codes"); the cluster's own DlStatus values ("Occupied", "InvalidField", ...)
// travel in the same "status" field.
inline constexpr const char* kInvalidCommand = "InvalidCommand";          // 0x85: malformed, missing or unknown field
inline constexpr const char* kConstraintError = "ConstraintError";        // 0x87: a value outside its range or enum
inline constexpr const char* kUnsupportedCommand = "UnsupportedCommand";  // 0x81
inline constexpr const char* kUnsupportedAttribute = "UnsupportedAttribute";  // 0x86
inline constexpr const char* kUnsupportedWrite = "UnsupportedWrite";      // 0x88: read-only attribute
inline constexpr const char* kInvalidInState = "InvalidInState";          // 0xCB: not possible in the present state
inline constexpr const char* kInvalidAction = "InvalidAction";            // 0x80: not a request at all
inline constexpr const char* kFailure = "Failure";                        // 0x01

// A request the adapter refuses: the Interaction Model status and a message
// that goes back to the caller.
struct Refusal : std::runtime_error {
  Refusal(const std::string& what, const char* im_status = kInvalidCommand)
      : std::runtime_error(what), status(im_status) {}
  const char* status;
};

inline json Refused(const char* status, const std::string& message) {
  return json{{"ok", false}, {"status", status}, {"error", message}};
}

}  // namespace mortise::dljson::enum_names
