// Secret material: buffers that zero themselves and comparison that does not
// leak, through timing, where two secrets differ.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace mortise::crypto {

// Zeroes `size` bytes in a way the optimiser may not remove.
void SecureZero(void* data, size_t size);

// True when a and b have equal length and equal bytes. Runs in time that
// depends only on the lengths, never on the contents.
bool ConstantTimeEqual(std::span<const uint8_t> a, std::span<const uint8_t> b);

// A fixed-size secret that is wiped when it goes out of scope.
template <size_t N>
class SecretBytes {
 public:
  SecretBytes() { bytes_.fill(0); }
  SecretBytes(const SecretBytes& other) = default;
  SecretBytes& operator=(const SecretBytes& other) = default;
  ~SecretBytes() { SecureZero(bytes_.data(), N); }

  static constexpr size_t size() { return N; }
  uint8_t* data() { return bytes_.data(); }
  const uint8_t* data() const { return bytes_.data(); }
  std::span<uint8_t, N> span() { return std::span<uint8_t, N>(bytes_); }
  std::span<const uint8_t, N> span() const { return std::span<const uint8_t, N>(bytes_); }

 private:
  std::array<uint8_t, N> bytes_;
};

// Wipes an object that holds a secret it cannot keep in SecretBytes (a
// decoded wire message carrying a PIN) when the wiper goes out of scope, on
// every return path. Declare it right after the object, so the object
// outlives it.
template <typename T>
class ScopedWipe {
 public:
  explicit ScopedWipe(T& object) : object_(object) {}
  ~ScopedWipe() { SecureZero(&object_, sizeof(T)); }
  ScopedWipe(const ScopedWipe&) = delete;
  ScopedWipe& operator=(const ScopedWipe&) = delete;

 private:
  T& object_;
};

}  // namespace mortise::crypto
