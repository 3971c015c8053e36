// Prints the RAM the lock core's state takes in this build's configuration.
// Built once per configuration (ram_report_core, _small, _large).
#include <cstdio>

#include "mortise/core/door_lock.h"

int main() {
  using namespace mortise::core;
  std::printf("users=%u pin=%u rfid=%u fingerprint=%u vein=%u face=%u per-user-creds=%u wd=%u yd=%u holidays=%u\n",
              config::kMaxUsers, config::kMaxPinCredentials, config::kMaxRfidCredentials,
              config::kMaxFingerprintCredentials, config::kMaxFingerVeinCredentials, config::kMaxFaceCredentials,
              config::kMaxCredentialsPerUser, config::kWeekDaySchedulesPerUser, config::kYearDaySchedulesPerUser,
              config::kHolidaySchedules);
  std::printf("sizeof(User)=%zu sizeof(UserDatabase)=%zu sizeof(DoorLock)=%zu bytes\n", sizeof(User),
              sizeof(UserDatabase), sizeof(DoorLock));
  return 0;
}
