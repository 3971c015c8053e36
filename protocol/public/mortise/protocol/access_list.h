// Access lists: the owner's (or an admin's) signed, versioned statement of
// which keys the lock must refuse. The owner's list may name any key; an
// admin with the delegate right signs a list of its own that may name only
// keys its key issued. The lock keeps one list per issuer, each with its own
// version, so the owner's and the admins' lists never overwrite each other. Any device may carry one to the lock (a phone, the
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
// Admins' lists the lock keeps besides the owner's (one per admin key, for
// the current claim; a fifth admin's list is refused, kResourceExhausted).
inline constexpr size_t kMaxAdminLists = 4;
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
  bool by_admin = false;          // signed by an admin (issuer_certificate)
  KeyId signer{};                 // the admin's key id when by_admin
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
// An admin signs its own list with its key and passes its owner-issued
// certificate as `issuer_certificate` (empty: the owner's list).
// kInvalidArgument: version 0, a count above its capacity, or a serial 0.
// kResourceExhausted: `out` too small, or an admin's list too long for the
// bounded tbs (the certificate takes room: about 13 entries fit).
// Signing errors: as P256KeyPair::Sign.
Result<size_t> SignAccessList(const AccessListState& state, const LockId& lock_id,
                              const crypto::P256KeyPair& signer, crypto::Drbg& drbg, std::span<uint8_t> out,
                              std::span<const uint8_t> issuer_certificate = {});

// Parses and authenticates an update without applying it.
// kInvalidArgument: malformed or non-canonical encoding, wrong format
// version, bad sizes, a serial 0, a malformed issuer certificate.
// kUnauthenticated: the signature is not the owner's (or, for an admin's
// list, the certificate is not the owner's or the list not its holder's).
// kPermissionDenied: the update names another lock, or another claim
// generation than `claim_generation` (a list of an earlier claim, even by
// the same owner key, after a factory reset); an admin's list whose
// certificate is for another lock or claim, not an admin's with the
// delegate right, or that names a key (or an epoch) of another issuer.
Result<AccessListState> VerifyAccessList(std::span<const uint8_t> update, const LockId& lock_id,
                                         uint32_t claim_generation, const crypto::P256PublicKey& owner);

// What a lock can learn from an update before any signature check (frame
// 0x05 refuses most forgeries with it): the lock, claim, version and which
// issuer's list it is (an admin's key id comes from its certificate, whose
// owner signature is not checked here).
struct AccessListHeader {
  LockId lock_id{};
  uint32_t claim_generation = 0;
  uint64_t version = 0;
  bool by_admin = false;
  KeyId signer{};  // by_admin only
};
// kInvalidArgument: malformed or non-canonical, wrong format, version 0, a
// malformed issuer certificate.
Result<AccessListHeader> PeekAccessList(std::span<const uint8_t> update);

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
  // accepted before from its issuer, stores it (one transaction), for the
  // owner's list raises the durable counter, and only then makes it current.
  // An admin's list goes to its issuer's slot (record 0x0104 + slot, whose
  // stored version is its floor within the claim).
  // kAlreadyExists: version not greater than the accepted one (a replay or an
  // older list). kResourceExhausted: kMaxAdminLists other admins' lists are
  // kept. Errors of VerifyAccessList. Store errors: nothing changed in RAM.
  Status Apply(std::span<const uint8_t> update, const LockId& lock_id, uint32_t claim_generation,
               const crypto::P256PublicKey& owner);

  // Forgets the list (factory reset): erases the records. The durable
  // counter is not lowered (counters only grow), so the new owner's lists
  // must continue above it: `floor()` says where.
  Status Wipe();

  const AccessListState& state() const { return state_; }
  // The admins' lists (by_admin, signer set), in slot order.
  std::span<const AccessListState> admin_lists() const { return std::span<const AccessListState>(admin_, admin_count_); }
  // The lowest version the lock will still refuse.
  uint64_t floor() const { return floor_; }
  // The highest version accepted from the issuer `header` names (the
  // owner: floor(); an admin: its slot's, 0 when it has none): an update
  // must be above it.
  uint64_t HeldVersion(const AccessListHeader& header) const;

 private:
  Status Persist(const AccessListState& state);

  core::DurableStore& store_;
  Status LoadAdminLists();
  Status ApplyAdmin(const AccessListState& next);

  AccessListState state_;
  uint64_t floor_ = 0;
  AccessListState admin_[kMaxAdminLists];
  size_t admin_count_ = 0;
};

}  // namespace mortise::protocol
