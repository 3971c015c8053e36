// The audit log's authenticator, from the lock's identity (one place, so the
// derivation can change with the protocol).
#pragma once

#include <optional>

#include "mortise/protocol/lock_authority.h"
#include "mortise/store/audit_log.h"

namespace mortise::lockd {

// Builds the HMAC authenticator over LockAuthority::LogKey() (HKDF-SHA256
// of the identity's private scalar, info "mortise-log-key-v1") into `out`.
// kFailedPrecondition: the authority is not started.
Status MakeLogAuthenticator(const protocol::LockAuthority& authority,
                            std::optional<store::HmacLogAuthenticator>& out);

// The audit log's head signer (store::LogHeadSigner) over
// LockAuthority::SignLogHead: the identity key signs log heads, and the
// authority refuses any message that is not one. The authority must be
// started and outlive the signer.
class LogHeadSigner final : public store::LogHeadSigner {
 public:
  explicit LogHeadSigner(const protocol::LockAuthority& authority) : authority_(authority) {}
  std::span<const uint8_t, store::kLogLockIdSize> lock_id() const override {
    return authority_.identity().lock_id();
  }
  Status Sign(std::span<const uint8_t> message, std::span<uint8_t, store::kLogSignatureSize> signature) override;

 private:
  static_assert(protocol::kLockIdSize == store::kLogLockIdSize);
  static_assert(protocol::LockAuthority::kLogHeadMessageSize == store::kSignedHeadMessageSize);
  const protocol::LockAuthority& authority_;
};

// Records each key-table assignment in the audit log (a key-introduction
// record: from here on, credential index N names (issuer key id, serial)),
// so a reader of the log names the exact key behind every later event. A
// failed append is logged and the key still acts: its events then name an
// index the reader cannot map (the lock's store still holds the table).
class LogKeyIntroducer final : public protocol::KeyTableObserver {
 public:
  explicit LogKeyIntroducer(store::AuditLog& log) : log_(log) {}
  void KeyIndexAssigned(uint16_t index, const protocol::KeyRef& key) override;

 private:
  store::AuditLog& log_;
};

// How often the daemon signs its log's head while records wait unsigned
// (T; docs/storage-format.md §4.2): also at every segment roll.
inline constexpr uint32_t kLogHeadSignIntervalS = 600;

}  // namespace mortise::lockd
