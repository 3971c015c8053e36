// Civil time and schedule edges: midnight, week boundaries, leap days, offsets.
#include "test_util.h"

namespace mortise::core::testing {
namespace {

int64_t Utc(int y, int m, int d, int hh = 0, int mm = 0) {
  return DaysFromCivil(y, uint8_t(m), uint8_t(d)) * 86400 + hh * 3600 + mm * 60;
}

TEST(CivilTime, DaysRoundTripAcrossCenturiesAndLeapDays) {
  for (int64_t days = -800000; days <= 800000; days += 97) {
    CivilDate c = CivilFromDays(days);
    EXPECT_EQ(DaysFromCivil(c.year, c.month, c.day), days);
  }
  EXPECT_EQ(DaysFromCivil(1970, 1, 1), 0);
  EXPECT_EQ(DaysFromCivil(2000, 3, 1) - DaysFromCivil(2000, 2, 28), 2);  // 2000 is a leap year
  EXPECT_EQ(DaysFromCivil(2100, 3, 1) - DaysFromCivil(2100, 2, 28), 1);  // 2100 is not
  CivilDate leap = CivilFromDays(DaysFromCivil(2028, 2, 29));
  EXPECT_EQ(leap.month, 2);
  EXPECT_EQ(leap.day, 29);
}

TEST(CivilTime, WeekdaysOfKnownDates) {
  EXPECT_EQ(ToLocalTime(Utc(1970, 1, 1), 0).weekday, 4);   // Thursday
  EXPECT_EQ(ToLocalTime(Utc(2026, 11, 21), 0).weekday, 6); // Saturday
  EXPECT_EQ(ToLocalTime(Utc(2026, 11, 22), 0).weekday, 0); // Sunday
  EXPECT_EQ(ToLocalTime(Utc(2028, 2, 29), 0).weekday, 2);  // Tuesday
}

TEST(CivilTime, UtcOffsetMovesTheLocalDay) {
  // Monday 23:30 UTC is Tuesday 00:30 at UTC+1 and Monday 18:30 at UTC-5.
  const int64_t t = Utc(2026, 11, 23, 23, 30);
  EXPECT_EQ(ToLocalTime(t, 3600).weekday, 2);
  EXPECT_EQ(ToLocalTime(t, 3600).minute_of_day, 30);
  EXPECT_EQ(ToLocalTime(t, -5 * 3600).weekday, 1);
  EXPECT_EQ(ToLocalTime(t, -5 * 3600).minute_of_day, 18 * 60 + 30);
  EXPECT_EQ(ToLocalTime(-1, 0).weekday, 3);  // 1969-12-31, Wednesday
}

TEST(WeekDaySchedule, StartInclusiveEndExclusive) {
  WeekDaySchedule s{kTuesday, 7, 0, 19, 0};
  EXPECT_FALSE(WeekDayScheduleCovers(s, ToLocalTime(Utc(2026, 11, 24, 6, 59), 0)));
  EXPECT_TRUE(WeekDayScheduleCovers(s, ToLocalTime(Utc(2026, 11, 24, 7, 0), 0)));
  EXPECT_TRUE(WeekDayScheduleCovers(s, ToLocalTime(Utc(2026, 11, 24, 18, 59), 0)));
  EXPECT_FALSE(WeekDayScheduleCovers(s, ToLocalTime(Utc(2026, 11, 24, 19, 0), 0)));
  EXPECT_FALSE(WeekDayScheduleCovers(s, ToLocalTime(Utc(2026, 11, 25, 8, 0), 0)));  // Wednesday
}

TEST(WeekDaySchedule, EndOf2359ReachesMidnightAndNoFurther) {
  WeekDaySchedule sat{kSaturday, 20, 0, 23, 59};
  EXPECT_TRUE(WeekDayScheduleCovers(sat, ToLocalTime(Utc(2026, 11, 28, 23, 59) + 59, 0)));
  // Saturday -> Sunday: the week boundary closes the window.
  EXPECT_FALSE(WeekDayScheduleCovers(sat, ToLocalTime(Utc(2026, 11, 29, 0, 0), 0)));
  WeekDaySchedule sun{kSunday, 0, 0, 1, 0};
  EXPECT_TRUE(WeekDayScheduleCovers(sun, ToLocalTime(Utc(2026, 11, 29, 0, 0), 0)));
  EXPECT_FALSE(WeekDayScheduleCovers(sun, ToLocalTime(Utc(2026, 11, 28, 23, 59), 0)));
}

TEST(YearDaySchedule, CoversALeapDay) {
  YearDaySchedule s{uint32_t(Utc(2028, 2, 29)), uint32_t(Utc(2028, 3, 1))};
  EXPECT_FALSE(YearDayScheduleCovers(s, ToLocalTime(Utc(2028, 2, 28, 23, 59), 0)));
  EXPECT_TRUE(YearDayScheduleCovers(s, ToLocalTime(Utc(2028, 2, 29, 12, 0), 0)));
  EXPECT_FALSE(YearDayScheduleCovers(s, ToLocalTime(Utc(2028, 3, 1), 0)));
  // Local time: at UTC+2, 2028-02-28 22:30 UTC is already the 29th locally.
  EXPECT_TRUE(YearDayScheduleCovers(s, ToLocalTime(Utc(2028, 2, 28, 22, 30), 2 * 3600)));
}

TEST(CheckSchedules, TypeRulesAndFailClosedWithoutTime) {
  const auto now = ToLocalTime(Utc(2026, 11, 24, 8, 0), 0);
  User u;
  u.status = UserStatus::kOccupiedEnabled;
  u.type = UserType::kUnrestrictedUser;
  EXPECT_EQ(CheckSchedules(u, std::nullopt), ScheduleVerdict::kAllowed);
  u.type = UserType::kWeekDayScheduleUser;
  EXPECT_EQ(CheckSchedules(u, now), ScheduleVerdict::kOutsideSchedule);  // no schedule: no access
  u.week_day[0] = WeekDaySchedule{kTuesday, 7, 0, 19, 0};
  EXPECT_EQ(CheckSchedules(u, now), ScheduleVerdict::kAllowed);
  EXPECT_EQ(CheckSchedules(u, std::nullopt), ScheduleVerdict::kTimeUnknown);
  u.type = UserType::kYearDayScheduleUser;
  EXPECT_EQ(CheckSchedules(u, now), ScheduleVerdict::kOutsideSchedule);
  u.year_day[0] = YearDaySchedule{uint32_t(Utc(2026, 11, 20)), uint32_t(Utc(2026, 11, 30))};
  EXPECT_EQ(CheckSchedules(u, now), ScheduleVerdict::kAllowed);
  u.year_day[0] = YearDaySchedule{uint32_t(Utc(2026, 12, 1)), uint32_t(Utc(2026, 12, 30))};
  EXPECT_EQ(CheckSchedules(u, now), ScheduleVerdict::kOutsideSchedule);
  User r;
  r.status = UserStatus::kOccupiedEnabled;
  r.type = UserType::kScheduleRestrictedUser;
  EXPECT_EQ(CheckSchedules(r, now), ScheduleVerdict::kOutsideSchedule);
  // Schedules restrict any user type that carries them.
  User e;
  e.status = UserStatus::kOccupiedEnabled;
  e.type = UserType::kDisposableUser;
  e.week_day[1] = WeekDaySchedule{kMonday, 7, 0, 19, 0};
  EXPECT_EQ(CheckSchedules(e, now), ScheduleVerdict::kOutsideSchedule);
}

}  // namespace
}  // namespace mortise::core::testing
