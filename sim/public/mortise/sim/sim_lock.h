// A complete simulated lock: the core engine on simulated hardware and an
// in-memory store, advanced in fixed ticks of simulated time. Used by the
// tests, the benchmark and (later) mortise-lockd's sim backend.
#pragma once

#include <memory>

#include "mortise/core/door_lock.h"
#include "mortise/sim/memory_store.h"
#include "mortise/sim/sim_hardware.h"

namespace mortise::sim {

class SimLock {
 public:
  // `store` may be shared across "reboots" (a new SimLock on the same store).
  explicit SimLock(core::DurableStore* store = nullptr, uint64_t seed = 1,
                   const core::MechanicsConfig& mechanics = core::MechanicsConfig());

  // Starts the engine. Returns its status.
  Status Start() { return lock_->Start(); }

  // Advances simulated time by `ms` in ticks of `tick_ms`, stepping the
  // physics and calling Service() each tick.
  void Run(uint64_t ms, uint64_t tick_ms = 10);

  // Gives the lock a battery-backed RTC (before Start()); Run advances it.
  // The RTC outlives this SimLock, as the hardware outlives a reboot.
  void AttachRtc(SimRtc& rtc) {
    rtc_ = &rtc;
    lock_->AttachRealTimeClock(rtc);
  }

  core::DoorLock& lock() { return *lock_; }
  SimClock& clock() { return clock_; }
  SimMechanics& mechanics() { return mechanics_; }
  SimKeypad& keypad() { return keypad_; }
  SimCardReader& cards() { return cards_; }
  SimFingerprint& biometrics() { return biometrics_; }
  SimManualInputs& manual() { return manual_; }
  RecordingIndicator& indicator() { return indicator_; }
  RecordingEventSink& events() { return events_; }
  core::DurableStore& store() { return *store_; }
  SimRandom& random() { return random_; }

  // Convenience for people-like actions; each also queues the manual input.
  void TurnThumbTurn(bool lock);
  void TurnMechanicalKey(bool lock);
  void PullInsideHandle();

 private:
  SimClock clock_;
  SimRtc* rtc_ = nullptr;
  SimRandom random_;
  std::unique_ptr<MemoryStore> own_store_;
  core::DurableStore* store_;
  SimMechanics mechanics_;
  SimKeypad keypad_;
  SimCardReader cards_;
  SimFingerprint biometrics_;
  SimManualInputs manual_;
  RecordingIndicator indicator_;
  RecordingEventSink events_;
  std::unique_ptr<core::DoorLock> lock_;
};

}  // namespace mortise::sim
