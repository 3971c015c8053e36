// group create|add-door|remove-door|show|list: the owner's access groups.
// A group is a 64-bit random id that belongs to one identity (the owner key
// of the locks it spans), kept in the keyring; a door belongs to it when the
// door's signed group membership (docs/protocol.md, "Group memberships")
// lists it. The membership is delivered in frame 0x05, which needs no
// session: the signature is the authority.
#include <algorithm>
#include <sstream>

#include "commands.h"
#include "error.h"
#include "key_string.h"
#include "mortise/protocol/group_membership.h"
#include "mortise/protocol/node.h"
#include "mortise/termqr/termqr.h"

namespace mortise::cli {
namespace {

using nlohmann::json;

// keyring "groups": [{"name", "id" (16 hex digits, big-endian text of the
// 64-bit id), "identity", "created"}]; lock extra "group_membership":
// {"version", "groups": [id, ...]} as last signed for that lock.
json& Groups(Keyring& keyring) {
  json& g = keyring.content().extra()["groups"];
  if (!g.is_array()) g = json::array();
  return g;
}

std::string IdText(uint64_t id) { return GroupIdText(id); }

uint64_t IdFrom(const json& j) {
  const std::string s = j.get<std::string>();
  if (s.size() != 16 || s.find_first_not_of("0123456789abcdef") != std::string::npos)
    throw Error(ExitCode::kKeyring, "damaged keyring: a group id is not 16 hex digits");
  return std::stoull(s, nullptr, 16);
}

}  // namespace

std::vector<uint64_t> DoorGroups(const LockEntry& lock) {
  std::vector<uint64_t> out;
  const auto m = lock.extra.find("group_membership");
  if (m == lock.extra.end() || !m->contains("groups")) return out;
  for (const json& g : (*m)["groups"]) out.push_back(IdFrom(g));
  return out;
}

uint64_t KnownMembershipVersion(const LockEntry& lock) {
  const auto m = lock.extra.find("group_membership");
  return m == lock.extra.end() ? 0 : m->value("version", uint64_t{0});
}

std::vector<uint8_t> SignMembershipAndKeep(Context& ctx, Keyring& keyring, LockEntry& lock,
                                           const std::vector<uint64_t>& groups, uint64_t version) {
  protocol::GroupMembershipState state;
  state.version = version;
  state.claim_generation = lock.claim_generation;
  if (groups.size() > protocol::kMaxGroupsPerLock)
    throw Error(ExitCode::kUsage, "a door belongs to at most " + std::to_string(protocol::kMaxGroupsPerLock) + " groups");
  for (const uint64_t g : groups) state.groups[state.count++] = g;
  const crypto::P256KeyPair owner = keyring.content().GetIdentity(lock.identity).KeyPair();
  std::vector<uint8_t> update(protocol::kMaxGroupMembershipUpdateSize);
  Result<size_t> n = protocol::SignGroupMembership(state, lock.lock_id, owner, ctx.drbg(), update);
  if (!n.ok()) throw Error(ExitCode::kInternal, "cannot sign the group membership");
  update.resize(*n);
  json ids = json::array();
  for (const uint64_t g : groups) ids.push_back(IdText(g));
  lock.extra["group_membership"] = {{"version", version}, {"groups", ids}, {"pending", ToHex(update)}};
  keyring.Save();
  return update;
}

// Sends a signed update in frame 0x05 and returns the lock's answer.
namespace {

protocol::SignedUpdateReply Push(Context& ctx, const std::string& endpoint, protocol::SignedUpdateKind kind,
                                 const std::vector<uint8_t>& update) {
  std::vector<uint8_t> frame(2 + update.size());
  Result<size_t> n = protocol::EncodeSignedUpdateFrame(kind, update, frame);
  if (!n.ok()) throw Error(ExitCode::kInternal, "cannot frame the update");
  Transport transport = ctx.Connect(Endpoint::Parse(endpoint));
  const std::vector<uint8_t> reply = transport.Exchange(frame);
  if (reply.size() == 1 && reply[0] == static_cast<uint8_t>(protocol::FrameType::kInvalid))
    throw Error(ExitCode::kRefused, "the lock does not take signed updates (frame 0x05)",
                "It may run an older protocol; update mortise-lockd.");
  Result<protocol::SignedUpdateReply> r = protocol::DecodeSignedUpdateReply(reply);
  if (!r.ok() || r->kind != kind)
    throw Error(ExitCode::kVerification, "the lock's answer to the update is malformed",
                "Something may be tampering with the link; try again.");
  return *r;
}

}  // namespace

std::string GroupIdText(uint64_t id) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(id));
  return buf;
}

std::optional<uint64_t> GroupOfChain(std::span<const uint8_t> chain) {
  const std::vector<std::vector<uint8_t>> certs = SplitChain(chain);
  if (certs.empty()) return std::nullopt;
  Result<protocol::CertificateFields> leaf = protocol::DecodeCertificate(certs.back());
  if (!leaf.ok() || leaf->scope != protocol::Scope::kGroup) return std::nullopt;
  return leaf->group_id;
}

namespace {

json* GroupEntry(Keyring& keyring, uint64_t id) {
  for (json& g : Groups(keyring))
    if (IdFrom(g["id"]) == id) return &g;
  return nullptr;
}

}  // namespace

std::vector<protocol::KeyRef> GroupRevoked(Keyring& keyring, uint64_t id) {
  std::vector<protocol::KeyRef> out;
  const json* g = GroupEntry(keyring, id);
  if (g == nullptr || !g->contains("revoked")) return out;
  for (const json& r : (*g)["revoked"]) {
    std::vector<uint8_t> issuer;
    protocol::KeyRef k;
    if (!FromHex(r.value("issuer", ""), issuer) || issuer.size() != k.issuer.size())
      throw Error(ExitCode::kKeyring, "damaged keyring: a group's revoked key has no issuer key id");
    std::copy(issuer.begin(), issuer.end(), k.issuer.begin());
    k.serial = r.value("serial", uint64_t{0});
    out.push_back(k);
  }
  return out;
}

void SignPendingAccessList(Context& ctx, Keyring& keyring, LockEntry& l) {
  const crypto::P256KeyPair owner = keyring.content().GetIdentity(l.identity).KeyPair();
  const protocol::AccessListState state = l.access_list.NextSnapshot(l.claim_generation);
  std::vector<uint8_t> update(protocol::kMaxAccessListUpdateSize);
  Result<size_t> n = protocol::SignAccessList(state, l.lock_id, owner, ctx.drbg(), update);
  if (!n.ok()) throw Error(ExitCode::kInternal, "cannot sign the access list of lock " + l.name);
  update.resize(*n);
  l.access_list.version = state.version;
  l.extra["pending_access_list"] = ToHex(update);  // signed: kept before anything is sent
}

bool AddGroupRevocations(Keyring& keyring, LockEntry& lock, uint64_t group) {
  bool missing = false;
  for (const protocol::KeyRef& k : GroupRevoked(keyring, group)) {
    if (std::find(lock.access_list.revoked.begin(), lock.access_list.revoked.end(), k) != lock.access_list.revoked.end())
      continue;
    lock.access_list.revoked.push_back(k);
    missing = true;
  }
  return missing;
}

LockEntry& GroupDoorLock(Context& ctx, Keyring& keyring, const GroupRef& group, const std::string& name) {
  LockEntry& lock = name.empty() ? ctx.SelectLock(keyring) : keyring.content().SelectLock(name);
  if (!lock.is_owner() || lock.identity != group.identity)
    throw Error(ExitCode::kRefused,
                "lock \"" + lock.name + "\" is not owned by identity \"" + group.identity + "\", whose group this is",
                "A group spans the locks of one owner key.");
  return lock;
}


std::vector<std::string> RevokeAtGroupDoors(Context& ctx, Keyring& keyring, const LockEntry& from,
                                            const protocol::KeyRef& key, uint64_t group) {
  // Remembered with the group: a door put into the group later gets its
  // revocation before its membership (CmdGroupDoor).
  if (json* g = GroupEntry(keyring, group)) {
    const std::vector<protocol::KeyRef> known = GroupRevoked(keyring, group);
    if (std::find(known.begin(), known.end(), key) == known.end())
      (*g)["revoked"].push_back({{"issuer", ToHex(key.issuer)}, {"serial", key.serial}});
  }
  std::vector<std::string> names;
  for (const LockEntry& l : keyring.content().locks()) {
    const std::vector<uint64_t> g = DoorGroups(l);
    if (l.name == from.name || !l.is_owner() || l.identity != from.identity ||
        std::find(g.begin(), g.end(), group) == g.end()) {
      continue;
    }
    names.push_back(l.name);
  }
  for (const std::string& name : names) {
    LockEntry& l = keyring.content().SelectLock(name);
    if (std::find(l.access_list.revoked.begin(), l.access_list.revoked.end(), key) == l.access_list.revoked.end())
      l.access_list.revoked.push_back(key);
    SignPendingAccessList(ctx, keyring, l);
  }
  return names;
}

json PushPendingAccessLists(Context& ctx, const std::vector<std::string>& locks) {
  json out = json::array();
  for (const std::string& name : locks) {
    std::string endpoint, pending;
    {
      Keyring keyring = ctx.OpenKeyring(Keyring::Access::kRead);
      const LockEntry& l = keyring.content().SelectLock(name);
      endpoint = l.endpoint;
      pending = l.extra.value("pending_access_list", std::string());
    }
    std::vector<uint8_t> update;
    if (pending.empty() || !FromHex(pending, update)) continue;
    json row = {{"lock", name}};
    try {
      const protocol::SignedUpdateReply r = Push(ctx, endpoint, protocol::SignedUpdateKind::kAccessList, update);
      row["version"] = r.held_version;
      row["status"] = r.status == StatusCode::kOk ? std::string("ok") : std::string(StatusCodeName(r.status));
      if (r.status == StatusCode::kOk || r.status == StatusCode::kAlreadyExists) {
        // Forget it only if it is still the one delivered.
        Keyring keyring = ctx.OpenKeyring(Keyring::Access::kUpdate);
        LockEntry& l = keyring.content().SelectLock(name);
        if (l.extra.value("pending_access_list", std::string()) == pending) l.extra.erase("pending_access_list");
        keyring.Save();
      }
    } catch (const Error& e) {
      row["status"] = "unreachable";
      row["error"] = e.what();
    }
    out.push_back(row);
  }
  return out;
}

GroupRef FindGroup(Keyring& keyring, const std::string& name) {
  for (const json& g : Groups(keyring)) {
    if (g.value("name", "") == name) return GroupRef{IdFrom(g["id"]), g.value("identity", "")};
  }
  throw Error(ExitCode::kUsage, "no group named \"" + name + "\" in the keyring", "See `mortise group list`.");
}

int CmdGroupCreate(Context& ctx, const GroupOptions& o) {
  if (!IsValidName(o.group))
    throw Error(ExitCode::kBadInput, "\"" + o.group + "\" is not a valid group name",
                "Use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit.");
  Keyring keyring = ctx.OpenKeyring(Keyring::Access::kUpdate);
  const IdentityEntry& id = keyring.content().GetIdentity(o.identity);
  json& groups = Groups(keyring);
  for (const json& g : groups)
    if (g.value("name", "") == o.group) throw Error(ExitCode::kUsage, "a group named \"" + o.group + "\" exists");
  uint64_t gid = 0;
  while (gid == 0) {
    uint8_t b[8];
    if (!ctx.drbg().Generate(b).ok()) throw Error(ExitCode::kInternal, "no randomness for the group id");
    for (const uint8_t x : b) gid = (gid << 8) | x;
    for (const json& g : groups)
      if (IdFrom(g["id"]) == gid) gid = 0;
  }
  groups.push_back({{"name", o.group}, {"id", IdText(gid)}, {"identity", id.name}, {"created", ctx.Now()}});
  keyring.Save();
  ctx.out().Text("Group \"" + o.group + "\" (" + IdText(gid) + ") created for identity \"" + id.name +
                 "\". Add doors with: mortise group add-door " + o.group + " LOCK\n");
  ctx.out().Json({{"group", o.group}, {"id", IdText(gid)}, {"identity", id.name}});
  return 0;
}

namespace {

// Before a door is put into a group, the door's owner access list must hold
// every key of the group the owner revoked: those revocations went only to
// the doors in the group at the time (RevokeAtGroupDoors). Adds the missing
// ones, signs the list, and delivers it and any list still pending in frame
// 0x05; throws, with the membership neither signed nor sent, unless the lock
// then holds that list.
void DeliverGroupRevocations(Context& ctx, const GroupOptions& o) {
  std::string lock_name, endpoint;
  uint64_t signed_version = 0;
  {
    Keyring keyring = ctx.OpenKeyring(Keyring::Access::kUpdate);
    const GroupRef group = FindGroup(keyring, o.group);
    LockEntry& lock = o.lock.empty() ? ctx.SelectLock(keyring) : keyring.content().SelectLock(o.lock);
    if (!lock.is_owner() || lock.identity != group.identity) return;  // CmdGroupDoor refuses it
    if (AddGroupRevocations(keyring, lock, group.id)) SignPendingAccessList(ctx, keyring, lock);
    keyring.Save();
    if (!lock.extra.contains("pending_access_list")) return;
    lock_name = lock.name;
    endpoint = lock.endpoint;
    signed_version = lock.access_list.version;
  }
  for (int attempt = 0; attempt < 2; ++attempt) {
    const json rows = PushPendingAccessLists(ctx, {lock_name});
    if (rows.empty()) return;  // nothing pending any more
    const json& row = rows[0];
    const std::string status = row.value("status", "");
    const uint64_t held = row.value("version", uint64_t{0});
    if (status == "ok" || (status == StatusCodeName(StatusCode::kAlreadyExists) && held == signed_version)) return;
    if (status == StatusCodeName(StatusCode::kAlreadyExists) && held > signed_version && attempt == 0) {
      // The lock holds a higher version (signed before a factory reset, or
      // by another device of this identity): sign the same list above it.
      Keyring keyring = ctx.OpenKeyring(Keyring::Access::kUpdate);
      LockEntry& lock = keyring.content().SelectLock(lock_name);
      lock.access_list.version = held;
      SignPendingAccessList(ctx, keyring, lock);
      signed_version = lock.access_list.version;
      keyring.Save();
      continue;
    }
    throw Error(ExitCode::kRefused,
                "lock \"" + lock_name + "\" has not taken the access list that revokes the group's revoked keys (" +
                    (status == "unreachable" ? row.value("error", status) : status) +
                    "); the door was not put into the group and no membership was sent",
                "The access list is signed and kept as pending; run the command again to send it, then the membership.");
  }
}

}  // namespace

int CmdGroupDoor(Context& ctx, const GroupOptions& o, bool add) {
  if (add) {
    // A door already in the group, with nothing waiting to be sent: a no-op.
    // Say so and sign nothing (a new version would change nothing at the
    // lock but its version floor).
    Keyring keyring = ctx.OpenKeyring(Keyring::Access::kRead);
    const GroupRef group = FindGroup(keyring, o.group);
    const LockEntry& lock = o.lock.empty() ? ctx.SelectLock(keyring) : keyring.content().SelectLock(o.lock);
    const std::vector<uint64_t> groups = DoorGroups(lock);
    const auto known = lock.extra.find("group_membership");
    const bool pending = known != lock.extra.end() && known->contains("pending");
    if (lock.is_owner() && lock.identity == group.identity && !pending &&
        std::find(groups.begin(), groups.end(), group.id) != groups.end()) {
      ctx.out().Text("Lock \"" + lock.name + "\" is already in group \"" + o.group + "\" (membership version " +
                     std::to_string(KnownMembershipVersion(lock)) + "); nothing to sign or send.\n");
      ctx.out().Json({{"lock", lock.name}, {"group", o.group}, {"member", true}, {"version", KnownMembershipVersion(lock)},
                      {"changed", false}});
      return 0;
    }
  }
  if (add) DeliverGroupRevocations(ctx, o);
  std::vector<uint8_t> update;
  std::string endpoint;
  uint64_t version = 0;
  std::string lock_name;
  {
    Keyring keyring = ctx.OpenKeyring(Keyring::Access::kUpdate);
    const GroupRef group = FindGroup(keyring, o.group);
    LockEntry& lock = GroupDoorLock(ctx, keyring, group, o.lock);
    std::vector<uint64_t> groups = DoorGroups(lock);
    const bool member = std::find(groups.begin(), groups.end(), group.id) != groups.end();
    const auto known = lock.extra.find("group_membership");
    const bool pending = known != lock.extra.end() && known->contains("pending");
    if (add == member && pending) {
      // Signed before and not taken yet (the lock was unreachable or
      // refused): send the same update again rather than sign another.
      if (!FromHex((*known)["pending"].get<std::string>(), update))
        throw Error(ExitCode::kKeyring, "damaged keyring: a pending group membership is not hex");
    } else {
      if (!add && !member)
        throw Error(ExitCode::kBadInput, "lock \"" + lock.name + "\" is not in group \"" + o.group + "\"; nothing to remove");
      if (add && !member) groups.push_back(group.id);
      if (!add) groups.erase(std::remove(groups.begin(), groups.end(), group.id), groups.end());
      version = KnownMembershipVersion(lock) + 1;
      update = SignMembershipAndKeep(ctx, keyring, lock, groups, version);
    }
    endpoint = lock.endpoint;
    lock_name = lock.name;
  }
  protocol::SignedUpdateReply r = Push(ctx, endpoint, protocol::SignedUpdateKind::kGroupMembership, update);
  if (r.status == StatusCode::kAlreadyExists) {
    // The lock holds a higher version (an admin's, or one signed before a
    // factory reset): sign the same set above it, once.
    Keyring keyring = ctx.OpenKeyring(Keyring::Access::kUpdate);
    LockEntry& lock = keyring.content().SelectLock(lock_name);
    version = r.held_version + 1;
    update = SignMembershipAndKeep(ctx, keyring, lock, DoorGroups(lock), version);
    r = Push(ctx, endpoint, protocol::SignedUpdateKind::kGroupMembership, update);
  }
  if (r.status != StatusCode::kOk)
    throw Error(ExitCode::kRefused, std::string("the lock refused the group membership: ") + StatusCodeName(r.status),
                "The signed update is kept in the keyring; run the command again to resend it.");
  {
    Keyring keyring = ctx.OpenKeyring(Keyring::Access::kUpdate);
    keyring.content().SelectLock(lock_name).extra["group_membership"].erase("pending");
    keyring.Save();
  }
  ctx.out().Text("Lock \"" + lock_name + "\" " + (add ? "is now in" : "is no longer in") + " group \"" + o.group +
                 "\" (membership version " + std::to_string(r.held_version) + " at the lock).\n");
  ctx.out().Json({{"lock", lock_name}, {"group", o.group}, {"member", add}, {"version", r.held_version},
                  {"changed", true}});
  return 0;
}

int CmdGroupShow(Context& ctx, const GroupOptions& o) {
  Keyring keyring = ctx.OpenKeyring(Keyring::Access::kRead);
  const GroupRef group = FindGroup(keyring, o.group);
  json doors = json::array();
  std::string text = "group \"" + o.group + "\" (" + IdText(group.id) + "), identity \"" + group.identity + "\"\n";
  for (const LockEntry& l : keyring.content().locks()) {
    const std::vector<uint64_t> g = DoorGroups(l);
    if (std::find(g.begin(), g.end(), group.id) == g.end()) continue;
    doors.push_back(l.name);
    text += "  " + l.name + "  (membership version " + std::to_string(KnownMembershipVersion(l)) + ")\n";
  }
  if (doors.empty()) text += "  no doors yet\n";
  ctx.out().Text(text);
  ctx.out().Json({{"group", o.group}, {"id", IdText(group.id)}, {"identity", group.identity}, {"doors", doors}});
  return 0;
}

int CmdGroupList(Context& ctx) {
  Keyring keyring = ctx.OpenKeyring(Keyring::Access::kRead);
  json out = json::array();
  std::string text;
  for (const json& g : Groups(keyring)) {
    const uint64_t gid = IdFrom(g["id"]);
    size_t doors = 0;
    for (const LockEntry& l : keyring.content().locks()) {
      const std::vector<uint64_t> d = DoorGroups(l);
      doors += std::count(d.begin(), d.end(), gid);
    }
    out.push_back({{"name", g.value("name", "")}, {"id", IdText(gid)}, {"doors", doors}});
    text += g.value("name", "") + "  " + IdText(gid) + "  " + std::to_string(doors) + " door(s)\n";
  }
  ctx.out().Text(text.empty() ? "no groups (create one with: mortise group create NAME)\n" : text);
  ctx.out().Json({{"groups", out}});
  return 0;
}

int CmdKeyReshare(Context& ctx, const KeyReshareOptions& o) {
  Keyring keyring = ctx.OpenKeyring(Keyring::Access::kRead);
  const IssuedKey* key = nullptr;
  const LockEntry* from = nullptr;
  size_t named = 0;
  for (const LockEntry& l : keyring.content().locks()) {
    for (const IssuedKey& k : l.issued) {
      const bool by_serial = std::to_string(k.serial) == o.key;
      if (by_serial || k.holder_name == o.key) {
        if (!by_serial) ++named;
        if (by_serial || key == nullptr) {
          key = &k;
          from = &l;
        }
      }
    }
  }
  if (key == nullptr) throw Error(ExitCode::kUsage, "no key '" + o.key + "' was issued from this keyring", "See mortise key list.");
  if (named > 1 && std::to_string(key->serial) != o.key)
    throw Error(ExitCode::kBadInput, std::to_string(named) + " keys are named '" + o.key + "'",
                "Name it by its serial (mortise key list shows them).");
  const std::optional<uint64_t> group = GroupOfChain(key->chain);
  if (!group)
    throw Error(ExitCode::kBadInput, "key " + std::to_string(key->serial) + " is a lock key, not a group key",
                "It opens only the lock it was shared for.");
  const LockEntry& door = keyring.content().SelectLock(o.door);
  if (!door.is_owner() || door.identity != from->identity)
    throw Error(ExitCode::kRefused, "lock \"" + door.name + "\" is not owned by the identity that issued the key");
  const std::vector<uint64_t> doors = DoorGroups(door);
  if (std::find(doors.begin(), doors.end(), *group) == doors.end())
    throw Error(ExitCode::kBadInput, "lock \"" + door.name + "\" is not in the key's group (" + IdText(*group) + ")",
                "Put it in first: mortise group add-door GROUP " + door.name + ".");
  ShareBundle bundle;
  bundle.lock_key = door.lock_key;
  bundle.chain = key->chain;
  bundle.endpoint_hint = door.endpoint;
  bundle.lock_name_hint = door.name;
  const std::string text = EncodeShareString(bundle);
  std::string human = "Key " + std::to_string(key->serial) + " (group " + IdText(*group) + ") for lock '" + door.name +
                      "':\n" + text + "\n";
  if (!o.no_qr) {
    Result<std::string> qr = termqr::Render(text);
    if (qr.ok()) human += *qr;
  }
  human += "The holder runs: mortise key accept <the string above>\n";
  ctx.out().Text(human);
  ctx.out().Json({{"key", text}, {"serial", key->serial}, {"group", IdText(*group)}, {"lock", door.name}});
  return 0;
}

}  // namespace mortise::cli
