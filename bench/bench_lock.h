// A lock set up for benchmarks: 1,000 users, each with a PIN and a week-day
// schedule; half the schedules cover the benchmark's fixed time, half do not.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "mortise/core/door_lock.h"
#include "mortise/sim/memory_store.h"
#include "mortise/sim/sim_hardware.h"

namespace mortise::bench {

class CountingSink final : public core::EventSink {
 public:
  void Emit(const core::LockEvent&) override { ++count; }
  uint64_t count = 0;
};

class NullIndicator final : public core::Indicator {
 public:
  void Show(core::Signal, const core::Feedback&) override {}
};

class BenchLock {
 public:
  static constexpr uint16_t kUsers = 1000;
  BenchLock();

  core::DoorLock& lock() { return *lock_; }
  // The i-th decision's PIN: valid in schedule, invalid, or valid but out of schedule.
  const std::string& PinFor(uint64_t i) const;
  // Lets exactly a week pass: the same weekday and hour, so every schedule
  // answers as before, while the mix's failures (2 in 4 decisions) leak
  // away (35 a week with the default lockout, backoff.h). Call it every 4
  // decisions and the mix never reaches a lockout.
  void PassAWeek() { clock_.Advance(7ull * 86'400'000); }

 private:
  sim::SimClock clock_;
  sim::SimRandom random_{7};
  sim::MemoryStore store_;
  sim::SimMechanics mechanics_;
  sim::SimManualInputs manual_;
  sim::SimKeypad keypad_;
  sim::SimCardReader cards_;
  sim::SimFingerprint biometrics_;
  NullIndicator indicator_;
  CountingSink sink_;
  std::unique_ptr<core::DoorLock> lock_;
  std::string pins_[kUsers];
  std::string invalid_[64];
};

}  // namespace mortise::bench
