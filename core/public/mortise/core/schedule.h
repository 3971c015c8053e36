// Civil time and schedule evaluation. All arithmetic is on DST-free local
// time: UTC plus the lock's UtcOffset attribute.
#pragma once

#include <cstdint>
#include <optional>

#include "mortise/core/user_db.h"

namespace mortise::core {

struct LocalTime {
  int64_t epoch_s = 0;         // seconds since 1970-01-01 00:00 local
  uint8_t weekday = 0;         // 0 = Sunday ... 6 = Saturday (Matter DaysMask bit)
  uint16_t minute_of_day = 0;  // 0..1439
};

LocalTime ToLocalTime(int64_t utc_s, int32_t utc_offset_s);

// Civil date of a day count since 1970-01-01 (proleptic Gregorian).
struct CivilDate {
  int32_t year;
  uint8_t month;  // 1..12
  uint8_t day;    // 1..31
};
CivilDate CivilFromDays(int64_t days);
int64_t DaysFromCivil(int32_t year, uint8_t month, uint8_t day);

// Daylight saving as a rule the lock applies by itself, offline, every year
// (POSIX TZ's "Mm.w.d/time" form): a transition falls on weekday `weekday`
// (0 = Sunday) of week `week` (1..4, 5 = the last) of month `month`, at
// `minute` minutes after local midnight in the offset in force before it
// ("M3.5.0/2" = the last Sunday of March at 02:00).
struct DstTransition {
  uint8_t month = 0;  // 0: none
  uint8_t week = 0;
  uint8_t weekday = 0;
  uint16_t minute = 0;  // 0..1439
};
// The attribute form (DstStart, DstEnd): month * 10^6 + week * 10^5 +
// weekday * 10^4 + minute, 0 for none (3500120: M3.5.0 at 02:00). Unpack
// returns false for a value that names no transition.
int64_t PackDstTransition(const DstTransition& t);
bool UnpackDstTransition(int64_t value, DstTransition& out);
// `save_s` seconds (the DstOffset attribute; 0: no daylight saving) are
// added to the standard offset from `start` to `end`; `start` after `end`
// in the year is a southern-hemisphere rule (saving over the new year).
struct DstRule {
  int32_t save_s = 0;
  DstTransition start;
  DstTransition end;
};
// The lock's offset from UTC at `utc_s`: `std_offset_s`, plus `rule.save_s`
// while daylight saving is in force.
int32_t UtcOffsetAt(int64_t utc_s, int32_t std_offset_s, const DstRule& rule);

// A week-day schedule covers [start, end) on each day in its mask; an end of
// 23:59 covers the day's last minute too, so a schedule can reach midnight.
bool WeekDayScheduleCovers(const WeekDaySchedule& s, const LocalTime& t);
// A year-day schedule covers [local_start, local_end).
bool YearDayScheduleCovers(const YearDaySchedule& s, const LocalTime& t);

enum class ScheduleVerdict : uint8_t {
  kAllowed,
  kOutsideSchedule,
  kTimeUnknown,  // the user is time-limited and the lock does not know the time
};

// Whether `u` may use a credential now. Schedules always restrict, whatever
// the user type: a week-day (year-day) schedule that exists must cover now.
// Week-day, year-day and schedule-restricted users additionally need at
// least one schedule of their kind (none: no access — fail closed).
ScheduleVerdict CheckSchedules(const User& u, const std::optional<LocalTime>& now);

// The operating mode a holiday schedule imposes now, if one covers now.
std::optional<OperatingMode> HolidayMode(const UserDatabase& db, const std::optional<LocalTime>& now);

}  // namespace mortise::core
