// The lock's identity: a P-256 key pair made on the lock itself at first
// start (or provisioned once at the factory), and the ids derived from
// public keys.
//
// Why: locks have been opened with keys derived from a MAC address or
// hard-coded in the firmware (attack A05). Here nothing secret is a constant
// or derived from public data: the private scalar comes from the lock's DRBG
// (seeded from its own entropy source) and lives only in the lock's store.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "mortise/core/durable_store.h"
#include "mortise/crypto/drbg.h"
#include "mortise/crypto/p256.h"
#include "mortise/status.h"

namespace mortise::protocol {

inline constexpr size_t kLockIdSize = 16;
inline constexpr size_t kKeyIdSize = 8;
using LockId = std::array<uint8_t, kLockIdSize>;
using KeyId = std::array<uint8_t, kKeyIdSize>;
using CompressedKey = std::array<uint8_t, crypto::kP256CompressedKeySize>;

// First 16 bytes of SHA-256 over the 65-byte uncompressed public key.
LockId LockIdOf(const crypto::P256PublicKey& key);
// First 8 bytes of SHA-256 over the 65-byte uncompressed public key: names
// an issuer in certificates and access lists.
KeyId KeyIdOf(const crypto::P256PublicKey& key);

class LockIdentity {
 public:
  // Loads the key pair from record kRecordIdentity, or, on first start,
  // generates one from `drbg` and stores it before returning it (a lock never
  // uses a key it has not persisted, so it cannot present two identities).
  // kDataLoss: the stored record is malformed or holds an invalid scalar.
  // kFailedPrecondition / kUnavailable: the DRBG is not seeded / failed.
  // Other errors: the store's, when it cannot be read or written.
  static Result<LockIdentity> LoadOrCreate(core::DurableStore& store, crypto::Drbg& drbg);

  // Factory provisioning with a scalar made elsewhere (an HSM on the line).
  // kAlreadyExists: the lock already has an identity (wipe it first: a
  // factory reset of the identity is a manufacturing step, not a user one).
  // kInvalidArgument: the scalar is not a valid P-256 private key.
  // Other errors: the store's.
  static Result<LockIdentity> Provision(core::DurableStore& store, std::span<const uint8_t> scalar);

  const crypto::P256KeyPair& key() const { return key_; }
  const crypto::P256PublicKey& public_key() const { return key_.public_key(); }
  const LockId& lock_id() const { return lock_id_; }
  // First 8 bytes of SHA-256 of the public key: printed on the label so the
  // owner pins this key while claiming.
  KeyId key_hash() const { return KeyIdOf(key_.public_key()); }

 private:
  explicit LockIdentity(const crypto::P256KeyPair& key);

  crypto::P256KeyPair key_;
  LockId lock_id_{};
};

}  // namespace mortise::protocol
