// The lock's side of an ownership transfer (transfer.h).
#include "transfer_shared.h"

namespace mortise::protocol {

using namespace transfer_detail;

Status SealTransferResult(const LockIdentity& identity, const crypto::P256PublicKey& new_owner,
                          uint32_t previous_generation, uint32_t claim_generation, uint64_t access_list_floor,
                          std::span<const uint8_t, kTransferSecretSize> pin_secret, crypto::Drbg& drbg,
                          std::span<uint8_t, kTransferResultSize> out) {
  MORTISE_ASSIGN_OR_RETURN(const crypto::P256KeyPair ephemeral, crypto::P256KeyPair::Generate(drbg));
  uint8_t* p = out.data();
  p[0] = kTransferVersion;
  std::memcpy(p + 1, identity.lock_id().data(), kLockIdSize);
  internal::PutU32(p + 1 + kLockIdSize, previous_generation);
  internal::PutU32(p + 1 + kLockIdSize + 4, claim_generation);
  internal::PutU64(p + 1 + kLockIdSize + 8, access_list_floor);
  std::memcpy(p + kEphemeralAt, ephemeral.public_key().bytes().data(), crypto::kP256PublicKeySize);
  crypto::SecretBytes<crypto::kP256SharedSecretSize> shared;
  MORTISE_TRY(ephemeral.Ecdh(new_owner, shared, drbg));
  crypto::SecretBytes<16> key;
  MORTISE_TRY(SealKey(shared.span(), p, key));
  MORTISE_TRY(crypto::AesCcm128(key.span())
                  .Seal(kNonce, std::span<const uint8_t>(p, kTransferHeaderSize), pin_secret,
                        std::span<uint8_t>(p + kTransferHeaderSize, kTransferSealedSize)));
  const crypto::Digest digest = SignedDigest(new_owner, p);
  crypto::P256Signature sig{};
  MORTISE_TRY(identity.key().SignDigest(digest, sig, drbg));
  std::memcpy(p + kTransferHeaderSize + kTransferSealedSize, sig.data(), sig.size());
  return Status::Ok();
}

}  // namespace mortise::protocol
