// Facade: the motor that moves the bolt and the latch. The core commands a
// direction and watches the bolt position sensor (sensors.h) for arrival;
// the actuator itself has no notion of success.
#pragma once

#include <cstdint>

namespace mortise::core {

enum class MotorCommand : uint8_t {
  kStop = 0,
  kExtend,     // throw the bolt (lock)
  kRetract,    // withdraw the bolt (unlock), stopping at the retracted position
  kPullLatch,  // withdraw past the retracted position to pull the latch (unlatch)
};

class Actuator {
 public:
  virtual void Drive(MotorCommand command) = 0;

 protected:
  // Not deleted through the facade: no virtual destructor, so the
  // portable core needs no operator delete.
  ~Actuator() = default;
};

}  // namespace mortise::core
