// Internal: what the lock's side (transfer.cc) and the new owner's side
// (transfer_client.cc) of an ownership transfer share: the signed message
// and the key that seals the offline-PIN secret.
#pragma once

#include <cstring>

#include "certificate_internal.h"
#include "le.h"
#include "mortise/crypto/aead.h"
#include "mortise/crypto/kdf.h"
#include "mortise/protocol/transfer.h"

namespace mortise::protocol::transfer_detail {

inline constexpr uint8_t kSignLabel[20] = {'m', 'o', 'r', 't', 'i', 's', 'e', '-', 't', 'r',
                                           'a', 'n', 's', 'f', 'e', 'r', '-', 'v', '1', 0};
inline constexpr uint8_t kSealInfo[24] = {'m', 'o', 'r', 't', 'i', 's', 'e', '-', 't', 'r', 'a', 'n',
                                          's', 'f', 'e', 'r', '-', 'p', 'i', 'n', '-', 'v', '1', 0};
inline constexpr size_t kEphemeralAt = kTransferHeaderSize - crypto::kP256PublicKeySize;
inline constexpr size_t kSignedSize = crypto::kP256CompressedKeySize + kTransferHeaderSize + kTransferSealedSize;
inline constexpr uint8_t kNonce[13] = {};  // each sealing key seals once (a fresh ephemeral key)

// SHA-256("mortise-transfer-v1\0" | new owner (33, compressed) | header | sealed).
inline crypto::Digest SignedDigest(const crypto::P256PublicKey& new_owner, const uint8_t* result) {
  uint8_t m[kSignedSize];
  const auto owner = new_owner.Compressed();
  std::memcpy(m, owner.data(), owner.size());
  std::memcpy(m + owner.size(), result, kTransferHeaderSize + kTransferSealedSize);
  return internal::DomainDigest(kSignLabel, m);
}

// HKDF-SHA256(salt = lock id | new generation (4 LE), ikm = ECDH, info)[0..16].
inline Status SealKey(std::span<const uint8_t> shared, const uint8_t* header, crypto::SecretBytes<16>& key) {
  uint8_t salt[kLockIdSize + 4];
  std::memcpy(salt, header + 1, kLockIdSize);
  std::memcpy(salt + kLockIdSize, header + 1 + kLockIdSize + 4, 4);
  return crypto::HkdfSha256(salt, shared, kSealInfo, key.span());
}

}  // namespace mortise::protocol::transfer_detail
