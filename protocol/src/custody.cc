// Log custody, the lock's side: CustodyServer checks an acknowledgement
// and moves the upload cursor (docs/protocol.md section 16). The holder's
// side is custody_client.cc.
#include "custody_shared.h"

namespace mortise::protocol {

using namespace custody_detail;  // NOLINT: this module's own helpers

Result<size_t> CustodyServer::Handle(std::span<const uint8_t> body, uint64_t now_ms, std::span<uint8_t> out) {
  if (custodian_ == nullptr) return StatusCode::kFailedPrecondition;
  if (out.size() < kMaxCustodyReplyFrameSize - 1) return StatusCode::kResourceExhausted;
  out[0] = kCustodyVersion;
  out[2] = 0;
  auto answer = [&](CustodyStatus status) -> size_t {
    out[1] = static_cast<uint8_t>(status);
    return 3;
  };
  auto with_counters = [&](CustodyStatus status) -> size_t {
    out[1] = static_cast<uint8_t>(status);
    out[2] = kFlagCounters;
    PutU64(out.data() + 3, custodian_->cursor());
    PutU64(out.data() + 11, custodian_->head());
    return 19;
  };

  // 1. Form, lock and claim generation: no flash, no crypto.
  ParsedAck p;
  if (!ParseAck(body, p)) return answer(CustodyStatus::kMalformed);
  if (!authority_.claimed() || p.ack.lock_id != authority_.identity().lock_id() ||
      p.ack.generation != authority_.claim_generation()) {
    return answer(CustodyStatus::kWrongLock);
  }
  // 2. The record and its hash: flash reads and SHA-256. Beyond the head,
  // overwritten and a wrong hash are one answer without counters.
  Result<CustodyChainHash> held = custodian_->ChainAt(p.ack.seq);
  if (!held.ok()) {
    return answer(held.status().code() == StatusCode::kNotFound ? CustodyStatus::kNoMatch : CustodyStatus::kError);
  }
  if (!SameHash(*held, p.ack.chain)) return answer(CustodyStatus::kNoMatch);
  // 3. Nothing to move: a replay, or an acknowledgement overtaken.
  if (p.ack.seq <= custodian_->cursor()) return with_counters(CustodyStatus::kUnchanged);
  // 4. The verification budget, then the signatures.
  if (!verify_budget_.Take(now_ms)) return with_counters(CustodyStatus::kBusy);
  ++verify_rounds_;
  const crypto::Digest digest = AckDigest(std::span<const uint8_t, kCustodyAckFieldsSize>(p.fields, kCustodyAckFieldsSize));
  if (!internal::SignedWithRight(authority_, lock_, p.tail, digest, kPermLogCustody)) {
    return answer(CustodyStatus::kRefused);
  }
  // 5. Durable before it is reported.
  if (!custodian_->Advance(p.ack.seq).ok()) return answer(CustodyStatus::kError);
  size_t n = with_counters(CustodyStatus::kAdvanced);
  // The receipt: one signature per advance (budgeted above).
  const int64_t utc = lock_.utc_now().value_or(0);
  uint8_t msg[kCustodyReceiptMessageSize];
  const uint64_t cursor = custodian_->cursor();
  EncodeCustodyReceiptMessage(p.ack.lock_id, p.ack.generation, cursor, *held, utc, msg);
  crypto::P256Signature sig{};
  if (cursor == p.ack.seq && authority_.SignCustodyReceipt(msg, sig).ok()) {
    out[2] |= kFlagReceipt;
    PutU64(out.data() + n, static_cast<uint64_t>(utc));
    std::memcpy(out.data() + n + 8, held->data(), kCustodyChainHashSize);
    std::memcpy(out.data() + n + 8 + kCustodyChainHashSize, sig.data(), sig.size());
    n += 8 + kCustodyChainHashSize + sig.size();
  }
  return n;
}

}  // namespace mortise::protocol

