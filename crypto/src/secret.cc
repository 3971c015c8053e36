#include "mortise/crypto/secret.h"

#include <cstring>

namespace mortise::crypto {

void SecureZero(void* data, size_t size) {
  if (size == 0) return;
  std::memset(data, 0, size);
  // The barrier tells the compiler the zeroed memory is read afterwards, so
  // the store cannot be removed as dead (GCC and Clang).
  __asm__ __volatile__("" : : "r"(data) : "memory");
}

bool ConstantTimeEqual(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  if (a.size() != b.size()) return false;
  uint8_t diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff = static_cast<uint8_t>(diff | (a[i] ^ b[i]));
  return diff == 0;
}

}  // namespace mortise::crypto
