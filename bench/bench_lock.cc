#include "bench_lock.h"

#include <cstdio>
#include <cstdlib>

namespace mortise::bench {

using namespace core;

BenchLock::BenchLock() {
  Hardware hw{clock_, random_, store_, mechanics_, mechanics_, manual_, keypad_, cards_, biometrics_, indicator_, sink_};
  lock_ = std::make_unique<DoorLock>(hw);
  if (!lock_->Start().ok()) std::abort();
  // Tuesday 2026-11-24 10:00 UTC.
  if (!lock_->SetUtcTime(DaysFromCivil(2026, 11, 24) * 86400 + 10 * 3600, false).ok()) std::abort();
  for (uint16_t i = 0; i < kUsers; ++i) {
    pins_[i] = std::to_string(10000000 + i * 7919);
    SetCredentialRequest req;
    req.credential = {CredentialType::kPin, static_cast<uint16_t>(i + 1)};
    req.credential_data = std::span(reinterpret_cast<const uint8_t*>(pins_[i].data()), pins_[i].size());
    req.user_type = UserType::kWeekDayScheduleUser;
    auto r = lock_->users().SetCredential(req, Actor{});
    if (r.status != DlStatus::kSuccess) std::abort();
    // Even users: weekdays 07:00-19:00 (covers now). Odd: weekends only.
    WeekDaySchedule s = (i % 2 == 0) ? WeekDaySchedule{0x3E, 7, 0, 19, 0} : WeekDaySchedule{0x41, 7, 0, 19, 0};
    if (lock_->users().SetWeekDaySchedule(1, *r.user_index, s, Actor{}) != DlStatus::kSuccess) std::abort();
  }
  for (int i = 0; i < 64; ++i) invalid_[i] = std::to_string(90000000 + i * 104729);
}

const std::string& BenchLock::PinFor(uint64_t i) const {
  // 1 in 4 invalid, 1 in 4 out of schedule, 2 in 4 valid. The failures
  // count towards the lockout: callers let a week pass every 4 decisions.
  switch (i % 4) {
    case 0: return invalid_[(i / 4) % 64];
    case 1: return pins_[((i * 37) % (kUsers / 2)) * 2 + 1];  // odd: out of schedule
    default: return pins_[((i * 53) % (kUsers / 2)) * 2];      // even: in schedule
  }
}

}  // namespace mortise::bench
