// AES-128-CMAC (NIST SP 800-38B, RFC 4493): a 128-bit PRF built on one AES
// call per 16-byte block. Used where a keyed digest must be cheap on a
// microcontroller (most have AES in hardware): the lock's credential
// digests cost one AES call for any PIN, card UID or template id that fits a
// block with its type byte.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace mortise::crypto {

inline constexpr size_t kCmacSize = 16;
using CmacTag = std::array<uint8_t, kCmacSize>;

class AesCmac {
 public:
  AesCmac() = default;
  explicit AesCmac(std::span<const uint8_t, 16> key) { SetKey(key); }
  ~AesCmac();
  AesCmac(const AesCmac&) = delete;
  AesCmac& operator=(const AesCmac&) = delete;

  // Installs the key and derives the two subkeys. Wipes the previous key.
  void SetKey(std::span<const uint8_t, 16> key);

  // Tag over the concatenation a || b (callers pass a type byte and the data
  // without copying them together). Any length, including empty.
  void Mac(std::span<const uint8_t> a, std::span<const uint8_t> b, std::span<uint8_t, kCmacSize> out) const;

 private:
  void Encrypt(const uint8_t in[16], uint8_t out[16]) const;

  alignas(8) uint8_t ctx_[288];  // mbedtls_aes_context, opaque here
  uint8_t k1_[16] = {};
  uint8_t k2_[16] = {};
  bool keyed_ = false;
};

}  // namespace mortise::crypto
