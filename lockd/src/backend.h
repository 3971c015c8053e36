// The hardware a mortise-lockd runs: every facade of the core except the
// store, the randomness and the event sink, which the daemon supplies.
//
// One backend per kind of hardware: "sim" now (simulated physics, driven by
// the control socket and the terminal face); GPIO, USB or BLE-attached lock
// bodies later. The daemon builds core::DoorLock from these facades and
// never knows which backend it runs.
#pragma once

#include <cstdint>

#include "mortise/core/actuator.h"
#include "mortise/core/card_reader.h"
#include "mortise/core/clock.h"
#include "mortise/core/fingerprint_sensor.h"
#include "mortise/core/indicator.h"
#include "mortise/core/keypad.h"
#include "mortise/core/manual_inputs.h"
#include "mortise/core/sensors.h"

namespace mortise::lockd {

class SimBackend;

class Backend {
 public:
  virtual ~Backend() = default;

  virtual const char* name() const = 0;
  virtual core::Clock& clock() = 0;
  virtual core::Actuator& actuator() = 0;
  virtual core::Sensors& sensors() = 0;
  virtual core::ManualInputs& manual() = 0;
  virtual core::Keypad& keypad() = 0;
  virtual core::CardReader& cards() = 0;
  virtual core::FingerprintSensor& biometrics() = 0;
  virtual core::Indicator& indicator() = 0;

  // `ms` milliseconds have passed: a simulated clock and its physics
  // advance; real hardware, whose clock reads the OS, does nothing.
  virtual void Step(uint64_t ms) = 0;

  // The simulation controls, or nullptr on real hardware (no RTTI needed to
  // ask).
  virtual SimBackend* sim() { return nullptr; }

  uint64_t now_ms() { return clock().MonotonicMs(); }
};

}  // namespace mortise::lockd
