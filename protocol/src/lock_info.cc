// What a client needs of the transport frames: the Info frame as it reads
// it (DecodeLockInfo) and the signed-update frame (0x05) it sends and whose
// reply it reads. No lock engine needed; the lock answers in node.cc.
#include <cstring>

#include "codec.h"
#include "le.h"
#include "mortise.pb.h"
#include "mortise/crypto/hash.h"
#include "mortise/protocol/node.h"

namespace mortise::protocol {

Result<size_t> EncodeSignedUpdateFrame(SignedUpdateKind kind, std::span<const uint8_t> update, std::span<uint8_t> out) {
  if (update.empty()) return StatusCode::kInvalidArgument;
  if (out.size() < 2 + update.size()) return StatusCode::kResourceExhausted;
  out[0] = static_cast<uint8_t>(FrameType::kSignedUpdate);
  out[1] = static_cast<uint8_t>(kind);
  std::memcpy(out.data() + 2, update.data(), update.size());
  return 2 + update.size();
}

Result<SignedUpdateReply> DecodeSignedUpdateReply(std::span<const uint8_t> frame) {
  if ((frame.size() != kSignedUpdateReplySize && frame.size() != kSignedUpdateReceiptReplySize) || frame[0] != static_cast<uint8_t>(FrameType::kSignedUpdate) ||
      (frame[1] != static_cast<uint8_t>(SignedUpdateKind::kAccessList) &&
       frame[1] != static_cast<uint8_t>(SignedUpdateKind::kGroupMembership)) ||
      frame[2] > static_cast<uint8_t>(StatusCode::kUnimplemented)) {
    return StatusCode::kInvalidArgument;
  }
  SignedUpdateReply r;
  r.kind = static_cast<SignedUpdateKind>(frame[1]);
  r.status = static_cast<StatusCode>(frame[2]);
  r.held_version = internal::GetU64(frame.data() + 3);
  if (frame.size() == kSignedUpdateReceiptReplySize) {
    crypto::P256Signature sig{};
    std::memcpy(sig.data(), frame.data() + kSignedUpdateReplySize, sig.size());
    r.signature = sig;
  }
  return r;
}

std::array<uint8_t, kSignedUpdateReceiptMessageSize> SignedUpdateReceiptMessage(
    const LockId& lock_id, uint32_t claim_generation, SignedUpdateKind kind, StatusCode status, uint64_t held_version,
    std::span<const uint8_t> update) {
  // Its own label (with the NUL): no other signature of the identity key
  // (remote results, log heads, custody receipts, claim proofs) can pass
  // for a receipt, nor a receipt for one of them.
  static constexpr uint8_t kLabel[26] = {'m', 'o', 'r', 't', 'i', 's', 'e', '-', 'u', 'p', 'd', 'a', 't',
                                         'e', '-', 'r', 'e', 'c', 'e', 'i', 'p', 't', '-', 'v', '1', 0};
  std::array<uint8_t, kSignedUpdateReceiptMessageSize> m{};
  uint8_t* p = m.data();
  std::memcpy(p, kLabel, sizeof(kLabel));
  p += sizeof(kLabel);
  std::memcpy(p, lock_id.data(), kLockIdSize);
  p += kLockIdSize;
  internal::PutU32(p, claim_generation);
  p += 4;
  *p++ = static_cast<uint8_t>(kind);
  *p++ = static_cast<uint8_t>(status);
  internal::PutU64(p, held_version);
  p += 8;
  const crypto::Digest h = crypto::Sha256::Hash(update);
  std::memcpy(p, h.data(), h.size());
  return m;
}

Result<uint64_t> VerifySignedUpdateReceipt(const SignedUpdateReply& reply, const crypto::P256PublicKey& lock_key,
                                           const LockId& lock_id, uint32_t claim_generation, SignedUpdateKind kind,
                                           std::span<const uint8_t> update) {
  if (reply.kind != kind) return StatusCode::kInvalidArgument;
  if (!reply.signature.has_value()) return StatusCode::kUnauthenticated;
  const auto message =
      SignedUpdateReceiptMessage(lock_id, claim_generation, kind, reply.status, reply.held_version, update);
  if (!lock_key.VerifyDigest(crypto::Sha256::Hash(message), *reply.signature).ok()) {
    return StatusCode::kUnauthenticated;
  }
  if (reply.status != StatusCode::kOk && reply.status != StatusCode::kAlreadyExists) {
    return StatusCode::kFailedPrecondition;
  }
  return reply.held_version;
}


Result<LockInfoView> DecodeLockInfo(std::span<const uint8_t> frame) {
  if (frame.empty() || frame[0] != static_cast<uint8_t>(FrameType::kInfo)) return StatusCode::kInvalidArgument;
  uint8_t scratch[mortise_LockInfo_size];
  mortise_LockInfo info = mortise_LockInfo_init_zero;
  MORTISE_TRY(internal::DecodeStrict(frame.subspan(1), mortise_LockInfo_fields, &info, scratch));
  LockInfoView v;
  if (!internal::CopyExact<kLockIdSize>(info.lock_id, std::span<uint8_t, kLockIdSize>(v.lock_id)) ||
      !internal::CopyExact<kKeyIdSize>(info.key_hash, std::span<uint8_t, kKeyIdSize>(v.key_hash))) {
    return StatusCode::kInvalidArgument;
  }
  v.version = info.version;
  v.claimed = info.claimed;
  v.claim_window_open = info.claim_window_open;
  return v;
}

}  // namespace mortise::protocol
