#include "mortise/protocol/node.h"

#include <algorithm>

#include "codec.h"
#include "mortise.pb.h"

namespace mortise::protocol {

static_assert(kMaxFrameSize >= 1 + kMaxClaimMessageSize);

LockNode::LockNode(LockAuthority& authority, core::DoorLock& lock, core::DurableStore& store)
    : authority_(authority),
      lock_(lock),
      store_(store),
      claim_(authority, store, &lock),
      sessions_(authority, lock, store),
      remote_(authority, lock, store) {
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

}  // namespace mortise::protocol
