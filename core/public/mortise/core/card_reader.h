// Facade: the RFID/NFC card reader. Delivers the UID of a card tapped.
#pragma once

#include <cstdint>

#include "mortise/core/config.h"

namespace mortise::core {

struct CardRead {
  uint8_t uid[config::kMaxRfidLength + 4] = {};
  uint8_t length = 0;
};

class CardReader {
 public:
  virtual bool Poll(CardRead& out) = 0;

 protected:
  // Not deleted through the facade: no virtual destructor, so the
  // portable core needs no operator delete.
  ~CardReader() = default;
};

}  // namespace mortise::core
