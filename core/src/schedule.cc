#include "mortise/core/schedule.h"

namespace mortise::core {

// Howard Hinnant's days-from-civil algorithm (public domain description),
// valid for the whole int32 year range.
int64_t DaysFromCivil(int32_t y, uint8_t m, uint8_t d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

CivilDate CivilFromDays(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const int64_t m = mp < 10 ? mp + 3 : mp - 9;
  return CivilDate{static_cast<int32_t>(yoe + era * 400 + (m <= 2)), static_cast<uint8_t>(m), static_cast<uint8_t>(d)};
}

LocalTime ToLocalTime(int64_t utc_s, int32_t utc_offset_s) {
  LocalTime t;
  t.epoch_s = utc_s + utc_offset_s;
  int64_t days = t.epoch_s / 86400;
  int64_t secs = t.epoch_s % 86400;
  if (secs < 0) {
    secs += 86400;
    --days;
  }
  // 1970-01-01 was a Thursday (4).
  int64_t wd = (days + 4) % 7;
  if (wd < 0) wd += 7;
  t.weekday = static_cast<uint8_t>(wd);
  t.minute_of_day = static_cast<uint16_t>(secs / 60);
  return t;
}

bool WeekDayScheduleCovers(const WeekDaySchedule& s, const LocalTime& t) {
  if (!s.used() || (s.days_mask & (1u << t.weekday)) == 0) return false;
  const uint16_t start = static_cast<uint16_t>(s.start_hour * 60 + s.start_minute);
  uint16_t end = static_cast<uint16_t>(s.end_hour * 60 + s.end_minute);
  if (end == 23 * 60 + 59) end = 24 * 60;
  return t.minute_of_day >= start && t.minute_of_day < end;
}

bool YearDayScheduleCovers(const YearDaySchedule& s, const LocalTime& t) {
  return s.used() && t.epoch_s >= static_cast<int64_t>(s.local_start) && t.epoch_s < static_cast<int64_t>(s.local_end);
}

ScheduleVerdict CheckSchedules(const User& u, const std::optional<LocalTime>& now) {
  bool has_wd = false, has_yd = false, wd_ok = false, yd_ok = false;
  for (const auto& s : u.week_day) {
    if (!s.used()) continue;
    has_wd = true;
    if (now && WeekDayScheduleCovers(s, *now)) wd_ok = true;
  }
  for (const auto& s : u.year_day) {
    if (!s.used()) continue;
    has_yd = true;
    if (now && YearDayScheduleCovers(s, *now)) yd_ok = true;
  }
  bool needs_wd = u.type == UserType::kWeekDayScheduleUser;
  bool needs_yd = u.type == UserType::kYearDayScheduleUser;
  bool needs_any = u.type == UserType::kScheduleRestrictedUser;
  if ((needs_wd && !has_wd) || (needs_yd && !has_yd) || (needs_any && !has_wd && !has_yd))
    return ScheduleVerdict::kOutsideSchedule;
  if (!has_wd && !has_yd) return ScheduleVerdict::kAllowed;
  if (!now) return ScheduleVerdict::kTimeUnknown;
  if ((has_wd && !wd_ok) || (has_yd && !yd_ok)) return ScheduleVerdict::kOutsideSchedule;
  return ScheduleVerdict::kAllowed;
}

std::optional<OperatingMode> HolidayMode(const UserDatabase& db, const std::optional<LocalTime>& now) {
  if (!now) return std::nullopt;
  for (uint8_t i = 0; i < config::kHolidaySchedules; ++i) {
    const HolidaySchedule& h = db.holiday(i);
    if (h.used() && now->epoch_s >= static_cast<int64_t>(h.local_start) &&
        now->epoch_s < static_cast<int64_t>(h.local_end))
      return h.mode;
  }
  return std::nullopt;
}

}  // namespace mortise::core
