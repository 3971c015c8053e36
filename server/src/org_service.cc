#include "org_service.h"

#include <nlohmann/json.hpp>

#include <set>

#include "api_error.h"
#include "auth_service.h"
#include "csv.h"
#include "door_registration.h"
#include "mortise/crypto/p256.h"
#include "mortise/protocol/claim_proof.h"
#include "mortise/protocol/identity.h"
#include "policy.h"

namespace mortise::server {
namespace {

using nlohmann::json;

constexpr size_t kMaxName = 200;

void CheckName(std::string_view name, const char* what) {
  if (name.empty() || name.size() > kMaxName) {
    throw ApiError(400, "invalid_name", std::string("Give the ") + what + " a name of 1 to 200 characters.");
  }
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) {
      throw ApiError(400, "invalid_name", std::string("The ") + what + " name may not hold control characters.");
    }
  }
}

Role RoleOrThrow(std::string_view name) {
  const auto r = ParseRole(name);
  if (!r) throw ApiError(400, "invalid_role", "role must be owner, admin, member, guest or installer.");
  return *r;
}

std::vector<uint8_t> HexField(std::string_view hex, size_t size, const char* field) {
  auto v = FromHex(hex, size);
  if (!v) {
    throw ApiError(400, "invalid_field",
                   std::string("\"") + field + "\" must be " + std::to_string(size) + " bytes in hex.");
  }
  return *v;
}

}  // namespace

OrgService::OrgService(Repository& repo, const Clock& clock, Random& random, AuditTrail& audit, OrgSettings settings)
    : repo_(repo), clock_(clock), random_(random), audit_(audit), settings_(settings) {}

std::string OrgService::NewId(std::string_view prefix) { return NewObjectId(clock_, random_, prefix); }

Role OrgService::ActorRole(const Actor& actor) const {
  if (!actor.membership) throw std::logic_error("organisation action without membership");
  return RoleOrThrow(actor.membership->role);
}

OrganisationRow OrgService::Create(const Actor& actor, std::string_view name, std::string_view kind) {
  CheckName(name, "organisation");
  if (kind != "home" && kind != "organisation") {
    throw ApiError(400, "invalid_kind", "kind must be \"home\" (one site) or \"organisation\".");
  }
  const int64_t now = clock_.NowMs();
  OrganisationRow org{NewId("org_"), std::string(name), std::string(kind), now};
  std::optional<SiteRow> site;
  if (kind == "home") site = SiteRow{NewId("site_"), org.id, std::string(name), now};
  const MembershipRow owner{org.id, actor.principal.account_id, actor.principal.email, "owner", now};
  repo_.CreateOrganisation(org, site, owner,
                           audit_.Event(actor, org.id, "org.create", "organisation", org.id,
                                        {{"name", org.name}, {"kind", org.kind}}));
  return org;
}

void OrgService::Delete(const Actor& actor, const std::string& org_id) {
  repo_.DeleteOrganisation(org_id, audit_.Event(actor, org_id, "org.delete", "organisation", org_id, nullptr));
}

SiteRow OrgService::CreateSite(const Actor& actor, const std::string& org_id, std::string_view name) {
  CheckName(name, "site");
  const auto org = repo_.Organisation(org_id);
  if (!org) throw ApiError(404, "not_found", "No such organisation, or you are not in it.");
  if (org->kind == "home" && !repo_.Sites(org_id, "", 1).empty()) {
    throw ApiError(409, "home_has_one_site", "A home has one site; create an organisation for several sites.");
  }
  SiteRow site{NewId("site_"), org_id, std::string(name), clock_.NowMs()};
  repo_.CreateSite(site, audit_.Event(actor, org_id, "site.create", "site", site.id, {{"name", site.name}}));
  return site;
}

void OrgService::DeleteSite(const Actor& actor, const std::string& org_id, const std::string& site_id) {
  if (!repo_.Site(org_id, site_id)) throw ApiError(404, "not_found", "This organisation has no site with this id.");
  if (repo_.CountDoorsOfSite(org_id, site_id) > 0) {
    throw ApiError(409, "site_not_empty", "Remove the site's doors first.");
  }
  repo_.DeleteSite(org_id, site_id, audit_.Event(actor, org_id, "site.delete", "site", site_id, nullptr));
}

DoorChallengeRow OrgService::NewDoorChallenge(const Actor& actor, const std::string& org_id) {
  DoorChallengeRow row{NewId("chal_"), org_id, actor.principal.account_id, RandomHex(random_, kDoorChallengeSize),
                       clock_.NowMs() + settings_.door_challenge_lifetime_s * 1000};
  repo_.CreateDoorChallenge(row);
  return row;
}

DoorRow OrgService::RegisterDoor(const Actor& actor, const std::string& org_id, const DoorRegistration& reg) {
  CheckName(reg.name, "door");
  const auto lock_id = HexField(reg.lock_id, kLockIdBytes, "lock_id");
  const auto lock_key = HexField(reg.lock_public_key, kPublicKeyBytes, "lock_public_key");
  const auto owner_key = HexField(reg.owner_public_key, kPublicKeyBytes, "owner_public_key");
  const auto signature = HexField(reg.signature, kSignatureBytes, "signature");
  const auto proof_hash = HexField(reg.proof_transcript_hash, crypto::kSha256Size, "claim_proof.transcript_hash");
  const auto proof_sig = HexField(reg.proof_signature, kSignatureBytes, "claim_proof.signature");
  if (!repo_.Site(org_id, reg.site_id)) throw ApiError(404, "not_found", "This organisation has no site with this id.");
  const auto challenge = repo_.TakeDoorChallenge(org_id, actor.principal.account_id, reg.challenge_id);
  if (!challenge) {
    throw ApiError(400, "invalid_challenge",
                   "Unknown or used challenge; ask for a new one (POST .../door-challenges) and sign it.");
  }
  if (clock_.NowMs() >= challenge->expires_at) {
    throw ApiError(410, "challenge_expired", "The challenge expired; ask for a new one and sign it.");
  }
  const auto lock_pub = crypto::P256PublicKey::Import(lock_key);
  const auto owner_pub = crypto::P256PublicKey::Import(owner_key);
  if (!lock_pub.ok() || !owner_pub.ok()) {
    throw ApiError(400, "invalid_lock_key", "A public key is not a valid P-256 point.");
  }
  const protocol::LockId expected = protocol::LockIdOf(*lock_pub);
  if (!std::equal(expected.begin(), expected.end(), lock_id.begin(), lock_id.end())) {
    throw ApiError(400, "invalid_lock_key", "lock_id is not the lock key's id (SHA-256 of the key, first 16 bytes).");
  }
  const auto challenge_bytes = HexField(challenge->challenge, kDoorChallengeSize, "challenge");
  const auto message = DoorRegistrationMessage(challenge_bytes, org_id, lock_id, lock_key);
  if (!message || !owner_pub->Verify(*message, signature).ok()) {
    throw ApiError(403, "invalid_signature",
                   "The signature does not verify with owner_public_key over this challenge, organisation and lock.");
  }
  // The lock vouches for the owner key: its claim proof (protocol/claim_proof.h)
  // is signed by the lock's identity key, which only the lock holds. A key
  // made up by someone who merely knows the lock's public key has none
  // (attack A09 in the catalogue: registration squatting).
  protocol::ClaimProof proof;
  std::copy(proof_hash.begin(), proof_hash.end(), proof.transcript_hash.begin());
  std::copy(proof_sig.begin(), proof_sig.end(), proof.signature.begin());
  proof.access_list_floor = reg.proof_access_list_floor;
  proof.claim_generation = reg.proof_claim_generation;
  if (!protocol::VerifyClaimProof(*lock_pub, *owner_pub, proof).ok()) {
    throw ApiError(403, "invalid_claim_proof",
                   "claim_proof is not the lock's signature for owner_public_key: the lock was not claimed by this key.");
  }
  DoorRow door{NewId("door_"),
               org_id,
               reg.site_id,
               reg.name,
               ToHex(lock_id),
               ToHex(lock_key),
               ToHex(owner_key),
               actor.principal.account_id,
               clock_.NowMs()};
  const bool created = repo_.CreateDoor(
      door, audit_.Event(actor, org_id, "door.register", "door", door.id,
                         {{"name", door.name}, {"site_id", door.site_id}, {"lock_id", door.lock_id}}));
  if (!created) throw ApiError(409, "door_exists", "This lock is registered already.");
  return door;
}

void OrgService::DeleteDoor(const Actor& actor, const std::string& org_id, const std::string& door_id) {
  const auto door = repo_.Door(org_id, door_id);
  if (!door) throw ApiError(404, "not_found", "This organisation has no door with this id.");
  repo_.DeleteDoor(org_id, door_id,
                   audit_.Event(actor, org_id, "door.delete", "door", door_id, {{"lock_id", door->lock_id}}));
}

MembershipRow OrgService::SetRole(const Actor& actor, const std::string& org_id, const std::string& account_id,
                                  std::string_view role) {
  const Role to = RoleOrThrow(role);
  auto target = repo_.Membership(org_id, account_id);
  if (!target) throw ApiError(404, "not_found", "This organisation has no such person.");
  const Role from = RoleOrThrow(target->role);
  if (!CanAssign(ActorRole(actor), from, to)) {
    throw ApiError(403, "forbidden_role", "Your role cannot give this person this role.");
  }
  if (from == Role::kOwner && to != Role::kOwner && repo_.CountOwners(org_id) <= 1) {
    throw ApiError(409, "last_owner", "An organisation keeps at least one owner; make someone else owner first.");
  }
  if (from != to) {
    repo_.SetRole(org_id, account_id, RoleName(to),
                  audit_.Event(actor, org_id, "person.role", "person", account_id,
                               {{"from", RoleName(from)}, {"to", RoleName(to)}}));
  }
  target->role = std::string(RoleName(to));
  return *target;
}

void OrgService::RemovePerson(const Actor& actor, const std::string& org_id, const std::string& account_id) {
  const auto target = repo_.Membership(org_id, account_id);
  if (!target) throw ApiError(404, "not_found", "This organisation has no such person.");
  const Role role = RoleOrThrow(target->role);
  const bool self = account_id == actor.principal.account_id;
  if (!self && !CanRemove(ActorRole(actor), role)) {
    throw ApiError(403, "forbidden_role", "Your role cannot remove this person.");
  }
  if (role == Role::kOwner && repo_.CountOwners(org_id) <= 1) {
    throw ApiError(409, "last_owner", "An organisation keeps at least one owner; make someone else owner first.");
  }
  repo_.DeleteMembership(org_id, account_id,
                         audit_.Event(actor, org_id, self ? "person.leave" : "person.remove", "person", account_id,
                                      {{"role", target->role}}));
}

NewInvitation OrgService::Invite(const Actor& actor, const std::string& org_id, std::string_view role,
                                 std::string_view note) {
  const Role to = RoleOrThrow(role);
  if (note.size() > kMaxName) throw ApiError(400, "invalid_field", "\"note\" may hold up to 200 characters.");
  if (!CanAssign(ActorRole(actor), std::nullopt, to)) {
    throw ApiError(403, "forbidden_role", "Your role cannot invite someone as " + std::string(role) + ".");
  }
  NewInvitation out;
  out.token = "mti_" + RandomBase64Url(random_, 32);
  const int64_t now = clock_.NowMs();
  out.row = InvitationRow{NewId("inv_"), org_id, std::string(RoleName(to)), std::string(note), Sha256Hex(out.token),
                          actor.principal.account_id, now, now + settings_.invitation_lifetime_s * 1000,
                          std::nullopt, std::nullopt};
  repo_.CreateInvitation(out.row, audit_.Event(actor, org_id, "invitation.create", "invitation", out.row.id,
                                               {{"role", out.row.role}, {"note", out.row.note}}));
  return out;
}

std::vector<std::pair<std::string, NewInvitation>> OrgService::ImportPeople(const Actor& actor,
                                                                            const std::string& org_id,
                                                                            std::string_view csv) {
  constexpr size_t kMaxRows = 1000;
  int bad_line = 0;
  const auto records = ParseCsv(csv, bad_line);
  const auto invalid = [](int line, const std::string& why) {
    return ApiError(400, "invalid_csv", "Line " + std::to_string(line) + ": " + why + " Nothing was imported.");
  };
  if (!records) throw invalid(bad_line, "the CSV is malformed (a quote that does not close?).");
  if (records->empty()) throw invalid(1, "give a header row naming the email and role columns.");
  const auto& header = records->front();
  int email_col = -1, role_col = -1, note_col = -1;
  for (size_t i = 0; i < header.size(); ++i) {
    if (header[i] == "email") email_col = static_cast<int>(i);
    if (header[i] == "role") role_col = static_cast<int>(i);
    if (header[i] == "note") note_col = static_cast<int>(i);
  }
  if (email_col < 0 || role_col < 0) throw invalid(1, "the header row must name the columns email and role.");
  if (records->size() - 1 > kMaxRows) throw invalid(1, "at most 1000 people at once.");
  const Role actor_role = ActorRole(actor);
  const int64_t now = clock_.NowMs();
  std::vector<std::pair<std::string, NewInvitation>> out;
  std::vector<InvitationRow> rows;
  std::vector<AuditEvent> events;
  std::set<std::string> seen;
  for (size_t n = 1; n < records->size(); ++n) {
    const auto& rec = (*records)[n];
    const int line = static_cast<int>(n) + 1;
    const auto cell = [&](int col) { return col >= 0 && static_cast<size_t>(col) < rec.size() ? rec[col] : ""; };
    const auto email = AuthService::NormaliseEmail(cell(email_col));
    if (!email) throw invalid(line, "\"" + cell(email_col) + "\" is not an email address.");
    if (!seen.insert(*email).second) throw invalid(line, *email + " appears twice.");
    const auto role = ParseRole(cell(role_col));
    if (!role) throw invalid(line, "role must be owner, admin, member, guest or installer.");
    if (!CanAssign(actor_role, std::nullopt, *role)) {
      throw ApiError(403, "forbidden_role", "Line " + std::to_string(line) + ": your role cannot invite someone as " +
                                                std::string(RoleName(*role)) + ". Nothing was imported.");
    }
    const std::string note = *email + " " + cell(note_col);
    if (note.size() > kMaxName) {
      throw invalid(line, "the note is too long (the address and the note together take at most " +
                              std::to_string(kMaxName) + " bytes).");
    }
    NewInvitation inv;
    inv.token = "mti_" + RandomBase64Url(random_, 32);
    inv.row = InvitationRow{NewId("inv_"), org_id, std::string(RoleName(*role)), note, Sha256Hex(inv.token),
                            actor.principal.account_id, now, now + settings_.invitation_lifetime_s * 1000,
                            std::nullopt, std::nullopt};
    rows.push_back(inv.row);
    events.push_back(audit_.Event(actor, org_id, "invitation.create", "invitation", inv.row.id,
                                  {{"role", inv.row.role}, {"note", note}, {"import", true}}));
    out.emplace_back(*email, std::move(inv));
  }
  repo_.CreateInvitations(rows, events);
  return out;
}

void OrgService::RevokeInvitation(const Actor& actor, const std::string& org_id, const std::string& invitation_id) {
  // Cancelling an invitation is handing out (or not) its role: an admin may
  // cancel only what it could have sent (member, guest, installer).
  const std::optional<InvitationRow> invitation = repo_.Invitation(org_id, invitation_id);
  if (!invitation) throw ApiError(404, "not_found", "This organisation has no invitation with this id.");
  const std::optional<Role> role = ParseRole(invitation->role);
  if (!role || !CanAssign(ActorRole(actor), std::nullopt, *role)) {
    throw ApiError(403, "forbidden_role", "Your role cannot cancel an invitation for the role " + invitation->role + ".");
  }
  if (!repo_.DeleteInvitation(org_id, invitation_id,
                              audit_.Event(actor, org_id, "invitation.revoke", "invitation", invitation_id,
                                           {{"role", invitation->role}}))) {
    throw ApiError(404, "not_found", "This organisation has no invitation with this id.");
  }
}

MembershipRow OrgService::AcceptInvitation(const Actor& actor, std::string_view token) {
  InvitationRow inv;
  const int64_t now = clock_.NowMs();
  const auto outcome = repo_.AcceptInvitation(
      Sha256Hex(token), actor.principal.account_id, now,
      audit_.Event(actor, std::nullopt, "invitation.accept", "invitation", "", nullptr), inv);
  switch (outcome) {
    case AcceptOutcome::kAccepted:
      break;
    case AcceptOutcome::kUnknown:
      throw ApiError(404, "invitation_unknown", "No invitation has this token; ask for a new one.");
    case AcceptOutcome::kExpired:
      throw ApiError(410, "invitation_expired", "The invitation expired; ask for a new one.");
    case AcceptOutcome::kUsed:
      throw ApiError(410, "invitation_used", "The invitation was used already; ask for a new one.");
    case AcceptOutcome::kAlreadyMember:
      throw ApiError(409, "already_member", "You are in this organisation already.");
  }
  return MembershipRow{inv.org_id, actor.principal.account_id, actor.principal.email, inv.role, now};
}

}  // namespace mortise::server
