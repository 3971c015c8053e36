// Time statements, the holder's side: the statement it signs and sends in
// frame 0x07, and the lock's (advisory) answer (docs/protocol.md section
// 7.1). The lock's side is time_statement.cc.
#include "time_statement_shared.h"

namespace mortise::protocol {

using namespace time_detail;  // NOLINT: this module's own helpers

const char* TimeStatusName(TimeStatus status) {
  switch (status) {
    case TimeStatus::kCorrected: return "corrected";
    case TimeStatus::kMalformed: return "malformed";
    case TimeStatus::kWrongLock: return "wrong-lock";
    case TimeStatus::kTimeUnknown: return "time-unknown";
    case TimeStatus::kStale: return "stale";
    case TimeStatus::kTooFar: return "too-far";
    case TimeStatus::kBusy: return "busy";
    case TimeStatus::kRefused: return "refused";
    case TimeStatus::kError: return "error";
  }
  return "unknown";
}

Result<size_t> EncodeTimeStatement(const TimeStatement& statement, const crypto::P256KeyPair& signer,
                                   std::span<const uint8_t> key_chain, crypto::Drbg& drbg, std::span<uint8_t> out) {
  if (statement.utc < 0 || key_chain.size() > kMaxChainSize) return StatusCode::kInvalidArgument;
  if (out.size() < internal::SignedFrameSize(kTimeStatementFieldsSize, key_chain.size())) {
    return StatusCode::kResourceExhausted;
  }
  out[0] = kFrameType;
  const std::span<uint8_t, kTimeStatementFieldsSize> fields = out.subspan(1).first<kTimeStatementFieldsSize>();
  EncodeFields(statement, fields);
  return internal::WriteSignedTail(out, kTimeStatementFieldsSize, key_chain, StatementDigest(fields), signer, drbg);
}

Result<TimeReply> DecodeTimeReply(std::span<const uint8_t> frame) {
  if (frame.size() != kTimeReplyFrameSize || frame[0] != kFrameType || frame[1] != kTimeStatementVersion ||
      frame[2] > static_cast<uint8_t>(TimeStatus::kError)) {
    return StatusCode::kInvalidArgument;
  }
  const uint64_t utc = GetU64(frame.data() + 3);
  if (utc > static_cast<uint64_t>(INT64_MAX)) return StatusCode::kInvalidArgument;
  return TimeReply{static_cast<TimeStatus>(frame[2]), static_cast<int64_t>(utc)};
}

}  // namespace mortise::protocol
