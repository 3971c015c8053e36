// Where the protocol keeps its state in the lock's DurableStore. The core
// reserves record kinds below 0x0100 and counters 0-15; the protocol owns
// record kinds 0x0100-0x01FF and counters 16-63 (durable_store.h).
// Formats of each record are in docs/protocol.md, "Stored state".
#pragma once

#include <cstdint>

namespace mortise::protocol {

enum RecordKind : uint16_t {
  kRecordIdentity = 0x0100,      // the lock's P-256 private scalar
  kRecordOwner = 0x0101,         // the owner's public key (root of authority)
  kRecordOfflinePin = 0x0102,    // the 32-byte offline-PIN secret agreed at claiming
  kRecordPakeVerifier = 0x0103,  // SPAKE2+ verifier, salt and iterations of the setup code
  kRecordAdminAccessList = 0x0104,  // index = slot (< kMaxAdminLists): an admin's own access list
  kRecordAccessList = 0x0110,    // index 0: header, epochs, disabled; index 1: revoked serials
  kRecordUseCounts = 0x0120,     // uses of keys with a max_uses limit, by key index
  kRecordKeyIndex = 0x0121,      // the key table: index -> (issuer key id, serial), kKeyIndexPages pages
  // 0x0160-0x016F: group memberships. Index 0: the lock's current
  // membership (group_membership.h).
  kRecordGroupMembership = 0x0160,
};

enum ProtocolCounter : uint16_t {
  // The highest access-list version the lock has accepted. Raised only
  // after the list is stored, and checked with the stored list's own version,
  // so neither a power cut nor a replay brings an older list back.
  kCounterAccessListVersion = 16,
  // The latest expiry (lock UTC seconds) of any remote envelope the lock has
  // accepted, raised before the command runs: after the clock is set back
  // or a restart, no envelope expiring at or before it is accepted again,
  // whatever the RAM replay cache forgot (remote.h).
  kCounterRemoteExpiryHighWater = 17,
  // The claim generation: raised (persisted) at every claim before the
  // owner is stored with its value, never lowered, kept by factory resets,
  // so no two claims of a lock share a generation (certificates and access
  // lists name it).
  kCounterClaimGeneration = 18,
  // Claim PAKE runs ever started, counted before the lock answers a run; and
  // that count when a physical action (claim button, factory reset) last
  // opened the claim window. Their difference is the runs spent in the
  // current window, so a restart reopens the window without refilling it
  // (claim.h).
  kCounterClaimRuns = 24,
  kCounterClaimWindowBase = 25,
  // The highest group-membership version the lock has accepted (the owner's
  // and its admins' share one sequence). Raised only after the membership is
  // stored; never lowered, kept by factory resets.
  kCounterGroupMembershipVersion = 42,
};

}  // namespace mortise::protocol
