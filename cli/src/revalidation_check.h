// A revalidation token (protocol/revalidation.h) checked on the holder's
// device as the lock will check it, as far as the device can: for this lock
// and this very key, within its window on this device's clock, and signed
// by the lock owner's key (or by a revalidation key the owner certified,
// carried in the token). What only the lock knows (its access list, its
// group membership, its own clock) stays the lock's to judge. Used by
// `mortise key token --from-server` and by the automatic refresh before a
// command (commands_duty.cc), so a token a server made up is neither stored
// nor kept (A09).
//
// The owner's public key is not part of a holder's key string: it is
// pinned in the lock's keyring entry (`extra.owner_key`, hex) once a key
// has shown that it signed the first certificate of the holder's own chain,
// which only the owner's key does.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "keyring.h"
#include "mortise/crypto/p256.h"

namespace mortise::cli {

struct TokenVerdict {
  std::string problem;  // empty: it verified; else why not, for "... is not valid: <problem>"
  int64_t issued_at = 0, valid_until = 0;  // set once it decoded for this key
};

// The token for `lock` (its `chain` and lock id) judged at `now` (UTC s):
// decodes; names this lock, the chain's holder serial and key; issued no
// more than kRevalidationMaxSkewS after `now` and no more than the chain's
// bound before it; signed by `owner` or a revalidation key `owner`
// certified (protocol::VerifyChain with the token), that key's certificate
// valid at `now`.
TokenVerdict VerifyRevalidationTokenHere(const LockEntry& lock, std::span<const uint8_t> token,
                                         const crypto::P256PublicKey& owner, int64_t now);

// `owner` is the key that signed the first certificate of `lock.chain`.
bool OwnerKeySignedChain(const LockEntry& lock, const crypto::P256PublicKey& owner);

// The owner key pinned in `lock.extra.owner_key`, if any and it still
// passes OwnerKeySignedChain.
std::optional<crypto::P256PublicKey> PinnedOwnerKey(const LockEntry& lock);

}  // namespace mortise::cli
