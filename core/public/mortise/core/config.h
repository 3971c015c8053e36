// Compile-time capacities of the lock core. Override any of them with a
// compiler definition (the CMake targets mortise_core_small and
// mortise_core_large do) — the core's RAM scales with them; see
// docs/core.md for the bytes each configuration takes.
#pragma once

#include <cstddef>
#include <cstdint>

#ifndef MORTISE_MAX_USERS
#define MORTISE_MAX_USERS 1000
#endif
#ifndef MORTISE_MAX_PIN_CREDENTIALS
#define MORTISE_MAX_PIN_CREDENTIALS 1000
#endif
#ifndef MORTISE_MAX_RFID_CREDENTIALS
#define MORTISE_MAX_RFID_CREDENTIALS 1000
#endif
#ifndef MORTISE_MAX_FINGERPRINT_CREDENTIALS
#define MORTISE_MAX_FINGERPRINT_CREDENTIALS 100
#endif
#ifndef MORTISE_MAX_FINGER_VEIN_CREDENTIALS
#define MORTISE_MAX_FINGER_VEIN_CREDENTIALS 50
#endif
#ifndef MORTISE_MAX_FACE_CREDENTIALS
#define MORTISE_MAX_FACE_CREDENTIALS 50
#endif
#ifndef MORTISE_MAX_CREDENTIALS_PER_USER
#define MORTISE_MAX_CREDENTIALS_PER_USER 5
#endif
#ifndef MORTISE_WEEK_DAY_SCHEDULES_PER_USER
#define MORTISE_WEEK_DAY_SCHEDULES_PER_USER 4
#endif
#ifndef MORTISE_YEAR_DAY_SCHEDULES_PER_USER
#define MORTISE_YEAR_DAY_SCHEDULES_PER_USER 2
#endif
#ifndef MORTISE_HOLIDAY_SCHEDULES
#define MORTISE_HOLIDAY_SCHEDULES 8
#endif

namespace mortise::core::config {

inline constexpr uint16_t kMaxUsers = MORTISE_MAX_USERS;
inline constexpr uint16_t kMaxPinCredentials = MORTISE_MAX_PIN_CREDENTIALS;
inline constexpr uint16_t kMaxRfidCredentials = MORTISE_MAX_RFID_CREDENTIALS;
inline constexpr uint16_t kMaxFingerprintCredentials = MORTISE_MAX_FINGERPRINT_CREDENTIALS;
inline constexpr uint16_t kMaxFingerVeinCredentials = MORTISE_MAX_FINGER_VEIN_CREDENTIALS;
inline constexpr uint16_t kMaxFaceCredentials = MORTISE_MAX_FACE_CREDENTIALS;
inline constexpr uint8_t kMaxCredentialsPerUser = MORTISE_MAX_CREDENTIALS_PER_USER;
inline constexpr uint8_t kWeekDaySchedulesPerUser = MORTISE_WEEK_DAY_SCHEDULES_PER_USER;
inline constexpr uint8_t kYearDaySchedulesPerUser = MORTISE_YEAR_DAY_SCHEDULES_PER_USER;
inline constexpr uint8_t kHolidaySchedules = MORTISE_HOLIDAY_SCHEDULES;

// The programming PIN is a single credential at index 0.
inline constexpr uint16_t kTotalCredentialSlots =
    1 + kMaxPinCredentials + kMaxRfidCredentials + kMaxFingerprintCredentials +
    kMaxFingerVeinCredentials + kMaxFaceCredentials;

// Credential data limits (bytes). PINs are ASCII digits.
inline constexpr uint8_t kMinPinLength = 4;
inline constexpr uint8_t kMaxPinLength = 12;
inline constexpr uint8_t kMinRfidLength = 4;   // a 4-byte (single size) UID
inline constexpr uint8_t kMaxRfidLength = 16;
// Biometric credentials are the sensor's template ids.
inline constexpr uint8_t kMinBiometricLength = 1;
inline constexpr uint8_t kMaxBiometricLength = 16;
inline constexpr uint8_t kMaxCredentialDataLength = 16;

inline constexpr uint8_t kMaxUserNameLength = 10;

static_assert(kMaxUsers >= 1 && kMaxUsers < 0xFFFE, "user indices are uint16 below the clear-all sentinel");
static_assert(kTotalCredentialSlots < 0xFFFF, "credential slot ids are uint16");
static_assert(kWeekDaySchedulesPerUser < 0xFE && kYearDaySchedulesPerUser < 0xFE && kHolidaySchedules < 0xFE,
              "schedule indices are uint8 below the clear-all sentinel");

}  // namespace mortise::core::config
