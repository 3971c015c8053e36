// Randomised input sequences checked against the lock's safety invariants:
// the bolt never opens without an allowed decision or a manual source, a
// lockout is never bypassed, and a disabled or expired user never opens.
#include <random>

#include "test_util.h"

namespace mortise::core::testing {
namespace {

struct Person {
  std::string pin;
  UserType type;
  uint16_t user = 0;
};

class Invariants : public ::testing::TestWithParam<uint32_t> {};

TEST_P(Invariants, RandomSequencesNeverBreakTheSafetyRules) {
  std::mt19937 rng(GetParam());
  sim::SimLock sim(nullptr, GetParam());
  ASSERT_TRUE(sim.Start().ok());
  DoorLock& lock = sim.lock();
  ASSERT_TRUE(lock.SetUtcTime(kTuesdayMidnight + 8 * kHour, false).ok());
  ASSERT_TRUE(lock.WriteAttribute(AttributeId::kExpiringUserTimeout, 5).ok());
  std::vector<Person> people = {{"100001", UserType::kUnrestrictedUser}, {"100002", UserType::kUnrestrictedUser},
                                {"100003", UserType::kWeekDayScheduleUser}, {"100004", UserType::kDisposableUser},
                                {"100005", UserType::kExpiringUser}, {"100006", UserType::kNonAccessUser},
                                {"100007", UserType::kForcedUser}, {"100008", UserType::kRemoteOnlyUser}};
  for (auto& p : people) {
    SetCredentialRequest req;
    auto data = Bytes(p.pin);
    req.credential = {CredentialType::kPin, static_cast<uint16_t>(&p - people.data() + 1)};
    req.credential_data = data;
    req.user_type = p.type;
    auto r = lock.users().SetCredential(req, Actor{});
    ASSERT_EQ(r.status, DlStatus::kSuccess);
    p.user = *r.user_index;
  }
  SetUserRequest disable;
  disable.operation = DataOperationType::kModify;
  disable.user_index = people[1].user;
  disable.user_status = UserStatus::kOccupiedDisabled;
  ASSERT_EQ(lock.users().SetUser(disable, Actor{}), DlStatus::kSuccess);
  WeekDaySchedule office{kMonday | kTuesday | kWednesday | kThursday | kFriday, 9, 0, 17, 0};
  ASSERT_EQ(lock.users().SetWeekDaySchedule(1, people[2].user, office, Actor{}), DlStatus::kSuccess);

  auto& events = sim.events().events;
  size_t seen = 0;
  int disposable_opens = 0;
  std::vector<uint64_t> lockout_alarms;
  const auto& geo = sim.mechanics().geometry();
  int violations = 0;

  for (int step = 0; step < 400; ++step) {
    const int before_pos = sim.mechanics().position();
    bool manual = false;
    switch (rng() % 14) {
      case 0: case 1: case 2: sim.keypad().Type(people[rng() % people.size()].pin); break;
      case 3: case 4: sim.keypad().Type(std::to_string(200000 + rng() % 100000)); break;
      case 5: sim.cards().Tap({uint8_t(rng()), uint8_t(rng()), uint8_t(rng()), uint8_t(rng())}); break;
      case 6: sim.biometrics().NoMatch(); break;
      case 7: {
        RemoteOperation op;
        op.source = OperationSource::kRemote;
        std::vector<uint8_t> pin = Bytes(rng() % 2 ? people[rng() % people.size()].pin : "999999");
        op.pin = std::span<const uint8_t>(pin);
        (void)(rng() % 2 ? lock.UnlockDoor(op) : lock.LockDoor(op));
        break;
      }
      case 8: sim.mechanics().set_door(rng() % 2 ? DoorContact::kOpen : DoorContact::kClosed); break;
      case 9: sim.TurnThumbTurn(rng() % 2); manual = true; break;
      case 10: sim.manual().Push(ManualInput::kOutsideLockButton); break;
      case 11: sim.mechanics().JamNextAttempts(int(rng() % 3)); break;
      case 12: sim.mechanics().set_battery_percent(uint8_t(rng() % 100 + 1)); break;
      case 13: sim.Run(uint64_t(rng() % 600) * 1000, 1000); break;
    }
    sim.Run(1500);
    const int after_pos = sim.mechanics().position();

    bool opened_event = false;
    for (; seen < events.size(); ++seen) {
      const LockEvent& e = events[seen];
      if (e.kind == EventKind::kDoorLockAlarm && e.alarm == AlarmCode::kWrongCodeEntryLimit)
        lockout_alarms.push_back(e.monotonic_ms);
      if (e.kind != EventKind::kLockOperation) continue;
      if (e.operation != LockOperationType::kUnlock && e.operation != LockOperationType::kUnlatch) continue;
      opened_event = true;
      const bool credential_source = e.source == OperationSource::kKeypad || e.source == OperationSource::kRfid ||
                                     e.source == OperationSource::kBiometric || e.source == OperationSource::kRemote;
      if (!credential_source) continue;
      // A disabled or non-access user never opens.
      if (e.user_index == people[1].user || e.user_index == people[5].user) ++violations;
      if (e.user_index == people[3].user && ++disposable_opens > 1) ++violations;
      if (e.user_index == people[2].user) {
        LocalTime t = ToLocalTime(e.utc_seconds - 1, 0);  // decided up to ~1 s before the event
        if (!WeekDayScheduleCovers(office, t) && !WeekDayScheduleCovers(office, ToLocalTime(e.utc_seconds, 0)))
          ++violations;
      }
      if (e.user_index == people[4].user) {
        const User* u = lock.users().user(people[4].user);
        if (u && u->expires_at_utc != 0 && e.utc_seconds > int64_t(u->expires_at_utc) + 2) ++violations;
      }
      if (e.source == OperationSource::kKeypad && e.user_index == people[7].user) ++violations;
      // A lockout is never bypassed by a guessable credential.
      for (uint64_t t : lockout_alarms)
        if (e.source != OperationSource::kRemote && e.monotonic_ms > t + 3000 && e.monotonic_ms < t + 30000)
          ++violations;
    }
    // The bolt never opens silently: every opening carries an event.
    if (before_pos >= geo.extended && after_pos <= geo.retracted && !opened_event && !manual) ++violations;
    ASSERT_EQ(violations, 0) << "seed " << GetParam() << " step " << step;
  }
  // The run exercised the lock: it opened and refused many times.
  size_t opens = 0, refusals = 0;
  for (const auto& e : events) {
    opens += e.kind == EventKind::kLockOperation && e.operation == LockOperationType::kUnlock;
    refusals += e.kind == EventKind::kLockOperationError;
  }
  EXPECT_GT(opens, 10u);
  EXPECT_GT(refusals, 10u);
  std::printf("seed %u: %zu events, %zu opens, %zu refusals, %zu lockouts\n", GetParam(), events.size(), opens,
              refusals, lockout_alarms.size());
}

INSTANTIATE_TEST_SUITE_P(Seeds, Invariants, ::testing::Range(1u, 9u));

}  // namespace
}  // namespace mortise::core::testing
