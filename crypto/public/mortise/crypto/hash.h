// SHA-256 and HMAC-SHA256.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "mortise/crypto/secret.h"
#include "mortise/status.h"

namespace mortise::crypto {

inline constexpr size_t kSha256Size = 32;
using Digest = std::array<uint8_t, kSha256Size>;

// Incremental SHA-256 (FIPS 180-4). The state is opaque storage sized for the
// backend's context so that no heap is needed.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256& other);
  Sha256& operator=(const Sha256& other);

  void Update(std::span<const uint8_t> data);
  // Writes the digest and leaves the object ready for a new message.
  void Final(std::span<uint8_t, kSha256Size> out);

  static Digest Hash(std::span<const uint8_t> data);

 private:
  alignas(8) uint8_t ctx_[128];
};

// HMAC-SHA256 (RFC 2104) with the key's inner and outer pads hashed once, so
// each MAC costs two compression calls for a message under 56 bytes. The key
// schedule is wiped on destruction.
class HmacSha256 {
 public:
  HmacSha256() = default;
  explicit HmacSha256(std::span<const uint8_t> key) { SetKey(key); }

  void SetKey(std::span<const uint8_t> key);

  // MAC over the concatenation of up to three parts (callers pass a domain
  // label, a type byte and the data without copying them together).
  void Mac(std::span<const uint8_t> a, std::span<uint8_t, kSha256Size> out) const;
  void Mac(std::span<const uint8_t> a, std::span<const uint8_t> b,
           std::span<const uint8_t> c, std::span<uint8_t, kSha256Size> out) const;

 private:
  Sha256 inner_;
  Sha256 outer_;
};

}  // namespace mortise::crypto
