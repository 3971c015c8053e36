// Signed door updates on the server: verifying what a device uploads with
// the protocol's client library, against the door's owner key, exactly as
// the lock will (so the server never shows what a lock would refuse), and
// delivering every update a door has not confirmed through LockLink, in
// frame 0x05, with a bounded back-off, until the door confirms it.
//
// The server signs nothing here: an access list, a group membership or a
// key is the owner's (or an admin's) signature, stored as uploaded beside
// the summary decoded from it (docs/server.md "Access").
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "clock_random.h"
#include "groups_store.h"
#include "lock_link.h"
#include "repository.h"

namespace mortise::server {

// An update verified for one door.
struct VerifiedDoorUpdate {
  std::string kind;    // kKindAccessList, kKindMembership
  std::string issuer;  // "owner", "admin:<key id hex>", "lock"
  int64_t version = 0;
  int64_t claim_generation = 0;
  nlohmann::json summary;  // the decoded content (docs/server.md)
  std::string update_hex;
};

// The 64-bit group id as 16 lower-case hex digits (the CLI's form).
std::string GroupIdHex(uint64_t id);

// Verifies `update` (the encoded AccessListUpdate or GroupMembershipUpdate)
// for `door` with the protocol library's own verifiers (VerifyAccessList,
// VerifyGroupMembership) against the door's owner key. `known_generation`:
// the highest claim generation the server has seen signed for the door (0:
// none). Versions against the stored ones are the caller's (groups_service).
// Throws ApiError (nothing is stored):
//   400 invalid_update       malformed, not canonical, wrong format, version 0
//                            or above 2^63-1, an unknown kind
//   422 wrong_door           names another lock
//   409 stale_claim          names an earlier claim generation than one seen
//   403 invalid_signature    not the door's owner's (or its admin's) signature
//   403 not_permitted        an admin without the right, or naming another's keys
VerifiedDoorUpdate VerifyDoorUpdate(const DoorRow& door, std::string_view kind, std::span<const uint8_t> update,
                                    int64_t known_generation);

// A verified key chain.
struct VerifiedKeyChain {
  std::string scope;  // "lock", "group"
  std::string issuer_key_id;
  std::string serial;  // 16 hex digits
  std::string group_id;  // scope group: 16 hex digits
  nlohmann::json summary;
  std::string chain_hex;
};

// Verifies a KeyChain (VerifyChain, the lock's own function) against an
// owner key: for a door (lock_id, claim generation) or for a group (its
// group id). The time is not judged (a key may start later or be over; the
// summary says when it is valid) and nothing is revoked yet (the door's
// lists say that). Throws ApiError: 400 invalid_key (malformed), 403
// invalid_signature, 403 not_permitted (another lock, claim or group, role
// beyond its mask, bad delegation), 409 stale_claim. A key that demands
// revalidation tokens is judged as far as any other; its token is the
// lock's affair.
VerifiedKeyChain VerifyKeyChain(std::span<const uint8_t> chain, std::string_view owner_public_key_hex,
                                const std::optional<std::string>& lock_id_hex, int64_t claim_generation,
                                std::optional<uint64_t> group_id);

// Events for the WebSocket ("door.update"); main.cc wires it to the API's EventHub.
using EventSink = std::function<void(std::string_view org_id, const nlohmann::json& event)>;

struct DeliverySettings {
  int exchange_timeout_ms = 10000;  // [access] exchange_timeout_ms: one frame's answer
  int64_t first_retry_ms = 5000;    // [access] first_retry_ms: after the first attempt
  int64_t max_retry_ms = 3600000;   // [access] max_retry_ms: the back-off's bound
  int batch = 50;                   // updates looked at per DeliverDue
  // [access] recheck_ms: an update skipped in a pass (door offline, or a
  // membership waiting for its door's list) is looked at again after this,
  // so skipped rows never fill the batch for the doors behind them.
  int64_t recheck_ms = 5000;
};

// Re-sends every update a door has not confirmed (door_updates rows whose
// confirmed_version is below their version) while the door is online: at
// once after an upload, then after first_retry_ms, doubling up to
// max_retry_ms, until the lock confirms it: its answer carries a receipt
// (docs/protocol.md section 12) that verifies with the door's registered
// lock key against the row's stored update bytes and claim generation and
// says it holds at least the row's version (RecordConfirmed; the receipt is
// kept in the row), or a lock-signed record does. An unsigned answer only
// raises reported_version; a signature that does not verify is
// "bad_answer" and changes nothing.
// An offline door is skipped without counting an attempt and looked at
// again after recheck_ms, so the update goes out within recheck_ms of the
// door coming online again (and 50 offline doors never hold up the rest). A
// membership waits until the door is known to hold the owner's newest
// access list (a door put into a group refuses the group's revoked keys
// first, docs/protocol.md 5.1); access lists go first in each pass.
class DoorUpdateDeliverer {
 public:
  DoorUpdateDeliverer(SqlRepository& repo, LockLink& link, const Clock& clock, DeliverySettings settings,
                      EventSink sink = {});
  // One pass over the due updates; returns how many frames were sent.
  // Runs on the caller's thread (the lead's loop in main.cc, a test).
  int DeliverDue();
  // A lock-signed record (the log ingest) says the door with this lock id
  // holds `version` of (kind, issuer); issuer "owner" for the owner's
  // access list, "lock" for the membership. Unknown lock: false.
  bool RecordConfirmed(std::string_view lock_id_hex, std::string_view kind, uint64_t version,
                       std::string_view issuer = {});

 private:
  int64_t Backoff(int64_t attempts) const;

  SqlRepository& repo_;
  GroupsStore store_;
  LockLink& link_;
  const Clock& clock_;
  DeliverySettings settings_;
  EventSink sink_;
};

}  // namespace mortise::server
