// Facade: the keypad. It delivers a completed entry (digits then the enter
// key '#', optionally after a leading '*'); the core never sees partial
// entries.
#pragma once

#include <cstdint>

#include "mortise/core/config.h"

namespace mortise::core {

struct PinEntry {
  uint8_t digits[config::kMaxPinLength + 4] = {};  // ASCII '0'-'9'
  uint8_t length = 0;                              // may exceed kMaxPinLength: refused
  // The entry began with '*': the programming PIN, for the programming
  // menu (programming_menu.h), never a code that opens.
  bool programming = false;
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
