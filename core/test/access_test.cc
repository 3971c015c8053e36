// The access decision: user types, credential rules, modes, lockout.
#include "test_util.h"

namespace mortise::core::testing {
namespace {

class AccessTest : public LockTest {
 protected:
  void SetUp() override {
    LockTest::SetUp();
    EnsureLocked();
  }
  OperationError LastError() {
    auto* e = Last(EventKind::kLockOperationError);
    return e ? e->error : OperationError::kUnspecified;
  }
  EventDetail LastErrorDetail() {
    auto* e = Last(EventKind::kLockOperationError);
    return e ? e->detail : EventDetail::kNone;
  }
  void SetType(uint16_t user, UserType t) {
    SetUserRequest r;
    r.operation = DataOperationType::kModify;
    r.user_index = user;
    r.user_type = t;
    ASSERT_EQ(db().SetUser(r, Actor{}), DlStatus::kSuccess);
  }
  void SetRule(uint16_t user, CredentialRule rule) {
    SetUserRequest r;
    r.operation = DataOperationType::kModify;
    r.user_index = user;
    r.credential_rule = rule;
    ASSERT_EQ(db().SetUser(r, Actor{}), DlStatus::kSuccess);
  }
  RemoteOperation Remote(std::optional<std::string> pin = std::nullopt,
                         OperationSource source = OperationSource::kRemote) {
    RemoteOperation op;
    op.source = source;
    if (pin) {
      pin_bytes_ = Bytes(*pin);
      op.pin = std::span<const uint8_t>(pin_bytes_);
    }
    return op;
  }
  std::vector<uint8_t> pin_bytes_;
};

TEST_F(AccessTest, ValidPinOpensAndNamesTheUserAndCredential) {
  const uint16_t u = AddPinUser("123456");
  Type("123456");
  EXPECT_TRUE(Open());
  auto* e = Last(EventKind::kLockOperation);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->source, OperationSource::kKeypad);
  EXPECT_EQ(e->user_index, u);
  EXPECT_TRUE(e->has_credential);
  EXPECT_EQ(e->credential.type, CredentialType::kPin);
  EXPECT_EQ(sim_.indicator().signals.front(), Signal::kAccessGranted);
}

TEST_F(AccessTest, WrongPinIsRefusedAsInvalidCredential) {
  AddPinUser("123456");
  Type("123457");
  EXPECT_TRUE(Locked());
  EXPECT_EQ(LastError(), OperationError::kInvalidCredential);
  EXPECT_EQ(Last(EventKind::kLockOperationError)->user_index, 0);
}

TEST_F(AccessTest, OverlongKeypadEntryIsAWrongCode) {
  AddPinUser("123456");
  Type("12345612345612345");
  EXPECT_TRUE(Locked());
  EXPECT_EQ(LastError(), OperationError::kInvalidCredential);
}

TEST_F(AccessTest, CardsAndFingerprintsOpenAndAnUnknownFingerCounts) {
  const uint16_t u = AddPinUser("123456");
  ASSERT_EQ(AddCredential(u, CredentialType::kRfid, 1, {0xDE, 0xAD, 0xBE, 0xEF}), DlStatus::kSuccess);
  ASSERT_EQ(AddCredential(u, CredentialType::kFingerprint, 1, {0x07}), DlStatus::kSuccess);
  sim_.cards().Tap({0xDE, 0xAD, 0xBE, 0xEF});
  sim_.Run(1500);
  EXPECT_TRUE(Open());
  EXPECT_EQ(Last(EventKind::kLockOperation)->source, OperationSource::kRfid);
  Relock();
  sim_.biometrics().Match({0x07});
  sim_.Run(1500);
  EXPECT_TRUE(Open());
  EXPECT_EQ(Last(EventKind::kLockOperation)->source, OperationSource::kBiometric);
  Relock();
  sim_.biometrics().NoMatch();
  sim_.Run(200);
  EXPECT_TRUE(Locked());
  EXPECT_EQ(LastError(), OperationError::kInvalidCredential);
}

TEST_F(AccessTest, DisabledUserIsDenied) {
  const uint16_t u = AddPinUser("123456");
  SetUserRequest r;
  r.operation = DataOperationType::kModify;
  r.user_index = u;
  r.user_status = UserStatus::kOccupiedDisabled;
  ASSERT_EQ(db().SetUser(r, Actor{}), DlStatus::kSuccess);
  Type("123456");
  EXPECT_TRUE(Locked());
  EXPECT_EQ(LastError(), OperationError::kDisabledUserDenied);
}

TEST_F(AccessTest, WeekDayScheduleUserOpensOnlyInsideTheWindow) {
  const uint16_t u = AddPinUser("111111", UserType::kWeekDayScheduleUser);
  Type("111111");
  EXPECT_TRUE(Locked());  // no schedule yet: no access
  ASSERT_EQ(db().SetWeekDaySchedule(1, u, WeekDaySchedule{kMonday | kTuesday | kWednesday | kThursday | kFriday, 7, 0, 19, 0}, Actor{}),
            DlStatus::kSuccess);
  Type("111111");  // Tuesday 08:00
  EXPECT_TRUE(Open());
  Relock();
  ASSERT_TRUE(lock().SetUtcTime(kTuesdayMidnight + 20 * kHour, false).ok());
  Type("111111");
  EXPECT_TRUE(Locked());
  EXPECT_EQ(LastError(), OperationError::kRestricted);
  EXPECT_EQ(LastErrorDetail(), EventDetail::kScheduleRestricted);
}

TEST_F(AccessTest, YearDayScheduleUserOpensOnlyInsideTheDates) {
  const uint16_t u = AddPinUser("222222", UserType::kYearDayScheduleUser);
  const int64_t now = *lock().utc_now();
  ASSERT_EQ(db().SetYearDaySchedule(1, u, YearDaySchedule{uint32_t(now + 3600), uint32_t(now + 7200)}, Actor{}),
            DlStatus::kSuccess);
  Type("222222");
  EXPECT_TRUE(Locked());
  sim_.Run(3600 * 1000, 1000);
  Type("222222");
  EXPECT_TRUE(Open());
}

TEST_F(AccessTest, TimeLimitedUsersFailClosedWhileTimeIsUnknown) {
  const uint16_t u = AddPinUser("333333", UserType::kWeekDayScheduleUser);
  ASSERT_EQ(db().SetWeekDaySchedule(1, u, WeekDaySchedule{0x7F, 0, 0, 23, 59}, Actor{}), DlStatus::kSuccess);
  AddPinUser("444444");
  sim::SimLock rebooted(&sim_.store(), 8);
  ASSERT_TRUE(rebooted.Start().ok());
  rebooted.keypad().Type("333333");
  rebooted.Run(1500);
  EXPECT_EQ(rebooted.lock().bolt_state(), BoltState::kLocked);
  auto& ev = rebooted.events().events;
  auto it = std::find_if(ev.rbegin(), ev.rend(), [](const LockEvent& e) { return e.kind == EventKind::kLockOperationError; });
  ASSERT_NE(it, ev.rend());
  EXPECT_EQ(it->detail, EventDetail::kTimeUnknown);
  rebooted.keypad().Type("444444");  // an unrestricted user needs no clock
  rebooted.Run(1500);
  EXPECT_EQ(rebooted.lock().bolt_state(), BoltState::kUnlocked);
}

TEST_F(AccessTest, NonAccessUserIsRecordedButNeverOpens) {
  const uint16_t u = AddPinUser("555555", UserType::kNonAccessUser);
  Type("555555");
  EXPECT_TRUE(Locked());
  auto* e = Last(EventKind::kLockOperation);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->operation, LockOperationType::kNonAccessUserEvent);
  EXPECT_EQ(e->user_index, u);
}

TEST_F(AccessTest, ForcedUserOpensAndRaisesASilentAlarm) {
  AddPinUser("666666", UserType::kForcedUser);
  Type("666666");
  EXPECT_TRUE(Open());
  EXPECT_TRUE(HasAlarm(AlarmCode::kForcedUser));
  bool forced_event = false;
  for (const auto& e : events())
    forced_event |= e.kind == EventKind::kLockOperation && e.operation == LockOperationType::kForcedUserEvent;
  EXPECT_TRUE(forced_event);
  // Silent: the person at the door sees an ordinary grant, no alarm signal.
  for (Signal s : sim_.indicator().signals) EXPECT_NE(s, Signal::kAlarm);
}

TEST_F(AccessTest, DisposableUserOpensOnceThenIsDisabledDurably) {
  const uint16_t u = AddPinUser("777777", UserType::kDisposableUser);
  Type("777777");
  EXPECT_TRUE(Open());
  EXPECT_EQ(db().GetUser(u).user.status, UserStatus::kOccupiedDisabled);
  Relock();
  Type("777777");
  EXPECT_TRUE(Locked());
  EXPECT_EQ(LastError(), OperationError::kDisabledUserDenied);
  sim::SimLock rebooted(&sim_.store(), 8);
  ASSERT_TRUE(rebooted.Start().ok());
  EXPECT_EQ(rebooted.lock().users().GetUser(u).user.status, UserStatus::kOccupiedDisabled);
}

TEST_F(AccessTest, DisposableUserIsNotLetInWhenItsUseCannotBeRecorded) {
  AddPinUser("777778", UserType::kDisposableUser);
  auto* store = dynamic_cast<sim::MemoryStore*>(&sim_.store());
  store->set_fail_writes(true);
  Type("777778");
  store->set_fail_writes(false);
  EXPECT_TRUE(Locked());
}

TEST_F(AccessTest, ExpiringUserExpiresAfterTimeoutFromFirstUse) {
  ASSERT_TRUE(lock().WriteAttribute(AttributeId::kExpiringUserTimeout, 10).ok());
  const uint16_t u = AddPinUser("888888", UserType::kExpiringUser);
  sim_.Run(3600 * 1000, 1000);  // unused users do not expire
  const int64_t first_use = *lock().utc_now();
  Type("888888");
  EXPECT_TRUE(Open());
  const uint32_t expires = db().GetUser(u).user.expires_at_utc;
  EXPECT_GE(expires, uint32_t(first_use + 600));
  EXPECT_LE(expires, uint32_t(first_use + 602));
  Relock();
  Type("888888");
  EXPECT_TRUE(Open());
  Relock();
  sim_.Run(11 * 60 * 1000, 1000);
  EXPECT_EQ(db().GetUser(u).user.status, UserStatus::kOccupiedDisabled);  // the periodic sweep
  Type("888888");
  EXPECT_TRUE(Locked());
  EXPECT_EQ(LastError(), OperationError::kDisabledUserDenied);
}

TEST_F(AccessTest, ScheduleRestrictedUserWithoutScheduleHasNoAccess) {
  AddPinUser("999999", UserType::kScheduleRestrictedUser);
  Type("999999");
  EXPECT_TRUE(Locked());
  EXPECT_EQ(LastErrorDetail(), EventDetail::kScheduleRestricted);
}

TEST_F(AccessTest, RemoteOnlyUserPinWorksRemotelyNotAtTheKeypad) {
  const uint16_t u = AddPinUser("101010", UserType::kRemoteOnlyUser);
  Type("101010");
  EXPECT_TRUE(Locked());
  EXPECT_EQ(LastError(), OperationError::kRestricted);
  auto r = lock().UnlockDoor(Remote("101010"));
  EXPECT_TRUE(r.ok());
  sim_.Run(1500);
  EXPECT_TRUE(Open());
  EXPECT_EQ(Last(EventKind::kLockOperation)->user_index, u);
}

TEST_F(AccessTest, ProgrammingUserPinOpens) {
  const uint16_t u = AddPinUser("121212");
  SetType(u, UserType::kProgrammingUser);
  Type("121212");
  EXPECT_TRUE(Open());
}

TEST_F(AccessTest, DualRuleNeedsTwoDistinctCredentialsWithinTheWindow) {
  const uint16_t u = AddPinUser("131313");
  ASSERT_EQ(AddCredential(u, CredentialType::kRfid, 1, {1, 2, 3, 4}), DlStatus::kSuccess);
  SetRule(u, CredentialRule::kDual);
  Type("131313");
  EXPECT_TRUE(Locked());
  EXPECT_EQ(sim_.indicator().signals.back(), Signal::kMoreCredentialsNeeded);
  Type("131313");  // the same credential twice is still one
  EXPECT_TRUE(Locked());
  sim_.cards().Tap({1, 2, 3, 4});
  sim_.Run(1500);
  EXPECT_TRUE(Open());
  Relock();
  Type("131313");
  sim_.Run(MechanicsConfig().multi_credential_window_ms + 100);
  sim_.cards().Tap({1, 2, 3, 4});
  sim_.Run(1500);
  EXPECT_TRUE(Locked());  // the window closed in between
}

TEST_F(AccessTest, TriRuleNeedsThreeCredentials) {
  const uint16_t u = AddPinUser("141414");
  ASSERT_EQ(AddCredential(u, CredentialType::kRfid, 1, {9, 9, 9, 9}), DlStatus::kSuccess);
  ASSERT_EQ(AddCredential(u, CredentialType::kFingerprint, 1, {3}), DlStatus::kSuccess);
  SetRule(u, CredentialRule::kTri);
  Type("141414");
  sim_.cards().Tap({9, 9, 9, 9});
  sim_.Run(1500);
  EXPECT_TRUE(Locked());
  sim_.biometrics().Match({3});
  sim_.Run(1500);
  EXPECT_TRUE(Open());
}

TEST_F(AccessTest, VacationModeAllowsOnlyProgrammingUsersAtTheKeypadButRemoteWorks) {
  const uint16_t prog = AddPinUser("151515");
  SetType(prog, UserType::kProgrammingUser);
  AddPinUser("161616");
  ASSERT_TRUE(lock().WriteAttribute(AttributeId::kOperatingMode, int64_t(OperatingMode::kVacation)).ok());
  Type("161616");
  EXPECT_TRUE(Locked());
  EXPECT_EQ(LastErrorDetail(), EventDetail::kModeRestricted);
  Type("151515");
  EXPECT_TRUE(Open());
  Relock();
  EXPECT_TRUE(lock().UnlockDoor(Remote()).ok());
}

TEST_F(AccessTest, PrivacyModeRefusesEveryOutsideInputButNotLeavingFromInside) {
  AddPinUser("171717");
  ASSERT_TRUE(lock().WriteAttribute(AttributeId::kOperatingMode, int64_t(OperatingMode::kPrivacy)).ok());
  Type("171717");
  EXPECT_TRUE(Locked());
  EXPECT_FALSE(lock().UnlockDoor(Remote()).ok());
  EXPECT_FALSE(lock().UnlockDoor(Remote(std::nullopt, OperationSource::kProprietaryRemote)).ok());
  sim_.TurnThumbTurn(false);
  sim_.Run(100);
  EXPECT_TRUE(Open());
  EXPECT_EQ(lock().settings().operating_mode, OperatingMode::kNormal);
}

TEST_F(AccessTest, NoRemoteModeRefusesInternetCommandsOnly) {
  AddPinUser("181818");
  ASSERT_TRUE(lock().WriteAttribute(AttributeId::kOperatingMode, int64_t(OperatingMode::kNoRemoteLockUnlock)).ok());
  auto r = lock().UnlockDoor(Remote());
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.detail, EventDetail::kModeRestricted);
  EXPECT_TRUE(lock().UnlockDoor(Remote(std::nullopt, OperationSource::kProprietaryRemote)).ok());
  Relock();
  Type("181818");
  EXPECT_TRUE(Open());
}

TEST_F(AccessTest, PassageModeHoldsTheDoorOpenAndDisablesAutoRelock) {
  ASSERT_TRUE(lock().WriteAttribute(AttributeId::kAutoRelockTime, 5).ok());
  ASSERT_TRUE(lock().WriteAttribute(AttributeId::kOperatingMode, int64_t(OperatingMode::kPassage)).ok());
  sim_.Run(1500);
  EXPECT_TRUE(Open());
  sim_.Run(60000);
  EXPECT_TRUE(Open());
}

TEST_F(AccessTest, HolidayScheduleImposesItsMode) {
  AddPinUser("191919");
  const int64_t local = *lock().utc_now();
  ASSERT_EQ(db().SetHolidaySchedule(1, HolidaySchedule{uint32_t(local - 60), uint32_t(local + 3600), OperatingMode::kVacation}, Actor{}),
            DlStatus::kSuccess);
  EXPECT_EQ(lock().effective_mode(), OperatingMode::kVacation);
  Type("191919");
  EXPECT_TRUE(Locked());
  sim_.Run(3600 * 1000, 1000);
  EXPECT_EQ(lock().effective_mode(), OperatingMode::kNormal);
  Type("191919");
  EXPECT_TRUE(Open());
}

// --- Lockout (A15) --------------------------------------------------------------------------

TEST_F(AccessTest, A15_WrongCodeLimitDisablesKeypadForBackoffPeriod) {
  AddPinUser("202020");
  for (int i = 0; i < 5; ++i) Type("000000", 100);
  EXPECT_TRUE(HasAlarm(AlarmCode::kWrongCodeEntryLimit));
  EXPECT_TRUE(lock().locked_out());
  EXPECT_EQ(lock().lockout_remaining_s(), 30u);
  Type("202020");
  EXPECT_TRUE(Locked());
  EXPECT_EQ(LastErrorDetail(), EventDetail::kLockedOut);
  sim_.Run(30000);
  EXPECT_FALSE(lock().locked_out());
  Type("202020");
  EXPECT_TRUE(Open());
}

TEST_F(AccessTest, A15_EachFurtherLockoutDoubles) {
  // The first steps of the default back-off (30 s doubling), each waited out.
  uint32_t expected[] = {30, 60, 120, 240, 480};
  for (uint32_t want : expected) {
    for (int i = 0; i < 5; ++i) Type("000000", 100);
    EXPECT_EQ(lock().lockout_remaining_s(), want);
    sim_.Run(uint64_t(want) * 1000, 1000);
  }
  // A guesser who keeps going settles where a closing outlasts the leak
  // period (4.8 h): each leaked failure buys one guess and another closing
  // of that length. The cap itself is reached only by faster failures than
  // the leak forgives (Backoff.StepsDoubleToTheCap).
  for (int step = 0; step < 12; ++step) {
    for (int i = 0; i < 5 && !lock().locked_out(); ++i) Type("000000", 100);
    sim_.Run(uint64_t(lock().lockout_remaining_s()) * 1000, 1000);
  }
  for (int i = 0; i < 5 && !lock().locked_out(); ++i) Type("000000", 100);
  EXPECT_EQ(lock().lockout_remaining_s(), 30'720u);  // step 11: 30 s * 2^10
}

TEST_F(AccessTest, A15_OneFailureCounterForKeypadCardFingerprintPhoneAndRemote) {
  AddPinUser("232323");
  Type("000000", 100);
  sim_.cards().Tap({5, 5, 5, 5});
  sim_.Run(100);
  sim_.biometrics().NoMatch();
  sim_.Run(100);
  lock().ReportAuthenticationFailure(OperationSource::kProprietaryRemote);
  EXPECT_FALSE(lock().locked_out());
  EXPECT_FALSE(lock().UnlockDoor(Remote("000001")).ok());
  EXPECT_TRUE(lock().locked_out());
}

TEST_F(AccessTest, A15_LockoutSurvivesPowerLossAndIsNotShortened) {
  AddPinUser("242424");
  for (int i = 0; i < 5; ++i) Type("000000", 100);
  ASSERT_TRUE(lock().locked_out());
  sim::SimLock rebooted(&sim_.store(), 11);
  ASSERT_TRUE(rebooted.Start().ok());
  EXPECT_TRUE(rebooted.lock().locked_out());
  EXPECT_EQ(rebooted.lock().lockout_remaining_s(), 30u);
  rebooted.keypad().Type("242424");
  rebooted.Run(1500);
  EXPECT_EQ(rebooted.lock().bolt_state(), BoltState::kLocked);
}

TEST_F(AccessTest, A15_FailuresBelowTheLimitSurvivePowerLoss) {
  AddPinUser("252525");
  for (int i = 0; i < 4; ++i) Type("000000", 100);
  sim::SimLock rebooted(&sim_.store(), 12);
  ASSERT_TRUE(rebooted.Start().ok());
  rebooted.keypad().Type("000000");
  rebooted.Run(200);
  EXPECT_TRUE(rebooted.lock().locked_out());
}

TEST_F(AccessTest, A15_AnAttemptThatCannotBeCountedIsRefused) {
  AddPinUser("262626");
  auto* store = dynamic_cast<sim::MemoryStore*>(&sim_.store());
  store->set_fail_writes(true);
  Type("262626");
  store->set_fail_writes(false);
  EXPECT_TRUE(Locked());
}

TEST_F(AccessTest, A15_LeavingFromInsideIsNeverBlockedByLockout) {
  for (int i = 0; i < 5; ++i) Type("000000", 100);
  ASSERT_TRUE(lock().locked_out());
  sim_.manual().Push(ManualInput::kInsideUnlockButton);
  sim_.Run(1500);
  EXPECT_TRUE(Open());
  Relock();
  sim_.TurnThumbTurn(false);
  sim_.Run(100);
  EXPECT_TRUE(Open());
}

TEST_F(AccessTest, A15_AnAuthenticatedKeyStillOpensDuringLockout) {
  for (int i = 0; i < 5; ++i) Type("000000", 100);
  ASSERT_TRUE(lock().locked_out());
  EXPECT_TRUE(lock().UnlockDoor(Remote(std::nullopt, OperationSource::kProprietaryRemote)).ok());
  // ...unless the lock requires a PIN for remote operation, which lockout blocks.
  Relock();
  ASSERT_TRUE(lock().WriteAttribute(AttributeId::kRequirePINforRemoteOperation, 1).ok());
  EXPECT_EQ(lock().UnlockDoor(Remote(std::nullopt, OperationSource::kProprietaryRemote)).detail,
            EventDetail::kLockedOut);
}

TEST_F(AccessTest, RequirePinForRemoteOperation) {
  const uint16_t u = AddPinUser("272727");
  ASSERT_TRUE(lock().WriteAttribute(AttributeId::kRequirePINforRemoteOperation, 1).ok());
  auto missing = lock().UnlockDoor(Remote());
  EXPECT_EQ(missing.error, OperationError::kInvalidCredential);
  EXPECT_EQ(missing.detail, EventDetail::kPinRequired);
  EXPECT_EQ(lock().UnlockDoor(Remote("000000")).error, OperationError::kInvalidCredential);
  auto ok = lock().UnlockDoor(Remote("272727"));
  EXPECT_TRUE(ok.ok());
  sim_.Run(1500);
  EXPECT_EQ(Last(EventKind::kLockOperation)->user_index, u);
  EXPECT_EQ(Last(EventKind::kLockOperation)->source, OperationSource::kRemote);
}

}  // namespace
}  // namespace mortise::core::testing
