// The Matter Door Lock cluster's vocabulary (cluster 0x0101), with the
// cluster's numeric values so a Matter bridge maps them one to one, plus the
// few Mortise extensions, which are marked as such.
#pragma once

#include <cstdint>

namespace mortise::core {

// Status of a management command (Matter DlStatus).
enum class DlStatus : uint8_t {
  kSuccess = 0x00,
  kFailure = 0x01,
  kDuplicate = 0x02,
  kOccupied = 0x03,
  kInvalidField = 0x85,
  kResourceExhausted = 0x89,
  kNotFound = 0x8B,
};
const char* DlStatusName(DlStatus s);

// Matter LockState. Mortise's finer BoltState maps onto it (see door_lock.h).
enum class LockState : uint8_t {
  kNotFullyLocked = 0,
  kLocked = 1,
  kUnlocked = 2,
  kUnlatched = 3,
};

// Matter DoorStateEnum.
enum class DoorState : uint8_t {
  kDoorOpen = 0,
  kDoorClosed = 1,
  kDoorJammed = 2,
  kDoorForcedOpen = 3,
  kDoorUnspecifiedError = 4,
  kDoorAjar = 5,
};

// Matter AlarmCodeEnum (all eight codes), then Mortise power alarms in a range
// Matter does not use; a Matter bridge reports those through the Power Source
// cluster instead.
enum class AlarmCode : uint8_t {
  kLockJammed = 0,
  kLockFactoryReset = 1,
  kLockRadioPowerCycled = 3,
  kWrongCodeEntryLimit = 4,
  kFrontEsceutcheonRemoved = 5,
  kDoorForcedOpen = 6,
  kDoorAjar = 7,
  kForcedUser = 8,
  // Mortise extensions.
  kBatteryLow = 0x80,
  kBatteryCritical = 0x81,
  kEmergencyPowerConnected = 0x82,
};

// Matter LEDSettingEnum and SoundVolumeEnum (the Door Lock cluster's
// LEDSettings and SoundVolume attributes).
enum class LedSetting : uint8_t {
  kNone = 0,                // no LED signal
  kNoneWhenAccessAllowed = 1,  // no LED signal when access is allowed (denials and alarms still light)
  kAll = 2,
};
enum class SoundVolume : uint8_t {
  kSilent = 0,
  kLow = 1,
  kHigh = 2,
  kMedium = 3,
};

enum class OperatingMode : uint8_t {
  kNormal = 0,
  kVacation = 1,
  kPrivacy = 2,
  kNoRemoteLockUnlock = 3,
  kPassage = 4,
};
inline constexpr uint8_t kOperatingModeCount = 5;

enum class UserStatus : uint8_t {
  kAvailable = 0,
  kOccupiedEnabled = 1,
  kOccupiedDisabled = 3,
};

enum class UserType : uint8_t {
  kUnrestrictedUser = 0,
  kYearDayScheduleUser = 1,
  kWeekDayScheduleUser = 2,
  kProgrammingUser = 3,
  kNonAccessUser = 4,
  kForcedUser = 5,
  kDisposableUser = 6,
  kExpiringUser = 7,
  kScheduleRestrictedUser = 8,
  kRemoteOnlyUser = 9,
};
inline constexpr uint8_t kUserTypeCount = 10;

enum class CredentialRule : uint8_t {
  kSingle = 0,
  kDual = 1,
  kTri = 2,
};

enum class CredentialType : uint8_t {
  kProgrammingPIN = 0,
  kPin = 1,
  kRfid = 2,
  kFingerprint = 3,
  kFingerVein = 4,
  kFace = 5,
  // Matter's Aliro key types. Mortise records the protocol key that asked
  // for a remote operation as an endpoint key in events (index: the
  // certificate's serial, or 0 for the owner's own key); they are never
  // stored in the user database.
  kAliroCredentialIssuerKey = 6,
  kAliroEvictableEndpointKey = 7,
  kAliroNonEvictableEndpointKey = 8,
};
// Types the user database stores (ProgrammingPIN .. Face).
inline constexpr uint8_t kCredentialTypeCount = 6;

enum class DataOperationType : uint8_t {
  kAdd = 0,
  kClear = 1,
  kModify = 2,
};

enum class OperationSource : uint8_t {
  kUnspecified = 0,
  kManual = 1,
  kProprietaryRemote = 2,  // Mortise: a phone or CLI over the short-range secure session
  kKeypad = 3,
  kAuto = 4,
  kButton = 5,
  kSchedule = 6,
  kRemote = 7,  // Mortise: an end-to-end signed command relayed over the internet
  kRfid = 8,
  kBiometric = 9,
};

enum class LockOperationType : uint8_t {
  kLock = 0,
  kUnlock = 1,
  kNonAccessUserEvent = 2,
  kForcedUserEvent = 3,
  kUnlatch = 4,
};

enum class OperationError : uint8_t {
  kUnspecified = 0,
  kInvalidCredential = 1,
  kDisabledUserDenied = 2,
  kRestricted = 3,
  kInsufficientBattery = 4,
};

enum class LockDataType : uint8_t {
  kUnspecified = 0,
  kProgrammingCode = 1,
  kUserIndex = 2,
  kWeekDaySchedule = 3,
  kYearDaySchedule = 4,
  kHolidaySchedule = 5,
  kPin = 6,
  kRfid = 7,
  kFingerprint = 8,
  kFingerVein = 9,
  kFace = 10,
};

// DaysMaskMap: bit 0 is Sunday ... bit 6 is Saturday.
enum DaysMask : uint8_t {
  kSunday = 1 << 0,
  kMonday = 1 << 1,
  kTuesday = 1 << 2,
  kWednesday = 1 << 3,
  kThursday = 1 << 4,
  kFriday = 1 << 5,
  kSaturday = 1 << 6,
};

// A credential's identity: its type and its index within that type.
struct CredentialRef {
  CredentialType type = CredentialType::kPin;
  uint16_t index = 0;
  friend bool operator==(const CredentialRef&, const CredentialRef&) = default;
};

// Matter's "clear all" sentinels.
inline constexpr uint16_t kClearAllIndex16 = 0xFFFE;
inline constexpr uint8_t kClearAllIndex8 = 0xFE;

// Mortise's mechanical view of the bolt, finer than Matter's LockState.
enum class BoltState : uint8_t {
  kLocked = 0,
  kLocking,
  kUnlocked,
  kUnlocking,
  kUnlatched,
  kNotFullyLocked,
  kJammed,
};
const char* BoltStateName(BoltState s);

// Matter LockState for a bolt state; motion reports the state being left,
// as Matter servers do until the motion completes.
LockState ToLockState(BoltState s);

}  // namespace mortise::core
