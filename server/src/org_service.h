// The model's rules: organisations (a home is a one-site organisation; its
// creator is the owner), sites, doors registered by proof of the lock's
// owner key, people with one role each, invitations. Which route a role may
// call is the router's business (policy.h); this service applies the rules
// that depend on the objects: who may hand out which role (CanAssign), the
// last owner, a home's one site, the registration's proof. Every change is
// appended to the audit trail in the same transaction. Refusals are
// ApiErrors with stable codes (docs/server.md).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "audit.h"
#include "clock_random.h"
#include "repository.h"

namespace mortise::server {

struct OrgSettings {
  int64_t invitation_lifetime_s = 7 * 24 * 3600;  // [orgs] invitation_lifetime_s
  int64_t door_challenge_lifetime_s = 300;       // [orgs] door_challenge_lifetime_s
};

struct DoorRegistration {
  std::string challenge_id;
  std::string site_id;
  std::string name;
  std::string lock_id;           // hex, 16 bytes
  std::string lock_public_key;   // hex, 65 bytes
  std::string owner_public_key;  // hex, 65 bytes
  std::string signature;         // hex, 64 bytes, over DoorRegistrationMessage
  // The lock's claim proof for owner_public_key (protocol/claim_proof.h):
  // only the lock can make it, so a made-up owner key cannot register it.
  std::string proof_transcript_hash;  // hex, 32 bytes
  std::string proof_signature;        // hex, 64 bytes, by the lock key
  uint64_t proof_access_list_floor = 0;
  uint32_t proof_claim_generation = 0;
};

struct NewInvitation {
  std::string token;  // "mti_..." shown once; sent to the invitee out of band
  InvitationRow row;
};

class OrgService {
 public:
  OrgService(Repository& repo, const Clock& clock, Random& random, AuditTrail& audit, OrgSettings settings);

  // kind "home" creates its one site, named `name`. 400 invalid_name / invalid_kind.
  OrganisationRow Create(const Actor& actor, std::string_view name, std::string_view kind);
  void Delete(const Actor& actor, const std::string& org_id);

  // 400 invalid_name, 409 home_has_one_site.
  SiteRow CreateSite(const Actor& actor, const std::string& org_id, std::string_view name);
  // 404 not_found, 409 site_not_empty.
  void DeleteSite(const Actor& actor, const std::string& org_id, const std::string& site_id);

  // A fresh single-use challenge for this account and organisation.
  DoorChallengeRow NewDoorChallenge(const Actor& actor, const std::string& org_id);
  // 400 invalid_field (a malformed hex field or name), 404 not_found (site),
  // 400 invalid_challenge (unknown, used, another account's or
  // organisation's), 410 challenge_expired, 400 invalid_lock_key (lock id is
  // not the key's hash, a key not on the curve), 403 invalid_signature,
  // 409 door_exists (the lock is registered already). The challenge is
  // spent by any attempt that names it.
  DoorRow RegisterDoor(const Actor& actor, const std::string& org_id, const DoorRegistration& reg);
  // 404 not_found.
  void DeleteDoor(const Actor& actor, const std::string& org_id, const std::string& door_id);

  // 400 invalid_role, 404 not_found, 403 forbidden_role (CanAssign), 409
  // last_owner.
  MembershipRow SetRole(const Actor& actor, const std::string& org_id, const std::string& account_id,
                        std::string_view role);
  // Removes a person (or oneself). 404 not_found, 403 forbidden_role, 409 last_owner.
  void RemovePerson(const Actor& actor, const std::string& org_id, const std::string& account_id);

  // 400 invalid_role / invalid_field, 403 forbidden_role (CanAssign).
  NewInvitation Invite(const Actor& actor, const std::string& org_id, std::string_view role, std::string_view note);
  // People from CSV (a header row naming `email` and `role`, optionally
  // `note`; at most 1000 rows): one invitation each, all or none, returned
  // with their tokens to send out of band. 400 invalid_csv (naming the
  // line: malformed CSV, a missing column, a bad email or role, a
  // duplicate email), 403 forbidden_role (a role the caller may not give).
  std::vector<std::pair<std::string, NewInvitation>> ImportPeople(const Actor& actor, const std::string& org_id,
                                                                  std::string_view csv);
  void RevokeInvitation(const Actor& actor, const std::string& org_id, const std::string& invitation_id);
  // 404 invitation_unknown, 410 invitation_expired / invitation_used, 409
  // already_member.
  MembershipRow AcceptInvitation(const Actor& actor, std::string_view token);

 private:
  std::string NewId(std::string_view prefix);
  Role ActorRole(const Actor& actor) const;

  Repository& repo_;
  const Clock& clock_;
  Random& random_;
  AuditTrail& audit_;
  OrgSettings settings_;
};

}  // namespace mortise::server
