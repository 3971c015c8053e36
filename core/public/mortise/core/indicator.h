// Facade: buzzer and LEDs on the outside and inside units.
#pragma once

#include <cstdint>

namespace mortise::core {

enum class Signal : uint8_t {
  kAccessGranted = 0,  // also shown for a duress (forced) user: the alarm is silent
  kAccessDenied,
  kMoreCredentialsNeeded,  // dual/tri credential rule: first credential accepted
  kLockedOut,
  kLocked,
  kUnlocked,
  kJammed,
  kBatteryLow,
  kBatteryCritical,
  kAlarm,  // tamper, forced door, door ajar
};

class Indicator {
 public:
  virtual void Show(Signal signal) = 0;

 protected:
  // Not deleted through the facade: no virtual destructor, so the
  // portable core needs no operator delete.
  ~Indicator() = default;
};

}  // namespace mortise::core
