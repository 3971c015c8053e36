// The Info frame as a client reads it (DecodeLockInfo): no lock engine
// needed. The lock answers Info frames in node.cc.
#include "codec.h"
#include "mortise.pb.h"
#include "mortise/protocol/node.h"

namespace mortise::protocol {

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
