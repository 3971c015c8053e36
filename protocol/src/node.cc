#include "mortise/protocol/node.h"

#include <algorithm>
#include <cstring>

#include "codec.h"
#include "le.h"
#include "mortise.pb.h"
#include "mortise/crypto/hash.h"

namespace mortise::protocol {

static_assert(kMaxFrameSize >= 1 + kMaxClaimMessageSize);
static_assert(kMaxFrameSize >= kMaxCustodyAckFrameSize && kMaxFrameSize >= kMaxCustodyReplyFrameSize);
static_assert(kMaxFrameSize >= kMaxTimeStatementFrameSize && kMaxFrameSize >= kTimeReplyFrameSize);

LockNode::LockNode(LockAuthority& authority, core::DoorLock& lock, core::DurableStore& store)
    : authority_(authority),
      lock_(lock),
      store_(store),
      claim_(authority, store, &lock),
      sessions_(authority, lock, store),
      remote_(authority, lock, store),
      custody_(authority, lock),
      time_(authority, lock) {
  lock_.set_factory_reset_hook(this);
}

Status LockNode::Start(uint64_t now_ms, std::optional<uint32_t> setup_code) {
  if (!authority_.started()) return StatusCode::kFailedPrecondition;
  MORTISE_ASSIGN_OR_RETURN(const bool provisioned, SetupCodeProvisioned(store_));
  if (!provisioned) {
    MORTISE_ASSIGN_OR_RETURN(ClaimLabel label,
                             setup_code.has_value()
                                 ? ProvisionSetupCode(authority_.identity(), store_, authority_.drbg(), *setup_code,
                                                      kDefaultClaimIterations)
                                 : ProvisionSetupCode(authority_.identity(), store_, authority_.drbg()));
    label_ = label;
  }
  MORTISE_TRY(sessions_.Start());
  remote_.Start(now_ms);
  // A start is no physical action: the window reopens with what is left of
  // the PAKE runs the last claim-button press or factory reset gave.
  if (!authority_.claimed()) MORTISE_TRY(claim_.ResumeWindow(now_ms));
  started_ = true;
  return Status::Ok();
}

Result<ClaimLabel> LockNode::ProvisionedLabel() const {
  if (!started_) return StatusCode::kFailedPrecondition;
  if (!label_.has_value()) return StatusCode::kNotFound;
  return *label_;
}

Status LockNode::PressClaimButton(uint64_t now_ms) { return claim_.OpenWindow(now_ms); }

Status LockNode::FactoryReset(uint64_t now_ms) {
  // Sessions and tickets go first, so nothing authenticated under the old
  // owner can act while the stores are being wiped.
  sessions_.Reset();
  remote_.Reset(now_ms);
  // Users and credentials first: should the store fail in between, the
  // owner still owns a lock with nothing that opens it, rather than an
  // unclaimed lock whose old PINs and cards still work.
  MORTISE_TRY(lock_.FactoryReset());
  MORTISE_TRY(authority_.Wipe());
  return claim_.OpenWindow(now_ms);
}

Result<size_t> LockNode::Handle(std::span<const uint8_t> frame, uint64_t now_ms, std::span<uint8_t> reply) {
  if (reply.size() < kMaxFrameSize) return StatusCode::kResourceExhausted;
  const auto type = frame.empty() ? FrameType::kInvalid : static_cast<FrameType>(frame[0]);
  const std::span<const uint8_t> body = frame.empty() ? frame : frame.subspan(1);
  std::span<uint8_t> out = reply.subspan(1);
  reply[0] = static_cast<uint8_t>(type);
  Result<size_t> n = StatusCode::kInvalidArgument;
  if (!started_) {
    n = StatusCode::kFailedPrecondition;
  } else {
    switch (type) {
      case FrameType::kClaim: n = claim_.Handle(body, now_ms, out); break;
      case FrameType::kSession:
        n = body.size() > kMaxSessionMessageSize ? Result<size_t>(StatusCode::kInvalidArgument)
                                                 : sessions_.Handle(body, now_ms, out);
        break;
      case FrameType::kRemote: {
        // A remote result is larger than a session frame: the caller's
        // buffer must hold it (kMaxRemoteFrameSize).
        if (reply.size() < 1 + kMaxRemoteMessageSize) {
          n = StatusCode::kResourceExhausted;
        } else {
          n = remote_.Handle(body, now_ms, out);
        }
        break;
      }
      case FrameType::kSignedUpdate: n = HandleSignedUpdate(body, now_ms, out); break;
      case FrameType::kInfo: {
        if (!body.empty()) break;
        mortise_LockInfo info = mortise_LockInfo_init_zero;
        info.version = kSessionVersion;
        internal::SetBytes(info.lock_id, authority_.identity().lock_id());
        internal::SetBytes(info.key_hash, authority_.identity().key_hash());
        info.claimed = authority_.claimed();
        info.claim_window_open = claim_.window_open(now_ms);
        n = internal::Encode(mortise_LockInfo_fields, &info, out);
        break;
      }
      case FrameType::kCustody:
        if (custody_.enabled()) n = custody_.Handle(body, now_ms, out);
        break;
      case FrameType::kTime: n = time_.Handle(body, now_ms, out); break;
      default: break;
    }
  }
  if (!n.ok()) {
    // Nothing is revealed about a frame nobody could parse.
    reply[0] = static_cast<uint8_t>(FrameType::kInvalid);
    return size_t{1};
  }
  return 1 + *n;
}

Result<size_t> LockNode::HandleSignedUpdate(std::span<const uint8_t> body, uint64_t now_ms, std::span<uint8_t> out) {
  // A frame nobody can parse (no kind, an unknown kind, an oversized or
  // malformed update) is answered 0x00 by Handle.
  if (body.size() < 2 || out.size() < kSignedUpdateReplySize - 1) return StatusCode::kInvalidArgument;
  const auto kind = static_cast<SignedUpdateKind>(body[0]);
  const std::span<const uint8_t> update = body.subspan(1);
  StatusCode status = StatusCode::kOk;
  uint64_t held = 0;
  // Cheap checks first (a decode, no signature): this lock, this claim, a
  // version above the one held; then the budget; only then a signature.
  const auto cheap = [&](const LockId& lock_id, uint32_t generation, uint64_t version) {
    if (!authority_.claimed()) return StatusCode::kFailedPrecondition;
    if (lock_id != authority_.identity().lock_id() || generation != authority_.claim_generation()) {
      return StatusCode::kPermissionDenied;
    }
    if (version <= held) return StatusCode::kAlreadyExists;
    if (!SpendUpdateBudget(now_ms)) return StatusCode::kUnavailable;
    return StatusCode::kOk;
  };
  switch (kind) {
    case SignedUpdateKind::kAccessList: {
      if (update.size() > kMaxAccessListUpdateSize) return StatusCode::kInvalidArgument;
      MORTISE_ASSIGN_OR_RETURN(const AccessListHeader h, PeekAccessList(update));
      held = authority_.AccessListHeldVersion(h);
      status = cheap(h.lock_id, h.claim_generation, h.version);
      // Logged as a list applied in a session is; no key carried it.
      if (status == StatusCode::kOk) {
        status = authority_.ApplyAccessListAndRecord(update, lock_, core::OperationSource::kProprietaryRemote, std::nullopt)
                     .code();
      }
      held = authority_.AccessListHeldVersion(h);
      break;
    }
    case SignedUpdateKind::kGroupMembership: {
      if (update.size() > kMaxGroupMembershipUpdateSize) return StatusCode::kInvalidArgument;
      MORTISE_ASSIGN_OR_RETURN(const GroupMembershipHeader h, PeekGroupMembership(update));
      held = authority_.group_membership_floor();
      status = cheap(h.lock_id, h.claim_generation, h.version);
      if (status == StatusCode::kOk) status = authority_.ApplyGroupMembership(update, lock_).code();
      held = authority_.group_membership_floor();
      break;
    }
    default: return StatusCode::kInvalidArgument;
  }
  out[0] = static_cast<uint8_t>(kind);
  out[1] = static_cast<uint8_t>(status);
  internal::PutU64(out.data() + 2, held);
  // The receipt: what this lock now holds, for exactly these bytes, under
  // its signature, so a carrier (the server) can prove delivery to whoever
  // signed the update. A refusal is never signed; a receipt spends the
  // budget like a check (a replayed update cannot make the lock sign
  // without bound): with none left the answer stays unsigned and the
  // carrier sends again later.
  //
  // "Already held" is signed only for the exact bytes this node applied
  // (since it started): a list is a whole snapshot, so holding version V
  // says nothing about another list signed at V (another device of the
  // same owner) or below it, and a receipt over those bytes would tell
  // their signer that the lock holds what it never applied.
  const crypto::Digest digest = crypto::Sha256::Hash(update);
  if (status == StatusCode::kOk) RememberApplied(kind, digest);
  const bool receipt = status == StatusCode::kOk || (status == StatusCode::kAlreadyExists && Applied(kind, digest));
  if (!receipt || out.size() < kSignedUpdateReceiptReplySize - 1 || !SpendUpdateBudget(now_ms)) {
    return kSignedUpdateReplySize - 1;
  }
  const auto message = SignedUpdateReceiptMessage(authority_.identity().lock_id(), authority_.claim_generation(),
                                                  kind, status, held, update);
  crypto::P256Signature sig{};
  if (!authority_.identity().key().SignDigest(crypto::Sha256::Hash(message), sig, authority_.drbg()).ok()) {
    return kSignedUpdateReplySize - 1;
  }
  std::memcpy(out.data() + kSignedUpdateReplySize - 1, sig.data(), sig.size());
  return kSignedUpdateReceiptReplySize - 1;
}

void LockNode::RememberApplied(SignedUpdateKind kind, const crypto::Digest& digest) {
  AppliedUpdate& slot = applied_[applied_next_];
  slot.kind = kind;
  slot.digest = digest;
  slot.used = true;
  applied_next_ = (applied_next_ + 1) % applied_.size();
}

bool LockNode::Applied(SignedUpdateKind kind, const crypto::Digest& digest) const {
  for (const AppliedUpdate& a : applied_) {
    if (a.used && a.kind == kind && a.digest == digest) return true;
  }
  return false;
}

bool LockNode::SpendUpdateBudget(uint64_t now_ms) {
  // A signature operation at most every kSignedUpdateCostMs on average,
  // kSignedUpdateBurst at once (a virtual schedule).
  const uint64_t start = update_schedule_ms_ > now_ms ? update_schedule_ms_ : now_ms;
  if (start - now_ms >= kSignedUpdateBurst * kSignedUpdateCostMs) return false;
  update_schedule_ms_ = start + kSignedUpdateCostMs;
  return true;
}

}  // namespace mortise::protocol
