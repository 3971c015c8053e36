// The new owner's side of an ownership transfer (transfer.h).
#include "transfer_shared.h"

namespace mortise::protocol {

using namespace transfer_detail;

Result<TransferOutcome> OpenTransferResult(std::span<const uint8_t> result, const crypto::P256PublicKey& lock_key,
                                           const crypto::P256KeyPair& new_owner, crypto::Drbg& drbg) {
  if (result.size() != kTransferResultSize || result[0] != kTransferVersion) return StatusCode::kInvalidArgument;
  const uint8_t* p = result.data();
  TransferOutcome out;
  std::memcpy(out.lock_id.data(), p + 1, kLockIdSize);
  if (out.lock_id != LockIdOf(lock_key)) return StatusCode::kInvalidArgument;
  const crypto::Digest digest = SignedDigest(new_owner.public_key(), p);
  MORTISE_TRY(lock_key.VerifyDigest(digest, result.subspan(kTransferHeaderSize + kTransferSealedSize)));
  out.previous_generation = internal::GetU32(p + 1 + kLockIdSize);
  out.claim_generation = internal::GetU32(p + 1 + kLockIdSize + 4);
  out.access_list_floor = internal::GetU64(p + 1 + kLockIdSize + 8);
  Result<crypto::P256PublicKey> ephemeral =
      crypto::P256PublicKey::Import(result.subspan(kEphemeralAt, crypto::kP256PublicKeySize));
  if (!ephemeral.ok()) return StatusCode::kUnauthenticated;
  crypto::SecretBytes<crypto::kP256SharedSecretSize> shared;
  MORTISE_TRY(new_owner.Ecdh(*ephemeral, shared, drbg));
  crypto::SecretBytes<16> key;
  MORTISE_TRY(SealKey(shared.span(), p, key));
  const Status opened = crypto::AesCcm128(key.span())
                            .Open(kNonce, result.first(kTransferHeaderSize),
                                  result.subspan(kTransferHeaderSize, kTransferSealedSize),
                                  out.offline_pin_secret.span());
  if (!opened.ok()) return StatusCode::kUnauthenticated;
  return out;
}

}  // namespace mortise::protocol
