// Regression tests for the review of the core: each names the hole it closes.
#include "test_util.h"

namespace mortise::core::testing {
namespace {

class Hardening : public LockTest {
 protected:
  void SetUp() override {
    LockTest::SetUp();
    EnsureLocked();
  }
  sim::MemoryStore& store() { return *dynamic_cast<sim::MemoryStore*>(&sim_.store()); }
  void Disable(uint16_t u) {
    SetUserRequest r;
    r.operation = DataOperationType::kModify;
    r.user_index = u;
    r.user_status = UserStatus::kOccupiedDisabled;
    ASSERT_EQ(db().SetUser(r, Actor{}), DlStatus::kSuccess);
  }
  void Relock() {
    sim_.Run(3000);
    if (!Locked()) EnsureLocked();
  }
};

TEST_F(Hardening, A15_RefusedKnownCredentialsDoNotResetTheFailureCount) {
  const uint16_t stale = AddPinUser("515151");
  Disable(stale);
  // Four wrong guesses, then a known but refused PIN: the count keeps going.
  for (int i = 0; i < 4; ++i) Type("000000", 100);
  Type("515151", 100);
  EXPECT_TRUE(lock().locked_out());
}

TEST_F(Hardening, A15_OutOfScheduleCredentialIsAFailureToo) {
  const uint16_t u = AddPinUser("525252", UserType::kWeekDayScheduleUser);
  ASSERT_EQ(db().SetWeekDaySchedule(1, u, WeekDaySchedule{kSunday, 1, 0, 2, 0}, Actor{}), DlStatus::kSuccess);
  for (int i = 0; i < 4; ++i) Type("000000", 100);
  Type("525252", 100);
  EXPECT_TRUE(lock().locked_out());
}

TEST_F(Hardening, A15_PowerCutBeforeTheLockoutIsStoredStillLocksOutAfterRestart) {
  AddPinUser("545454");
  for (int i = 0; i < 4; ++i) Type("000000", 100);
  // The fifth attempt is counted, but the lockout record never reaches the
  // store (the power goes between the two writes).
  store().set_fail_record_writes(true);
  Type("000000", 100);
  store().set_fail_record_writes(false);
  sim::SimLock rebooted(&sim_.store(), 21);
  ASSERT_TRUE(rebooted.Start().ok());
  EXPECT_TRUE(rebooted.lock().locked_out());
  rebooted.keypad().Type("545454");
  rebooted.Run(1500);
  EXPECT_EQ(rebooted.lock().bolt_state(), BoltState::kLocked);
}

TEST_F(Hardening, A15_UnknownFingerIsCountedBeforeItIsRefused) {
  for (int i = 0; i < 5; ++i) {
    sim_.biometrics().NoMatch();
    sim_.Run(100);
  }
  EXPECT_TRUE(lock().locked_out());
  // The lockout alarm precedes the last refusal in the log.
  auto alarm = std::find_if(events().begin(), events().end(), [](const LockEvent& e) {
    return e.kind == EventKind::kDoorLockAlarm && e.alarm == AlarmCode::kWrongCodeEntryLimit;
  });
  ASSERT_NE(alarm, events().end());
  EXPECT_EQ((alarm + 1)->kind, EventKind::kLockOperationError);
}

// What the store holds at the instant each refusal is shown: a power cut
// then must find the attempt counted and any lockout it started stored.
class StoreAtRefusal final : public EventSink {
 public:
  explicit StoreAtRefusal(DurableStore& store) : store_(store) {}
  void Emit(const LockEvent& e) override {
    if (e.kind != EventKind::kLockOperationError || e.error != OperationError::kInvalidCredential) return;
    counted.push_back(*store_.ReadCounter(kCounterWrongCodeAttempts));
    uint8_t rec[kMaxRecordSize];
    auto n = store_.Read(MakeRecordKey(kRecordLockout, 0), rec);
    lockout_stored.push_back(n.ok() && *n == 11 && rec[10] == 1);  // version, mark, step, in force
  }
  std::vector<uint64_t> counted;
  std::vector<bool> lockout_stored;

 private:
  DurableStore& store_;
};

TEST_F(Hardening, A15_AWrongKeypadPinIsCountedBeforeItIsRefused) {
  StoreAtRefusal at(sim_.store());
  sim_.events().set_forward(&at);
  const uint64_t before = *sim_.store().ReadCounter(kCounterWrongCodeAttempts);
  for (int i = 0; i < 5; ++i) Type("000000", 100);
  sim_.events().set_forward(nullptr);
  ASSERT_EQ(at.counted.size(), 5u);
  for (uint64_t i = 0; i < 5; ++i) EXPECT_EQ(at.counted[i], before + i + 1);
  EXPECT_FALSE(at.lockout_stored[3]);
  EXPECT_TRUE(at.lockout_stored[4]);  // the fifth starts the lockout before it is refused
}

TEST_F(Hardening, A15_AnUnknownCardIsCountedBeforeItIsRefused) {
  StoreAtRefusal at(sim_.store());
  sim_.events().set_forward(&at);
  const uint64_t before = *sim_.store().ReadCounter(kCounterWrongCodeAttempts);
  for (uint8_t i = 0; i < 5; ++i) {
    sim_.cards().Tap({i, 1, 2, 3});
    sim_.Run(100);
  }
  sim_.events().set_forward(nullptr);
  ASSERT_EQ(at.counted.size(), 5u);
  for (uint64_t i = 0; i < 5; ++i) EXPECT_EQ(at.counted[i], before + i + 1);
  EXPECT_TRUE(at.lockout_stored[4]);
}

TEST_F(Hardening, RemoteCommandForADisabledUserIsRefused) {
  const uint16_t u = AddPinUser("555555");
  Disable(u);
  RemoteOperation op;
  op.source = OperationSource::kRemote;
  op.user_index = u;
  auto r = lock().UnlockDoor(op);
  EXPECT_EQ(r.error, OperationError::kDisabledUserDenied);
  sim_.Run(1500);
  EXPECT_TRUE(Locked());
}

TEST_F(Hardening, DisposableUserIsNotUsedUpByLockingOrABatteryRefusal) {
  const uint16_t u = AddPinUser("565656", UserType::kDisposableUser);
  std::vector<uint8_t> pin = Bytes("565656");
  RemoteOperation op;
  op.source = OperationSource::kRemote;
  op.pin = std::span<const uint8_t>(pin);
  EXPECT_TRUE(lock().LockDoor(op).ok());
  EXPECT_EQ(db().GetUser(u).user.status, UserStatus::kOccupiedEnabled);
  sim_.mechanics().set_battery_percent(2);
  sim_.Run(100);
  Type("565656");
  EXPECT_TRUE(Locked());
  EXPECT_EQ(db().GetUser(u).user.status, UserStatus::kOccupiedEnabled);
  sim_.mechanics().set_battery_percent(80);
  sim_.Run(100);
  Type("565656");
  EXPECT_TRUE(Open());
  EXPECT_EQ(db().GetUser(u).user.status, UserStatus::kOccupiedDisabled);
}

TEST_F(Hardening, ReEnablingAnExpiredUserRenewsIt) {
  ASSERT_TRUE(lock().WriteAttribute(AttributeId::kExpiringUserTimeout, 1).ok());
  const uint16_t u = AddPinUser("575757", UserType::kExpiringUser);
  Type("575757");
  Relock();
  sim_.Run(120 * 1000, 1000);
  EXPECT_EQ(db().GetUser(u).user.status, UserStatus::kOccupiedDisabled);
  SetUserRequest r;
  r.operation = DataOperationType::kModify;
  r.user_index = u;
  r.user_status = UserStatus::kOccupiedEnabled;
  ASSERT_EQ(db().SetUser(r, Actor{}), DlStatus::kSuccess);
  Type("575757");
  EXPECT_TRUE(Open());
}

TEST_F(Hardening, APartialDualCredentialIsNotReportedAsSuccess) {
  const uint16_t u = AddPinUser("585858");
  ASSERT_EQ(AddCredential(u, CredentialType::kRfid, 1, {8, 8, 8, 8}), DlStatus::kSuccess);
  SetUserRequest r;
  r.operation = DataOperationType::kModify;
  r.user_index = u;
  r.credential_rule = CredentialRule::kDual;
  ASSERT_EQ(db().SetUser(r, Actor{}), DlStatus::kSuccess);
  auto pin = Bytes("585858");
  auto result = lock().PresentCredential(OperationSource::kKeypad, CredentialType::kPin, pin);
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(result.detail, EventDetail::kCredentialPartial);
}

TEST_F(Hardening, A20_LockoutSettingsOutsideTheBoundedRangeAreRefused) {
  // Beyond these the keypad's published guessing bound would not hold.
  EXPECT_EQ(lock().WriteAttribute(AttributeId::kMaxLockoutTime, 86'399).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(lock().WriteAttribute(AttributeId::kWrongCodeEntryLimit, 11).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(lock().WriteAttribute(AttributeId::kMaxLockoutTime, 86'400).ok());
  EXPECT_TRUE(lock().WriteAttribute(AttributeId::kWrongCodeEntryLimit, 10).ok());
}

TEST_F(Hardening, UntrustworthyStoredSettingsFallBackToSafeDefaults) {
  ASSERT_TRUE(lock().WriteAttribute(AttributeId::kAutoRelockTime, 77).ok());
  // Corrupt the stored settings: a zero lockout cap.
  uint8_t buf[kMaxRecordSize];
  auto n = sim_.store().Read(MakeRecordKey(kRecordSettings, 0), buf);
  ASSERT_TRUE(n.ok());
  // Layout (docs/storage of the core record): version, relock u32, 7 single
  // bytes, expiring u16, then max_lockout_time_s u32 at offset 14.
  buf[14] = buf[15] = buf[16] = buf[17] = 0;
  ASSERT_TRUE(sim_.store().Write(MakeRecordKey(kRecordSettings, 0), std::span<const uint8_t>(buf, *n)).ok());
  sim::SimLock rebooted(&sim_.store(), 22);
  ASSERT_TRUE(rebooted.Start().ok());
  EXPECT_EQ(rebooted.lock().dropped_records(), 1u);
  EXPECT_EQ(*rebooted.lock().ReadAttribute(AttributeId::kMaxLockoutTime), Settings().max_lockout_time_s);
  EXPECT_EQ(*rebooted.lock().ReadAttribute(AttributeId::kAutoRelockTime), 0);
}

TEST_F(Hardening, OversizedOrCorruptRecordsDoNotStopTheLock) {
  AddPinUser("595959");
  std::vector<uint8_t> big(200, 0xAB);
  ASSERT_TRUE(sim_.store().Write(MakeRecordKey(kRecordLockout, 0), big).ok());
  sim::SimLock rebooted(&sim_.store(), 23);
  ASSERT_TRUE(rebooted.Start().ok());
  EXPECT_GE(rebooted.lock().dropped_records(), 1u);
}

TEST_F(Hardening, A15_ACorruptLockoutRecordLocksOutOnceAtTheCapNotForYears) {
  // A long-used lock: 100 valid attempts counted, each refunded.
  AddPinUser("565656");
  for (int i = 0; i < 100; ++i) lock().PresentCredential(OperationSource::kKeypad, CredentialType::kPin, Bytes("565656"));
  ASSERT_FALSE(lock().locked_out());
  std::vector<uint8_t> junk(3, 0xAB);
  ASSERT_TRUE(sim_.store().Write(MakeRecordKey(kRecordLockout, 0), junk).ok());
  sim::SimLock rebooted(&sim_.store(), 24);
  ASSERT_TRUE(rebooted.Start().ok());
  EXPECT_EQ(rebooted.lock().lockout_remaining_s(), 86'400u);  // every attempt counted, cut to one cap
  rebooted.Run(86'400'000ull + 1000, 60'000);
  // The failures leak as for any guesser: a day and a leak period later the
  // next failure starts a shorter lockout.
  rebooted.Run(BackoffPolicy().LeakPeriodMs(), 60'000);
  rebooted.keypad().Type("1111");
  rebooted.Run(100);
  EXPECT_TRUE(rebooted.lock().locked_out());
  EXPECT_LT(rebooted.lock().lockout_remaining_s(), 86'400u);
}

TEST_F(Hardening, ACorruptSecretDropsCredentialsButKeepsUsers) {
  const uint16_t u = AddPinUser("606060");
  uint8_t bad[3] = {9, 9, 9};
  ASSERT_TRUE(sim_.store().Write(MakeRecordKey(kRecordSecret, 0), bad).ok());
  sim::SimLock rebooted(&sim_.store(), 24);
  ASSERT_TRUE(rebooted.Start().ok());
  EXPECT_TRUE(rebooted.lock().users().GetUser(u).occupied);
  EXPECT_FALSE(rebooted.lock().users().GetCredentialStatus({CredentialType::kPin, 1}).credential_exists);
  EXPECT_GE(rebooted.lock().dropped_records(), 1u);
}

TEST_F(Hardening, LeavingPassageRearmsAutoRelock) {
  ASSERT_TRUE(lock().WriteAttribute(AttributeId::kAutoRelockTime, 5).ok());
  ASSERT_TRUE(lock().WriteAttribute(AttributeId::kOperatingMode, int64_t(OperatingMode::kPassage)).ok());
  sim_.Run(20000);
  EXPECT_TRUE(Open());
  ASSERT_TRUE(lock().WriteAttribute(AttributeId::kOperatingMode, int64_t(OperatingMode::kNormal)).ok());
  sim_.Run(7000);
  EXPECT_TRUE(Locked());
}

TEST_F(Hardening, APassageHolidayOpensAndItsEndRelocks) {
  ASSERT_TRUE(lock().WriteAttribute(AttributeId::kAutoRelockTime, 5).ok());
  const int64_t now = *lock().utc_now();
  ASSERT_EQ(db().SetHolidaySchedule(1, HolidaySchedule{uint32_t(now + 10), uint32_t(now + 70), OperatingMode::kPassage},
                                    Actor{}),
            DlStatus::kSuccess);
  sim_.Run(12000);
  EXPECT_TRUE(Open());
  EXPECT_EQ(Last(EventKind::kLockOperation)->source, OperationSource::kSchedule);
  sim_.Run(50000);
  EXPECT_TRUE(Open());
  sim_.Run(15000);
  EXPECT_TRUE(Locked());
}

TEST_F(Hardening, AHolidayNeverRelaxesPrivacy) {
  AddPinUser("616161");
  ASSERT_TRUE(lock().WriteAttribute(AttributeId::kOperatingMode, int64_t(OperatingMode::kPrivacy)).ok());
  const int64_t now = *lock().utc_now();
  ASSERT_EQ(db().SetHolidaySchedule(1, HolidaySchedule{uint32_t(now - 10), uint32_t(now + 3600), OperatingMode::kNormal},
                                    Actor{}),
            DlStatus::kSuccess);
  EXPECT_EQ(lock().effective_mode(), OperatingMode::kPrivacy);
  Type("616161");
  EXPECT_TRUE(Locked());
}

TEST_F(Hardening, A04_TheTimeFloorAdvancesWithTheClock) {
  const int64_t set = *lock().utc_now();
  sim_.Run(2 * 3600 * 1000, 1000);
  sim::SimLock rebooted(&sim_.store(), 25);
  ASSERT_TRUE(rebooted.Start().ok());
  EXPECT_EQ(rebooted.lock().SetUtcTime(set + 10, false).code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(rebooted.lock().SetUtcTime(set + 2 * 3600, false).ok());
}

TEST_F(Hardening, A04_ACorrectionMovesASetClockBySmallStepsOnlyAndNeverBelowTheFloor) {
  sim_.Run(2 * 3600 * 1000, 3600 * 1000);  // the floor is saved at the last pass: it equals the time now
  const int64_t now = *lock().utc_now();
  ASSERT_EQ(lock().time_floor_s(), now);
  EXPECT_EQ(lock().CorrectUtcTime(now + 11, 10).code(), StatusCode::kOutOfRange);
  EXPECT_EQ(lock().CorrectUtcTime(now - 1, 10).code(), StatusCode::kOutOfRange);  // below the floor
  EXPECT_EQ(*lock().utc_now(), now);
  ASSERT_TRUE(lock().CorrectUtcTime(now + 10, 10).ok());
  EXPECT_EQ(*lock().utc_now(), now + 10);
  EXPECT_EQ(lock().time_floor_s(), now + 10);
  // Half an hour on (no floor save yet), back by 5 s: the clock moves back,
  // the floor only up to the corrected time.
  sim_.Run(1800 * 1000, 1800 * 1000);
  const int64_t later = *lock().utc_now();
  ASSERT_EQ(lock().time_floor_s(), now + 10);
  ASSERT_TRUE(lock().CorrectUtcTime(later - 5, 10).ok());
  EXPECT_EQ(*lock().utc_now(), later - 5);
  EXPECT_EQ(lock().time_floor_s(), later - 5);
  // Then a step back below the floor is refused even within the bound.
  EXPECT_EQ(lock().CorrectUtcTime(later - 6, 10).code(), StatusCode::kOutOfRange);
  EXPECT_EQ(*lock().utc_now(), later - 5);
  // An unknown clock is never set by a correction.
  sim::SimLock rebooted(&sim_.store(), 26);
  ASSERT_TRUE(rebooted.Start().ok());
  ASSERT_FALSE(rebooted.lock().utc_now().has_value());
  EXPECT_EQ(rebooted.lock().CorrectUtcTime(later, 10).code(), StatusCode::kFailedPrecondition);
  EXPECT_FALSE(rebooted.lock().utc_now().has_value());
}

TEST_F(Hardening, A04_AUtcOffsetChangeIsLogged) {
  // The time zone moves every local-time right, as a clock change would.
  ASSERT_TRUE(lock().WriteAttribute(AttributeId::kUtcOffset, 3600, OperationSource::kProprietaryRemote).ok());
  const LockEvent* e = Last(EventKind::kLockUserChange);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->detail, EventDetail::kUtcOffsetChanged);
  EXPECT_EQ(e->data_operation, DataOperationType::kModify);
  EXPECT_EQ(e->source, OperationSource::kProprietaryRemote);
  events().clear();
  ASSERT_TRUE(lock().WriteAttribute(AttributeId::kUtcOffset, 3600).ok());  // no change, nothing logged
  EXPECT_EQ(Last(EventKind::kLockUserChange), nullptr);
}

// Issue 12: `settings set timezone` logged two identical records. A zone is
// set with up to five writes (saving off, offset, rule start and end,
// saving on); together they are one change and one record. A later change,
// or one after another record, is recorded again.
TEST_F(Hardening, A04_ATimeZoneSetInSeveralWritesIsOneRecord) {
  auto zone_records = [&] {
    int n = 0;
    for (const LockEvent& e : events())
      n += e.kind == EventKind::kLockUserChange && e.detail == EventDetail::kUtcOffsetChanged;
    return n;
  };
  const auto remote = OperationSource::kProprietaryRemote;
  const int64_t start = PackDstTransition(DstTransition{3, 5, 0, 120});
  const int64_t end = PackDstTransition(DstTransition{10, 5, 0, 180});
  auto set_zone = [&](int64_t offset, int64_t save) {
    ASSERT_TRUE(lock().WriteAttribute(AttributeId::kDstOffset, 0, remote).ok());
    ASSERT_TRUE(lock().WriteAttribute(AttributeId::kUtcOffset, offset, remote).ok());
    ASSERT_TRUE(lock().WriteAttribute(AttributeId::kDstStart, save ? start : 0, remote).ok());
    ASSERT_TRUE(lock().WriteAttribute(AttributeId::kDstEnd, save ? end : 0, remote).ok());
    ASSERT_TRUE(lock().WriteAttribute(AttributeId::kDstOffset, save, remote).ok());
  };
  events().clear();
  set_zone(3600, 3600);  // none -> Europe/Berlin
  EXPECT_EQ(zone_records(), 1);
  sim_.Run(3000, 1000);
  set_zone(0, 0);  // -> none, later: a second change
  EXPECT_EQ(zone_records(), 2);
  // Another record between two zone writes: each is recorded.
  sim_.Run(3000, 1000);
  ASSERT_TRUE(lock().WriteAttribute(AttributeId::kUtcOffset, 7200, remote).ok());
  lock().RecordKeyRefused(remote, std::nullopt, EventDetail::kKeyRevoked);
  ASSERT_TRUE(lock().WriteAttribute(AttributeId::kUtcOffset, 3600, remote).ok());
  EXPECT_EQ(zone_records(), 4);
}

TEST_F(Hardening, TheProgrammingPinHolderStaysAProgrammingUser) {
  SetUserRequest u;
  u.user_index = 1;
  u.user_type = UserType::kProgrammingUser;
  ASSERT_EQ(db().SetUser(u, Actor{}), DlStatus::kSuccess);
  ASSERT_EQ(AddCredential(1, CredentialType::kProgrammingPIN, 0, Bytes("909090")), DlStatus::kSuccess);
  SetUserRequest m;
  m.operation = DataOperationType::kModify;
  m.user_index = 1;
  m.user_type = UserType::kUnrestrictedUser;
  EXPECT_EQ(db().SetUser(m, Actor{}), DlStatus::kInvalidField);
}

TEST_F(Hardening, HolidayChangesAreLogged) {
  ASSERT_EQ(db().SetHolidaySchedule(3, HolidaySchedule{1000, 2000, OperatingMode::kVacation}, Actor{}),
            DlStatus::kSuccess);
  EXPECT_EQ(Last(EventKind::kLockUserChange)->data_type, LockDataType::kHolidaySchedule);
  EXPECT_EQ(Last(EventKind::kLockUserChange)->data_index, 3);
  ASSERT_EQ(db().ClearHolidaySchedule(3, Actor{}), DlStatus::kSuccess);
  EXPECT_EQ(Last(EventKind::kLockUserChange)->data_operation, DataOperationType::kClear);
}

TEST_F(Hardening, WeekDaySchedulesFollowTheUtcOffset) {
  // 08:00 UTC on Tuesday is 03:00 at UTC-5: outside 07:00-19:00 locally.
  ASSERT_TRUE(lock().WriteAttribute(AttributeId::kUtcOffset, -5 * 3600).ok());
  const uint16_t u = AddPinUser("626262", UserType::kWeekDayScheduleUser);
  ASSERT_EQ(db().SetWeekDaySchedule(1, u, WeekDaySchedule{kTuesday, 7, 0, 19, 0}, Actor{}), DlStatus::kSuccess);
  Type("626262");
  EXPECT_TRUE(Locked());
  ASSERT_TRUE(lock().WriteAttribute(AttributeId::kUtcOffset, 2 * 3600).ok());  // 10:00 locally
  sim_.Run(30000);  // let any lockout from the refusal lapse
  Type("626262");
  EXPECT_TRUE(Open());
}

}  // namespace
}  // namespace mortise::core::testing
