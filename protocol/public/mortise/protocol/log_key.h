// The audit log's authenticator and head signer, from the lock's identity
// (one place, so the derivation can change with the protocol). Portable.
#pragma once

#include <optional>

#include "mortise/protocol/lock_authority.h"
#include "mortise/store/audit_log.h"

namespace mortise::protocol {

// Builds the HMAC authenticator over LockAuthority::LogKey() (HKDF-SHA256
// of the identity's private scalar, info "mortise-log-key-v1") into `out`.
// kFailedPrecondition: the authority is not started.
Status MakeLogAuthenticator(const LockAuthority& authority,
                            std::optional<store::HmacLogAuthenticator>& out);

// The audit log's head signer (store::LogHeadSigner) over
// LockAuthority::SignLogHead: the identity key signs log heads, and the
// authority refuses any message that is not one. The authority must be
// started and outlive the signer.
class LogHeadSigner final : public store::LogHeadSigner {
 public:
  explicit LogHeadSigner(const LockAuthority& authority) : authority_(authority) {}
  std::span<const uint8_t, store::kLogLockIdSize> lock_id() const override {
    return authority_.identity().lock_id();
  }
  Status Sign(std::span<const uint8_t> message, std::span<uint8_t, store::kLogSignatureSize> signature) override;

 private:
  static_assert(kLockIdSize == store::kLogLockIdSize);
  static_assert(LockAuthority::kLogHeadMessageSize == store::kSignedHeadMessageSize);
  const LockAuthority& authority_;
};

// How often a lock signs its log's head while records wait unsigned
// (T; docs/storage-format.md §4.2): also at every segment roll.
inline constexpr uint32_t kLogHeadSignIntervalS = 600;

}  // namespace mortise::protocol
