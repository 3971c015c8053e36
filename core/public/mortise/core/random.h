// Facade: randomness from the integrator's true random source (or a DRBG
// seeded from it). Used for the lock's own secrets.
#pragma once

#include <cstdint>
#include <span>

namespace mortise::core {

class Random {
 public:
  // Fills `out` with unpredictable bytes. Must not fail; an integrator whose
  // source can fail blocks or resets the device rather than return weak bytes.
  virtual void Fill(std::span<uint8_t> out) = 0;

 protected:
  // Not deleted through the facade: no virtual destructor, so the
  // portable core needs no operator delete.
  ~Random() = default;
};

}  // namespace mortise::core
