// Facade: time. The core never reads a wall clock; it keeps UTC itself (set
// only through DoorLock::SetUtcTime by an authorised caller) and measures
// intervals with this monotonic clock.
#pragma once

#include <cstdint>

namespace mortise::core {

class Clock {
 public:
  // Milliseconds since an arbitrary origin at boot. Never goes backwards.
  virtual uint64_t MonotonicMs() = 0;

 protected:
  // Not deleted through the facade: no virtual destructor, so the
  // portable core needs no operator delete.
  ~Clock() = default;
};

}  // namespace mortise::core
