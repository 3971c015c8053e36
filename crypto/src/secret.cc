#include "mortise/crypto/secret.h"

namespace mortise::crypto {

void SecureZero(void* data, size_t size) {
  // A volatile pointer forces each store to happen.
  volatile uint8_t* p = static_cast<volatile uint8_t*>(data);
  while (size-- > 0) *p++ = 0;
}

bool ConstantTimeEqual(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  if (a.size() != b.size()) return false;
  uint8_t diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff = static_cast<uint8_t>(diff | (a[i] ^ b[i]));
  return diff == 0;
}

}  // namespace mortise::crypto
