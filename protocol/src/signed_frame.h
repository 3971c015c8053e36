// Internal: the signed tail the sessionless frames 0x06 (custody.h) and
// 0x07 (time_statement.h) share after their fields:
//   chain length L (LE16; 0: signed by the owner's own key)
//   KeyChain (L bytes, as in sessions), its holder key signs
//   ECDSA P-256 r || s (64) over the frame's own domain digest of its fields
#pragma once

#include <cstring>

#include "le.h"
#include "mortise/core/door_lock.h"
#include "mortise/crypto/drbg.h"
#include "mortise/crypto/p256.h"
#include "mortise/protocol/certificate.h"
#include "mortise/protocol/lock_authority.h"
#include "mortise/protocol/permissions.h"
#include "mortise/status.h"

namespace mortise::protocol::internal {

// The whole frame's size: type byte, fields, the tail.
constexpr size_t SignedFrameSize(size_t fields_size, size_t chain_size) {
  return 1 + fields_size + 2 + chain_size + crypto::kP256SignatureSize;
}

struct SignedTail {
  std::span<const uint8_t> key_chain;
  std::span<const uint8_t> signature;
};

// `body` (without the type byte) is `fields_size` bytes of fields and the
// tail, every size exact. False: anything else.
inline bool SplitSignedTail(std::span<const uint8_t> body, size_t fields_size, SignedTail& out) {
  if (body.size() < fields_size + 2 + crypto::kP256SignatureSize) return false;
  const size_t chain_len = GetU16(body.data() + fields_size);
  if (chain_len > kMaxChainSize) return false;
  if (body.size() != fields_size + 2 + chain_len + crypto::kP256SignatureSize) return false;
  out.key_chain = body.subspan(fields_size + 2, chain_len);
  out.signature = body.subspan(fields_size + 2 + chain_len);
  return true;
}

// Holder side: `frame` holds the type byte and the fields; writes the tail
// after them, signing `digest`. Returns the frame's size. kInvalidArgument:
// a chain longer than kMaxChainSize. kResourceExhausted: `frame` too small.
inline Result<size_t> WriteSignedTail(std::span<uint8_t> frame, size_t fields_size,
                                      std::span<const uint8_t> key_chain, const crypto::Digest& digest,
                                      const crypto::P256KeyPair& signer, crypto::Drbg& drbg) {
  if (key_chain.size() > kMaxChainSize) return StatusCode::kInvalidArgument;
  const size_t size = SignedFrameSize(fields_size, key_chain.size());
  if (frame.size() < size) return StatusCode::kResourceExhausted;
  PutU16(frame.data() + 1 + fields_size, static_cast<uint16_t>(key_chain.size()));
  if (!key_chain.empty()) std::memcpy(frame.data() + 1 + fields_size + 2, key_chain.data(), key_chain.size());
  crypto::P256Signature sig{};
  MORTISE_TRY(signer.SignDigest(digest, sig, drbg));
  std::memcpy(frame.data() + size - sig.size(), sig.data(), sig.size());
  return size;
}

// Lock side: true when `tail` is signed over `digest` by the owner's own
// key (no chain), or by the holder of a chain the lock verifies (this lock
// and claim, not revoked, inside its validity) whose grant holds
// `permission`.
inline bool SignedWithRight(const LockAuthority& authority, const core::DoorLock& lock, const SignedTail& tail,
                            const crypto::Digest& digest, uint32_t permission) {
  if (tail.key_chain.empty()) {
    const crypto::P256PublicKey* owner = authority.owner();
    return owner != nullptr && owner->VerifyDigest(digest, tail.signature).ok();
  }
  Result<VerifiedKey> key = authority.VerifyKey(tail.key_chain, lock);
  if (!key.ok()) return false;
  if ((key->grant.permissions & RoleAllowedPermissions(key->grant.role) & permission) == 0) return false;
  Result<crypto::P256PublicKey> holder = crypto::P256PublicKey::Import(key->holder_key);
  return holder.ok() && holder->VerifyDigest(digest, tail.signature).ok();
}

}  // namespace mortise::protocol::internal
