// What a client needs of the transport frames: the Info frame as it reads
// it (DecodeLockInfo) and the signed-update frame (0x05) it sends and whose
// reply it reads. No lock engine needed; the lock answers in node.cc.
#include <cstring>

#include "codec.h"
#include "le.h"
#include "mortise.pb.h"
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
  if (frame.size() != kSignedUpdateReplySize || frame[0] != static_cast<uint8_t>(FrameType::kSignedUpdate) ||
      (frame[1] != static_cast<uint8_t>(SignedUpdateKind::kAccessList) &&
       frame[1] != static_cast<uint8_t>(SignedUpdateKind::kGroupMembership)) ||
      frame[2] > static_cast<uint8_t>(StatusCode::kUnimplemented)) {
    return StatusCode::kInvalidArgument;
  }
  SignedUpdateReply r;
  r.kind = static_cast<SignedUpdateKind>(frame[1]);
  r.status = static_cast<StatusCode>(frame[2]);
  r.held_version = internal::GetU64(frame.data() + 3);
  return r;
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
