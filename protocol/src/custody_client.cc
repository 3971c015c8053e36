// Log custody, the holder's side: the acknowledgement it signs and sends in
// frame 0x06, and the lock's answer and receipt it checks (docs/protocol.md
// section 16). The lock's side is custody.cc.
#include "custody_shared.h"

namespace mortise::protocol {

using namespace custody_detail;  // NOLINT: this module's own helpers

const char* CustodyStatusName(CustodyStatus status) {
  switch (status) {
    case CustodyStatus::kAdvanced: return "advanced";
    case CustodyStatus::kUnchanged: return "unchanged";
    case CustodyStatus::kNoMatch: return "no-match";
    case CustodyStatus::kWrongLock: return "wrong-lock";
    case CustodyStatus::kRefused: return "refused";
    case CustodyStatus::kBusy: return "busy";
    case CustodyStatus::kMalformed: return "malformed";
    case CustodyStatus::kError: return "error";
  }
  return "unknown";
}

Result<size_t> EncodeCustodyAck(const CustodyAck& ack, const crypto::P256KeyPair& signer,
                                std::span<const uint8_t> key_chain, crypto::Drbg& drbg, std::span<uint8_t> out) {
  if (ack.seq == 0 || key_chain.size() > kMaxChainSize) return StatusCode::kInvalidArgument;
  if (out.size() < internal::SignedFrameSize(kCustodyAckFieldsSize, key_chain.size())) {
    return StatusCode::kResourceExhausted;
  }
  out[0] = kFrameType;
  const std::span<uint8_t, kCustodyAckFieldsSize> fields = out.subspan(1).first<kCustodyAckFieldsSize>();
  EncodeFields(ack, fields);
  return internal::WriteSignedTail(out, kCustodyAckFieldsSize, key_chain, AckDigest(fields), signer, drbg);
}

void EncodeCustodyReceiptMessage(const LockId& lock_id, uint32_t generation, uint64_t cursor,
                                 const CustodyChainHash& chain, int64_t utc,
                                 std::span<uint8_t, kCustodyReceiptMessageSize> out) {
  uint8_t* p = out.data();
  std::memcpy(p, kReceiptLabel, sizeof(kReceiptLabel));
  p += sizeof(kReceiptLabel);
  std::memcpy(p, lock_id.data(), kLockIdSize);
  PutU32(p + 16, generation);
  PutU64(p + 20, cursor);
  std::memcpy(p + 28, chain.data(), kCustodyChainHashSize);
  PutU64(p + 44, static_cast<uint64_t>(utc));
}

Result<CustodyReply> DecodeCustodyReply(std::span<const uint8_t> frame) {
  if (frame.size() < 4 || frame[0] != kFrameType || frame[1] != kCustodyVersion) return StatusCode::kInvalidArgument;
  CustodyReply r;
  if (frame[2] > static_cast<uint8_t>(CustodyStatus::kError)) return StatusCode::kInvalidArgument;
  r.status = static_cast<CustodyStatus>(frame[2]);
  const uint8_t flags = frame[3];
  if ((flags & ~(kFlagCounters | kFlagReceipt)) != 0) return StatusCode::kInvalidArgument;
  r.has_counters = (flags & kFlagCounters) != 0;
  r.has_receipt = (flags & kFlagReceipt) != 0;
  if (r.has_receipt && !r.has_counters) return StatusCode::kInvalidArgument;
  const size_t want = 4 + (r.has_counters ? 16 : 0) + (r.has_receipt ? 8 + kCustodyChainHashSize + 64 : 0);
  if (frame.size() != want) return StatusCode::kInvalidArgument;
  const uint8_t* p = frame.data() + 4;
  if (r.has_counters) {
    r.cursor = GetU64(p);
    r.head = GetU64(p + 8);
    p += 16;
  }
  if (r.has_receipt) {
    r.signed_utc = static_cast<int64_t>(GetU64(p));
    std::memcpy(r.cursor_chain.data(), p + 8, kCustodyChainHashSize);
    std::memcpy(r.signature.data(), p + 8 + kCustodyChainHashSize, r.signature.size());
  }
  return r;
}

Status VerifyCustodyReceipt(const CustodyReply& reply, const crypto::P256PublicKey& lock_key, const LockId& lock_id,
                            uint32_t generation) {
  if (!reply.has_receipt) return StatusCode::kFailedPrecondition;
  uint8_t msg[kCustodyReceiptMessageSize];
  EncodeCustodyReceiptMessage(lock_id, generation, reply.cursor, reply.cursor_chain, reply.signed_utc, msg);
  if (!lock_key.Verify(msg, reply.signature).ok()) return StatusCode::kUnauthenticated;
  return Status::Ok();
}

}  // namespace mortise::protocol
