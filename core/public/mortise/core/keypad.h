// Facade: the keypad. It delivers a completed entry (digits then the enter
// key); the core never sees partial entries.
#pragma once

#include <cstdint>

#include "mortise/core/config.h"

namespace mortise::core {

struct PinEntry {
  uint8_t digits[config::kMaxPinLength + 4] = {};  // ASCII '0'-'9'
  uint8_t length = 0;                              // may exceed kMaxPinLength: refused
};

class Keypad {
 public:
  virtual bool Poll(PinEntry& out) = 0;

 protected:
  // Not deleted through the facade: no virtual destructor, so the
  // portable core needs no operator delete.
  ~Keypad() = default;
};

}  // namespace mortise::core
