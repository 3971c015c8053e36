// Shared fixture for the core tests: a simulated lock on simulated time.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "mortise/core/door_lock.h"
#include "mortise/core/schedule.h"
#include "mortise/sim/sim_lock.h"

namespace mortise::core::testing {

// Tuesday 2026-11-24 00:00 UTC.
inline const int64_t kTuesdayMidnight = DaysFromCivil(2026, 11, 24) * 86400;
inline constexpr int64_t kHour = 3600;

inline std::vector<uint8_t> Bytes(const std::string& s) { return {s.begin(), s.end()}; }

class LockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(sim_.Start().ok());
    ASSERT_TRUE(lock().SetUtcTime(kTuesdayMidnight + 8 * kHour, false).ok());
    sim_.Run(50);
  }

  DoorLock& lock() { return sim_.lock(); }
  UserDatabase& db() { return sim_.lock().users(); }
  std::vector<LockEvent>& events() { return sim_.events().events; }

  // Adds a user with a PIN via SetCredential (which creates the user).
  uint16_t AddPinUser(const std::string& pin, UserType type = UserType::kUnrestrictedUser, uint16_t index = 0) {
    if (index == 0) {
      for (index = 1; index <= config::kMaxPinCredentials; ++index)
        if (!db().GetCredentialStatus({CredentialType::kPin, index}).credential_exists) break;
    }
    SetCredentialRequest req;
    req.credential = {CredentialType::kPin, index};
    auto data = Bytes(pin);
    req.credential_data = data;
    req.user_type = type;
    auto r = db().SetCredential(req, Actor{});
    EXPECT_EQ(r.status, DlStatus::kSuccess);
    return r.user_index.value_or(0);
  }

  DlStatus AddCredential(uint16_t user, CredentialType type, uint16_t index, const std::vector<uint8_t>& data) {
    SetCredentialRequest req;
    req.credential = {type, index};
    req.credential_data = data;
    req.user_index = user;
    return db().SetCredential(req, Actor{}).status;
  }

  void Type(const std::string& pin, uint64_t run_ms = 1500) {
    sim_.keypad().Type(pin);
    sim_.Run(run_ms);
  }

  bool Locked() { return lock().bolt_state() == BoltState::kLocked; }
  bool Open() {
    return lock().bolt_state() == BoltState::kUnlocked || lock().bolt_state() == BoltState::kUnlatched;
  }

  // Brings the bolt to locked through a remote command and clears events.
  void EnsureLocked() {
    RemoteOperation op;
    op.source = OperationSource::kProprietaryRemote;
    (void)lock().LockDoor(op);
    sim_.Run(1500);
    ASSERT_TRUE(Locked());
    events().clear();
  }

  // Lets a motion end, relocks if needed and clears events.
  void Relock() {
    sim_.Run(3000);
    if (!Locked()) EnsureLocked();
    events().clear();
  }

  size_t Count(EventKind kind) {
    return std::count_if(events().begin(), events().end(), [&](const LockEvent& e) { return e.kind == kind; });
  }
  bool HasAlarm(AlarmCode code) {
    return std::any_of(events().begin(), events().end(),
                       [&](const LockEvent& e) { return e.kind == EventKind::kDoorLockAlarm && e.alarm == code; });
  }
  const LockEvent* Last(EventKind kind) {
    for (auto it = events().rbegin(); it != events().rend(); ++it)
      if (it->kind == kind) return &*it;
    return nullptr;
  }

  sim::SimLock sim_;
};

}  // namespace mortise::core::testing
