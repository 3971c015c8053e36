// The audit log's authenticator, from the lock's identity (one place, so the
// derivation can change with the protocol).
#pragma once

#include <optional>

#include "mortise/protocol/lock_authority.h"
#include "mortise/protocol/log_key.h"
#include "mortise/store/audit_log.h"

namespace mortise::lockd {

// MakeLogAuthenticator and LogHeadSigner are the protocol's (portable).
using protocol::LogHeadSigner;
using protocol::MakeLogAuthenticator;

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

using protocol::kLogHeadSignIntervalS;

}  // namespace mortise::lockd
