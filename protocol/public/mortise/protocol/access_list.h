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

// Capacities of one snapshot (mirrored in proto/mortise.options; together
// they keep an update within a session request's payload). Revoking more
// keys than fit is done by raising the issuer's minimum epoch, which revokes
// every key of that issuer with a lower epoch in one entry.
inline constexpr size_t kMaxRevokedKeys = 15;
inline constexpr size_t kMaxIssuerEpochs = 4;
inline constexpr size_t kMaxDisabledKeys = 4;
// Largest encoded AccessListUpdate.
inline constexpr size_t kMaxAccessListUpdateSize = 600;

// A key's identity: who signed its certificate and the certificate's serial.
// Two issuers may draw the same serial; the pair never collides.
struct KeyRef {
  KeyId issuer{};
  uint64_t serial = 0;
  bool operator==(const KeyRef&) const = default;
};

struct IssuerMinEpoch {
  KeyId issuer{};
  uint32_t min_epoch = 0;
};

// The decoded content of an access list.
struct AccessListState {
  uint64_t version = 0;           // 0: no list accepted yet
  uint32_t claim_generation = 0;  // the claim it was signed for
  uint8_t revoked_count = 0;
  KeyRef revoked[kMaxRevokedKeys] = {};
  uint8_t epoch_count = 0;
  IssuerMinEpoch epochs[kMaxIssuerEpochs] = {};
  uint8_t disabled_count = 0;
  KeyRef disabled[kMaxDisabledKeys] = {};

  bool IsRevoked(const KeyRef& key) const;
  bool IsDisabled(const KeyRef& key) const;
  // 0 when the list names no minimum for this issuer.
  uint32_t MinEpochFor(const KeyId& issuer) const;
};

// Owner side: encodes and signs an update for `lock_id` at the claim
// generation `state.claim_generation`. Returns the encoded length.
// kInvalidArgument: version 0, a count above its capacity, or a serial 0.
// kResourceExhausted: `out` too small. Signing errors: as P256KeyPair::Sign.
Result<size_t> SignAccessList(const AccessListState& state, const LockId& lock_id,
                              const crypto::P256KeyPair& owner, crypto::Drbg& drbg, std::span<uint8_t> out);

// Parses and authenticates an update without applying it.
// kInvalidArgument: malformed or non-canonical encoding, wrong format
// version, bad sizes, a serial 0. kUnauthenticated: the signature is not
// the owner's. kPermissionDenied: the update names another lock, or another
// claim generation than `claim_generation` (a list of an earlier claim,
// even by the same owner key, after a factory reset).
Result<AccessListState> VerifyAccessList(std::span<const uint8_t> update, const LockId& lock_id,
                                         uint32_t claim_generation, const crypto::P256PublicKey& owner);

// Lock side: the accepted list, kept in the store.
class AccessListStore {
 public:
  explicit AccessListStore(core::DurableStore& store) : store_(store) {}

  // Loads the stored list (none, or one of format 1 from before claim
  // generations, which can revoke nothing that still verifies: an empty
  // list at version 0) and repairs the
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
  Status Apply(std::span<const uint8_t> update, const LockId& lock_id, uint32_t claim_generation,
               const crypto::P256PublicKey& owner);

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
