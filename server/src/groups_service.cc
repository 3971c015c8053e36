#include "groups_service.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "api_error.h"
#include "door_registration.h"
#include "remote_verdict.h"
#include "mortise/crypto/p256.h"
#include "mortise/protocol/certificate.h"
#include "mortise/protocol/group_membership.h"
#include "mortise/protocol/identity.h"
#include "mortise/protocol/node.h"
#include "mortise/protocol/remote.h"
#include "mortise/protocol/text_forms.h"

namespace mortise::server {
namespace {

using nlohmann::json;

constexpr int kAllRows = 1000;  // the page size when a service walks a whole list

std::vector<uint8_t> HexBytes(std::string_view hex, const char* field, size_t max_bytes) {
  if (hex.empty() || hex.size() % 2 != 0 || hex.size() / 2 > max_bytes) {
    throw ApiError(400, "invalid_field", std::string("Give \"") + field + "\" as hex (at most " +
                                             std::to_string(max_bytes) + " bytes).");
  }
  auto bytes = FromHex(hex, hex.size() / 2);
  if (!bytes) throw ApiError(400, "invalid_field", std::string("\"") + field + "\" is not hex.");
  return *bytes;
}

bool IsGroupIdHex(std::string_view s) {
  return s.size() == 16 && s.find_first_not_of("0123456789abcdef") == std::string_view::npos &&
         s != "0000000000000000";
}

uint64_t GroupIdValue(std::string_view hex) { return std::stoull(std::string(hex), nullptr, 16); }

json ParseSummary(const std::string& text) {
  auto j = json::parse(text, nullptr, false);
  return j.is_discarded() ? json::object() : j;
}

// Every door of an organisation.
std::vector<DoorRow> AllDoors(SqlRepository& repo, const std::string& org_id) {
  std::vector<DoorRow> out;
  for (std::string after;;) {
    auto page = repo.Doors(org_id, after, kAllRows);
    out.insert(out.end(), page.begin(), page.end());
    if (static_cast<int>(page.size()) < kAllRows) break;
    after = page.back().id;
  }
  return out;
}

// Does the access list summary refuse the key (issuer, serial, epoch)?
bool ListRefuses(const json& list, const std::string& issuer, const std::string& serial, int64_t epoch) {
  for (const char* field : {"revoked", "disabled"}) {
    for (const auto& k : list.value(field, json::array())) {
      if (k.value("issuer_key_id", "") == issuer && k.value("serial", "") == serial) return true;
    }
  }
  for (const auto& e : list.value("min_epochs", json::array())) {
    if (e.value("issuer_key_id", "") == issuer && epoch < e.value("min_epoch", int64_t{0})) return true;
  }
  return false;
}

std::string OwnerKeyIdOf(const DoorRow& door) {
  const auto bytes = FromHex(door.owner_public_key, kPublicKeyBytes);
  if (!bytes) return "";
  const auto key = crypto::P256PublicKey::Import(*bytes);
  return key.ok() ? ToHex(protocol::KeyIdOf(*key)) : "";
}

}  // namespace

json HeldJson(const DoorUpdateRow& r) {
  const int64_t held = std::max(r.reported_version, r.confirmed_version);
  const char* evidence = held == 0 ? "none" : r.confirmed_version >= held ? "confirmed" : "reported";
  return {{"held_version", held},
          {"evidence", evidence},
          {"reported_version", r.reported_version},
          {"confirmed_version", r.confirmed_version},
          {"pending", r.confirmed_version < r.version}};
}

json DoorUpdateJson(const DoorUpdateRow& r) {
  json j = {{"door_id", r.door_id},
            {"kind", r.kind},
            {"issuer", r.issuer},
            {"version", r.version},
            {"claim_generation", r.claim_generation},
            {"update", r.update_hex},
            {"receipt", r.receipt.empty() ? json(nullptr) : json(r.receipt)},
            {"summary", ParseSummary(r.summary)},
            {"uploaded_by", r.uploaded_by},
            {"uploaded_at", r.uploaded_at},
            {"delivery",
             {{"attempts", r.attempts},
              {"last_attempt_at", r.last_attempt_at ? json(*r.last_attempt_at) : json(nullptr)},
              {"next_attempt_at", r.next_attempt_at},
              {"last_status", r.last_status}}}};
  j.update(HeldJson(r));
  return j;
}

GroupsService::GroupsService(SqlRepository& repo, const Clock& clock, Random& random, AuditTrail& audit,
                             LockLink* link, AccessSettings settings)
    : repo_(repo), store_(repo), clock_(clock), random_(random), audit_(audit), link_(link), settings_(settings) {}

std::string GroupsService::NewId(std::string_view prefix) { return NewObjectId(clock_, random_, prefix); }

DoorRow GroupsService::DoorOf(const std::string& org_id, const std::string& door_id) {
  auto door = repo_.Door(org_id, door_id);
  if (!door) throw ApiError(404, "not_found", "This organisation has no door with this id.");
  return *door;
}

AccessGroupRow GroupsService::CreateGroup(const Actor& actor, const std::string& org_id, std::string_view name,
                                          std::string_view group_id, std::string_view owner_public_key,
                                          std::string_view schedule) {
  if (name.empty() || name.size() > 100) throw ApiError(400, "invalid_field", "A group's name is 1 to 100 characters.");
  if (!IsGroupIdHex(group_id)) {
    throw ApiError(400, "invalid_field", "\"protocol_id\" is the protocol's 64-bit group id: 16 lower-case hex digits, not 0.");
  }
  const auto key = FromHex(owner_public_key, kPublicKeyBytes);
  if (!key || !crypto::P256PublicKey::Import(*key).ok()) {
    throw ApiError(400, "invalid_field", "\"owner_public_key\" is the owner key (65 bytes, hex) the group belongs to.");
  }
  if (schedule.size() > 200) throw ApiError(400, "invalid_field", "A schedule summary is at most 200 characters.");
  AccessGroupRow g{NewId("grp_"), org_id, std::string(name), std::string(group_id), ToHex(*key),
                   std::string(schedule), actor.principal.account_id, clock_.NowMs()};
  const auto event = audit_.Event(actor, org_id, "group.create", "group", g.id,
                                  json{{"name", g.name}, {"group_id", g.group_id}});
  if (!store_.CreateGroup(g, event)) {
    throw ApiError(409, "group_exists", "This organisation has a group with this id under this owner key.");
  }
  return g;
}

AccessGroupRow GroupsService::Group(const std::string& org_id, const std::string& id) {
  auto g = store_.Group(org_id, id);
  if (!g) throw ApiError(404, "not_found", "This organisation has no group with this id.");
  return *g;
}

std::vector<std::pair<DoorRow, DoorUpdateRow>> GroupsService::GroupDoors(const AccessGroupRow& group) {
  std::vector<std::pair<DoorRow, DoorUpdateRow>> out;
  for (const auto& m : store_.UpdatesOfOrg(group.org_id, kKindMembership)) {
    const json summary = ParseSummary(m.summary);
    const auto groups = summary.value("groups", json::array());
    if (std::find(groups.begin(), groups.end(), json(group.group_id)) == groups.end()) continue;
    auto door = repo_.Door(m.org_id, m.door_id);
    if (door && door->owner_public_key == group.owner_public_key) out.emplace_back(*door, m);
  }
  return out;
}

GroupsService::Prepared GroupsService::Prepare(const Actor& actor, const DoorRow& door, std::string_view kind,
                                              std::string_view update_hex) {
  const auto bytes = HexBytes(update_hex, "update", protocol::kMaxAccessListUpdateSize);
  const VerifiedDoorUpdate v = VerifyDoorUpdate(door, kind, bytes, store_.ClaimGeneration(door.id));
  const auto stored = store_.Update(door.id, v.kind, v.issuer);
  // v.update_hex is the canonical (lower-case) form of the bytes, as stored:
  // the same update in upper case is the same update.
  if (stored && stored->update_hex == v.update_hex) return {*stored, true};
  if (stored && v.version <= stored->version) {
    throw ApiError(409, "stale_version", "Door " + door.id + " has version " + std::to_string(stored->version) +
                                             " of this " + v.kind + " stored; sign one above it.");
  }
  if (v.kind == kKindMembership) {
    // The lock refuses a membership more than 2^32 above the highest it
    // accepted; the highest the server knows of is a bound from below. Not
    // the reported version: an unsigned 0x05 answer anyone on the path can
    // forge would then block every later upload.
    const int64_t known = stored ? std::max(stored->version, stored->confirmed_version) : 0;
    if (static_cast<uint64_t>(v.version - known) > protocol::kMaxGroupMembershipVersionStep) {
      throw ApiError(409, "version_too_far", "Door " + door.id + " would refuse version " + std::to_string(v.version) +
                                                 ": more than 2^32 above " + std::to_string(known) + ".");
    }
  }
  DoorUpdateRow row;
  row.door_id = door.id;
  row.org_id = door.org_id;
  row.kind = v.kind;
  row.issuer = v.issuer;
  row.version = v.version;
  row.claim_generation = v.claim_generation;
  row.update_hex = v.update_hex;
  row.summary = v.summary.dump();
  row.uploaded_by = actor.principal.account_id;
  row.uploaded_at = clock_.NowMs();
  return {row, false};
}

std::pair<DoorUpdateRow, bool> GroupsService::UploadUpdate(const Actor& actor, const std::string& org_id,
                                                           const std::string& door_id, std::string_view kind,
                                                           std::string_view update_hex) {
  const DoorRow door = DoorOf(org_id, door_id);
  const auto [row, stored_already] = Prepare(actor, door, kind, update_hex);
  if (stored_already) return {row, false};  // the same bytes again: an idempotent retry
  const auto event = audit_.Event(actor, org_id, "door.update", "door", door.id,
                                  json{{"kind", row.kind}, {"issuer", row.issuer}, {"version", row.version}});
  if (store_.PutUpdates({row}, {event}) >= 0) {
    throw ApiError(409, "stale_version", "A newer " + row.kind + " was stored for door " + door.id + " meanwhile.");
  }
  return {*store_.Update(door.id, row.kind, row.issuer), true};
}

std::pair<DoorRow, std::vector<DoorUpdateRow>> GroupsService::DoorUpdates(const std::string& org_id,
                                                                          const std::string& door_id) {
  DoorRow door = DoorOf(org_id, door_id);
  return {door, store_.UpdatesOfDoor(door.id)};
}

std::vector<uint8_t> KeyChainFromText(std::string_view chain) {
  std::vector<uint8_t> bytes;
  if (chain.rfind("MKS1.", 0) == 0) {
    // The share string `mortise key share` prints: its chain.
    const auto share = protocol::ShareFromText(chain);
    if (!share.ok()) throw ApiError(400, "invalid_field", "\"chain\" is not a valid MKS1. share string.");
    const auto view = share->chain_view();
    bytes.assign(view.begin(), view.end());
  } else if (chain.rfind("MK1.", 0) == 0) {
    bytes.resize(protocol::kMaxChainSize);
    const auto n = protocol::ChainFromText(chain, bytes);
    if (!n.ok()) throw ApiError(400, "invalid_field", "\"chain\" is not a valid MK1. key text.");
    bytes.resize(*n);
  } else {
    bytes = HexBytes(chain, "chain", protocol::kMaxChainSize);
  }
  return bytes;
}

DoorKeyRow GroupsService::UploadKey(const Actor& actor, const std::string& org_id, const std::string& account_id,
                                    std::string_view chain, const std::optional<std::string>& door_id,
                                    const std::optional<std::string>& group_ref) {
  if (!repo_.Membership(org_id, account_id)) {
    throw ApiError(404, "not_found", "This organisation has no person with this account id.");
  }
  if (door_id.has_value() == group_ref.has_value()) {
    throw ApiError(400, "invalid_field", "Give either \"door_id\" (a key for one door) or \"group_id\" (a group key).");
  }
  const std::vector<uint8_t> bytes = KeyChainFromText(chain);
  DoorKeyRow k;
  VerifiedKeyChain v;
  if (door_id) {
    const DoorRow door = DoorOf(org_id, *door_id);
    v = VerifyKeyChain(bytes, door.owner_public_key, door.lock_id, store_.ClaimGeneration(door.id), std::nullopt);
    k.door_id = door.id;
  } else {
    const AccessGroupRow g = Group(org_id, *group_ref);
    v = VerifyKeyChain(bytes, g.owner_public_key, std::nullopt, 0, GroupIdValue(g.group_id));
    k.group_ref = g.id;
  }
  k.id = NewId("key_");
  k.org_id = org_id;
  k.account_id = account_id;
  k.scope = v.scope;
  k.chain_hex = v.chain_hex;
  k.issuer_key_id = v.issuer_key_id;
  k.serial = v.serial;
  k.summary = v.summary.dump();
  k.uploaded_by = actor.principal.account_id;
  k.created_at = clock_.NowMs();
  const auto event = audit_.Event(actor, org_id, "key.create", "key", k.id,
                                  json{{"account_id", account_id}, {"issuer_key_id", k.issuer_key_id},
                                       {"serial", k.serial}, {"scope", k.scope}});
  if (!store_.CreateKey(k, event)) throw ApiError(409, "key_exists", "This key (issuer and serial) is stored already.");
  return k;
}

json GroupsService::PersonAccess(const std::string& org_id, const std::string& account_id) {
  if (!repo_.Membership(org_id, account_id)) {
    throw ApiError(404, "not_found", "This organisation has no person with this account id.");
  }
  std::vector<DoorKeyRow> keys;
  for (std::string after;;) {
    auto page = store_.Keys(org_id, std::string_view(account_id), after, kAllRows);
    keys.insert(keys.end(), page.begin(), page.end());
    if (static_cast<int>(page.size()) < kAllRows) break;
    after = page.back().id;
  }
  const int64_t now_s = clock_.NowMs() / 1000;
  std::map<std::string, json> doors;  // by door id
  std::map<std::string, DoorRow> door_rows;
  for (const DoorRow& d : AllDoors(repo_, org_id)) door_rows.emplace(d.id, d);
  std::map<std::string, AccessGroupRow> groups;
  for (const auto& g : store_.AllGroups(org_id)) groups.emplace(g.id, g);

  for (const DoorKeyRow& k : keys) {
    const json ks = ParseSummary(k.summary);
    const int64_t not_after = ks.value("not_after", int64_t{0});
    if (not_after != 0 && not_after <= now_s) continue;  // over: opens nowhere
    std::vector<std::string> at;
    if (k.door_id) {
      at.push_back(*k.door_id);
    } else if (k.group_ref && groups.count(*k.group_ref)) {
      for (const auto& [door, m] : GroupDoors(groups.at(*k.group_ref))) at.push_back(door.id);
    }
    for (const std::string& door_id : at) {
      const auto dr = door_rows.find(door_id);
      if (dr == door_rows.end()) continue;
      const DoorRow& door = dr->second;
      const std::string issuer = k.issuer_key_id == OwnerKeyIdOf(door) ? std::string(kIssuerOwner)
                                                                        : "admin:" + k.issuer_key_id;
      const int64_t epoch = ks.value("issuer_epoch", int64_t{0});
      // Revoked by the owner's list, or by the issuing admin's.
      bool refused = false;
      for (const std::string& list_issuer : {std::string(kIssuerOwner), issuer}) {
        const auto list = store_.Update(door.id, kKindAccessList, list_issuer);
        if (list && ListRefuses(ParseSummary(list->summary), k.issuer_key_id, k.serial, epoch)) refused = true;
      }
      if (refused) continue;
      json& entry = doors[door.id];
      if (entry.is_null()) {
        entry = {{"door_id", door.id}, {"name", door.name}, {"site_id", door.site_id}, {"lock_id", door.lock_id},
                 {"claim_generation", store_.ClaimGeneration(door.id)}, {"keys", json::array()},
                 {"lists", json::object()}};
      }
      entry["keys"].push_back({{"id", k.id}, {"issuer_key_id", k.issuer_key_id}, {"serial", k.serial},
                               {"issuer_epoch", epoch}, {"scope", k.scope}, {"list_issuer", issuer}});
      if (!entry["lists"].contains(issuer)) {
        const auto list = store_.Update(door.id, kKindAccessList, issuer);
        json l = {{"version", list ? list->version : 0}};
        if (list) l.update(HeldJson(*list));
        entry["lists"][issuer] = l;
      }
    }
  }
  json out = json::array();
  for (auto& [id, entry] : doors) out.push_back(std::move(entry));
  return {{"account_id", account_id}, {"doors", out}};
}

BulkJobRow GroupsService::RemovePerson(const Actor& actor, const std::string& org_id, const std::string& account_id,
                                       const json& updates) {
  if (!repo_.Membership(org_id, account_id)) {
    throw ApiError(404, "not_found", "This organisation has no person with this account id.");
  }
  if (!updates.is_array() || updates.empty() || updates.size() > static_cast<size_t>(kAllRows)) {
    throw ApiError(400, "invalid_field", "Give \"updates\" as 1 to 1000 {door_id, update} objects.");
  }
  BulkJobRow job{NewId("job_"), org_id, "remove_person", account_id, actor.principal.account_id, clock_.NowMs()};
  // What the person can open now, by door: each new list must end it.
  std::map<std::string, json> live;
  const json access = PersonAccess(org_id, account_id);
  for (const json& d : access["doors"]) live.emplace(d["door_id"].get<std::string>(), d);
  std::vector<DoorUpdateRow> rows;
  std::vector<BulkJobDoorRow> job_doors;
  std::set<std::string> seen;
  for (const json& u : updates) {
    if (!u.is_object() || !u.contains("door_id") || !u["door_id"].is_string() || !u.contains("update") ||
        !u["update"].is_string()) {
      throw ApiError(400, "invalid_field", "Each update is {\"door_id\": string, \"update\": hex}.");
    }
    const std::string door_id = u["door_id"].get<std::string>();
    if (!seen.insert(door_id).second) throw ApiError(409, "duplicate_door", "Door " + door_id + " is named twice.");
    const DoorRow door = DoorOf(org_id, door_id);
    const std::string hex = u["update"].get<std::string>();
    const auto [row, stored_already] = Prepare(actor, door, kKindAccessList, hex);
    if (live.count(door.id)) {
      // The owner's list may name any key; an admin's only its own.
      const json summary = json::parse(row.summary);
      for (const json& k : live.at(door.id)["keys"]) {
        if (row.issuer != kIssuerOwner && k["list_issuer"] != row.issuer) continue;
        if (!ListRefuses(summary, k["issuer_key_id"], k["serial"], k["issuer_epoch"].get<int64_t>())) {
          throw ApiError(422, "keys_still_live", "The list for door " + door.id + " leaves the person's key " +
                                                     k["issuer_key_id"].get<std::string>() + "/" +
                                                     k["serial"].get<std::string>() + " live; nothing was stored.");
        }
      }
    }
    // Stored already (a retried job): progress follows the stored one.
    if (!stored_already) rows.push_back(row);
    job_doors.push_back({job.id, door.id, row.kind, row.issuer, row.version, "", "", ""});
  }
  // Every door where a key of the person is live must be in the job: a job
  // that leaves one out would show only the doors it sent, as if the
  // person were removed everywhere.
  std::string missing;
  for (const auto& [door_id, d] : live)
    if (!seen.count(door_id)) missing += (missing.empty() ? "" : ", ") + door_id;
  if (!missing.empty()) {
    throw ApiError(422, "doors_missing",
                   "The person's keys are live at doors this job leaves out: " + missing +
                       ". Give a list for each (GET .../people/{id}/access names them); nothing was stored.");
  }
  std::vector<AuditEvent> events;
  events.push_back(audit_.Event(actor, org_id, "person.remove_everywhere", "account", account_id,
                                json{{"job_id", job.id}, {"doors", job_doors.size()}}));
  for (const auto& r : rows) {
    events.push_back(audit_.Event(actor, org_id, "door.update", "door", r.door_id,
                                  json{{"kind", r.kind}, {"issuer", r.issuer}, {"version", r.version},
                                       {"job_id", job.id}}));
  }
  const int refused = store_.PutUpdates(rows, events, job_doors, &job);
  if (refused >= 0) {
    throw ApiError(409, "stale_version", "A newer access list was stored for door " + rows[refused].door_id +
                                             " meanwhile; nothing of this job was stored.");
  }
  return job;
}

BulkJobRow GroupsService::SiteLockdown(const Actor& actor, const std::string& org_id, const std::string& site_id,
                                       const json& envelopes) {
  if (!repo_.Site(org_id, site_id)) throw ApiError(404, "not_found", "This organisation has no site with this id.");
  if (!envelopes.is_array() || envelopes.size() > static_cast<size_t>(kAllRows)) {
    throw ApiError(400, "invalid_field", "Give \"envelopes\" as {door_id, envelope} objects, one per door of the site.");
  }
  std::map<std::string, std::vector<uint8_t>> by_door;
  for (const json& e : envelopes) {
    if (!e.is_object() || !e.contains("door_id") || !e["door_id"].is_string() || !e.contains("envelope") ||
        !e["envelope"].is_string()) {
      throw ApiError(400, "invalid_field", "Each envelope is {\"door_id\": string, \"envelope\": hex}.");
    }
    const std::string door_id = e["door_id"].get<std::string>();
    const DoorRow door = DoorOf(org_id, door_id);
    if (door.site_id != site_id) {
      throw ApiError(422, "wrong_door", "Door " + door_id + " is not at this site.");
    }
    std::vector<uint8_t> envelope = HexBytes(e["envelope"].get<std::string>(), "envelope",
                                             protocol::kMaxRemoteMessageSize);
    if (!protocol::RemoteCommandHash(envelope).ok()) {
      throw ApiError(400, "invalid_envelope", "The envelope for door " + door_id + " is not a RemoteCommand.");
    }
    if (!by_door.emplace(door_id, std::move(envelope)).second) {
      throw ApiError(409, "duplicate_door", "Door " + door_id + " is named twice.");
    }
  }
  std::vector<DoorRow> doors;
  for (const DoorRow& d : AllDoors(repo_, org_id)) {
    if (d.site_id != site_id) continue;
    if (!by_door.count(d.id)) {
      throw ApiError(400, "missing_envelope", "Door " + d.id + " of the site has no envelope: sign one per door.");
    }
    doors.push_back(d);
  }
  if (!link_) throw ApiError(503, "no_lock_link", "This server has no link to locks configured.");
  BulkJobRow job{NewId("job_"), org_id, "site_lockdown", site_id, actor.principal.account_id, clock_.NowMs()};
  // Never refused for relay capacity: its own pool, and without a free
  // slot the envelopes still go out, unawaited (relay_gate.h).
  std::optional<RelayGate::Lockdown> lease;
  if (gate_ != nullptr) lease.emplace(gate_->StartLockdown(org_id));
  std::vector<BulkJobDoorRow> rows;
  for (const DoorRow& d : doors) rows.push_back(BulkJobDoorRow{job.id, d.id, "remote", "", 0, "offline", "", ""});
  // The doors answer in parallel (at most lockdown_parallel at once), so a
  // lockdown takes about one timeout, not one per door.
  const auto relay = [&](size_t i) {
    const DoorRow& d = doors[i];
    BulkJobDoorRow& r = rows[i];
    if (!link_->Online(d.lock_id)) {
      r.reason = "the lock is offline";
      return;
    }
    const auto& envelope = by_door.at(d.id);
    std::vector<uint8_t> frame;
    frame.reserve(1 + envelope.size());
    frame.push_back(static_cast<uint8_t>(protocol::FrameType::kRemote));
    frame.insert(frame.end(), envelope.begin(), envelope.end());
    // A door on probation (it left an earlier relay unanswered) is waited
    // for only briefly, so it does not hold up the lockdown.
    bool on_probation = false;
    const int timeout_ms =
        lease ? lease->TimeoutMs(d.lock_id, settings_.lockdown_timeout_ms, clock_.NowMs(), on_probation)
              : settings_.lockdown_timeout_ms;
    const int64_t sent_at = clock_.NowMs();
    const auto answer = link_->Exchange(d.lock_id, frame, timeout_ms);
    if (lease) lease->Finish(d.lock_id, on_probation, answer.has_value(), clock_.NowMs() - sent_at, clock_.NowMs());
    if (!answer) {
      r.outcome = "no_answer";
      r.reason = lease && !lease->awaited()
                     ? "sent; the answer was not awaited (the server's lockdown slots were in use): check the door"
                     : "the lock did not answer in time";
      return;
    }
    // Verified against the door's key and the envelope relayed: a
    // lock-signed success, a lock-signed refusal, an unsigned refusal
    // (outcome unknown) or nobody's word.
    const RemoteVerdict verdict = JudgeRemoteAnswer(d, envelope, *answer);
    r.outcome = verdict.outcome == "confirmed" && !verdict.done ? "refused" : verdict.outcome;
    r.reason = verdict.reason;
    r.answer = ToHex(verdict.result);
  };
  std::atomic<size_t> next{0};
  const auto worker = [&] {
    for (size_t i = next++; i < doors.size(); i = next++) {
      try {
        relay(i);
      } catch (const std::exception&) {  // a link failure is this door's outcome, not the job's
        rows[i].outcome = "no_answer";
        rows[i].reason = "the relay failed";
      }
    }
  };
  const size_t parallel = std::min(doors.size(), static_cast<size_t>(std::max(1, settings_.lockdown_parallel)));
  std::vector<std::jthread> workers;
  for (size_t t = 1; t < parallel; ++t) workers.emplace_back(worker);
  worker();
  workers.clear();  // joins
  lease.reset();
  const auto event = audit_.Event(actor, org_id, "site.lockdown", "site", site_id,
                                  json{{"job_id", job.id}, {"doors", rows.size()}});
  store_.CreateJob(job, rows, event);
  return job;
}

json GroupsService::JobView(const std::string& org_id, const std::string& job_id) {
  const auto job = store_.Job(org_id, job_id);
  if (!job) throw ApiError(404, "not_found", "This organisation has no job with this id.");
  json doors = json::array();
  std::map<std::string, int> counts;
  for (const BulkJobDoorRow& r : store_.JobDoors(job->id)) {
    json d = {{"door_id", r.door_id}};
    std::string state, reason = r.reason;
    if (job->kind == "site_lockdown") {
      state = r.outcome;
      d["answer"] = r.answer.empty() ? json(nullptr) : json(r.answer);
    } else {
      const auto u = store_.Update(r.door_id, r.kind, r.issuer);
      d["version"] = r.version;
      if (!u) {
        state = "failed";
        reason = "the door's update is gone (door removed)";
      } else if (u->confirmed_version >= r.version) {
        state = "confirmed";
      } else if (u->reported_version >= r.version) {
        state = "reported";
      } else if (u->version > r.version) {
        state = "pending";
        reason = "superseded by version " + std::to_string(u->version);
      } else if (u->last_status.rfind("refused:", 0) == 0) {
        state = "failed";
        reason = "the lock refused it: " + u->last_status.substr(8);
      } else if (u->attempts > 0) {
        state = "sent";
        reason = u->last_status;
      } else {
        state = "pending";
      }
      if (u) d.update(HeldJson(*u));
    }
    d["state"] = state;
    d["reason"] = reason;
    ++counts[state];
    doors.push_back(d);
  }
  return {{"id", job->id},          {"kind", job->kind},   {"subject", job->subject},
          {"created_by", job->created_by}, {"created_at", job->created_at}, {"counts", counts},
          {"doors", doors}};
}

}  // namespace mortise::server
