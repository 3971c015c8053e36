// `mortise server group create|list|add-door|remove-door` and `mortise
// server person remove-everywhere`: access through mortise-server
// (docs/cli.md, "The server"). Everything that opens or stops a door is
// signed here, with the owner identity of the keyring; the server verifies
// and stores it, and delivers it to the locks until they confirm it.
#include <algorithm>
#include <map>
#include <memory>
#include <sstream>

#include "commands.h"
#include "error.h"
#include "key_string.h"
#include "mortise/protocol/access_list.h"
#include "mortise/protocol/group_membership.h"
#include "server_client.h"

namespace mortise::cli {
namespace {

using nlohmann::json;

struct Server {
  ServerSession session;
  ServerClient client;
  std::string base;  // /api/v1/orgs/ORG

  Server(Context& ctx, const std::string& org)
      : session(LoadServerSession(ServerSessionPath(ctx.KeyringPath()))),
        client(session.Client(ctx.timeout())),
        base("/api/v1/orgs/" + org) {}

  json Get(const std::string& path, const std::string& doing) const {
    return ExpectStatus(client.Request("GET", base + path, nullptr, session.Headers()), 200, doing);
  }
  // POST; 200 or 201 are success. `relayed` (with its hint): the request
  // relays commands to locks, whose outcome is unknown when no answer comes
  // (ServerClient::RequestRelayed).
  json Post(const std::string& path, const json& body, const std::string& doing, const std::string& relayed = "",
            const std::string& relayed_hint = "") const {
    const HttpAnswer a = relayed.empty() ? client.Request("POST", base + path, body, session.Headers())
                                         : client.RequestRelayed("POST", base + path, body, session.Headers(), relayed,
                                                                 relayed_hint);
    if (a.status == 200) return a.Json();
    return ExpectStatus(a, 201, doing);
  }
};

// The server's door for `lock` (by lock id) in the organisation.
json DoorOf(const Server& server, const LockEntry& lock) {
  const std::string id = ToHex(lock.lock_id);
  for (const json& d : AllPages(server.client, server.session, server.base + "/doors", "listing the doors")) {
    if (d.value("lock_id", "") == id) return d;
  }
  throw Error(ExitCode::kUsage, "lock \"" + lock.name + "\" is not a door of this organisation on the server",
              "Register it first: mortise server register " + lock.name + " --org ORG");
}

}  // namespace

json StoredUpdate(const json& updates, const std::string& kind, const std::string& issuer) {
  for (const json& u : updates.value("updates", json::array())) {
    if (u.value("kind", "") == kind && u.value("issuer", "") == issuer) return u;
  }
  return nullptr;
}

namespace {

// Nothing the server says about a stored update (its summary, "version",
// the lock's unsigned "held_version") is signed upon: only the update's own
// bytes, verified here with this keyring's owner key for the lock, its id
// and claim generation. A server that could steer what the owner signs
// could add a group to a door, or raise a version to 2^64-1 so the lock
// never accepts another update.
std::vector<uint8_t> StoredBytes(const json& stored, const std::string& what) {
  std::vector<uint8_t> bytes;
  if (!FromHex(stored.value("update", ""), bytes) || bytes.empty())
    throw Error(ExitCode::kVerification, "the server's stored " + what + " is not hex; nothing was signed");
  return bytes;
}

[[noreturn]] void RefuseStored(const LockEntry& lock, const std::string& what) {
  throw Error(ExitCode::kVerification,
              "the server's stored " + what + " for \"" + lock.name +
                  "\" is not one this lock's owner (or its admins) signed for its claim; nothing was signed or sent",
              "The server may be compromised: check the door's updates with the organisation's admins.");
}

// The version to build on: what the keyring knows, or a verified stored
// version at most one lock-accepted step above it (the step the lock itself
// allows a membership, docs/protocol.md 5.1).
uint64_t BaseVersion(const LockEntry& lock, uint64_t known, uint64_t stored, const std::string& what) {
  if (stored > known && stored - known > protocol::kMaxGroupMembershipVersionStep) {
    throw Error(ExitCode::kVerification,
                "the server's stored " + what + " for \"" + lock.name + "\" has version " + std::to_string(stored) +
                    ", more than 2^32 above this keyring's " + std::to_string(known) + "; nothing was signed or sent",
                "The server may be compromised: check the door's updates with the organisation's admins.");
  }
  return std::max(known, stored);
}

}  // namespace

std::optional<protocol::AccessListState> VerifiedStoredList(const json& stored, const Keyring& keyring,
                                                            const LockEntry& lock) {
  if (!stored.is_object()) return std::nullopt;
  const std::vector<uint8_t> bytes = StoredBytes(stored, "access list");
  const Result<protocol::AccessListState> list = protocol::VerifyAccessList(
      bytes, lock.lock_id, lock.claim_generation, keyring.content().GetIdentity(lock.identity).PublicKey());
  if (!list.ok() || list->by_admin) RefuseStored(lock, "access list");
  BaseVersion(lock, lock.access_list.version, list->version, "access list");
  return *list;
}

uint64_t StoredListVersion(const json& stored, const Keyring& keyring, const LockEntry& lock) {
  const std::optional<protocol::AccessListState> list = VerifiedStoredList(stored, keyring, lock);
  return list ? std::max(lock.access_list.version, list->version) : lock.access_list.version;
}

namespace {

struct Membership {
  uint64_t version = 0;
  std::vector<uint64_t> groups;
};

// The door's newest membership this keyring can vouch for: its own record,
// or the server's stored one when its verified version is higher.
Membership CurrentMembership(const json& stored, const Keyring& keyring, const LockEntry& lock) {
  Membership mine{KnownMembershipVersion(lock), DoorGroups(lock)};
  if (!stored.is_object()) return mine;
  const std::vector<uint8_t> bytes = StoredBytes(stored, "group membership");
  const Result<protocol::VerifiedGroupMembership> m = protocol::VerifyGroupMembership(
      bytes, lock.lock_id, lock.claim_generation, keyring.content().GetIdentity(lock.identity).PublicKey());
  if (!m.ok()) RefuseStored(lock, "group membership");
  BaseVersion(lock, mine.version, m->state.version, "group membership");
  if (m->state.version <= mine.version) return mine;
  const auto g = m->state.group_list();
  return {m->state.version, std::vector<uint64_t>(g.begin(), g.end())};
}

// "staff (0123456789abcdef)" for a group of the keyring, the id otherwise.
std::string GroupLabel(Keyring& keyring, uint64_t id) {
  for (const json& g : keyring.content().extra().value("groups", json::array())) {
    if (g.value("id", "") == GroupIdText(id)) return g.value("name", "") + " (" + GroupIdText(id) + ")";
  }
  return GroupIdText(id);
}

std::string GroupLabels(Keyring& keyring, const std::vector<uint64_t>& ids) {
  if (ids.empty()) return "none";
  std::string out;
  for (const uint64_t id : ids) out += (out.empty() ? "" : ", ") + GroupLabel(keyring, id);
  return out;
}

// The keyring's lock for a door the server names (its "lock_id"), null
// when this keyring has none.
LockEntry* LockOfDoor(Keyring& keyring, const json& door) {
  std::vector<uint8_t> id_bytes;
  protocol::LockId lock_id{};
  if (!FromHex(door.value("lock_id", ""), id_bytes) || id_bytes.size() != lock_id.size())
    throw Error(ExitCode::kVerification, "the server's answer names a malformed lock id");
  std::copy(id_bytes.begin(), id_bytes.end(), lock_id.begin());
  return keyring.content().FindLockById(lock_id);
}

std::string StateLine(const json& d) {
  std::string line = d.value("door_id", "") + "  " + d.value("state", "");
  if (!d.value("reason", "").empty()) line += " (" + d.value("reason", "") + ")";
  return line;
}

}  // namespace

int CmdServerGroupCreate(Context& ctx, const ServerGroupOptions& o) {
  Server server(ctx, o.org);
  Keyring keyring = ctx.OpenKeyring(Keyring::Access::kRead);
  const GroupRef group = FindGroup(keyring, o.group);
  const IdentityEntry& identity = keyring.content().GetIdentity(group.identity);
  const json g = server.Post("/groups",
                             {{"name", o.group},
                              {"protocol_id", GroupIdText(group.id)},
                              {"owner_public_key", ToHex(identity.public_key)},
                              {"schedule", o.schedule}},
                             "creating the group on the server")["group"];
  ctx.out().Text("Group \"" + o.group + "\" (" + GroupIdText(group.id) + ") is " + g.value("id", "") + " in " +
                 o.org + ". Add doors with: mortise server group add-door " + o.group + " LOCK --org " + o.org + "\n");
  ctx.out().Json({{"group", g}});
  return 0;
}

int CmdServerGroupList(Context& ctx, const ServerGroupOptions& o) {
  Server server(ctx, o.org);
  json list = json::array();
  std::ostringstream text;
  for (const json& g : AllPages(server.client, server.session, server.base + "/groups", "listing the groups")) {
    const json one = server.Get("/groups/" + g.value("id", ""), "reading group " + g.value("id", ""))["group"];
    text << one.value("id", "") << "  " << one.value("name", "") << "  " << one.value("protocol_id", "");
    if (!one.value("schedule", "").empty()) text << "  (" << one.value("schedule", "") << ")";
    text << "\n";
    for (const json& d : one.value("doors", json::array())) {
      text << "  " << d.value("door_id", "") << "  " << d.value("name", "") << "  membership version "
           << d.value("membership_version", 0) << ", door holds " << d.value("held_version", 0) << " ("
           << d.value("evidence", "") << ")" << (d.value("pending", false) ? ", pending" : "") << "\n";
    }
    list.push_back(one);
  }
  if (list.empty()) text << "No groups. Create one with `mortise group create NAME`, then `mortise server group create NAME --org ORG`.\n";
  ctx.out().Text(text.str());
  ctx.out().Json({{"groups", list}});
  return 0;
}

int CmdServerGroupDoor(Context& ctx, const ServerGroupOptions& o, bool add) {
  Server server(ctx, o.org);
  Keyring keyring = ctx.OpenKeyring(Keyring::Access::kUpdate);
  const GroupRef group = FindGroup(keyring, o.group);
  LockEntry& lock = GroupDoorLock(ctx, keyring, group, o.lock);
  const json door = DoorOf(server, lock);
  const std::string door_id = door.value("id", "");
  const json updates = server.Get("/doors/" + door_id + "/updates", "reading the door's updates");
  const Membership current = CurrentMembership(StoredUpdate(updates, "group_membership", "lock"), keyring, lock);
  std::vector<uint64_t> groups = current.groups;
  const bool member = std::find(groups.begin(), groups.end(), group.id) != groups.end();
  if (add == member) {
    ctx.out().Text("Door " + door_id + " is " + (add ? "already" : "not") + " in group \"" + o.group + "\".\n");
    ctx.out().Json({{"door_id", door_id}, {"group", o.group}, {"member", member}, {"changed", false}});
    return 0;
  }
  json list_update = nullptr;
  if (add) {
    // A door put into the group first refuses the group's revoked keys: its
    // owner list with them goes to the server, which sends it before the
    // membership (docs/protocol.md 5.1).
    if (AddGroupRevocations(keyring, lock, group.id)) {
      lock.access_list.version = StoredListVersion(StoredUpdate(updates, "access_list", "owner"), keyring, lock);
      SignPendingAccessList(ctx, keyring, lock);
      keyring.Save();
      list_update = server.Post("/doors/" + door_id + "/updates",
                                {{"kind", "access_list"}, {"update", lock.extra["pending_access_list"]}},
                                "uploading the door's access list")["update"];
    }
    groups.push_back(group.id);
  } else {
    groups.erase(std::remove(groups.begin(), groups.end(), group.id), groups.end());
  }
  const uint64_t version = current.version + 1;
  // What is signed, said before signing: the whole membership and its change.
  std::vector<uint64_t> added, removed;
  for (const uint64_t g : groups)
    if (std::find(current.groups.begin(), current.groups.end(), g) == current.groups.end()) added.push_back(g);
  for (const uint64_t g : current.groups)
    if (std::find(groups.begin(), groups.end(), g) == groups.end()) removed.push_back(g);
  ctx.out().Text("Signing membership version " + std::to_string(version) + " of \"" + lock.name +
                 "\": groups " + GroupLabels(keyring, groups) + " (added: " + GroupLabels(keyring, added) +
                 "; removed: " + GroupLabels(keyring, removed) + ").\n");
  const std::vector<uint8_t> update = SignMembershipAndKeep(ctx, keyring, lock, groups, version);
  const json m = server.Post("/doors/" + door_id + "/updates", {{"kind", "group_membership"}, {"update", ToHex(update)}},
                             "uploading the door's group membership")["update"];
  ctx.out().Text("Door " + door_id + " (" + lock.name + ") " + (add ? "joins" : "leaves") + " group \"" + o.group +
                 "\": membership version " + std::to_string(version) +
                 " stored on the server, which delivers it to the lock" +
                 (list_update.is_null() ? "" : " after the access list revoking the group's revoked keys") + ".\n");
  json ids = json::array(), added_ids = json::array(), removed_ids = json::array();
  for (const uint64_t g : groups) ids.push_back(GroupIdText(g));
  for (const uint64_t g : added) added_ids.push_back(GroupIdText(g));
  for (const uint64_t g : removed) removed_ids.push_back(GroupIdText(g));
  ctx.out().Json({{"door_id", door_id}, {"group", o.group}, {"member", add}, {"changed", true}, {"version", version},
                  {"groups", ids}, {"added", added_ids}, {"removed", removed_ids}, {"membership", m},
                  {"access_list", list_update}});
  return 0;
}

int CmdServerRemoveEverywhere(Context& ctx, const ServerPersonOptions& o) {
  Server server(ctx, o.org);
  const json access = server.Get("/people/" + o.account + "/access", "reading where the person's keys are live");
  Keyring keyring = ctx.OpenKeyring(Keyring::Access::kUpdate);
  json updates = json::array();
  std::vector<std::string> not_mine;
  for (const json& d : access.value("doors", json::array())) {
    LockEntry* lock = LockOfDoor(keyring, d);
    if (!lock || !lock->is_owner()) {
      not_mine.push_back(d.value("door_id", ""));
      continue;
    }
    for (const json& k : d.value("keys", json::array())) {
      std::vector<uint8_t> issuer;
      protocol::KeyRef ref;
      if (!FromHex(k.value("issuer_key_id", ""), issuer) || issuer.size() != ref.issuer.size())
        throw Error(ExitCode::kVerification, "the server's answer names a malformed key");
      std::copy(issuer.begin(), issuer.end(), ref.issuer.begin());
      ref.serial = std::stoull(k.value("serial", "0"), nullptr, 16);
      if (std::find(lock->access_list.revoked.begin(), lock->access_list.revoked.end(), ref) ==
          lock->access_list.revoked.end())
        lock->access_list.revoked.push_back(ref);
      if (IssuedKey* issued = lock->FindIssued(ref.serial)) issued->revoked = true;
    }
    // The version the server names here is not signed upon: the owner's
    // stored list is read and verified instead.
    const json stored = StoredUpdate(
        server.Get("/doors/" + d.value("door_id", "") + "/updates", "reading the door's updates"), "access_list", "owner");
    lock->access_list.version = StoredListVersion(stored, keyring, *lock);
    SignPendingAccessList(ctx, keyring, *lock);
    updates.push_back({{"door_id", d.value("door_id", "")}, {"update", lock->extra["pending_access_list"]}});
  }
  if (!not_mine.empty()) {
    std::string doors;
    for (const auto& d : not_mine) doors += (doors.empty() ? "" : ", ") + d;
    throw Error(ExitCode::kRefused, "this keyring does not own door(s) " + doors + "; nothing was signed or sent",
                "Run the command on the device holding those locks' owner key.");
  }
  if (updates.empty()) {
    ctx.out().Text("The person has no key the server knows of at any door of " + o.org + ".\n");
    ctx.out().Json({{"job", nullptr}});
    return 0;
  }
  keyring.Save();  // the signed lists are kept before anything is sent
  const json job = server.Post("/people/" + o.account + "/removal", {{"updates", updates}},
                               "uploading the signed access lists")["job"];
  std::ostringstream text;
  text << "Job " << job.value("id", "") << ": one new access list for each of " << updates.size()
       << " door(s), stored on the server, which delivers each until its lock confirms it.\n";
  for (const json& d : job.value("doors", json::array())) text << "  " << StateLine(d) << "\n";
  ctx.out().Text(text.str());
  ctx.out().Json({{"job", job}});
  return 0;
}

// A site lockdown: one remote envelope per door of the site, each signed
// here for its lock (the bolt thrown: Command::kLock), relayed by the server
// as one job. The lock-signed answers the job returns are verified here
// against each lock's pinned key and the envelope sent: the server's verdict
// is informative only.
int CmdServerSiteLockdown(Context& ctx, const ServerSiteOptions& o) {
  Server server(ctx, o.org);
  std::string site_id;
  for (const json& site : AllPages(server.client, server.session, server.base + "/sites", "listing the sites")) {
    if (site.value("id", "") == o.site || site.value("name", "") == o.site) site_id = site.value("id", "");
  }
  if (site_id.empty()) {
    throw Error(ExitCode::kUsage, "the organisation has no site \"" + o.site + "\"",
                "List them: GET /api/v1/orgs/" + o.org + "/sites");
  }
  struct Door {
    std::string id, lock_name;
    std::unique_ptr<SignedRemote> remote;
  };
  std::vector<Door> doors;
  std::vector<std::string> not_mine;
  {
    Keyring keyring = ctx.OpenKeyring(Keyring::Access::kUpdate);
    for (const json& d : AllPages(server.client, server.session, server.base + "/doors", "listing the doors")) {
      if (d.value("site_id", "") != site_id) continue;
      LockEntry* lock = LockOfDoor(keyring, d);
      if (!lock) {
        not_mine.push_back(d.value("id", ""));
        continue;
      }
      const uint32_t counter = lock->NextRemoteCounter();
      doors.push_back({d.value("id", ""), lock->name,
                       std::make_unique<SignedRemote>(ctx, keyring.content().GetIdentity(lock->identity).KeyPair(),
                                                      *lock, counter, protocol::Command::kLock, 0)});
    }
    if (!not_mine.empty()) {
      std::string list;
      for (const auto& d : not_mine) list += (list.empty() ? "" : ", ") + d;
      throw Error(ExitCode::kRefused, "this keyring holds no key for door(s) " + list + "; nothing was signed or sent",
                  "Every door of the site needs an envelope: run it on a device holding a key to each lock.");
    }
    if (doors.empty()) throw Error(ExitCode::kUsage, "site \"" + o.site + "\" has no door");
    keyring.Save();  // the counters are spent before the envelopes leave
  }
  json envelopes = json::array();
  for (const Door& d : doors) envelopes.push_back({{"door_id", d.id}, {"envelope", ToHex(d.remote->envelope)}});
  // A server that dies or hangs up mid-job may have relayed every envelope.
  const json job = server.Post("/sites/" + site_id + "/lockdown", {{"envelopes", envelopes}}, "relaying the lockdown",
                               "the lockdown of site " + site_id + " (" + std::to_string(doors.size()) + " door(s))",
                               "Each door may be locked: check them with mortise status --via-server once the "
                               "envelopes' 30 s have passed.")["job"];
  std::map<std::string, json> by_door;
  for (const json& d : job.value("doors", json::array())) by_door[d.value("door_id", "")] = d;
  std::ostringstream text;
  text << "Lockdown of site " << site_id << " (job " << job.value("id", "") << "), door by door:\n";
  json results = json::array();
  int locked = 0;
  ExitCode worst = ExitCode::kOk;
  const auto worse = [&worst](ExitCode c) {
    if (worst == ExitCode::kOk || c == ExitCode::kVerification) worst = c;
  };
  for (const Door& d : doors) {
    const json row = by_door.count(d.id) ? by_door[d.id] : json::object();
    const std::string server_says = row.value("state", "missing");
    std::string state, why;
    std::vector<uint8_t> answer;
    if (row.contains("answer") && row["answer"].is_string() && FromHex(row["answer"].get<std::string>(), answer)) {
      const Result<protocol::RemoteOutcome> outcome = d.remote->client.Verify(answer);
      if (!outcome.ok()) {
        state = "not verified";
        why = "the answer is not signed by the lock or not about this envelope; the outcome is unknown";
        worse(ExitCode::kVerification);
      } else {
        try {
          CheckRemoteOutcome(*outcome, "lock", nullptr);
          state = "locked";
          why = "lock-signed answer verified";
          ++locked;
        } catch (const Error& e) {
          state = e.code() == ExitCode::kRefused ? "refused" : "unknown";
          why = e.what();
          worse(e.code());
        }
      }
    } else if (server_says == "offline") {
      state = "offline";
      why = "the lock is not connected; nothing was sent";
      worse(ExitCode::kUnreachable);
    } else {
      state = "unknown";
      why = "no verifiable answer (" + server_says + (row.value("reason", "").empty() ? "" : ": " + row.value("reason", "")) +
            "); the outcome is unknown";
      worse(ExitCode::kUnreachable);
    }
    text << "  " << d.id << " (" << d.lock_name << "): " << state << " — " << why << "\n";
    results.push_back({{"door_id", d.id}, {"lock", d.lock_name}, {"state", state}, {"reason", why},
                       {"server_state", server_says}});
  }
  text << locked << " of " << doors.size() << " door(s) locked (verified here).\n";
  ctx.out().Text(text.str());
  ctx.out().Json({{"job_id", job.value("id", "")}, {"site_id", site_id}, {"doors", results},
                  {"locked", locked}, {"total", doors.size()}, {"ok", worst == ExitCode::kOk}});
  return static_cast<int>(worst);
}

}  // namespace mortise::cli
