// Group memberships: the owner's (or an admin's with kPermManageGroups)
// signed, versioned statement of which of the owner's groups one lock
// belongs to. A group-scoped key (certificate.h, Scope::kGroup) opens a lock
// only while the lock's current membership lists its group, so putting a
// door into a group, or taking it out, is one signed update to that door and
// no key is reissued.
//
// Like an access list, an update is a complete snapshot, names the lock and
// its claim generation, and carries a version the lock accepts only when it
// is strictly higher than every version it accepted before for this lock
// (one sequence shared by the owner and its admins, durable: record 0x0160
// plus counter 42, raised after the record, as the access list does). Any
// device may carry it (LockNode frame 0x05): the signature is the authority.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "mortise/core/durable_store.h"
#include "mortise/crypto/drbg.h"
#include "mortise/crypto/p256.h"
#include "mortise/protocol/certificate.h"
#include "mortise/protocol/identity.h"
#include "mortise/status.h"

namespace mortise::protocol {

// Groups one lock may belong to at once (mirrored in proto/mortise.options).
inline constexpr size_t kMaxGroupsPerLock = 16;
// The largest step one accepted membership may take above the highest
// version accepted before (owner and admins alike), so no signer can pin a
// door by signing version 2^64-1: at most 2^32 per update leaves 2^32
// updates before the sequence ends.
inline constexpr uint64_t kMaxGroupMembershipVersionStep = uint64_t{1} << 32;
// Largest encoded GroupMembershipUpdate (checked against the schema).
inline constexpr size_t kMaxGroupMembershipUpdateSize = 496;

// The decoded content of a membership.
struct GroupMembershipState {
  uint64_t version = 0;           // 0: none accepted yet
  uint32_t claim_generation = 0;  // the claim it was signed for
  bool by_admin = false;          // signed by an admin (issuer_certificate)
  KeyId signer{};                 // the admin's key id when by_admin
  // When by_admin: the admin certificate's identity (issuer key id, serial,
  // issuer epoch), claim generation and window (no schedule, no use limit),
  // kept with the membership so the lock re-checks them at every use: a
  // membership signed by an admin the owner has since revoked or disabled,
  // or whose certificate is outside its window, counts as empty.
  KeyLimits admin{};
  uint8_t count = 0;
  uint64_t groups[kMaxGroupsPerLock] = {};  // strictly ascending, each != 0

  bool Contains(uint64_t group) const;
  std::span<const uint64_t> group_list() const { return std::span<const uint64_t>(groups, count); }
};

// Owner / admin side: encodes and signs `state` (its groups in any order,
// without duplicates; they are sorted here) for `lock_id` at
// `state.claim_generation`. `issuer_certificate` is empty when the owner
// signs; otherwise the admin's encoded KeyCertificate. Returns the length.
// kInvalidArgument: version 0, a group 0, a duplicate, more than
// kMaxGroupsPerLock, an oversized certificate. kResourceExhausted: `out`
// too small. Signing errors: as P256KeyPair::Sign.
Result<size_t> SignGroupMembership(const GroupMembershipState& state, const LockId& lock_id,
                                   const crypto::P256KeyPair& signer, crypto::Drbg& drbg, std::span<uint8_t> out,
                                   std::span<const uint8_t> issuer_certificate = {});

// What a lock can learn from an update without any signature check
// (frame 0x05 refuses most forgeries with it, at the cost of a decode).
struct GroupMembershipHeader {
  LockId lock_id{};
  uint32_t claim_generation = 0;
  uint64_t version = 0;
};
// kInvalidArgument: malformed, non-canonical, wrong format, version 0.
Result<GroupMembershipHeader> PeekGroupMembership(std::span<const uint8_t> update);

// The signer of an admin's membership: its certificate's limits, for the
// lock to apply its access list and time to (a revoked or expired admin
// changes no membership).
struct VerifiedGroupMembership {
  GroupMembershipState state;
  std::optional<KeyLimits> admin;  // nullopt: signed by the owner
};

// Parses and authenticates an update without applying it.
// kInvalidArgument: malformed or non-canonical encoding, wrong format,
//   version 0, a group 0, groups not strictly ascending, a malformed issuer
//   certificate.
// kUnauthenticated: not signed by the owner (or, for an admin's, the
//   certificate is not the owner's or the update not its holder's).
// kPermissionDenied: another lock or claim generation; an admin certificate
//   that is not an admin's of this lock and claim generation holding
//   kPermManageGroups, or is issued under another certificate.
Result<VerifiedGroupMembership> VerifyGroupMembership(std::span<const uint8_t> update, const LockId& lock_id,
                                                      uint32_t claim_generation, const crypto::P256PublicKey& owner);

// Lock side: the accepted membership, kept in the store (record 0x0160/0,
// floor counter 42).
class GroupMembershipStore {
 public:
  explicit GroupMembershipStore(core::DurableStore& store) : store_(store) {}

  // Loads the stored membership and repairs the floor counter if a power
  // cut fell between storing a membership and raising the counter.
  // kDataLoss: a malformed record, or the counter above the stored version
  // (a store rolled back under it: the lock keeps refusing versions up to
  // the counter). Other errors: the store's.
  Status Load();

  // Stores a verified membership if its version is above every version
  // accepted before (the record, then the counter, then RAM).
  // kAlreadyExists: not above. kOutOfRange: more than
  // kMaxGroupMembershipVersionStep above. Store errors: nothing changed in
  // RAM.
  Status Apply(const GroupMembershipState& next);

  // Forgets the membership (factory reset); the floor stays.
  Status Wipe();

  const GroupMembershipState& state() const { return state_; }
  // The highest version ever accepted (the next must be above it).
  uint64_t floor() const { return floor_; }

 private:
  core::DurableStore& store_;
  GroupMembershipState state_;
  uint64_t floor_ = 0;
};

}  // namespace mortise::protocol
