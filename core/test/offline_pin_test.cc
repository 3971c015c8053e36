// Offline PIN codes: issuing and verifying each kind, their time rules, the
// lock's memory of used codes, erase-all, and the guessing bound.
#include <cmath>
#include <random>
#include <set>

#include "test_util.h"

namespace mortise::core::testing {
namespace {

std::array<uint8_t, 32> Secret(uint8_t fill) {
  std::array<uint8_t, 32> s;
  s.fill(fill);
  return s;
}

const int64_t kT0 = DaysFromCivil(2026, 11, 24) * 86400 + 10 * 3600;  // Tuesday 10:00 UTC
const uint32_t kH0 = static_cast<uint32_t>(kT0 / 3600);

class OfflineCodec : public ::testing::Test {
 protected:
  OfflineCodec() : codec_(Secret(7)) {}
  OfflinePinCodec::Verdict Check(const std::string& code, int64_t utc, int32_t offset = 0) {
    auto v = codec_.Check(Bytes(code), utc, offset, table_, erased_);
    if (v.outcome == OfflinePinCodec::Outcome::kGrant && v.store) table_[v.slot] = v.entry;
    if (v.outcome == OfflinePinCodec::Outcome::kErase) {
      erased_ = v.erase_through_hour;
      for (auto& e : table_)
        if (OfflinePinCodec::StartHourUtc(e, offset) <= int64_t(erased_)) e = OfflineEntry();
    }
    return v;
  }
  std::string OneTime(uint32_t h, uint8_t seq) {
    char out[13];
    EXPECT_TRUE(codec_.OneTime(h, seq, out).ok());
    return std::string(out, 13);
  }
  std::string Window(uint32_t h, uint32_t hours) {
    char out[16];
    EXPECT_TRUE(codec_.Window(h, hours, out).ok());
    return std::string(out, 16);
  }
  std::string Recurring(uint32_t day, uint8_t s, uint8_t e, uint8_t weeks) {
    char out[16];
    EXPECT_TRUE(codec_.Recurring(day, s, e, weeks, out).ok());
    return std::string(out, 16);
  }
  std::string Erase(uint32_t h) {
    char out[13];
    EXPECT_TRUE(codec_.EraseAll(h, out).ok());
    return std::string(out, 13);
  }

  OfflinePinCodec codec_;
  std::array<OfflineEntry, kOfflineTableSize> table_{};
  uint32_t erased_ = 0;
};

using Outcome = OfflinePinCodec::Outcome;

// Issue 12: erase-all counted a recurring code's first local day in
// standard time, so in summer a code starting at local midnight was judged
// to start an hour after it and survived an erase-all through that hour.
TEST_F(OfflineCodec, EraseAllJudgesARecurringCodesStartInSummerTime) {
  DstRule berlin;
  berlin.save_s = 3600;
  berlin.start = DstTransition{3, 5, 0, 120};
  berlin.end = DstTransition{10, 5, 0, 180};
  const uint32_t july = static_cast<uint32_t>(DaysFromCivil(2026, 7, 7));
  const uint32_t january = static_cast<uint32_t>(DaysFromCivil(2026, 1, 13));
  OfflineEntry e;
  e.kind = OfflineCodeKind::kRecurring;
  e.from = july;
  EXPECT_EQ(OfflinePinCodec::StartHourUtc(e, 3600, berlin), int64_t(july) * 24 - 2);  // 00:00 CEST = 22:00Z
  e.from = january;
  EXPECT_EQ(OfflinePinCodec::StartHourUtc(e, 3600, berlin), int64_t(january) * 24 - 1);  // 00:00 CET = 23:00Z
  // Erased through the hour of its local midnight: refused at first use.
  const uint32_t through = july * 24 - 2;
  const std::string code = Recurring(july, 8, 18, 4);
  const int64_t at_ten = int64_t(july) * 86400 + 8 * 3600;  // 10:00 CEST
  auto verdict = [&](uint32_t erased) {
    return codec_.Check(Bytes(code), at_ten, 3600, table_, erased, berlin).outcome;
  };
  EXPECT_EQ(verdict(through - 1), Outcome::kGrant);
  EXPECT_NE(verdict(through), Outcome::kGrant);
}

TEST_F(OfflineCodec, OneTimeCodeOpensOnceWithinItsSixHours) {
  const std::string code = OneTime(kH0, 0);
  EXPECT_EQ(code.size(), 13u);
  EXPECT_EQ(Check(code, kT0 - 1).outcome, Outcome::kInvalid);   // before its start hour
  EXPECT_EQ(Check(code, kT0 + 5 * 3600).outcome, Outcome::kGrant);
  EXPECT_EQ(Check(code, kT0 + 5 * 3600 + 60).outcome, Outcome::kAlreadyUsed);
  const std::string late = OneTime(kH0, 1);
  EXPECT_EQ(Check(late, kT0 + 6 * 3600).outcome, Outcome::kInvalid);  // six hours have passed
  // Four distinct codes per start hour.
  std::set<std::string> codes;
  for (uint8_t s = 0; s < kOneTimeCodesPerHour; ++s) codes.insert(OneTime(kH0, s));
  EXPECT_EQ(codes.size(), 4u);
  char out[13];
  EXPECT_EQ(codec_.OneTime(kH0, 4, out).code(), StatusCode::kInvalidArgument);
}

TEST_F(OfflineCodec, WindowCodeActivatesWithinADayAndLastsItsHours) {
  const std::string week = Window(kH0, 7 * 24);
  EXPECT_EQ(Check(week, kT0 - 3600).outcome, Outcome::kInvalid);  // not yet: it reads as a wrong code
  EXPECT_EQ(Check(week, kT0 + 2 * 3600).outcome, Outcome::kGrant);
  // Activated: it keeps working after its first day, until its end.
  EXPECT_EQ(Check(week, kT0 + 6 * 24 * 3600).outcome, Outcome::kGrant);
  EXPECT_EQ(Check(week, kT0 + 7 * 24 * 3600).outcome, Outcome::kNotNow);
  // Never used in its first day: too late to activate.
  const std::string unused = Window(kH0, 100);
  EXPECT_EQ(Check(unused, kT0 + 25 * 3600).outcome, Outcome::kNotNow);
  // Hourly granularity up to a year.
  const std::string year = Window(kH0 + 3, kMaxWindowHours);
  EXPECT_EQ(Check(year, kT0 + 3 * 3600).outcome, Outcome::kGrant);
  EXPECT_EQ(Check(year, kT0 + (3 + 8759) * 3600LL).outcome, Outcome::kGrant);
  EXPECT_EQ(Check(year, kT0 + (3 + 8760) * 3600LL).outcome, Outcome::kNotNow);
  char out[16];
  EXPECT_EQ(codec_.Window(kH0, kMaxWindowHours + 1, out).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(codec_.Window(kH0, 0, out).code(), StatusCode::kInvalidArgument);
}

TEST_F(OfflineCodec, RecurringCodeOpensDailyBetweenItsHoursInLocalTime) {
  const uint32_t day = static_cast<uint32_t>((kT0 + 3600) / 86400);  // local day at UTC+1
  const std::string cleaner = Recurring(day, 9, 12, 2);
  const int64_t day_start_utc = int64_t(day) * 86400 - 3600;  // local midnight at UTC+1
  EXPECT_EQ(Check(cleaner, day_start_utc + 8 * 3600, 3600).outcome, Outcome::kNotNow);
  EXPECT_EQ(Check(cleaner, day_start_utc + 9 * 3600, 3600).outcome, Outcome::kGrant);
  EXPECT_EQ(Check(cleaner, day_start_utc + 12 * 3600, 3600).outcome, Outcome::kNotNow);
  EXPECT_EQ(Check(cleaner, day_start_utc + 13 * 86400 + 10 * 3600, 3600).outcome, Outcome::kGrant);
  EXPECT_EQ(Check(cleaner, day_start_utc + 14 * 86400 + 10 * 3600, 3600).outcome, Outcome::kNotNow);
  char out[16];
  EXPECT_EQ(codec_.Recurring(day, 12, 9, 1, out).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(codec_.Recurring(day, 9, 12, 54, out).code(), StatusCode::kInvalidArgument);
}

TEST_F(OfflineCodec, EraseAllVoidsEarlierCodesOnceAndOnlyOnce) {
  const std::string week = Window(kH0, 7 * 24);
  ASSERT_EQ(Check(week, kT0 + 60).outcome, Outcome::kGrant);
  const std::string one = OneTime(kH0, 2);
  const std::string erase = Erase(kH0 + 1);
  EXPECT_EQ(Check(erase, kT0 + 3600 + 60).outcome, Outcome::kErase);
  EXPECT_EQ(Check(week, kT0 + 2 * 3600).outcome, Outcome::kInvalid);  // erased: a wrong code now
  EXPECT_EQ(Check(one, kT0 + 2 * 3600).outcome, Outcome::kInvalid);
  EXPECT_EQ(Check(erase, kT0 + 3 * 3600).outcome, Outcome::kInvalid);  // a replayed erase does nothing
  // A code that starts after the erase works.
  EXPECT_EQ(Check(OneTime(kH0 + 2, 0), kT0 + 2 * 3600 + 60).outcome, Outcome::kGrant);
}

TEST_F(OfflineCodec, CodesOfAnotherLockAreWrongCodes) {
  OfflinePinCodec other(Secret(8));
  char out[16];
  ASSERT_TRUE(other.Window(kH0, 48, out).ok());
  EXPECT_EQ(Check(std::string(out, 16), kT0 + 60).outcome, Outcome::kInvalid);
  char one[13];
  ASSERT_TRUE(other.OneTime(kH0, 0, one).ok());
  EXPECT_EQ(Check(std::string(one, 13), kT0 + 60).outcome, Outcome::kInvalid);
}

TEST_F(OfflineCodec, MalformedEntriesAreWrongCodes) {
  EXPECT_EQ(Check("12345678901a3", kT0).outcome, Outcome::kInvalid);
  EXPECT_EQ(Check("12345678901234", kT0).outcome, Outcome::kInvalid);  // 14 digits
  EXPECT_EQ(Check("9999999999999999", kT0).outcome, Outcome::kInvalid);  // beyond the MAC space
  EXPECT_EQ(Check("", kT0).outcome, Outcome::kInvalid);
}

TEST_F(OfflineCodec, RandomGuessesAreRefused) {
  std::mt19937_64 rng(99);
  int granted = 0;
  for (int i = 0; i < 100000; ++i) {
    const bool long_code = i % 2;
    const uint64_t space = long_code ? 10'000'000'000'000'000ull : 10'000'000'000'000ull;
    std::string s = std::to_string(rng() % space);
    s.insert(0, (long_code ? 16 : 13) - s.size(), '0');
    granted += Check(s, kT0).outcome == Outcome::kGrant;
  }
  EXPECT_EQ(granted, 0);
}

TEST(OfflinePinBound, GuessingIsBelowOneInAMillionPerYearWhateverTheSettings) {
  // The most offline guesses any strategy gets in a year (backoff.h; the
  // worst case over strategies is searched in guessing_test.cc).
  const double g = double(kOfflineBackoff.GuessBound(31'557'600));
  // Per guess, the best an attacker can do: a 16-digit entry decodes to one
  // parameter set and must carry the right 32.15-bit MAC -- or equal one of
  // the up to 16 activated codes that share those parameters, each its own
  // 32.15-bit value; a 13-digit one-time entry is checked against 6 start
  // hours with a 40.2-bit MAC.
  const double p16 = (1.0 + kOfflineTableSize) / 4768371582.0;
  const double p13 = 6.0 / 1250000000000.0;
  const double per_year = g * std::max(p16, p13);
  std::printf("offline guesses/year %.0f, p16 %.3g, p13 %.3g, P(open in a year) %.3g\n", g, p16, p13, per_year);
  EXPECT_LT(per_year, 1e-6);
  // The wrong-code lockout alone, with its defaults, would allow more guesses.
  EXPECT_GT(double(BackoffPolicy().GuessBound(31'557'600)), g);
}

// --- On the lock ---------------------------------------------------------------------

class OfflineOnLock : public LockTest {
 protected:
  void SetUp() override {
    LockTest::SetUp();
    ASSERT_TRUE(lock().SetOfflinePinSecret(Secret(3)).ok());
    codec_.SetSecret(Secret(3));
    EnsureLocked();
  }
  uint32_t NowHour() { return static_cast<uint32_t>(*lock().utc_now() / 3600); }
  OfflinePinCodec codec_;
};

TEST_F(OfflineOnLock, AOneTimeCodeOpensOnceEvenAcrossARestart) {
  char code[13];
  ASSERT_TRUE(codec_.OneTime(NowHour(), 0, code).ok());
  const std::string s(code, 13);
  Type(s);
  EXPECT_TRUE(Open());
  EXPECT_EQ(Last(EventKind::kLockOperation)->detail, EventDetail::kOfflinePin);
  EnsureLocked();
  Type(s);
  EXPECT_TRUE(Locked());
  sim::SimLock rebooted(&sim_.store(), 40);
  ASSERT_TRUE(rebooted.Start().ok());
  ASSERT_TRUE(rebooted.lock().SetUtcTime(*lock().utc_now() + 60, false).ok());
  rebooted.keypad().Type(s);
  rebooted.Run(1500);
  EXPECT_EQ(rebooted.lock().bolt_state(), BoltState::kLocked);
}

TEST_F(OfflineOnLock, A15_WrongOfflineCodesCountTowardsTheLockout) {
  for (int i = 0; i < 3; ++i) Type("1234567890123456", 100);
  EXPECT_EQ(lock().offline_blocked_s(), kOfflineLockoutBaseS);  // the offline budget closes first
  EXPECT_FALSE(lock().locked_out());
  for (int i = 0; i < 2; ++i) Type("1234567890123456", 100);
  EXPECT_TRUE(lock().locked_out());  // and every attempt still feeds the wrong-code lockout
}

TEST_F(OfflineOnLock, A15_AValidCodeNeverRefundsFailedGuesses) {
  // A guest holding a real code interleaves it with guesses at forging
  // another: the offline budget is not reset by the successes.
  char code[16];
  ASSERT_TRUE(codec_.Window(NowHour(), 72, code).ok());
  const std::string mine(code, 16);
  for (int round = 0; round < 3; ++round) {
    Type("1234567890123456", 100);
    Type(mine);
    EnsureLocked();
  }
  EXPECT_GT(lock().offline_blocked_s(), 0u);
  EXPECT_LE(lock().offline_blocked_s(), kOfflineLockoutBaseS);
  Type(mine);
  EXPECT_TRUE(Locked());  // offline entry closed for everyone for a minute
  sim_.Run(61000);
  Type(mine);
  EXPECT_TRUE(Open());
}

TEST_F(OfflineOnLock, A15_MovingTheClockForwardDoesNotDrainTheOfflineFailureScore) {
  // A holder of the set-time right (an installer) moves the clock two leak
  // periods ahead between guesses: the score leaks with real time only.
  ASSERT_TRUE(lock().WriteAttribute(AttributeId::kWrongCodeEntryLimit, 10).ok());
  const int64_t leak_s = static_cast<int64_t>(kOfflineBackoff.LeakPeriodMs() / 1000);
  for (int i = 0; i < 2; ++i) Type("1234567890123456", 100);
  ASSERT_EQ(lock().offline_blocked_s(), 0u);
  ASSERT_TRUE(lock().SetUtcTime(*lock().utc_now() + 2 * leak_s, false).ok());
  Type("1234567890123456", 100);
  EXPECT_EQ(lock().offline_blocked_s(), kOfflineLockoutBaseS);  // the third failure still closes
  // Nor does it end a closing early.
  ASSERT_TRUE(lock().SetUtcTime(*lock().utc_now() + 3600, false).ok());
  EXPECT_GT(lock().offline_blocked_s(), 0u);
  char code[16];
  ASSERT_TRUE(codec_.Window(NowHour(), 72, code).ok());
  Type(std::string(code, 16));
  EXPECT_TRUE(Locked());
  // Real time still leaks it: after the closing and three leak periods of
  // the lock's running, two more failures close nothing.
  sim_.Run(61000 + 3 * kOfflineBackoff.LeakPeriodMs(), 60000);
  ASSERT_TRUE(lock().SetUtcTime(*lock().utc_now() + 1, false).ok());
  for (int i = 0; i < 2; ++i) Type("1234567890123456", 100);
  EXPECT_EQ(lock().offline_blocked_s(), 0u);
}

TEST_F(OfflineOnLock, TheOfflineBackOffDoublesAndSurvivesRestarts) {
  AddPinUser("135792");
  // Room in the wrong-code lockout for six failures: this test watches the offline budget.
  ASSERT_TRUE(lock().WriteAttribute(AttributeId::kWrongCodeEntryLimit, 10).ok());
  for (int i = 0; i < 3; ++i) Type("1234567890123456", 100);
  sim_.Run(61000);
  Type("135792");  // a valid PIN refunds nothing of either budget
  EnsureLocked();
  for (int i = 0; i < 3; ++i) Type("1234567890123456", 100);
  EXPECT_EQ(lock().offline_blocked_s(), 2 * kOfflineLockoutBaseS);
  sim::SimLock rebooted(&sim_.store(), 43);
  ASSERT_TRUE(rebooted.Start().ok());
  ASSERT_TRUE(rebooted.lock().SetUtcTime(*lock().utc_now(), false).ok());
  EXPECT_GE(rebooted.lock().offline_blocked_s(), 2 * kOfflineLockoutBaseS - 2);
}

TEST_F(OfflineOnLock, EraseAllIsAtomicWithItsVoidedActivations) {
  char week[16];
  ASSERT_TRUE(codec_.Window(NowHour(), 7 * 24, week).ok());
  Type(std::string(week, 16));
  ASSERT_TRUE(Open());
  EnsureLocked();
  char erase[13];
  ASSERT_TRUE(codec_.EraseAll(NowHour(), erase).ok());
  // The store refuses the erase (a power cut): nothing changes, the code works.
  auto& store = *dynamic_cast<sim::MemoryStore*>(&sim_.store());
  store.set_fail_record_writes(true);
  Type(std::string(erase, 13));
  store.set_fail_record_writes(false);
  Type(std::string(week, 16));
  EXPECT_TRUE(Open());
  EnsureLocked();
  // Retried: accepted, and the week code is dead, also after a restart.
  Type(std::string(erase, 13));
  Type(std::string(week, 16));
  EXPECT_TRUE(Locked());
  sim::SimLock rebooted(&sim_.store(), 44);
  ASSERT_TRUE(rebooted.Start().ok());
  ASSERT_TRUE(rebooted.lock().SetUtcTime(*lock().utc_now(), false).ok());
  rebooted.keypad().Type(std::string(week, 16));
  rebooted.Run(1500);
  EXPECT_EQ(rebooted.lock().bolt_state(), BoltState::kLocked);
}

TEST_F(OfflineOnLock, EraseAllVoidsRecurringCodesInTheLocalZone) {
  // At UTC+10 a recurring code for today started at local midnight, 14:00 UTC
  // yesterday: an erase issued now must void it.
  ASSERT_TRUE(lock().WriteAttribute(AttributeId::kUtcOffset, 10 * 3600).ok());
  const int64_t utc = *lock().utc_now();
  const uint32_t today = static_cast<uint32_t>((utc + 10 * 3600) / 86400);
  char rec[16];
  ASSERT_TRUE(codec_.Recurring(today, 0, 24, 1, rec).ok());
  char erase[13];
  ASSERT_TRUE(codec_.EraseAll(NowHour(), erase).ok());
  Type(std::string(erase, 13));
  Type(std::string(rec, 16));
  EXPECT_TRUE(Locked());
}

TEST_F(OfflineOnLock, FactoryResetStopsTheOldOwnersCodes) {
  char code[13];
  ASSERT_TRUE(codec_.OneTime(NowHour(), 1, code).ok());
  sim_.manual().Push(ManualInput::kFactoryResetButton);
  sim_.Run(50);
  EXPECT_FALSE(lock().offline_pins_enabled());
  Type(std::string(code, 13));
  EXPECT_TRUE(Locked());
}

TEST_F(OfflineOnLock, ReinstallingTheSameSecretKeepsUsedCodesUsed) {
  char code[13];
  ASSERT_TRUE(codec_.OneTime(NowHour(), 2, code).ok());
  Type(std::string(code, 13));
  ASSERT_TRUE(Open());
  EnsureLocked();
  ASSERT_TRUE(lock().SetOfflinePinSecret(Secret(3)).ok());
  Type(std::string(code, 13));
  EXPECT_TRUE(Locked());
}

TEST_F(OfflineOnLock, ARefusedOpeningDoesNotSpendAOneTimeCode) {
  char code[13];
  ASSERT_TRUE(codec_.OneTime(NowHour(), 3, code).ok());
  const std::string s(code, 13);
  ASSERT_TRUE(lock().WriteAttribute(AttributeId::kOperatingMode, int64_t(OperatingMode::kVacation)).ok());
  Type(s);
  EXPECT_TRUE(Locked());
  ASSERT_TRUE(lock().WriteAttribute(AttributeId::kOperatingMode, int64_t(OperatingMode::kNormal)).ok());
  sim_.mechanics().set_battery_percent(2);
  sim_.Run(100);
  Type(s);
  EXPECT_TRUE(Locked());
  sim_.mechanics().set_battery_percent(90);
  sim_.Run(100);
  Type(s);
  EXPECT_TRUE(Open());  // still unspent
}

TEST_F(OfflineOnLock, AFullTableRefusesNewCodesButNeverForgetsALiveOne) {
  // 16 one-time codes spent this hour fill the table (4 a start hour, over 4
  // start hours); a 17th code is refused rather than evicting a spent one.
  uint32_t h = NowHour();
  int opened = 0;
  for (uint32_t back = 0; back < 4; ++back)
    for (uint8_t seq = 0; seq < kOneTimeCodesPerHour; ++seq) {
      char code[13];
      ASSERT_TRUE(codec_.OneTime(h - back, seq, code).ok());
      Type(std::string(code, 13));
      opened += Open();
      EnsureLocked();
    }
  EXPECT_EQ(opened, 16);
  char extra[13];
  ASSERT_TRUE(codec_.OneTime(h - 4, 0, extra).ok());
  Type(std::string(extra, 13));
  EXPECT_TRUE(Locked());
  EXPECT_EQ(Last(EventKind::kLockOperationError)->error, OperationError::kRestricted);
}

TEST_F(OfflineOnLock, AnOpeningNamesTheCodesTableSlot) {
  char code[16];
  ASSERT_TRUE(codec_.Window(NowHour(), 10, code).ok());
  Type(std::string(code, 16));
  ASSERT_TRUE(Open());
  auto* e = Last(EventKind::kLockOperation);
  ASSERT_TRUE(e->has_credential);
  EXPECT_GE(e->credential.index, 1);
  EXPECT_LE(e->credential.index, kOfflineTableSize);
}

TEST_F(OfflineOnLock, CodesFailClosedWhileTheTimeIsUnknown) {
  char code[16];
  ASSERT_TRUE(codec_.Window(NowHour(), 48, code).ok());
  sim::SimLock rebooted(&sim_.store(), 41);
  ASSERT_TRUE(rebooted.Start().ok());
  rebooted.keypad().Type(std::string(code, 16));
  rebooted.Run(1500);
  EXPECT_EQ(rebooted.lock().bolt_state(), BoltState::kLocked);
}

TEST_F(OfflineOnLock, AnActivatedWindowSurvivesARestart) {
  char code[16];
  ASSERT_TRUE(codec_.Window(NowHour(), 72, code).ok());
  const std::string s(code, 16);
  Type(s);
  EXPECT_TRUE(Open());
  const int64_t later = *lock().utc_now() + 30 * 3600;  // past the activation day
  sim::SimLock rebooted(&sim_.store(), 42);
  ASSERT_TRUE(rebooted.Start().ok());
  ASSERT_TRUE(rebooted.lock().SetUtcTime(later, false).ok());
  rebooted.keypad().Type(s);
  rebooted.Run(1500);
  EXPECT_EQ(rebooted.lock().bolt_state(), BoltState::kUnlocked);
}

TEST_F(OfflineOnLock, EraseAllIsLoggedAndOpensNothing) {
  char code[13];
  ASSERT_TRUE(codec_.EraseAll(NowHour(), code).ok());
  Type(std::string(code, 13));
  EXPECT_TRUE(Locked());
  auto* e = Last(EventKind::kLockUserChange);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->data_operation, DataOperationType::kClear);
  EXPECT_EQ(e->detail, EventDetail::kOfflinePin);
}

TEST_F(OfflineOnLock, WithoutASecretLongEntriesAreOrdinaryWrongCodes) {
  sim::SimLock fresh;
  ASSERT_TRUE(fresh.Start().ok());
  ASSERT_TRUE(fresh.lock().SetUtcTime(*lock().utc_now(), false).ok());
  char code[13];
  ASSERT_TRUE(codec_.OneTime(NowHour(), 0, code).ok());
  fresh.keypad().Type(std::string(code, 13));
  fresh.Run(1500);
  EXPECT_EQ(fresh.lock().bolt_state(), BoltState::kLocked);
}

}  // namespace
}  // namespace mortise::core::testing
