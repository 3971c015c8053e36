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

}  // namespace mortise::lockd
