// Access on the server (issue 13): access groups, signed door updates and
// keys stored verified, per-door versions held, and the bulk actions
// "remove a person from every door" and "lock down a site". The rules that
// depend on objects live here (which route a role may call is policy.h);
// the signatures are verified by door_updates.h; every change is audited in
// its own transaction. Refusals are ApiErrors with stable codes
// (docs/server.md "Access").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "audit.h"
#include "clock_random.h"
#include "door_updates.h"
#include "groups_store.h"
#include "lock_link.h"
#include "relay_gate.h"

namespace mortise::server {

// What a door is known to hold of one update: held_version, evidence
// ("none", "reported", "confirmed"), reported_version, confirmed_version,
// pending (not confirmed).
nlohmann::json HeldJson(const DoorUpdateRow& row);
// A stored update with its summary, delivery state and HeldJson.
nlohmann::json DoorUpdateJson(const DoorUpdateRow& row);

struct AccessSettings {
  DeliverySettings delivery;
  int lockdown_timeout_ms = 10000;  // [access] lockdown_timeout_ms: one door's answer to its envelope
  int lockdown_parallel = 8;        // doors of one lockdown waiting for their answers at once
};

// A key chain's bytes from an "MKS1." share string, "MK1." text or hex.
// 400 invalid_field.
std::vector<uint8_t> KeyChainFromText(std::string_view chain);

class GroupsService {
 public:
  // `link` may be null (no lock link configured): a lockdown answers 503.
  GroupsService(SqlRepository& repo, const Clock& clock, Random& random, AuditTrail& audit, LockLink* link,
                AccessSettings settings);

  // 400 invalid_field (name 1..100 characters, group_id 16 hex digits not
  // all zero, owner key a P-256 point, schedule ≤ 200 characters), 409
  // group_exists.
  AccessGroupRow CreateGroup(const Actor& actor, const std::string& org_id, std::string_view name,
                             std::string_view group_id, std::string_view owner_public_key, std::string_view schedule);
  // 404 not_found.
  AccessGroupRow Group(const std::string& org_id, const std::string& id);
  // The doors whose newest verified membership lists the group (and whose
  // owner key is the group's), with the membership's version and what the
  // door holds.
  std::vector<std::pair<DoorRow, DoorUpdateRow>> GroupDoors(const AccessGroupRow& group);

  // Verifies and stores one update for a door (kind access_list or
  // group_membership; the update as hex). Returns the stored row and
  // whether it is new (false: the same bytes were stored already).
  // 404 not_found (door), 400 invalid_field (hex), the refusals of
  // VerifyDoorUpdate, 409 stale_version (not above the stored version of
  // its kind and issuer), 409 version_too_far (a membership more than
  // 2^32 above the highest version the server knows the door accepted or
  // was sent: the lock would refuse it).
  std::pair<DoorUpdateRow, bool> UploadUpdate(const Actor& actor, const std::string& org_id,
                                              const std::string& door_id, std::string_view kind,
                                              std::string_view update_hex);
  // 404 not_found.
  std::pair<DoorRow, std::vector<DoorUpdateRow>> DoorUpdates(const std::string& org_id, const std::string& door_id);

  // A key chain ("MKS1." share string, "MK1." text or hex) issued to a person of the
  // organisation, for a door (door_id) or an access group (group_ref).
  // 400 invalid_field, 404 not_found (person, door or group), the
  // refusals of VerifyKeyChain, 409 key_exists.
  DoorKeyRow UploadKey(const Actor& actor, const std::string& org_id, const std::string& account_id,
                       std::string_view chain, const std::optional<std::string>& door_id,
                       const std::optional<std::string>& group_ref);

  // Per door, the person's keys that are live there (not revoked, disabled
  // or below their issuer's epoch in the door's stored lists, not over, a
  // group key only where the door's membership lists its group) and the
  // stored version of the list that can revoke each (its issuer's). 404
  // not_found (person).
  nlohmann::json PersonAccess(const std::string& org_id, const std::string& account_id);

  // One job: per door, a new signed access list revoking the person's keys,
  // each verified like UploadUpdate, stored all or none. 400
  // invalid_field, 404 not_found, 409 duplicate_door, 422 keys_still_live
  // (a list that leaves a key of the person live at its door, as
  // PersonAccess sees it), 422 doors_missing (a door where a key of the
  // person is live has no list in the job; the message names them), and
  // the refusals of UploadUpdate naming the door.
  BulkJobRow RemovePerson(const Actor& actor, const std::string& org_id, const std::string& account_id,
                          const nlohmann::json& updates);
  // Relays one holder-signed remote envelope per door of the site (frame
  // 0x03) through the lock link and records each door's outcome: "answered"
  // (the lock's answer is kept for the device, which verifies its
  // signature), "no_answer", "offline". 404 not_found, 400 invalid_field,
  // 400 missing_envelope (a door of the site without one), 422 wrong_door
  // (an envelope for a door outside the site), 503 no_lock_link. Never
  // 503 relay_busy: when the server's lockdown slots are in use (or this
  // organisation has a lockdown in flight) the envelopes are sent without
  // waiting, each door "no_answer" saying so.
  BulkJobRow SiteLockdown(const Actor& actor, const std::string& org_id, const std::string& site_id,
                          const nlohmann::json& envelopes);
  // The job with its per-door progress. 404 not_found.
  nlohmann::json JobView(const std::string& org_id, const std::string& job_id);

  GroupsStore& store() { return store_; }
  // Bounds the lockdowns awaited at once (each holds a lockdown slot while
  // its doors answer; without one its envelopes go out unawaited) and
  // shortens the wait for doors on probation; null: unbounded.
  void SetRelayGate(RelayGate* gate) { gate_ = gate; }

 private:
  std::string NewId(std::string_view prefix);
  DoorRow DoorOf(const std::string& org_id, const std::string& door_id);
  // Verifies `update_hex` for `door` and checks its version against the
  // stored ones: the row to store, or the stored row (stored_already) when
  // these bytes are stored (whatever the hex's case).
  struct Prepared {
    DoorUpdateRow row;
    bool stored_already = false;
  };
  Prepared Prepare(const Actor& actor, const DoorRow& door, std::string_view kind, std::string_view update_hex);

  SqlRepository& repo_;
  GroupsStore store_;
  const Clock& clock_;
  Random& random_;
  AuditTrail& audit_;
  LockLink* link_;
  AccessSettings settings_;
  RelayGate* gate_ = nullptr;
};

}  // namespace mortise::server
