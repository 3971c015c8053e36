// AES-128-CCM (NIST SP 800-38C) with a 13-byte nonce and a 16-byte tag, the
// parameters Matter uses for its session messages.
//
// CCM's security collapses if a (key, nonce) pair is ever used for two
// different messages: the caller must build nonces from a counter that never
// repeats under one key (the protocol module owns that counter).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "mortise/crypto/secret.h"
#include "mortise/status.h"

namespace mortise::crypto {

inline constexpr size_t kAes128KeySize = 16;
inline constexpr size_t kCcmNonceSize = 13;
inline constexpr size_t kCcmTagSize = 16;
// With a 13-byte nonce CCM's length field has 2 bytes.
inline constexpr size_t kCcmMaxMessageSize = 0xFFFF;
// The backend encodes the associated-data length in at most 2 bytes.
inline constexpr size_t kCcmMaxAadSize = 0xFEFF;

// An AES-128-CCM key. The key bytes live in self-zeroing storage; the AES key
// schedule is rebuilt for each call and wiped after it.
//
// Every call checks all lengths before it touches any data: a malformed
// length is kInvalidArgument and nothing is decrypted.
class AesCcm128 {
 public:
  explicit AesCcm128(std::span<const uint8_t, kAes128KeySize> key);

  // Encrypts `plaintext` into `ciphertext` (same length; they may be the same
  // buffer) and writes the tag.
  // kInvalidArgument: nonce not 13 bytes, tag not 16 bytes, ciphertext length
  //   differs from plaintext length, message or aad too long.
  // kInternal: the backend failed (out of memory in its allocator).
  Status Encrypt(std::span<const uint8_t> nonce, std::span<const uint8_t> aad,
                 std::span<const uint8_t> plaintext, std::span<uint8_t> ciphertext,
                 std::span<uint8_t> tag) const;

  // Verifies the tag and decrypts. Plaintext is released only when the tag
  // is valid: on any failure `plaintext` is zeroed.
  // kInvalidArgument: a length is wrong (as for Encrypt), checked first.
  // kUnauthenticated: the tag does not match (wrong key, nonce, aad, or a
  //   modified ciphertext or tag).
  // kInternal: the backend failed.
  Status Decrypt(std::span<const uint8_t> nonce, std::span<const uint8_t> aad,
                 std::span<const uint8_t> ciphertext, std::span<const uint8_t> tag,
                 std::span<uint8_t> plaintext) const;

  // Sealed form: out = ciphertext || tag, so out.size() must be
  // plaintext.size() + kCcmTagSize. Statuses as Encrypt.
  Status Seal(std::span<const uint8_t> nonce, std::span<const uint8_t> aad,
              std::span<const uint8_t> plaintext, std::span<uint8_t> out) const;

  // Opens a sealed message; plaintext.size() must be sealed.size() - 16.
  // kInvalidArgument: sealed shorter than a tag (truncated), wrong output
  //   length or nonce length; kUnauthenticated: bad tag (plaintext zeroed).
  Status Open(std::span<const uint8_t> nonce, std::span<const uint8_t> aad,
              std::span<const uint8_t> sealed, std::span<uint8_t> plaintext) const;

 private:
  SecretBytes<kAes128KeySize> key_;
};

}  // namespace mortise::crypto
