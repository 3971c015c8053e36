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

int64_t PackDstTransition(const DstTransition& t) {
  if (t.month == 0) return 0;
  return int64_t{t.month} * 1'000'000 + int64_t{t.week} * 100'000 + int64_t{t.weekday} * 10'000 + t.minute;
}

bool UnpackDstTransition(int64_t v, DstTransition& out) {
  out = DstTransition();
  if (v == 0) return true;
  if (v < 0) return false;
  const int64_t month = v / 1'000'000, week = v / 100'000 % 10, weekday = v / 10'000 % 10, minute = v % 10'000;
  if (month < 1 || month > 12 || week < 1 || week > 5 || weekday > 6 || minute > 1439) return false;
  out = DstTransition{static_cast<uint8_t>(month), static_cast<uint8_t>(week), static_cast<uint8_t>(weekday),
                      static_cast<uint16_t>(minute)};
  return true;
}

namespace {

// Local seconds since 1970 of a transition in `year`.
int64_t TransitionLocal(int32_t year, const DstTransition& t) {
  static constexpr uint8_t kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  const int days_in_month = kDays[t.month - 1] + (t.month == 2 && leap ? 1 : 0);
  const int64_t first = DaysFromCivil(year, t.month, 1);
  int64_t first_wd = (first + 4) % 7;  // 1970-01-01 was a Thursday
  if (first_wd < 0) first_wd += 7;
  int day = 1 + static_cast<int>((t.weekday - first_wd + 7) % 7) + (t.week - 1) * 7;
  while (day > days_in_month) day -= 7;  // week 5: the last one
  return (first + day - 1) * 86400 + int64_t{t.minute} * 60;
}

}  // namespace

int32_t UtcOffsetAt(int64_t utc_s, int32_t std_offset_s, const DstRule& rule) {
  if (rule.save_s == 0 || rule.start.month == 0 || rule.end.month == 0) return std_offset_s;
  int64_t days = (utc_s + std_offset_s) / 86400;
  if ((utc_s + std_offset_s) % 86400 < 0) --days;
  const int32_t year = CivilFromDays(days).year;
  const int64_t start = TransitionLocal(year, rule.start) - std_offset_s;              // in standard time
  const int64_t end = TransitionLocal(year, rule.end) - std_offset_s - rule.save_s;    // in daylight time
  const bool in_dst = start < end ? (utc_s >= start && utc_s < end) : !(utc_s >= end && utc_s < start);
  return std_offset_s + (in_dst ? rule.save_s : 0);
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

}  // namespace mortise::core
