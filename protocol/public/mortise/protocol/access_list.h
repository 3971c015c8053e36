// Access lists: the owner's signed, versioned statement of which keys the
// lock must refuse. Any device may carry one to the lock (a phone, the
// server, another guest's phone), so an offline guest cannot dodge a
// revocation by keeping its own phone away (attack A01).
//
// An update is a complete snapshot, not a delta: the newest update alone
// brings a lock up to date, whatever versions it missed. The lock refuses
// any version not greater than the highest it has accepted, which is
// durable (a store record plus a durable counter), so an older list replayed
// to the lock, before or after a restart, is refused.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "mortise/core/durable_store.h"
#include "mortise/crypto/drbg.h"
#include "mortise/crypto/p256.h"
#include "mortise/protocol/identity.h"
#include "mortise/status.h"

namespace mortise::protocol {

// Capacities of one snapshot (mirrored in proto/mortise.options). Revoking
// more keys than fit is done by raising the issuer's minimum epoch, which
// revokes every key of that issuer with a lower epoch in one entry.
inline constexpr size_t kMaxRevokedSerials = 24;
inline constexpr size_t kMaxIssuerEpochs = 4;
inline constexpr size_t kMaxDisabledSerials = 8;
// Largest encoded AccessListUpdate.
inline constexpr size_t kMaxAccessListUpdateSize = 600;

struct IssuerMinEpoch {
  KeyId issuer{};
  uint32_t min_epoch = 0;
};

// The decoded content of an access list.
struct AccessListState {
  uint64_t version = 0;  // 0: no list accepted yet
  uint8_t revoked_count = 0;
  uint64_t revoked[kMaxRevokedSerials] = {};
  uint8_t epoch_count = 0;
  IssuerMinEpoch epochs[kMaxIssuerEpochs] = {};
  uint8_t disabled_count = 0;
  uint64_t disabled[kMaxDisabledSerials] = {};

  bool IsRevoked(uint64_t serial) const;
  bool IsDisabled(uint64_t serial) const;
  // 0 when the list names no minimum for this issuer.
  uint32_t MinEpochFor(const KeyId& issuer) const;
};

// Owner side: encodes and signs an update for `lock_id`.
// Returns the encoded length.
// kInvalidArgument: version 0, or a count above its capacity.
// kResourceExhausted: `out` too small. Signing errors: as P256KeyPair::Sign.
Result<size_t> SignAccessList(const AccessListState& state, const LockId& lock_id,
                              const crypto::P256KeyPair& owner, crypto::Drbg& drbg, std::span<uint8_t> out);

// Parses and authenticates an update without applying it.
// kInvalidArgument: malformed or non-canonical encoding, wrong format
// version, bad sizes. kUnauthenticated: the signature is not the owner's.
// kPermissionDenied: the update names another lock.
Result<AccessListState> VerifyAccessList(std::span<const uint8_t> update, const LockId& lock_id,
                                         const crypto::P256PublicKey& owner);

// Lock side: the accepted list, kept in the store.
class AccessListStore {
 public:
  explicit AccessListStore(core::DurableStore& store) : store_(store) {}

  // Loads the stored list (none: an empty list at version 0) and repairs the
  // durable version counter if a power cut fell between storing a list and
  // raising the counter.
  // kDataLoss: a stored record is malformed, or the counter is above the
  // stored list's version (a store rolled back under the counter: the lock
  // keeps refusing lists up to the counter's value).
  // Other errors: the store's.
  Status Load();

  // Verifies `update` and, if its version is greater than every version
  // accepted before, stores it (one transaction), raises the durable
  // counter, and only then makes it the current list.
  // kAlreadyExists: version not greater than the accepted one (a replay or an
  // older list). Errors of VerifyAccessList. Store errors: nothing changed
  // in RAM.
  Status Apply(std::span<const uint8_t> update, const LockId& lock_id, const crypto::P256PublicKey& owner);

  // Forgets the list (factory reset): erases the records. The durable
  // counter is not lowered (counters only grow), so the new owner's lists
  // must continue above it: `floor()` says where.
  Status Wipe();

  const AccessListState& state() const { return state_; }
  // The lowest version the lock will still refuse.
  uint64_t floor() const { return floor_; }

 private:
  Status Persist(const AccessListState& state);

  core::DurableStore& store_;
  AccessListState state_;
  uint64_t floor_ = 0;
};

}  // namespace mortise::protocol
