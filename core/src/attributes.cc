#include "mortise/core/attributes.h"

#include "mortise/core/config.h"

#include <cstdint>

namespace mortise::core {
namespace {

using A = AttributeId;
constexpr int64_t kU8 = 0xFF, kU16 = 0xFFFF, kU32 = 0xFFFFFFFF;

constexpr AttributeInfo kTable[] = {
    {A::kLockState, "LockState", false, 0, 3},
    {A::kLockType, "LockType", false, 0, 11},
    {A::kActuatorEnabled, "ActuatorEnabled", false, 0, 1},
    {A::kDoorState, "DoorState", false, 0, 5},
    {A::kNumberOfTotalUsersSupported, "NumberOfTotalUsersSupported", false, 0, kU16},
    {A::kNumberOfPINUsersSupported, "NumberOfPINUsersSupported", false, 0, kU16},
    {A::kNumberOfRFIDUsersSupported, "NumberOfRFIDUsersSupported", false, 0, kU16},
    {A::kNumberOfWeekDaySchedulesSupportedPerUser, "NumberOfWeekDaySchedulesSupportedPerUser", false, 0, kU8},
    {A::kNumberOfYearDaySchedulesSupportedPerUser, "NumberOfYearDaySchedulesSupportedPerUser", false, 0, kU8},
    {A::kNumberOfHolidaySchedulesSupported, "NumberOfHolidaySchedulesSupported", false, 0, kU8},
    {A::kMaxPINCodeLength, "MaxPINCodeLength", false, 0, kU8},
    {A::kMinPINCodeLength, "MinPINCodeLength", false, 0, kU8},
    {A::kMaxRFIDCodeLength, "MaxRFIDCodeLength", false, 0, kU8},
    {A::kMinRFIDCodeLength, "MinRFIDCodeLength", false, 0, kU8},
    {A::kCredentialRulesSupport, "CredentialRulesSupport", false, 0, kU8},
    {A::kNumberOfCredentialsSupportedPerUser, "NumberOfCredentialsSupportedPerUser", false, 0, kU8},
    {A::kLEDSettings, "LEDSettings", true, 0, 2},
    {A::kAutoRelockTime, "AutoRelockTime", true, 0, kU32},
    {A::kSoundVolume, "SoundVolume", true, 0, 3},
    {A::kOperatingMode, "OperatingMode", true, 0, 4},
    {A::kSupportedOperatingModes, "SupportedOperatingModes", false, 0, kU16},
    {A::kEnableLocalProgramming, "EnableLocalProgramming", true, 0, 1},
    {A::kEnableOneTouchLocking, "EnableOneTouchLocking", true, 0, 1},
    {A::kEnablePrivacyModeButton, "EnablePrivacyModeButton", true, 0, 1},
    // At most 10 failures a step and a cap of at least a day: the keypad's
    // guessing bound (docs/core.md) holds for every value an owner may choose.
    {A::kWrongCodeEntryLimit, "WrongCodeEntryLimit", true, 1, 10},
    {A::kUserCodeTemporaryDisableTime, "UserCodeTemporaryDisableTime", true, 1, kU8},
    {A::kRequirePINforRemoteOperation, "RequirePINforRemoteOperation", true, 0, 1},
    {A::kExpiringUserTimeout, "ExpiringUserTimeout", true, 1, 2880},
    {A::kMaxLockoutTime, "MaxLockoutTime", true, 86400, 7 * 86400},
    {A::kDoorAjarTime, "DoorAjarTime", true, 1, kU16},
    {A::kUnlatchOnUnlock, "UnlatchOnUnlock", true, 0, 1},
    {A::kBatteryLowThreshold, "BatteryLowThreshold", true, 1, 100},
    {A::kBatteryCriticalThreshold, "BatteryCriticalThreshold", true, 1, 100},
    {A::kUnlockReserveThreshold, "UnlockReserveThreshold", true, 0, 100},
    {A::kUtcOffset, "UtcOffset", true, -14 * 3600, 14 * 3600},
    {A::kDstOffset, "DstOffset", true, 0, 2 * 3600},
    {A::kDstStart, "DstStart", true, 0, 12'561'439},
    {A::kDstEnd, "DstEnd", true, 0, 12'561'439},
    {A::kBatteryPercent, "BatteryPercent", false, 0, 100},
    {A::kEmergencyPower, "EmergencyPower", false, 0, 1},
    {A::kBoltState, "BoltState", false, 0, 6},
    {A::kLockoutRemaining, "LockoutRemaining", false, 0, kU32},
    {A::kUtcTime, "UtcTime", false, 0, INT64_MAX},
};

}  // namespace

const AttributeInfo* AttributeTable(uint16_t* count) {
  *count = static_cast<uint16_t>(sizeof(kTable) / sizeof(kTable[0]));
  return kTable;
}

const AttributeInfo* FindAttribute(std::string_view name) {
  for (const auto& a : kTable)
    if (name == a.name) return &a;
  return nullptr;
}

const AttributeInfo* FindAttribute(AttributeId id) {
  for (const auto& a : kTable)
    if (a.id == id) return &a;
  return nullptr;
}

}  // namespace mortise::core
