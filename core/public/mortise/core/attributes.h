// The Door Lock cluster attributes the core implements, addressed by their
// Matter ids and names, plus Mortise's own settings (ids 0x4000 and up).
//
// Writable attributes are the lock's settings and are persisted; read-only
// ones report state or fixed capacities. Values travel as int64 so one
// generic read/write path serves bools, enums and counts alike.
#pragma once

#include <cstdint>
#include <string_view>

#include "mortise/core/types.h"

namespace mortise::core {

enum class AttributeId : uint16_t {
  kLockState = 0x0000,
  kLockType = 0x0001,
  kActuatorEnabled = 0x0002,
  kDoorState = 0x0003,
  kNumberOfTotalUsersSupported = 0x0011,
  kNumberOfPINUsersSupported = 0x0012,
  kNumberOfRFIDUsersSupported = 0x0013,
  kNumberOfWeekDaySchedulesSupportedPerUser = 0x0014,
  kNumberOfYearDaySchedulesSupportedPerUser = 0x0015,
  kNumberOfHolidaySchedulesSupported = 0x0016,
  kMaxPINCodeLength = 0x0017,
  kMinPINCodeLength = 0x0018,
  kMaxRFIDCodeLength = 0x0019,
  kMinRFIDCodeLength = 0x001A,
  kCredentialRulesSupport = 0x001B,
  kNumberOfCredentialsSupportedPerUser = 0x001C,
  kLEDSettings = 0x0022,   // LEDSettingEnum: 0 no LED signal, 1 none when access is allowed, 2 all
  kAutoRelockTime = 0x0023,
  kSoundVolume = 0x0024,   // SoundVolumeEnum: 0 silent, 1 low, 2 high, 3 medium
  kOperatingMode = 0x0025,
  kSupportedOperatingModes = 0x0026,
  kEnableLocalProgramming = 0x0028,
  kEnableOneTouchLocking = 0x0029,
  kEnablePrivacyModeButton = 0x002B,
  kWrongCodeEntryLimit = 0x0030,
  kUserCodeTemporaryDisableTime = 0x0031,
  kRequirePINforRemoteOperation = 0x0033,
  kExpiringUserTimeout = 0x0035,
  // Mortise settings.
  kMaxLockoutTime = 0x4000,          // seconds; the back-off doubles up to this
  kDoorAjarTime = 0x4001,            // seconds open before the DoorAjar alarm
  kUnlatchOnUnlock = 0x4002,         // UnlockDoor and credentials also pull the latch
  kBatteryLowThreshold = 0x4003,     // percent
  kBatteryCriticalThreshold = 0x4004,// percent; motorised locking refused at or below
  kUnlockReserveThreshold = 0x4005,  // percent; unlocking refused at or below (no emergency power)
  kUtcOffset = 0x4006,               // seconds added to UTC for local (standard) time
  kDstOffset = 0x4007,               // seconds added to UtcOffset while daylight saving is in force (0: none)
  kDstStart = 0x4008,                // when daylight saving starts, packed (schedule.h DstTransition; 0: none)
  kDstEnd = 0x4009,                  // when it ends, packed
  kBatteryPercent = 0x4010,          // read-only
  kEmergencyPower = 0x4011,          // read-only
  kBoltState = 0x4012,               // read-only, BoltState
  kLockoutRemaining = 0x4013,        // read-only, seconds
  kUtcTime = 0x4014,                 // read-only, the lock's UTC seconds (0: unknown); set only by SetUtcTime
};

struct AttributeInfo {
  AttributeId id;
  const char* name;  // the Matter name, or Mortise's for its own settings
  bool writable;
  int64_t min;
  int64_t max;
};

// The table of every attribute, in id order.
const AttributeInfo* AttributeTable(uint16_t* count);
// Lookup by Matter name (exact, case-sensitive). nullptr if unknown.
const AttributeInfo* FindAttribute(std::string_view name);
const AttributeInfo* FindAttribute(AttributeId id);

// The persisted settings behind the writable attributes, with their defaults.
struct Settings {
  uint32_t auto_relock_time_s = 0;  // 0: no auto-relock
  OperatingMode operating_mode = OperatingMode::kNormal;
  bool enable_local_programming = true;
  bool enable_one_touch_locking = true;
  bool enable_privacy_mode_button = true;
  uint8_t wrong_code_entry_limit = 5;               // 1..10 (backoff.h: the guessing bound)
  uint8_t user_code_temporary_disable_time_s = 30;  // 1..255
  bool require_pin_for_remote_operation = false;
  uint16_t expiring_user_timeout_min = 60;  // 1..2880
  uint32_t max_lockout_time_s = 86400;      // 1 day..7 days
  uint16_t door_ajar_time_s = 60;
  bool unlatch_on_unlock = false;
  uint8_t battery_low_percent = 20;
  uint8_t battery_critical_percent = 10;
  uint8_t unlock_reserve_percent = 3;
  int32_t utc_offset_s = 0;  // -14 h .. +14 h
  // Daylight saving (schedule.h): applied by the lock, offline.
  int32_t dst_save_s = 0;
  int64_t dst_start = 0;  // packed DstTransition
  int64_t dst_end = 0;
  LedSetting led_settings = LedSetting::kAll;
  SoundVolume sound_volume = SoundVolume::kMedium;
};

// Operating modes this lock supports, as Matter's inverted bitmap (a 0 bit
// means supported): all five.
inline constexpr uint16_t kSupportedOperatingModesBitmap = 0xFFE0;

}  // namespace mortise::core
