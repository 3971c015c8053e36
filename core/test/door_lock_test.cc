// Mechanics, door position, alarms, power and time.
#include "test_util.h"

namespace mortise::core::testing {
namespace {

using Door = DoorContact;

RemoteOperation Phone(uint16_t user = 0) {
  RemoteOperation op;
  op.source = OperationSource::kProprietaryRemote;
  op.user_index = user;
  return op;
}

class DoorLockTest : public LockTest {};

TEST_F(DoorLockTest, StartMarksTheRestartWithPowerCycledAlarm) {
  sim::SimLock fresh;
  ASSERT_TRUE(fresh.Start().ok());
  ASSERT_FALSE(fresh.events().events.empty());
  EXPECT_EQ(fresh.events().events.front().alarm, AlarmCode::kLockRadioPowerCycled);
  EXPECT_EQ(fresh.lock().bolt_state(), BoltState::kLocked);  // the sim bolt starts thrown
}

TEST_F(DoorLockTest, RemoteUnlockReportsOnlyWhenTheBoltArrives) {
  const uint16_t user = AddPinUser("314159");
  EnsureLocked();
  auto r = lock().UnlockDoor(Phone(user));
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(lock().bolt_state(), BoltState::kUnlocking);
  EXPECT_EQ(sim_.mechanics().command(), MotorCommand::kRetract);
  EXPECT_EQ(Count(EventKind::kLockOperation), 0u);
  sim_.Run(1200);
  EXPECT_EQ(lock().bolt_state(), BoltState::kUnlocked);
  EXPECT_EQ(sim_.mechanics().command(), MotorCommand::kStop);
  const LockEvent* e = Last(EventKind::kLockOperation);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->operation, LockOperationType::kUnlock);
  EXPECT_EQ(e->source, OperationSource::kProprietaryRemote);
  EXPECT_EQ(e->user_index, user);
  // Stamped with the lock's time (set at 08:00 a few simulated seconds ago).
  EXPECT_GE(e->utc_seconds, kTuesdayMidnight + 8 * kHour);
  EXPECT_LE(e->utc_seconds, kTuesdayMidnight + 8 * kHour + 5);
}

TEST_F(DoorLockTest, MotorThatNeverArrivesRetriesThenDeclaresJam) {
  EnsureLocked();
  sim_.mechanics().JamForever(true);
  ASSERT_TRUE(lock().UnlockDoor(Phone()).ok());
  MechanicsConfig m;
  sim_.Run(uint64_t(m.motor_travel_timeout_ms) * (m.motor_retries + 1) - 100);
  EXPECT_EQ(lock().bolt_state(), BoltState::kUnlocking);  // still retrying
  sim_.Run(200);
  EXPECT_EQ(lock().bolt_state(), BoltState::kJammed);
  EXPECT_EQ(lock().lock_state(), LockState::kNotFullyLocked);
  EXPECT_EQ(sim_.mechanics().command(), MotorCommand::kStop);
  EXPECT_TRUE(HasAlarm(AlarmCode::kLockJammed));
  const LockEvent* err = Last(EventKind::kLockOperationError);
  ASSERT_NE(err, nullptr);
  EXPECT_EQ(err->detail, EventDetail::kMotorJammed);
  // Cleared jam: the next command works.
  sim_.mechanics().JamForever(false);
  ASSERT_TRUE(lock().UnlockDoor(Phone()).ok());
  sim_.Run(1500);
  EXPECT_EQ(lock().bolt_state(), BoltState::kUnlocked);
}

TEST_F(DoorLockTest, TransientJamRecoversOnRetryWithoutAlarm) {
  EnsureLocked();
  sim_.mechanics().JamNextAttempts(1);
  ASSERT_TRUE(lock().UnlockDoor(Phone()).ok());
  sim_.Run(5000);
  EXPECT_EQ(lock().bolt_state(), BoltState::kUnlocked);
  EXPECT_FALSE(HasAlarm(AlarmCode::kLockJammed));
}

TEST_F(DoorLockTest, AutoRelockWaitsForTheDoorToClose) {
  ASSERT_TRUE(lock().WriteAttribute(AttributeId::kAutoRelockTime, 10).ok());
  EnsureLocked();
  ASSERT_TRUE(lock().UnlockDoor(Phone()).ok());
  sim_.Run(1000);
  sim_.mechanics().set_door(Door::kOpen);
  sim_.Run(30000);
  EXPECT_EQ(lock().bolt_state(), BoltState::kUnlocked);  // door still open: never throw the bolt
  sim_.mechanics().set_door(Door::kClosed);
  sim_.Run(9000);
  EXPECT_EQ(lock().bolt_state(), BoltState::kUnlocked);
  sim_.Run(2500);
  EXPECT_EQ(lock().bolt_state(), BoltState::kLocked);
  EXPECT_EQ(Last(EventKind::kLockOperation)->source, OperationSource::kAuto);
}

TEST_F(DoorLockTest, AutoRelockOffByDefaultAndUnlockWithTimeoutRelocks) {
  EnsureLocked();
  ASSERT_TRUE(lock().UnlockDoor(Phone()).ok());
  sim_.Run(60000);
  EXPECT_EQ(lock().bolt_state(), BoltState::kUnlocked);
  EnsureLocked();
  ASSERT_TRUE(lock().UnlockWithTimeout(Phone(), 5).ok());
  sim_.Run(5500);
  EXPECT_EQ(lock().bolt_state(), BoltState::kUnlocked);
  sim_.Run(1500);
  EXPECT_EQ(lock().bolt_state(), BoltState::kLocked);
}

TEST_F(DoorLockTest, DoorOpenedWhileBoltedIsForcedOpen) {
  EnsureLocked();
  sim_.mechanics().set_door(Door::kOpen);
  sim_.Run(100);
  EXPECT_EQ(lock().door_state(), DoorState::kDoorForcedOpen);
  EXPECT_TRUE(HasAlarm(AlarmCode::kDoorForcedOpen));
  EXPECT_EQ(Last(EventKind::kDoorStateChange)->door_state, DoorState::kDoorForcedOpen);
}

TEST_F(DoorLockTest, DoorOpenedAfterUnlockIsNotForcedButAjarAfterLimit) {
  EnsureLocked();
  ASSERT_TRUE(lock().UnlockDoor(Phone()).ok());
  sim_.Run(1000);
  sim_.mechanics().set_door(Door::kOpen);
  sim_.Run(100);
  EXPECT_EQ(lock().door_state(), DoorState::kDoorOpen);
  EXPECT_FALSE(HasAlarm(AlarmCode::kDoorForcedOpen));
  sim_.Run(60000);
  EXPECT_EQ(lock().door_state(), DoorState::kDoorAjar);
  EXPECT_TRUE(HasAlarm(AlarmCode::kDoorAjar));
  sim_.mechanics().set_door(Door::kClosed);
  sim_.Run(100);
  EXPECT_EQ(lock().door_state(), DoorState::kDoorClosed);
}

TEST_F(DoorLockTest, OneTouchLockingFollowsItsAttribute) {
  ASSERT_TRUE(lock().UnlockDoor(Phone()).ok());
  sim_.Run(1500);
  ASSERT_TRUE(lock().WriteAttribute(AttributeId::kEnableOneTouchLocking, 0).ok());
  sim_.manual().Push(ManualInput::kOutsideLockButton);
  sim_.Run(1500);
  EXPECT_EQ(lock().bolt_state(), BoltState::kUnlocked);
  ASSERT_TRUE(lock().WriteAttribute(AttributeId::kEnableOneTouchLocking, 1).ok());
  sim_.manual().Push(ManualInput::kOutsideLockButton);
  sim_.Run(1500);
  EXPECT_EQ(lock().bolt_state(), BoltState::kLocked);
  EXPECT_EQ(Last(EventKind::kLockOperation)->source, OperationSource::kButton);
  EXPECT_EQ(Last(EventKind::kLockOperation)->detail, EventDetail::kOutsideButton);
}

TEST_F(DoorLockTest, UnlatchHoldsTheLatchThenReleasesToUnlocked) {
  ASSERT_TRUE(lock().WriteAttribute(AttributeId::kUnlatchOnUnlock, 1).ok());
  EnsureLocked();
  ASSERT_TRUE(lock().UnlockDoor(Phone()).ok());
  sim_.Run(1800);
  EXPECT_EQ(lock().bolt_state(), BoltState::kUnlatched);
  EXPECT_EQ(lock().lock_state(), LockState::kUnlatched);
  EXPECT_EQ(Last(EventKind::kLockOperation)->operation, LockOperationType::kUnlatch);
  sim_.Run(2500);
  EXPECT_EQ(lock().bolt_state(), BoltState::kUnlocked);
  EXPECT_EQ(Last(EventKind::kLockOperation)->operation, LockOperationType::kUnlock);
}

TEST_F(DoorLockTest, UnboltNeverPullsTheLatch) {
  ASSERT_TRUE(lock().WriteAttribute(AttributeId::kUnlatchOnUnlock, 1).ok());
  EnsureLocked();
  ASSERT_TRUE(lock().UnboltDoor(Phone()).ok());
  sim_.Run(1500);
  EXPECT_EQ(lock().bolt_state(), BoltState::kUnlocked);
  EXPECT_GE(sim_.mechanics().position(), sim_.mechanics().geometry().retracted);
  for (const auto& e : events()) EXPECT_NE(e.operation, LockOperationType::kUnlatch);
}

TEST_F(DoorLockTest, ManualMotionIsEventedWithItsSource) {
  EnsureLocked();
  sim_.TurnThumbTurn(false);
  sim_.Run(50);
  EXPECT_EQ(lock().bolt_state(), BoltState::kUnlocked);
  auto* e = Last(EventKind::kLockOperation);
  EXPECT_EQ(e->source, OperationSource::kManual);
  EXPECT_EQ(e->detail, EventDetail::kInsideThumbTurn);
  sim_.TurnMechanicalKey(true);
  sim_.Run(50);
  EXPECT_EQ(lock().bolt_state(), BoltState::kLocked);
  EXPECT_EQ(Last(EventKind::kLockOperation)->detail, EventDetail::kMechanicalKey);
  // Motion with no input seen (e.g. a tool through the door) is flagged.
  sim_.mechanics().set_position(sim_.mechanics().geometry().retracted);
  sim_.Run(50);
  EXPECT_EQ(Last(EventKind::kLockOperation)->detail, EventDetail::kUnexplainedMotion);
}

TEST_F(DoorLockTest, ManualTurnDuringMotorTravelStopsTheMotor) {
  EnsureLocked();
  ASSERT_TRUE(lock().UnlockDoor(Phone()).ok());
  sim_.Run(200);
  sim_.TurnThumbTurn(true);
  sim_.Run(50);
  EXPECT_EQ(sim_.mechanics().command(), MotorCommand::kStop);
  // The person finishes the turn; the motor no longer fights it.
  sim_.mechanics().set_position(sim_.mechanics().geometry().extended);
  sim_.Run(50);
  EXPECT_EQ(lock().bolt_state(), BoltState::kLocked);
  EXPECT_EQ(Last(EventKind::kLockOperation)->source, OperationSource::kManual);
}

TEST_F(DoorLockTest, EscutcheonRemovalRaisesTamperAlarmOnce) {
  sim_.mechanics().set_escutcheon_removed(true);
  sim_.Run(500);
  EXPECT_EQ(std::count_if(events().begin(), events().end(),
                          [](const LockEvent& e) {
                            return e.kind == EventKind::kDoorLockAlarm && e.alarm == AlarmCode::kFrontEsceutcheonRemoved;
                          }),
            1);
}

TEST_F(DoorLockTest, PrivacyButtonWorksOnlyWhileLockedAndInsideUnlockEndsIt) {
  ASSERT_TRUE(lock().UnlockDoor(Phone()).ok());
  sim_.Run(1500);
  sim_.manual().Push(ManualInput::kPrivacyButton);
  sim_.Run(50);
  EXPECT_EQ(lock().settings().operating_mode, OperatingMode::kNormal);
  EnsureLocked();
  sim_.manual().Push(ManualInput::kPrivacyButton);
  sim_.Run(50);
  EXPECT_EQ(lock().settings().operating_mode, OperatingMode::kPrivacy);
  EXPECT_FALSE(lock().UnlockDoor(Phone()).ok());
  EXPECT_EQ(lock().WriteAttribute(AttributeId::kOperatingMode, 2).code(), StatusCode::kOk);
  sim_.manual().Push(ManualInput::kInsideUnlockButton);
  sim_.Run(1500);
  EXPECT_EQ(lock().bolt_state(), BoltState::kUnlocked);
  EXPECT_EQ(lock().settings().operating_mode, OperatingMode::kNormal);
  // Privacy cannot be written while unlocked.
  EXPECT_EQ(lock().WriteAttribute(AttributeId::kOperatingMode, 2).code(), StatusCode::kFailedPrecondition);
}

TEST_F(DoorLockTest, LowAndCriticalBatteryAlarmOnceWithHysteresis) {
  sim_.mechanics().set_battery_percent(19);
  sim_.Run(200);
  sim_.mechanics().set_battery_percent(18);
  sim_.Run(200);
  EXPECT_EQ(std::count_if(events().begin(), events().end(),
                          [](const LockEvent& e) { return e.alarm == AlarmCode::kBatteryLow && e.kind == EventKind::kDoorLockAlarm; }),
            1);
  sim_.mechanics().set_battery_percent(9);
  sim_.Run(200);
  EXPECT_TRUE(HasAlarm(AlarmCode::kBatteryCritical));
}

TEST_F(DoorLockTest, CriticalBatteryRefusesLockingButStillUnlocks) {
  EnsureLocked();
  sim_.mechanics().set_battery_percent(8);
  sim_.Run(100);
  auto unlock = lock().UnlockDoor(Phone());
  EXPECT_TRUE(unlock.ok());
  sim_.Run(1500);
  EXPECT_EQ(lock().bolt_state(), BoltState::kUnlocked);
  auto r = lock().LockDoor(Phone());
  EXPECT_EQ(r.status, DlStatus::kFailure);
  EXPECT_EQ(r.error, OperationError::kInsufficientBattery);
  EXPECT_EQ(r.detail, EventDetail::kLockReserve);
  EXPECT_EQ(Last(EventKind::kLockOperationError)->error, OperationError::kInsufficientBattery);
  EXPECT_EQ(lock().bolt_state(), BoltState::kUnlocked);
}

TEST_F(DoorLockTest, BelowTheReserveOnlyEmergencyPowerUnlocks) {
  EnsureLocked();
  sim_.mechanics().set_battery_percent(2);
  sim_.Run(100);
  auto r = lock().UnlockDoor(Phone());
  EXPECT_EQ(r.error, OperationError::kInsufficientBattery);
  EXPECT_EQ(r.detail, EventDetail::kUnlockReserve);
  sim_.mechanics().set_emergency_power(true);
  sim_.Run(100);
  EXPECT_TRUE(HasAlarm(AlarmCode::kEmergencyPowerConnected));
  EXPECT_TRUE(lock().emergency_power());
  EXPECT_TRUE(lock().UnlockDoor(Phone()).ok());
  sim_.Run(1500);
  EXPECT_EQ(lock().bolt_state(), BoltState::kUnlocked);
  EXPECT_TRUE(lock().LockDoor(Phone()).ok());
  sim_.Run(1500);
  EXPECT_EQ(lock().bolt_state(), BoltState::kLocked);
}

TEST_F(DoorLockTest, MotorRunsDrainTheBattery) {
  const uint64_t before = sim_.mechanics().motor_run_ms();
  for (int i = 0; i < 20; ++i) {
    (void)lock().UnlockDoor(Phone());
    sim_.Run(1500);
    (void)lock().LockDoor(Phone());
    sim_.Run(1500);
  }
  EXPECT_GT(sim_.mechanics().motor_run_ms(), before + 20 * 2 * 700);
  sim_.mechanics().set_battery_percent(50);
  for (int i = 0; i < 200; ++i) {
    (void)lock().UnlockDoor(Phone());
    sim_.Run(1500);
    (void)lock().LockDoor(Phone());
    sim_.Run(1500);
  }
  EXPECT_LT(lock().battery_percent(), 50);
}

TEST_F(DoorLockTest, TimeNeverMovesBackwardsWithoutPermissionEvenAfterRestart) {
  const int64_t now = *lock().utc_now();
  EXPECT_EQ(lock().SetUtcTime(now - 3600, false).code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(lock().SetUtcTime(now + 60, false).ok());
  EXPECT_EQ(lock().SetUtcTime(1000, true).code(), StatusCode::kInvalidArgument);
  sim::SimLock rebooted(&sim_.store(), 3);
  ASSERT_TRUE(rebooted.Start().ok());
  EXPECT_FALSE(rebooted.lock().utc_now().has_value());  // unknown until set
  EXPECT_EQ(rebooted.lock().SetUtcTime(now - 86400, false).code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(rebooted.lock().SetUtcTime(now - 86400, true).ok());
}

TEST_F(DoorLockTest, AttributesValidateTheirRangesAndPersist) {
  EXPECT_EQ(lock().WriteAttribute(AttributeId::kWrongCodeEntryLimit, 0).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(lock().WriteAttribute(AttributeId::kUserCodeTemporaryDisableTime, 256).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(lock().WriteAttribute(AttributeId::kExpiringUserTimeout, 2881).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(lock().WriteAttribute(AttributeId::kLockState, 1).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(lock().WriteAttribute(AttributeId::kBatteryCriticalThreshold, 50).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(lock().WriteAttribute(AttributeId::kWrongCodeEntryLimit, 3).ok());
  EXPECT_TRUE(lock().WriteAttribute(AttributeId::kUtcOffset, -5 * 3600).ok());
  EXPECT_EQ(*lock().ReadAttribute(AttributeId::kNumberOfTotalUsersSupported), config::kMaxUsers);
  EXPECT_EQ(*lock().ReadAttribute(AttributeId::kSupportedOperatingModes), 0xFFE0);
  ASSERT_NE(FindAttribute("RequirePINforRemoteOperation"), nullptr);
  EXPECT_EQ(FindAttribute("NoSuchAttribute"), nullptr);
  sim::SimLock rebooted(&sim_.store(), 3);
  ASSERT_TRUE(rebooted.Start().ok());
  EXPECT_EQ(*rebooted.lock().ReadAttribute(AttributeId::kWrongCodeEntryLimit), 3);
  EXPECT_EQ(*rebooted.lock().ReadAttribute(AttributeId::kUtcOffset), -5 * 3600);
  uint16_t n = 0;
  const AttributeInfo* table = AttributeTable(&n);
  for (uint16_t i = 0; i < n; ++i) EXPECT_TRUE(rebooted.lock().ReadAttribute(table[i].id).ok()) << table[i].name;
}

TEST_F(DoorLockTest, FactoryResetWipesUsersAndSettings) {
  AddPinUser("424242");
  ASSERT_TRUE(lock().WriteAttribute(AttributeId::kAutoRelockTime, 30).ok());
  sim_.manual().Push(ManualInput::kFactoryResetButton);
  sim_.Run(50);
  EXPECT_TRUE(HasAlarm(AlarmCode::kLockFactoryReset));
  EXPECT_FALSE(db().Find(CredentialType::kPin, Bytes("424242")).has_value());
  EXPECT_FALSE(db().GetUser(1).occupied);
  EXPECT_EQ(*lock().ReadAttribute(AttributeId::kAutoRelockTime), 0);
  sim::SimLock rebooted(&sim_.store(), 3);
  ASSERT_TRUE(rebooted.Start().ok());
  EXPECT_FALSE(rebooted.lock().users().GetUser(1).occupied);
}

TEST_F(DoorLockTest, NextDeadlineTracksPendingTimers) {
  EnsureLocked();
  sim_.Run(60000);
  EXPECT_GT(lock().MillisUntilNextDeadline(), 0u);
  ASSERT_TRUE(lock().UnlockDoor(Phone()).ok());
  EXPECT_LE(lock().MillisUntilNextDeadline(), MechanicsConfig().motor_travel_timeout_ms);
}

}  // namespace
}  // namespace mortise::core::testing

// --- Records of issue 12 item 11 ------------------------------------------------------------------

namespace mortise::core::testing {
namespace {

RemoteOperation KeyOp(uint16_t key_index) {
  RemoteOperation op;
  op.source = OperationSource::kProprietaryRemote;
  op.key = CredentialRef{CredentialType::kAliroEvictableEndpointKey, key_index};
  return op;
}

TEST_F(DoorLockTest, QuickRequestsJoiningOneMotionAreEachRecorded) {
  EnsureLocked();
  // Five unlocks while the motor is still travelling (a 5-use key spent in
  // a few hundred milliseconds): five uses, so five records, not one.
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(lock().UnlockDoor(KeyOp(1)).ok());
    sim_.Run(50);
  }
  sim_.Run(1500);
  EXPECT_TRUE(Open());
  EXPECT_EQ(Count(EventKind::kLockOperation), 5u);
  for (const LockEvent& e : events()) {
    if (e.kind != EventKind::kLockOperation) continue;
    EXPECT_EQ(e.operation, LockOperationType::kUnlock);
    EXPECT_EQ(e.credential.index, 1);
  }
}

TEST_F(DoorLockTest, ARequestTakenOverByTheOtherPositionIsRecordedAsNotCompleted) {
  EnsureLocked();
  ASSERT_TRUE(lock().UnlockDoor(KeyOp(1)).ok());
  sim_.Run(50);
  ASSERT_TRUE(lock().LockDoor(KeyOp(2)).ok());
  sim_.Run(1500);
  EXPECT_TRUE(Locked());
  const LockEvent* e = Last(EventKind::kLockOperationError);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->detail, EventDetail::kSuperseded);
  EXPECT_EQ(e->operation, LockOperationType::kUnlock);
  EXPECT_EQ(e->credential.index, 1);
}

TEST_F(DoorLockTest, ModeChangesAreLoggedAndPassageSaysItOpenedTheDoor) {
  EnsureLocked();
  ASSERT_TRUE(lock()
                  .WriteAttribute(AttributeId::kOperatingMode, static_cast<int64_t>(OperatingMode::kPassage),
                                  OperationSource::kProprietaryRemote)
                  .ok());
  sim_.Run(1500);
  const LockEvent* mode = Last(EventKind::kOperatingModeChange);
  ASSERT_NE(mode, nullptr);
  EXPECT_EQ(mode->data_index, static_cast<uint16_t>(OperatingMode::kPassage));
  EXPECT_EQ(mode->source, OperationSource::kProprietaryRemote);
  const LockEvent* open = Last(EventKind::kLockOperation);
  ASSERT_NE(open, nullptr);
  EXPECT_EQ(open->operation, LockOperationType::kUnlock);
  EXPECT_EQ(open->detail, EventDetail::kPassageMode);
  // Writing the same mode again changes nothing and logs nothing.
  const size_t before = Count(EventKind::kOperatingModeChange);
  ASSERT_TRUE(lock().WriteAttribute(AttributeId::kOperatingMode, static_cast<int64_t>(OperatingMode::kPassage)).ok());
  EXPECT_EQ(Count(EventKind::kOperatingModeChange), before);
}

TEST_F(DoorLockTest, A02_RefusedKeysAreRecordedAtABoundedRateSoACopiedKeyCannotFloodTheLog) {
  events().clear();
  // A copied, revoked key replayed 100 times in a burst: the burst's first
  // kKeyRefusalBurst refusals are recorded, the rest only counted.
  for (int i = 0; i < 100; ++i)
    lock().RecordKeyRefused(OperationSource::kProprietaryRemote, std::nullopt, EventDetail::kKeyRevoked);
  EXPECT_EQ(Count(EventKind::kKeyRefused), DoorLock::kKeyRefusalBurst);
  // One record per refill period after that, saying how many were not recorded.
  sim_.Run(DoorLock::kKeyRefusalRefillMs);
  for (int i = 0; i < 100; ++i)
    lock().RecordKeyRefused(OperationSource::kProprietaryRemote, std::nullopt, EventDetail::kKeyRevoked);
  EXPECT_EQ(Count(EventKind::kKeyRefused), DoorLock::kKeyRefusalBurst + 1u);
  const LockEvent* e = Last(EventKind::kKeyRefused);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->data_index, 100 - DoorLock::kKeyRefusalBurst);
  EXPECT_EQ(e->detail, EventDetail::kKeyRevoked);
  // An hour of flooding costs at most burst + 60 records.
  for (int minute = 0; minute < 60; ++minute) {
    sim_.Run(DoorLock::kKeyRefusalRefillMs);
    for (int i = 0; i < 50; ++i)
      lock().RecordKeyRefused(OperationSource::kRemote, std::nullopt, EventDetail::kKeyNotIssued);
  }
  EXPECT_LE(Count(EventKind::kKeyRefused), DoorLock::kKeyRefusalBurst + 61u);
  // Refusals never count as wrong codes: the keypad is not locked out.
  EXPECT_FALSE(lock().locked_out());
}

}  // namespace
}  // namespace mortise::core::testing

// --- Sound and LED (issue 12 item 16) --------------------------------------------------------------

namespace mortise::core::testing {
namespace {

TEST_F(DoorLockTest, SoundAndLedSettingsShapeEverySignalButNeverSilenceAnAlarm) {
  const uint16_t user = AddPinUser("314159");
  (void)user;
  EnsureLocked();
  ASSERT_TRUE(lock().WriteAttribute(AttributeId::kSoundVolume, static_cast<int64_t>(SoundVolume::kSilent)).ok());
  ASSERT_TRUE(
      lock().WriteAttribute(AttributeId::kLEDSettings, static_cast<int64_t>(LedSetting::kNoneWhenAccessAllowed)).ok());
  EXPECT_EQ(lock().WriteAttribute(AttributeId::kSoundVolume, 4).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(lock().WriteAttribute(AttributeId::kLEDSettings, 3).code(), StatusCode::kInvalidArgument);
  auto& ind = sim_.indicator();
  ind.signals.clear();
  ind.feedback.clear();
  Type("314159");
  ASSERT_FALSE(ind.signals.empty());
  EXPECT_EQ(ind.signals.front(), Signal::kAccessGranted);
  EXPECT_FALSE(ind.feedback.front().led);  // no light when access is allowed
  EXPECT_EQ(ind.feedback.front().volume, SoundVolume::kSilent);
  ind.signals.clear();
  ind.feedback.clear();
  Type("999999");
  ASSERT_FALSE(ind.signals.empty());
  EXPECT_EQ(ind.signals.back(), Signal::kAccessDenied);
  EXPECT_TRUE(ind.feedback.back().led);  // a denial still lights
  // A jam is an alarm: lit and heard even on a silent lock.
  sim_.mechanics().JamForever(true);
  ASSERT_TRUE(lock().LockDoor(Phone()).ok());
  sim_.Run(20'000);
  ASSERT_EQ(ind.signals.back(), Signal::kJammed);
  EXPECT_TRUE(ind.feedback.back().led);
  EXPECT_EQ(ind.feedback.back().volume, SoundVolume::kHigh);
  // Kept across a restart.
  sim::SimLock rebooted(&sim_.store(), 23);
  ASSERT_TRUE(rebooted.Start().ok());
  EXPECT_EQ(*rebooted.lock().ReadAttribute(AttributeId::kSoundVolume), 0);
  EXPECT_EQ(*rebooted.lock().ReadAttribute(AttributeId::kLEDSettings), 1);
}

TEST_F(DoorLockTest, SettingsStoredByTheFirstFormatStillLoad) {
  ASSERT_TRUE(lock().WriteAttribute(AttributeId::kAutoRelockTime, 77).ok());
  uint8_t buf[kMaxRecordSize];
  auto n = sim_.store().Read(MakeRecordKey(kRecordSettings, 0), buf);
  ASSERT_TRUE(n.ok());
  // Version 1: the same record without the last 14 bytes (LED, sound,
  // DstOffset, DstStart, DstEnd).
  buf[0] = 1;
  ASSERT_TRUE(sim_.store().Write(MakeRecordKey(kRecordSettings, 0), std::span<const uint8_t>(buf, *n - 14)).ok());
  sim::SimLock rebooted(&sim_.store(), 24);
  ASSERT_TRUE(rebooted.Start().ok());
  EXPECT_EQ(rebooted.lock().dropped_records(), 0u);
  EXPECT_EQ(*rebooted.lock().ReadAttribute(AttributeId::kAutoRelockTime), 77);
  EXPECT_EQ(*rebooted.lock().ReadAttribute(AttributeId::kSoundVolume), static_cast<int64_t>(SoundVolume::kMedium));
}

}  // namespace
}  // namespace mortise::core::testing
