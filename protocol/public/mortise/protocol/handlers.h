// Integrator hooks the protocol servers call after a command has been
// authenticated, re-checked and authorized: the Door Lock cluster's
// management commands (decoded by the protocol, management.h; a Linux lock
// runs them through dljson, a microcontroller build supplies its own), and
// the audit log.
//
// Why hooks rather than code here: the protocol module is portable and owns
// only who may do what; what a Matter command means is the core's, and how
// the log is stored is the store's. The hooks are called with a request that
// has already passed Authorize() for the command ClassifyManagement() returned, so
// they hold no policy of their own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "mortise/core/types.h"
#include "mortise/protocol/certificate.h"
#include "mortise/protocol/management.h"
#include "mortise/protocol/permissions.h"
#include "mortise/status.h"

namespace mortise::protocol {

// Bounds of the payloads inside sealed requests and responses.
inline constexpr size_t kMaxRequestPayload = 384;
inline constexpr size_t kMaxResponsePayload = 512;
inline constexpr size_t kLogChallengeBytes = 16;

// How the lock records the key that asked for an operation in its events
// (core::RemoteOperation::key): the owner's own key as Aliro non-evictable
// endpoint key #0, a certificate key as Aliro evictable endpoint key #index,
// the index its key table gave the key (LockAuthority::KeyIndexOf, which
// names (issuer key id, serial) exactly; kNoKeyIndex when the table is
// full). The command executor sets key.key_index before the key acts, so
// handlers that run operations record keys the same way.
inline core::CredentialRef KeyCredential(const VerifiedKey& key) {
  if (key.depth == 0) return core::CredentialRef{core::CredentialType::kAliroNonEvictableEndpointKey, 0};
  return core::CredentialRef{core::CredentialType::kAliroEvictableEndpointKey, key.key_index};
}

class ManagementHandler {
 public:
  // Runs an authorized management command for `key` (its user mapping, if
  // any, is the handler's business) and writes the answer into `out`.
  // Returns its length. The command is the very value the executor decoded
  // from the payload and authorized (DecodeManagement, ClassifyManagement):
  // the handler never sees the payload bytes, so it cannot read another
  // command out of them.
  // `source` is where it came from: kProprietaryRemote over a session,
  // kRemote in an end-to-end envelope (so the NoRemoteLockUnlock mode can
  // tell them apart, as the core does for the protocol's own operations).
  // kResourceExhausted: the answer does not fit `out`.
  virtual Result<size_t> Run(const VerifiedKey& key, core::OperationSource source, const ManagementCommand& command,
                             std::span<uint8_t> out) = 0;

 protected:
  ~ManagementHandler() = default;
};

class LogSource {
 public:
  // One page of the verifiable audit-log export (store::AuditLog::Export)
  // starting at sequence number `from`: encoded log items, whole items only,
  // at most out.size() bytes. The last page (when `next_from` is set to 0)
  // ends with the head item bound to `challenge`; otherwise `next_from` is
  // where the following page starts (it begins with an anchor that
  // continues the chain, so a reader feeds every page to one verifier).
  virtual Result<size_t> ReadPage(uint64_t from, std::span<const uint8_t, kLogChallengeBytes> challenge,
                                  std::span<uint8_t> out, uint64_t& next_from) = 0;
  // The upload cursor (custody.h): the sequence number through which a
  // custody holder acknowledged the log, sent in every ReadLog answer's
  // `value` so a reader sees what is not yet uploaded. 0: none, or no
  // custody on this lock.
  virtual uint64_t upload_cursor() const { return 0; }

 protected:
  ~LogSource() = default;
};

}  // namespace mortise::protocol
