// Facade: a battery-backed real-time clock, for locks that have one.
//
// A lock with an RTC keeps its time through a restart or a battery change
// (a coin cell keeps the RTC running), so schedules, guest keys and offline
// PINs work again at once instead of failing closed until an owner's device
// sets the time. The core trusts the RTC only forward of its durable time
// floor: an RTC that lost power, or reads earlier than a time the lock has
// already reached, leaves the time unknown (fail closed, attack A04), and only
// an authorised SetUtcTime sets it again.
#pragma once

#include <cstdint>
#include <optional>

#include "mortise/status.h"

namespace mortise::core {

class RealTimeClock {
 public:
  // UTC seconds now, or nullopt when the RTC holds no time (never set, or it
  // lost power).
  virtual std::optional<int64_t> ReadUtc() = 0;
  // Sets the RTC after an authorised DoorLock::SetUtcTime. Errors: the
  // device's; the lock's time in RAM is set either way.
  virtual Status WriteUtc(int64_t utc_s) = 0;

 protected:
  // Not deleted through the facade: no virtual destructor, so the
  // portable core needs no operator delete.
  ~RealTimeClock() = default;
};

}  // namespace mortise::core
