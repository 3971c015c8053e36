// Ownership transfer without a factory reset (docs/protocol.md section 18).
//
// The owner's own key sends the management command TransferOwnership
// (management.h) in a session, naming the new owner's key and the claim
// generation it believes current. The lock replaces its owner key, starts a
// new claim generation (so every certificate, access list, group
// membership, custody acknowledgement and offline code of the old owner
// ends), draws a fresh offline-PIN secret, and answers with a transfer
// result: the new generation and access-list floor, the secret sealed to
// the new owner's key (ECDH with a fresh ephemeral key), all signed by the
// lock's identity key. The old owner passes the result to the new owner
// (the MKT1. text form, text_forms.h), whose device opens it with its
// private key after checking the lock's signature against the lock key it
// pins. The old owner's device cannot open the secret.
//
// Portable (no heap, no exceptions): the lock seals (SealTransferResult,
// in the lock's library), the new owner opens (OpenTransferResult, in the
// client library).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "mortise/crypto/drbg.h"
#include "mortise/crypto/p256.h"
#include "mortise/crypto/secret.h"
#include "mortise/protocol/identity.h"
#include "mortise/status.h"

namespace mortise::protocol {

inline constexpr uint8_t kTransferVersion = 1;
inline constexpr size_t kTransferSecretSize = 32;  // the offline-PIN secret
inline constexpr size_t kTransferSealedSize = kTransferSecretSize + 16;  // AES-128-CCM tag
// version (1) | lock id (16) | previous generation (4 LE) | new generation
// (4 LE) | access-list floor (8 LE) | ephemeral key (65, uncompressed)
inline constexpr size_t kTransferHeaderSize = 1 + kLockIdSize + 4 + 4 + 8 + crypto::kP256PublicKeySize;
// header | sealed secret (48) | signature (64)
inline constexpr size_t kTransferResultSize =
    kTransferHeaderSize + kTransferSealedSize + crypto::kP256SignatureSize;  // 210

// What the new owner learns from a transfer result.
struct TransferOutcome {
  LockId lock_id{};
  uint32_t previous_generation = 0;
  uint32_t claim_generation = 0;  // the new owner signs certificates and lists with it
  uint64_t access_list_floor = 0; // list versions must exceed it
  crypto::SecretBytes<kTransferSecretSize> offline_pin_secret;
};

// The lock's side: seals `pin_secret` to `new_owner` and signs the result
// with the lock's identity key into `out`. Errors of the DRBG and the
// backend (nothing written that could be used).
Status SealTransferResult(const LockIdentity& identity, const crypto::P256PublicKey& new_owner,
                          uint32_t previous_generation, uint32_t claim_generation, uint64_t access_list_floor,
                          std::span<const uint8_t, kTransferSecretSize> pin_secret, crypto::Drbg& drbg,
                          std::span<uint8_t, kTransferResultSize> out);

// The new owner's side: checks the result's size and version, that it names
// the lock `lock_key` identifies, the lock's signature over it and over the
// new owner's key (so a result made for another key, another lock, or
// edited on the way is refused), then opens the secret with `new_owner`.
// kInvalidArgument: malformed (size, version, another lock).
// kUnauthenticated: the signature does not verify with `lock_key` for
// `new_owner`'s key, or the secret does not open.
Result<TransferOutcome> OpenTransferResult(std::span<const uint8_t> result, const crypto::P256PublicKey& lock_key,
                                           const crypto::P256KeyPair& new_owner, crypto::Drbg& drbg);

}  // namespace mortise::protocol
