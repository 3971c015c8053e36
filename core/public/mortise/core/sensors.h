// Facade: level sensors the core samples on every Service() call.
#pragma once

#include <cstdint>

namespace mortise::core {

enum class BoltPosition : uint8_t {
  kUnknown = 0,
  kExtended,     // fully thrown
  kRetracted,    // fully withdrawn
  kLatchPulled,  // withdrawn past retracted; the latch is held open
  kBetween,      // neither end position
};

enum class DoorContact : uint8_t {
  kNotFitted = 0,  // no door position sensor: the core assumes closed
  kOpen,
  kClosed,
};

struct PowerReading {
  uint8_t battery_percent = 100;  // state of charge, 0-100
  uint16_t battery_mv = 6000;
  bool emergency_power = false;   // USB or 9 V terminal live
};

struct SensorSnapshot {
  BoltPosition bolt = BoltPosition::kUnknown;
  DoorContact door = DoorContact::kNotFitted;
  bool escutcheon_removed = false;  // tamper switch of the outside unit
  PowerReading power;
};

class Sensors {
 public:
  virtual SensorSnapshot Read() = 0;

 protected:
  // Not deleted through the facade: no virtual destructor, so the
  // portable core needs no operator delete.
  ~Sensors() = default;
};

}  // namespace mortise::core
