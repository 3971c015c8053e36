#include "secret_string.h"

#include <sodium.h>

namespace mortise::cli {

void WipeString(std::string& s) {
  // The buffer holds capacity() + 1 bytes (the terminator); all may have
  // held secret bytes at some point of the string's life.
  if (s.capacity() > 0) sodium_memzero(s.data(), s.capacity());
  s.clear();
}

}  // namespace mortise::cli
