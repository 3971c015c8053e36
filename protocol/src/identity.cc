#include "mortise/protocol/identity.h"

#include <cstring>

#include "mortise/crypto/hash.h"
#include "mortise/protocol/records.h"

namespace mortise::protocol {
namespace {

// Record: format byte (1) || 32-byte scalar.
constexpr uint8_t kIdentityFormat = 1;
constexpr size_t kIdentityRecordSize = 1 + crypto::kP256ScalarSize;
constexpr uint32_t kIdentityKey = core::MakeRecordKey(kRecordIdentity, 0);

Status Store(core::DurableStore& store, const crypto::P256KeyPair& key) {
  crypto::SecretBytes<kIdentityRecordSize> record;
  crypto::SecretBytes<crypto::kP256ScalarSize> scalar;
  key.ExportPrivateScalar(scalar);
  record.data()[0] = kIdentityFormat;
  std::memcpy(record.data() + 1, scalar.data(), scalar.size());
  return store.Write(kIdentityKey, record.span());
}

}  // namespace

LockId LockIdOf(const crypto::P256PublicKey& key) {
  const crypto::Digest d = crypto::Sha256::Hash(key.bytes());
  LockId id{};
  std::memcpy(id.data(), d.data(), id.size());
  return id;
}

KeyId KeyIdOf(const crypto::P256PublicKey& key) {
  const crypto::Digest d = crypto::Sha256::Hash(key.bytes());
  KeyId id{};
  std::memcpy(id.data(), d.data(), id.size());
  return id;
}

LockIdentity::LockIdentity(const crypto::P256KeyPair& key) : key_(key), lock_id_(LockIdOf(key.public_key())) {}

Result<LockIdentity> LockIdentity::LoadOrCreate(core::DurableStore& store, crypto::Drbg& drbg) {
  crypto::SecretBytes<kIdentityRecordSize + 1> record;
  Result<size_t> read = store.Read(kIdentityKey, record.span());
  if (read.ok()) {
    if (*read != kIdentityRecordSize || record.data()[0] != kIdentityFormat) return StatusCode::kDataLoss;
    Result<crypto::P256KeyPair> key =
        crypto::P256KeyPair::FromPrivateScalar(std::span<const uint8_t>(record.data() + 1, crypto::kP256ScalarSize));
    if (!key.ok()) return StatusCode::kDataLoss;
    return LockIdentity(*key);
  }
  if (read.status().code() != StatusCode::kNotFound) return read.status();
  Result<crypto::P256KeyPair> key = crypto::P256KeyPair::Generate(drbg);
  if (!key.ok()) return key.status();
  MORTISE_TRY(Store(store, *key));
  return LockIdentity(*key);
}

Result<LockIdentity> LockIdentity::Provision(core::DurableStore& store, std::span<const uint8_t> scalar) {
  uint8_t probe[kIdentityRecordSize + 1];
  Result<size_t> read = store.Read(kIdentityKey, probe);
  crypto::SecureZero(probe, sizeof(probe));
  if (read.ok()) return StatusCode::kAlreadyExists;
  if (read.status().code() != StatusCode::kNotFound) return read.status();
  Result<crypto::P256KeyPair> key = crypto::P256KeyPair::FromPrivateScalar(scalar);
  if (!key.ok()) return StatusCode::kInvalidArgument;
  MORTISE_TRY(Store(store, *key));
  return LockIdentity(*key);
}

}  // namespace mortise::protocol
