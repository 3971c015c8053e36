// Facade: edge events from the lock's mechanical and push-button inputs.
#pragma once

#include <cstdint>

namespace mortise::core {

enum class ManualInput : uint8_t {
  kInsideThumbTurnLock = 0,  // the thumb-turn moved the bolt towards locked
  kInsideThumbTurnUnlock,    // ... towards unlocked
  kInsideHandle,             // the inside handle withdrew latch and bolt (panic exit)
  kMechanicalKeyLock,        // the key cylinder override turned towards locked
  kMechanicalKeyUnlock,      // ... towards unlocked
  kInsideUnlockButton,       // motorised inside button: unlock
  kInsideLockButton,         // motorised inside button: lock
  kPrivacyButton,            // inside privacy button
  kOutsideLockButton,        // one-touch locking on the outside unit
  kFactoryResetButton,       // hidden reset input held for the reset time
};

class ManualInputs {
 public:
  // Returns true and fills `out` with the oldest pending input, if any.
  virtual bool Poll(ManualInput& out) = 0;

 protected:
  // Not deleted through the facade: no virtual destructor, so the
  // portable core needs no operator delete.
  ~ManualInputs() = default;
};

}  // namespace mortise::core
