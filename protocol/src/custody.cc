#include "mortise/protocol/custody.h"

#include <cstring>

#include "certificate_internal.h"
#include "le.h"
#include "mortise/protocol/permissions.h"

namespace mortise::protocol {

using internal::GetU16;
using internal::GetU32;
using internal::GetU64;
using internal::PutU16;
using internal::PutU32;
using internal::PutU64;

namespace {

constexpr uint8_t kFrameType = 0x06;  // FrameType::kCustody (node.h)
constexpr uint8_t kAckLabel[19] = {'m', 'o', 'r', 't', 'i', 's', 'e', '-', 'l', 'o',
                                   'g', '-', 'a', 'c', 'k', '-', 'v', '1', 0};
constexpr uint8_t kReceiptLabel[22] = {'m', 'o', 'r', 't', 'i', 's', 'e', '-', 'l', 'o', 'g',
                                       '-', 'c', 'u', 'r', 's', 'o', 'r', '-', 'v', '1', 0};
static_assert(sizeof(kReceiptLabel) + kLockIdSize + 4 + 8 + kCustodyChainHashSize + 8 == kCustodyReceiptMessageSize);
constexpr uint8_t kFlagCounters = 1;
constexpr uint8_t kFlagReceipt = 2;

crypto::Digest AckDigest(std::span<const uint8_t, kCustodyAckFieldsSize> fields) {
  return internal::DomainDigest(kAckLabel, fields);
}

void EncodeFields(const CustodyAck& ack, std::span<uint8_t, kCustodyAckFieldsSize> out) {
  uint8_t* p = out.data();
  p[0] = kCustodyVersion;
  std::memcpy(p + 1, ack.lock_id.data(), kLockIdSize);
  PutU32(p + 17, ack.generation);
  PutU64(p + 21, ack.seq);
  std::memcpy(p + 29, ack.chain.data(), kCustodyChainHashSize);
}

struct ParsedAck {
  CustodyAck ack;
  const uint8_t* fields = nullptr;  // kCustodyAckFieldsSize bytes
  std::span<const uint8_t> key_chain;
  std::span<const uint8_t> signature;
};

// Strict: every size exact, version 1, N >= 1.
bool ParseAck(std::span<const uint8_t> body, ParsedAck& p) {
  if (body.size() < kCustodyAckFieldsSize + 2 + crypto::kP256SignatureSize) return false;
  const uint8_t* b = body.data();
  if (b[0] != kCustodyVersion) return false;
  const size_t chain_len = GetU16(b + kCustodyAckFieldsSize);
  if (chain_len > kMaxChainSize) return false;
  if (body.size() != kCustodyAckFieldsSize + 2 + chain_len + crypto::kP256SignatureSize) return false;
  std::memcpy(p.ack.lock_id.data(), b + 1, kLockIdSize);
  p.ack.generation = GetU32(b + 17);
  p.ack.seq = GetU64(b + 21);
  std::memcpy(p.ack.chain.data(), b + 29, kCustodyChainHashSize);
  if (p.ack.seq == 0) return false;
  p.fields = b;
  p.key_chain = body.subspan(kCustodyAckFieldsSize + 2, chain_len);
  p.signature = body.subspan(kCustodyAckFieldsSize + 2 + chain_len);
  return true;
}

// Constant-time: the hash is no secret, but nothing is gained by leaking
// how much of it a guess got right.
bool SameHash(const CustodyChainHash& a, const CustodyChainHash& b) {
  uint8_t diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<uint8_t>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace

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
  const size_t size = 1 + kCustodyAckFieldsSize + 2 + key_chain.size() + crypto::kP256SignatureSize;
  if (out.size() < size) return StatusCode::kResourceExhausted;
  out[0] = kFrameType;
  const std::span<uint8_t, kCustodyAckFieldsSize> fields = out.subspan(1).first<kCustodyAckFieldsSize>();
  EncodeFields(ack, fields);
  PutU16(out.data() + 1 + kCustodyAckFieldsSize, static_cast<uint16_t>(key_chain.size()));
  if (!key_chain.empty()) std::memcpy(out.data() + 1 + kCustodyAckFieldsSize + 2, key_chain.data(), key_chain.size());
  crypto::P256Signature sig{};
  MORTISE_TRY(signer.SignDigest(AckDigest(fields), sig, drbg));
  std::memcpy(out.data() + size - sig.size(), sig.data(), sig.size());
  return size;
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

bool CustodyServer::TakeToken(uint64_t now_ms) {
  if (!refill_started_) {
    refill_started_ = true;
    refill_ms_ = now_ms;
  }
  if (now_ms > refill_ms_) {
    const uint64_t earned = (now_ms - refill_ms_) / kCustodyVerifyIntervalMs;
    if (tokens_ + earned >= kCustodyVerifyBurst) {
      tokens_ = kCustodyVerifyBurst;  // a full bucket banks nothing while idle
      refill_ms_ = now_ms;
    } else {
      tokens_ += static_cast<uint32_t>(earned);
      refill_ms_ += earned * kCustodyVerifyIntervalMs;
    }
  }
  if (tokens_ == 0) return false;
  --tokens_;
  return true;
}

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
  if (!TakeToken(now_ms)) return with_counters(CustodyStatus::kBusy);
  ++verify_rounds_;
  const crypto::Digest digest = AckDigest(std::span<const uint8_t, kCustodyAckFieldsSize>(p.fields, kCustodyAckFieldsSize));
  if (p.key_chain.empty()) {
    const crypto::P256PublicKey* owner = authority_.owner();
    if (owner == nullptr || !owner->VerifyDigest(digest, p.signature).ok()) return answer(CustodyStatus::kRefused);
  } else {
    Result<VerifiedKey> key = authority_.VerifyKey(p.key_chain, lock_);
    if (!key.ok()) return answer(CustodyStatus::kRefused);
    if ((key->grant.permissions & RoleAllowedPermissions(key->grant.role) & kPermLogCustody) == 0) {
      return answer(CustodyStatus::kRefused);
    }
    Result<crypto::P256PublicKey> holder = crypto::P256PublicKey::Import(key->holder_key);
    if (!holder.ok() || !holder->VerifyDigest(digest, p.signature).ok()) return answer(CustodyStatus::kRefused);
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
