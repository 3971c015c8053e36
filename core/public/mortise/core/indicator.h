// Facade: buzzer and LEDs on the outside and inside units.
#pragma once

#include <cstdint>

#include "mortise/core/types.h"

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
  kProgramming,  // the keypad programming menu waits for an entry, or saved a change
};

// How a signal is shown, from the LEDSettings and SoundVolume attributes:
// the LED may be off for it, and the buzzer sounds at `volume` (kSilent:
// not at all). Alarms (kAlarm, kJammed, kBatteryCritical) always light and
// sound, at kHigh when the lock is set silent: a quiet lock still reports
// a forced door or a jam.
struct Feedback {
  bool led = true;
  SoundVolume volume = SoundVolume::kMedium;
};

class Indicator {
 public:
  virtual void Show(Signal signal, const Feedback& how) = 0;

 protected:
  // Not deleted through the facade: no virtual destructor, so the
  // portable core needs no operator delete.
  ~Indicator() = default;
};

}  // namespace mortise::core
