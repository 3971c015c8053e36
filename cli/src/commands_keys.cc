// key share|accept|revoke|list and log: certificates, access lists and the
// audit log, from the holder's side.
#include <poll.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <optional>
#include <functional>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "commands.h"
#include "error.h"
#include "base64url.h"
#include "key_string.h"
#include "lock_session.h"
#include "log_print.h"
#include "log_text.h"
#include "mortise/dljson/event_json.h"
#include "mortise/protocol/access_list.h"
#include "mortise/protocol/identity.h"
#include "mortise/protocol/revalidation.h"
#include "mortise/protocol/time_statement.h"
#include "mortise/termqr/termqr.h"
#include "time_zone.h"

namespace mortise::cli {
namespace {

using nlohmann::json;

// Permission names as the CLI writes them, in bit order (permissions.h).
constexpr const char* kPermissionNames[] = {"lock",     "unlock",          "unlatch",         "manage-users",
                                            "read-log", "set-time",        "change-settings", "update-firmware",
                                            "passage-mode", "delegate",    "revalidate",
                                            "log-custody", "manage-groups", "time-statement"};
static_assert(std::size(kPermissionNames) == 14 && (protocol::kAllPermissions >> 14) == 0,
              "one name per permission bit");

uint32_t PermissionBit(const std::string& name) {
  for (size_t i = 0; i < std::size(kPermissionNames); ++i) {
    if (!name.empty() && name == kPermissionNames[i]) return 1u << i;
  }
  std::string all;
  for (const char* n : kPermissionNames)
    if (*n != '\0') all += (all.empty() ? "" : ", ") + std::string(n);
  throw Error(ExitCode::kBadInput, "unknown permission '" + name + "'", "Use " + all + ".");
}

protocol::Role ParseRole(const std::string& role) {
  if (role == "admin") return protocol::Role::kAdmin;
  if (role == "member") return protocol::Role::kMember;
  if (role == "guest") return protocol::Role::kGuest;
  if (role == "installer") return protocol::Role::kInstaller;
  throw Error(ExitCode::kBadInput, "'" + role + "' is not a role you can share", "Use admin, member, guest or installer.");
}

std::string PermissionsText(uint32_t p) {
  std::string out;
  for (size_t i = 0; i < std::size(kPermissionNames); ++i) {
    if ((p & (1u << i)) != 0) out += (out.empty() ? "" : ",") + std::string(kPermissionNames[i]);
  }
  return out.empty() ? "none" : out;
}

// This device's own certificate at `lock` when it is an admin holding the
// delegate right (it signs keys and access lists of its own); `what` says
// what was asked, for the refusal.
struct AdminCertificate {
  protocol::CertificateFields fields;
  std::vector<uint8_t> cert;
};
AdminCertificate RequireDelegatingAdmin(const LockEntry& lock, const std::string& what) {
  const std::vector<std::vector<uint8_t>> mine = SplitChain(lock.chain);
  Result<protocol::CertificateFields> fields =
      mine.size() == 1 ? protocol::DecodeCertificate(mine[0]) : Result<protocol::CertificateFields>(StatusCode::kInvalidArgument);
  if (lock.role != protocol::Role::kAdmin || !fields.ok() || (fields->permissions & protocol::kPermDelegate) == 0) {
    throw Error(ExitCode::kRefused, "only the owner, or an admin whose key carries the delegate right, can " + what);
  }
  return AdminCertificate{*fields, mine[0]};
}

volatile sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

}  // namespace

SharedKey ShareKey(Context& ctx, Keyring& keyring, LockEntry& lock, const KeyShareOptions& o) {
  // The owner signs with the root key; an admin whose certificate carries
  // the delegate right signs the second certificate of a two-deep chain
  // (docs/protocol.md 4.3), within its own limits, which the lock checks.
  std::optional<protocol::CertificateFields> admin;
  std::vector<uint8_t> admin_cert;
  if (!lock.is_owner()) {
    AdminCertificate mine = RequireDelegatingAdmin(lock, "share keys");
    admin = mine.fields;
    admin_cert = std::move(mine.cert);
  }
  if (o.to.empty()) {
    throw Error(ExitCode::kUsage, "share with whom? Pass --to MKP1.… (the holder runs: mortise id show)");
  }
  const crypto::P256PublicKey holder = ParsePublicKeyString(o.to);
  protocol::CertificateFields f;
  f.lock_id = lock.lock_id;
  f.holder_key = holder.Compressed();
  const bool duty = o.custody || o.time;
  f.role = duty ? protocol::Role::kAdmin : ParseRole(o.role);
  if (duty) {
    // Like the revalidation service's key: role admin with one narrow right,
    // so that even stolen it opens nothing (the lock refuses it every
    // command). Issued by the owner only, and limited by nothing else that
    // would make the holder's uploads or time statements fail at odd hours.
    const std::string what = o.custody ? "log-custody" : "time-statement";
    if (o.custody && o.time) throw Error(ExitCode::kUsage, "--custody and --time issue two different keys: one at a time");
    if (admin.has_value()) {
      throw Error(ExitCode::kRefused, "only the lock's owner can issue a " + what + " key");
    }
    if (o.role != "guest" || !o.permissions.empty() || !o.days.empty() || !o.hours.empty() || o.uses != 0 ||
        o.remote_only || o.revalidate_every != 0 || !o.group.empty()) {
      throw Error(ExitCode::kUsage,
                  std::string(o.custody ? "--custody" : "--time") + " issues a key with the " + what +
                      " right alone: it takes no --role, --permission, "
                      "--days, --hours, --uses, --remote-only, --revalidate-every or --group");
    }
    f.permissions = o.custody ? protocol::kPermLogCustody : protocol::kPermTimeStatement;
  } else if (o.permissions.empty()) {
    f.permissions = protocol::RoleAllowedPermissions(f.role) & ~protocol::kPermDelegate &
                    ~protocol::kPermUpdateFirmware & ~protocol::kPermRevalidate & ~protocol::kPermLogCustody &
                    ~protocol::kPermManageGroups & ~protocol::kPermTimeStatement;
  } else {
    for (const std::string& p : o.permissions) f.permissions |= PermissionBit(p);
  }
  if ((f.permissions & ~protocol::RoleAllowedPermissions(f.role)) != 0) {
    throw Error(ExitCode::kUsage, "a " + o.role + " cannot hold " +
                                      PermissionsText(f.permissions & ~protocol::RoleAllowedPermissions(f.role)));
  }
  const int64_t now = ctx.Now();
  // A bare date is a whole day in the lock's local time (its time zone as
  // last read from the lock, kept in the keyring, summer time included; UTC
  // until then): --from DATE starts at its 00:00, --until DATE ends at its
  // 24:00.
  const LockTimeZone zone = StoredTimeZone(lock.extra);
  auto is_date = [](const std::string& t) { return t.size() == 10; };
  if (!o.from.empty()) {
    const int64_t t = ParseUtc(o.from, now);
    f.not_before = static_cast<uint64_t>(is_date(o.from) ? LocalToUtc(t, zone) : t);
  }
  if (!o.until.empty()) {
    const int64_t t = ParseUtc(o.until, now);
    f.not_after = static_cast<uint64_t>(is_date(o.until) ? LocalToUtc(t + 86400, zone) : t);
    if (static_cast<int64_t>(f.not_after) <= now) {
      throw Error(ExitCode::kBadInput,
                  "--until " + o.until + " is " + FormatUtc(static_cast<int64_t>(f.not_after)) +
                      ", already past: the key would never open",
                  "Give a later --until (a date means the end of that day, the lock's local time).");
    }
  }
  if (admin.has_value()) {
    if (f.role == protocol::Role::kAdmin) {
      throw Error(ExitCode::kUsage, "an admin cannot make another admin (chains stop at two certificates)",
                  "Share as member, guest or installer.");
    }
    if (o.permissions.empty()) f.permissions &= admin->permissions;
    f.permissions &= ~protocol::kPermDelegate;
    if ((f.permissions & ~admin->permissions) != 0) {
      throw Error(ExitCode::kUsage, "your key does not hold " + PermissionsText(f.permissions & ~admin->permissions) +
                                        ", so it cannot grant it");
    }
    // Inside the admin's own window (defaults inherit it).
    if (admin->not_before != 0 && f.not_before < admin->not_before) {
      if (!o.from.empty()) throw Error(ExitCode::kUsage, "--from is before your own key becomes valid");
      f.not_before = admin->not_before;
    }
    if (admin->not_after != 0 && (f.not_after == 0 || f.not_after > admin->not_after)) {
      if (!o.until.empty()) throw Error(ExitCode::kUsage, "--until is after your own key expires");
      f.not_after = admin->not_after;
    }
    if (admin->remote_only) f.remote_only = true;
    // Issued under this certificate, at its claim generation; no more uses
    // than it has (the lock counts each use against both).
    f.parent_serial = admin->serial;
    if (admin->max_uses != 0 && o.uses > admin->max_uses) {
      throw Error(ExitCode::kUsage, "--uses is more than your own key's " + std::to_string(admin->max_uses));
    }
  }
  f.claim_generation = admin.has_value() ? admin->claim_generation : lock.claim_generation;
  if (f.not_after != 0 && f.not_after <= f.not_before) throw Error(ExitCode::kUsage, "--until must be after --from");
  if (!o.days.empty() || !o.hours.empty()) {
    const auto [start, end] = ParseHours(o.hours.empty() ? "00:00-24:00" : o.hours);
    f.schedule = protocol::WeeklyWindow{ParseDays(o.days.empty() ? "daily" : o.days), start, end};
  }
  f.max_uses = o.uses;
  if (admin.has_value() && admin->max_uses != 0 && f.max_uses == 0) f.max_uses = admin->max_uses;
  f.remote_only = f.remote_only || o.remote_only;
  f.revalidation_max_age = o.revalidate_every;
  if (!o.group.empty()) {
    // A group key (docs/protocol.md 4.1, scope 2): no lock, no claim
    // generation; it opens where the group's signed memberships say.
    if (admin.has_value())
      throw Error(ExitCode::kRefused, "only the owner can share group keys from mortise",
                  "Ask the owner; admins share keys for their own lock.");
    const GroupRef group = FindGroup(keyring, o.group);
    if (group.identity != lock.identity)
      throw Error(ExitCode::kUsage, "group \"" + o.group + "\" belongs to identity \"" + group.identity +
                                        "\", not to the owner of lock \"" + lock.name + "\"");
    if (o.revalidate_every != 0)
      throw Error(ExitCode::kUsage, "a group key cannot demand revalidation (a token names one lock)");
    f.scope = protocol::Scope::kGroup;
    f.group_id = group.id;
    f.lock_id = {};
    f.claim_generation = 0;
  }
  f.serial = lock.NewSerial(ctx.drbg());
  f.issuer_epoch = lock.issuer_epoch;
  const crypto::P256KeyPair issuer = keyring.content().GetIdentity(lock.identity).KeyPair();
  std::vector<uint8_t> cert(protocol::kMaxCertificateSize);
  Result<size_t> n = protocol::IssueCertificate(f, issuer, ctx.drbg(), cert);
  if (!n.ok()) throw Error(ExitCode::kUsage, "these key limits cannot be encoded in a certificate");
  cert.resize(*n);
  std::vector<uint8_t> chain(protocol::kMaxChainSize);
  Result<size_t> c = admin.has_value() ? protocol::EncodeChain(admin_cert, cert, chain)
                                       : protocol::EncodeChain(cert, {}, chain);
  if (!c.ok()) throw Error(ExitCode::kInternal, "cannot encode the key chain");
  chain.resize(*c);

  ShareBundle bundle;
  bundle.lock_key = lock.lock_key;
  bundle.chain = chain;
  bundle.endpoint_hint = o.endpoint_hint.empty() ? lock.endpoint : o.endpoint_hint;
  bundle.lock_name_hint = lock.name;
  const std::string text = EncodeShareString(bundle);

  IssuedKey issued;
  issued.serial = f.serial;
  issued.holder_name = o.holder_name;
  issued.holder_key = f.holder_key;
  issued.role = f.role;
  issued.permissions = f.permissions;
  issued.not_before = f.not_before;
  issued.not_after = f.not_after;
  issued.schedule = f.schedule;
  issued.max_uses = f.max_uses;
  issued.remote_only = f.remote_only;
  issued.issued_at = now;
  issued.chain = chain;
  lock.RecordIssuedKey(issued);
  keyring.Save();

  return SharedKey{text, f};
}

int CmdKeyShare(Context& ctx, const KeyShareOptions& o) {
  Keyring keyring = ctx.OpenKeyring(Keyring::Access::kUpdate);
  LockEntry& lock = ctx.SelectLock(keyring);
  const SharedKey shared = ShareKey(ctx, keyring, lock, o);
  const std::string& text = shared.text;
  const protocol::CertificateFields& f = shared.fields;
  if (!o.out.empty()) {
    std::ofstream file(o.out, std::ios::trunc);
    file << text << "\n";
    if (!file) throw Error(ExitCode::kBadInput, "cannot write " + o.out);
  }
  const std::string role_name = protocol::RoleName(f.role);
  std::string human = "Key for " + (o.holder_name.empty() ? std::string("the holder") : o.holder_name) + " (serial " +
                      std::to_string(f.serial) + ", " + role_name + ": " + PermissionsText(f.permissions) + ")\n" +
                      "Valid " + (f.not_before != 0 ? "from " + FormatUtc(static_cast<int64_t>(f.not_before)) : std::string("from now")) +
                      (f.not_after != 0 ? " until " + FormatUtc(static_cast<int64_t>(f.not_after)) : std::string(", no end")) +
                      " (UTC)\n" + text + "\n";
  if (!o.no_qr) {
    Result<std::string> qr = termqr::Render(text);
    if (qr.ok()) human += *qr;
  }
  if (o.custody) human += "A log-custody key opens nothing: its holder can only acknowledge log uploads.\n";
  if (o.time) {
    human += "A time-statement key opens nothing: its holder can only correct the lock's clock by at most " +
             std::to_string(protocol::kTimeCorrectionMaxStepS) + " s, once per " +
             std::to_string(protocol::kTimeCorrectionIntervalMs / 3'600'000) + " h.\n";
  }
  human += "The holder runs: mortise key accept <the string above>\n";
  ctx.out().Text(human);
  ctx.out().Json({{"key", text}, {"serial", f.serial}, {"role", role_name}, {"permissions", PermissionsText(f.permissions)},
                  {"group", o.group.empty() ? nlohmann::json(nullptr) : nlohmann::json(o.group)},
                  {"not_before", f.not_before != 0 ? nlohmann::json(FormatUtc(static_cast<int64_t>(f.not_before))) : nlohmann::json(nullptr)},
                  {"not_after", f.not_after != 0 ? nlohmann::json(FormatUtc(static_cast<int64_t>(f.not_after))) : nlohmann::json(nullptr)}});
  return 0;
}

int CmdKeyAccept(Context& ctx, const KeyAcceptOptions& o) {
  std::string text = o.text;
  if (text == "-") {
    if (!std::getline(std::cin, text)) throw Error(ExitCode::kBadInput, "no key string on standard input");
  }
  // What people paste comes with spaces and line ends around it (docs/cli.md 5).
  text = Trimmed(text);
  const ParsedShare share = ParseShareString(text);  // strict; kBadInput / kVerification
  // A key that can no longer open (by this device's clock) is not stored
  // as if it could: say so, with its exact validity.
  if (share.holder.not_after != 0 && static_cast<int64_t>(share.holder.not_after) <= ctx.Now()) {
    throw Error(ExitCode::kBadInput,
                "this key expired at " + FormatUtc(static_cast<int64_t>(share.holder.not_after)) +
                    (share.holder.not_before != 0 ? " (it was valid from " + FormatUtc(static_cast<int64_t>(share.holder.not_before)) + ")" : ""),
                "Ask the owner for a new key.");
  }
  Keyring keyring = ctx.OpenKeyring(Keyring::Access::kUpdate);
  // The identity the certificate names must be one of ours.
  const IdentityEntry* mine = nullptr;
  for (const IdentityEntry& id : keyring.content().identities()) {
    if (id.PublicKey().Compressed() == share.holder.holder_key && (o.identity.empty() || o.identity == id.name)) {
      mine = &id;
    }
  }
  if (mine == nullptr) {
    throw Error(ExitCode::kVerification, "this key was issued to another identity, not to one in your keyring",
                "Give the owner the MKP1 string from: mortise id show.");
  }
  if (keyring.content().FindLockById(share.lock_id) != nullptr) {
    throw Error(ExitCode::kUsage, "you already have a key for this lock", "Forget it first: mortise lock forget NAME.");
  }
  LockEntry entry;
  entry.name = !o.name.empty() ? o.name : (!share.bundle.lock_name_hint.empty() ? share.bundle.lock_name_hint : "lock");
  entry.lock_id = share.lock_id;
  entry.lock_key = share.bundle.lock_key;
  entry.endpoint = !o.endpoint.empty() ? Endpoint::Parse(o.endpoint).Absolute().ToString()
                                       : (share.bundle.endpoint_hint.empty() ? std::string()
                                                                             : Endpoint::Parse(share.bundle.endpoint_hint).ToString());
  if (entry.endpoint.empty()) throw Error(ExitCode::kUsage, "the key names no endpoint", "Pass --endpoint.");
  entry.role = share.holder.role;
  entry.identity = mine->name;
  entry.chain = share.bundle.chain;
  entry.added_at = ctx.Now();
  LockEntry& added = keyring.content().AddLock(std::move(entry));
  keyring.Save();
  const auto& h = share.holder;
  std::string limits = std::string(RoleText(h.role)) + ": " + PermissionsText(h.permissions);
  if (h.not_before != 0) limits += ", from " + FormatUtc(static_cast<int64_t>(h.not_before));
  if (h.not_after != 0) limits += ", until " + FormatUtc(static_cast<int64_t>(h.not_after));
  if (h.max_uses != 0) limits += ", " + std::to_string(h.max_uses) + " uses";
  ctx.out().Text("Key accepted for lock '" + added.name + "' (" + limits + ").\n");
  ctx.out().Json({{"lock", added.name}, {"role", RoleText(h.role)}, {"serial", h.serial}});
  return 0;
}

int CmdKeyRevoke(Context& ctx, const KeyRevokeOptions& o) {
  // Sign first, with the keyring held only for that; the lock need not be
  // reachable (--no-push): the update stays pending in the keyring and the
  // next command to this lock delivers it.
  uint64_t serial = 0;
  uint64_t version = 0;
  std::vector<std::string> group_doors;  // the group's other doors, for a group key
  std::vector<uint8_t> update(protocol::kMaxAccessListUpdateSize);
  std::string lock_name;
  {
    Keyring keyring = ctx.OpenKeyring(Keyring::Access::kUpdate);
    LockEntry& lock = ctx.SelectLock(keyring);
    lock_name = lock.name;
    // The owner's list may name any key; an admin signs a list of its own
    // that names only the keys it issued (the lock checks both).
    std::optional<AdminCertificate> admin;
    if (!lock.is_owner()) admin = RequireDelegatingAdmin(lock, "revoke keys");
    // A serial names one key; a name may name several (two keys shared with
    // the same --name): revoking "one of them" silently would leave the
    // other working while the owner believes it gone.
    std::vector<uint64_t> by_name;
    for (const IssuedKey& k : lock.issued) {
      if (o.key.empty()) continue;
      if (std::to_string(k.serial) == o.key) serial = k.serial;
      if (k.holder_name == o.key && !k.revoked) by_name.push_back(k.serial);
    }
    if (serial == 0 && by_name.size() > 1) {
      std::string serials;
      for (uint64_t s : by_name) serials += (serials.empty() ? "" : ", ") + std::to_string(s);
      throw Error(ExitCode::kBadInput,
                  std::to_string(by_name.size()) + " keys are named '" + o.key + "' (serials " + serials +
                      "); nothing was revoked",
                  "Revoke each by its serial: mortise key revoke SERIAL (mortise key list shows them).");
    }
    if (serial == 0 && by_name.size() == 1) serial = by_name[0];
    if (serial == 0) {
      for (const IssuedKey& k : lock.issued)
        if (k.holder_name == o.key) serial = k.serial;  // already revoked: revoking again is harmless
    }
    if (serial == 0) {
      throw Error(ExitCode::kUsage, "no key '" + o.key + "' was issued from this keyring", "See mortise key list.");
    }
    const crypto::P256KeyPair signer = keyring.content().GetIdentity(lock.identity).KeyPair();
    lock.Revoke(serial, protocol::KeyIdOf(signer.public_key()));
    // A group key opens every door of its group: the owner's revocation
    // goes to each of them (their own lists, sent in frame 0x05 below).
    if (const IssuedKey* k = lock.FindIssued(serial); k != nullptr && !admin) {
      if (const std::optional<uint64_t> group = GroupOfChain(k->chain)) {
        group_doors = RevokeAtGroupDoors(ctx, keyring, lock, protocol::KeyRef{protocol::KeyIdOf(signer.public_key()), serial},
                                         *group);
      }
    }
    const protocol::AccessListState state =
        lock.access_list.NextSnapshot(admin ? admin->fields.claim_generation : lock.claim_generation);
    Result<size_t> n = protocol::SignAccessList(state, lock.lock_id, signer, ctx.drbg(), update,
                                                admin ? std::span<const uint8_t>(admin->cert) : std::span<const uint8_t>());
    if (n.status().code() == StatusCode::kResourceExhausted) {
      throw Error(ExitCode::kUsage, "your access list is full", "Ask the owner to revoke your certificate and re-issue the keys that stay.");
    }
    if (!n.ok()) throw Error(ExitCode::kInternal, "cannot sign the access list");
    update.resize(*n);
    lock.access_list.version = state.version;
    version = state.version;
    lock.extra["pending_access_list"] = ToHex(update);  // signed: kept before anything is sent
    keyring.Save();
  }
  if (o.via_server && o.no_push) throw Error(ExitCode::kUsage, "--no-push sends nothing: it takes no --via-server");
  bool via_server = o.via_server;
  if (!o.no_push && !via_server) {
    try {
      LockSession s(ctx);  // delivers the pending update first
    } catch (const Error& e) {
      // Not reachable here (nothing was sent): through the server the lock
      // is registered on, if any. The signed list stays pending here too.
      if (e.code() != ExitCode::kUnreachable || !RegisteredOnServer(ctx)) throw;
      via_server = true;
    }
  }
  if (via_server) {
    std::vector<std::string> locks = {lock_name};
    locks.insert(locks.end(), group_doors.begin(), group_doors.end());
    return RevokeViaServer(ctx, serial, locks, o.wait_s);
  }
  nlohmann::json doors = nlohmann::json::array();
  std::string door_text;
  if (!o.no_push && !group_doors.empty()) {
    doors = PushPendingAccessLists(ctx, group_doors);
    for (const auto& d : doors) {
      door_text += "  " + d["lock"].get<std::string>() + ": " +
                   (d["status"] == "ok" ? "has the new access list"
                    : d["status"] == "unreachable"
                        ? std::string("not reached; the next command you send to it delivers it")
                        : "refused it (" + d["status"].get<std::string>() + ")") +
                   "\n";
    }
  }
  ctx.out().Text("key " + std::to_string(serial) + " revoked" +
                 (o.no_push ? " (signed and kept; the next command you send to this lock delivers it)\n"
                            : "; the lock has the new access list\n") +
                 (group_doors.empty() ? std::string() : "the other doors of its group:\n" + door_text));
  ctx.out().Json({{"revoked", serial}, {"access_list_version", version}, {"pushed", !o.no_push}, {"group_doors", doors}});
  return 0;
}

int CmdKeyRevalidate(Context& ctx, const KeyRevalidateOptions& o) {
  Keyring keyring = ctx.OpenKeyring(Keyring::Access::kRead);
  const LockEntry& lock = ctx.SelectLock(keyring);
  if (!lock.is_owner()) throw Error(ExitCode::kRefused, "only the owner issues revalidation tokens from this CLI");
  const IssuedKey* key = nullptr;
  for (const IssuedKey& k : lock.issued) {
    if (k.holder_name == o.key || std::to_string(k.serial) == o.key) key = &k;
  }
  if (key == nullptr) throw Error(ExitCode::kUsage, "no key '" + o.key + "' was issued from this keyring", "See mortise key list.");
  if (key->revoked) throw Error(ExitCode::kRefused, "that key is revoked; a token would not bring it back");
  const int64_t at = ParseUtc(o.at.empty() ? "now" : o.at, ctx.Now());
  Result<protocol::RevalidationFields> fields = protocol::RevalidationFieldsFor(key->chain, static_cast<uint64_t>(at));
  Result<uint32_t> max_age = protocol::ChainRevalidationMaxAge(key->chain);
  if (!fields.ok() || !max_age.ok()) throw Error(ExitCode::kKeyring, "the stored key chain does not parse");
  if (*max_age == 0) {
    throw Error(ExitCode::kUsage, "that key does not demand revalidation",
                "Only keys shared with --revalidate-every need tokens.");
  }
  std::vector<uint8_t> token(protocol::kMaxRevalidationTokenSize);
  const crypto::P256KeyPair owner = keyring.content().GetIdentity(lock.identity).KeyPair();
  Result<size_t> n = protocol::IssueRevalidationToken(*fields, owner, {}, ctx.drbg(), token);
  if (!n.ok()) throw Error(ExitCode::kInternal, "cannot sign the revalidation token");
  token.resize(*n);
  const std::string text = EncodeRevalidationString(token);
  std::string human = "Revalidation token for key " + std::to_string(key->serial) + ", valid until " +
                      FormatUtc(at + *max_age) + ":\n" + text + "\n";
  if (!o.no_qr) {
    Result<std::string> qr = termqr::Render(text);
    if (qr.ok()) human += *qr;
  }
  human += "The holder runs: mortise key token <the string above>\n";
  ctx.out().Text(human);
  ctx.out().Json({{"token", text}, {"serial", key->serial}, {"valid_until", FormatUtc(at + *max_age)}});
  return 0;
}

int CmdKeyToken(Context& ctx, const KeyTokenOptions& o) {
  std::string text = o.text;
  if (text == "-" && !std::getline(std::cin, text)) throw Error(ExitCode::kBadInput, "no token on standard input");
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
  const std::vector<uint8_t> token = ParseRevalidationString(text);
  Result<protocol::RevalidationTokenInfo> info = protocol::DecodeRevalidationToken(token);
  if (!info.ok()) throw Error(ExitCode::kBadInput, "the revalidation token is malformed");
  Keyring keyring = ctx.OpenKeyring(Keyring::Access::kUpdate);
  LockEntry* lock = keyring.content().FindLockById(info->fields.lock_id);
  if (lock == nullptr) throw Error(ExitCode::kUsage, "the token is for a lock that is not in your keyring");
  Result<protocol::RevalidationFields> mine = protocol::RevalidationFieldsFor(lock->chain, info->fields.issued_at);
  if (!mine.ok() || mine->serial != info->fields.serial || mine->holder_key_id != info->fields.holder_key_id) {
    throw Error(ExitCode::kVerification, "the token is for another key, not yours");
  }
  lock->extra["revalidation_token"] = ToHex(token);
  keyring.Save();
  ctx.out().Text("token stored for lock '" + lock->name + "' (issued " + FormatUtc(static_cast<int64_t>(info->fields.issued_at)) +
                 ")\n");
  ctx.out().Json({{"lock", lock->name}, {"issued_at", FormatUtc(static_cast<int64_t>(info->fields.issued_at))}});
  return 0;
}

namespace {

// A key's terms in words: "2026-11-28T00:00:00Z .. 2026-11-30T00:00:00Z, mon-fri 07:00-19:00, 3 uses".
std::string TermsText(uint64_t not_before, uint64_t not_after, const std::optional<protocol::WeeklyWindow>& schedule,
                      uint32_t max_uses, bool remote_only) {
  std::string t = not_before == 0 && not_after == 0
                      ? std::string("no time limit")
                      : (not_before != 0 ? FormatUtc(static_cast<int64_t>(not_before)) : std::string("any time")) + " .. " +
                            (not_after != 0 ? FormatUtc(static_cast<int64_t>(not_after)) : std::string("no end"));
  if (schedule.has_value()) {
    char hours[16];
    std::snprintf(hours, sizeof(hours), "%02u:%02u-%02u:%02u", schedule->start_minute / 60u, schedule->start_minute % 60u,
                  schedule->end_minute / 60u, schedule->end_minute % 60u);
    t += ", " + FormatDays(schedule->days_mask) + " " + hours;
  }
  t += max_uses != 0 ? ", " + std::to_string(max_uses) + " uses (counted by the lock)" : std::string(", unlimited uses");
  if (remote_only) t += ", remote only";
  return t;
}

json TermsJson(uint64_t not_before, uint64_t not_after, const std::optional<protocol::WeeklyWindow>& schedule,
               uint32_t max_uses, bool remote_only) {
  json j = {{"not_before", JsonUtc(static_cast<int64_t>(not_before))},
            {"not_after", JsonUtc(static_cast<int64_t>(not_after))},
            {"max_uses", max_uses},
            {"remote_only", remote_only}};
  if (schedule.has_value()) {
    j["schedule"] = {{"days", FormatDays(schedule->days_mask)},
                     {"start_minute", schedule->start_minute},
                     {"end_minute", schedule->end_minute}};
  }
  return j;
}

}  // namespace

int CmdKeyList(Context& ctx) {
  Keyring keyring = ctx.OpenKeyring(Keyring::Access::kRead);
  json out = json::array();
  json mine = json::array();
  std::string text;
  const int64_t now = ctx.Now();
  for (const LockEntry& lock : keyring.content().locks()) {
    text += "lock '" + lock.name + "' (you: " + RoleText(lock.role) + ")\n";
    // Your own key's terms, from the last certificate of your chain.
    if (!lock.is_owner() && !lock.chain.empty()) {
      Result<protocol::CertificateFields> f = protocol::DecodeCertificate(SplitChain(lock.chain).back());
      if (f.ok()) {
        const bool expired = f->not_after != 0 && static_cast<int64_t>(f->not_after) <= now;
        text += "  your key: serial " + std::to_string(f->serial) + ", " + RoleText(f->role) + ": " +
                PermissionsText(f->permissions) + "\n    valid " +
                TermsText(f->not_before, f->not_after, f->schedule, f->max_uses, f->remote_only) +
                (expired ? "  EXPIRED" : "") + "\n";
        json k = TermsJson(f->not_before, f->not_after, f->schedule, f->max_uses, f->remote_only);
        k.update({{"lock", lock.name}, {"serial", f->serial}, {"role", RoleText(f->role)},
                  {"permissions", PermissionsText(f->permissions)}, {"expired", expired},
                  {"group", f->scope == protocol::Scope::kGroup ? json(GroupIdText(f->group_id)) : json(nullptr)}});
        if (f->scope == protocol::Scope::kGroup)
          text += "    a group key (group " + GroupIdText(f->group_id) + "): it opens every door of the group\n";
        mine.push_back(k);
      }
    }
    if (lock.issued.empty()) {
      if (lock.is_owner()) text += "  no keys issued (share one: mortise key share --to MKP1...)\n";
      continue;
    }
    text += "  keys you issued:\n";
    for (const IssuedKey& k : lock.issued) {
      json entry = TermsJson(k.not_before, k.not_after, k.schedule, k.max_uses, k.remote_only);
      const bool expired = k.not_after != 0 && static_cast<int64_t>(k.not_after) <= now;
      const std::optional<uint64_t> group = GroupOfChain(k.chain);
      entry.update({{"lock", lock.name}, {"serial", k.serial}, {"holder", k.holder_name}, {"role", RoleText(k.role)},
                    {"permissions", PermissionsText(k.permissions)}, {"revoked", k.revoked}, {"expired", expired},
                    {"group", group ? json(GroupIdText(*group)) : json(nullptr)}});
      out.push_back(entry);
      text += "  - " + (k.holder_name.empty() ? std::string("(no name)") : k.holder_name) + "  serial " +
              std::to_string(k.serial) + "  " + RoleText(k.role) + ": " + PermissionsText(k.permissions) +
              (group ? "  group " + GroupIdText(*group) : std::string()) +
              (k.revoked ? "  REVOKED" : expired ? "  EXPIRED" : "") + "\n    valid " +
              TermsText(k.not_before, k.not_after, k.schedule, k.max_uses, k.remote_only) + "\n";
    }
  }
  ctx.out().Text(text.empty() ? "no locks\n" : text);
  ctx.out().Json({{"issued", out}, {"mine", mine}});
  return 0;
}

int CmdLog(Context& ctx, const LogOptions& o) {
  if (o.server) return LogViaServer(ctx, o);
  std::optional<LockSession> session;
  try {
    session.emplace(ctx);
  } catch (const Error& e) {
    // Not reachable here: the copy the server the lock is registered on
    // stores, verified on this device.
    if (e.code() != ExitCode::kUnreachable || o.follow || !RegisteredOnServer(ctx)) throw;
    return LogViaServer(ctx, o);
  }
  LockSession& s = *session;
  if (o.follow) {
    signal(SIGINT, OnSignal);
    signal(SIGTERM, OnSignal);
  }
  uint64_t from = o.from != 0 ? o.from : s.lock().log_cursor + 1;
  json events = json::array();
  bool problems = false;
  json signed_heads;
  json chain_end;     // h(N) where the verified stream ends: what `log ack` names
  json upload;        // the lock's upload cursor (log custody)
  // The lock signs its log's head with its identity key (at each segment
  // roll and every 10 minutes while records wait): checked here as anyone
  // holding the pinned lock key would check a stored copy, offline.
  const crypto::P256PublicKey lock_key = s.lock().LockKey();
  const protocol::LockId lock_id = protocol::LockIdOf(lock_key);
  // Users by name, asked of the lock once per read (a key without the
  // right to read users sees their numbers).
  std::map<uint16_t, std::string> user_names;
  bool may_read_users = true;
  auto user_name = [&](uint16_t index) -> std::string {
    if (auto it = user_names.find(index); it != user_names.end()) return it->second;
    std::string name;
    if (may_read_users) {
      try {
        const json r = s.Invoke("GetUser", {{"userIndex", index}}, false);
        if (r.contains("userName") && r["userName"].is_string()) name = r["userName"].get<std::string>();
      } catch (const Error&) {
        may_read_users = false;
      }
    }
    user_names[index] = name;
    return name;
  };
  // The keys the lock introduced in its log (index -> issuer, serial), kept
  // with the lock so later reads name them too; keys this device issued are
  // named by their holder.
  LogPrinter printer(s.lock(), ToHex(protocol::KeyIdOf(s.key().public_key())), user_name);
  do {
    LogRead read;
    try {
      read = s.client().ReadLog(from);
    } catch (const Error& e) {
      // --follow outlives a lock that is busy, restarting or out of reach:
      // it says so and tries again (Ctrl-C stops it); a single read fails.
      if (!o.follow || e.code() != ExitCode::kUnreachable) throw;
      std::fprintf(stderr, "%s\nmortise: retrying in %g s (Ctrl-C stops)\n", e.Line().c_str(), o.interval_s);
      std::fflush(stderr);
      for (int i = 0; i < static_cast<int>(o.interval_s * 10) && !g_stop; ++i) poll(nullptr, 0, 100);
      try {
        if (!g_stop) s.Reconnect();
      } catch (const Error& again) {
        if (again.code() != ExitCode::kUnreachable) throw;
      }
      continue;
    }
    const store::LogFindings& f = read.findings;
    store::LogVerifier offline(lock_key, lock_id, from, 0, 0);
    for (const store::LogItem& item : read.items) offline.Feed(item);
    const store::LogFindings& sf = offline.Finish();
    std::string text;
    uint32_t shown = 0;
    uint64_t limited_at = 0;
    for (const store::LogItem& item : read.items) {
      if (item.type == store::LogItemType::kVoid) {
        printer.Print(item, text, events);
        continue;
      }
      if (item.type != store::LogItemType::kRecord || item.seq < from) continue;
      if (o.limit != 0 && shown >= o.limit) {
        limited_at = item.seq;  // the cursor stops before what was not shown
        break;
      }
      if (printer.Print(item, text, events)) ++shown;
    }
    if (!f.ok()) {
      problems = true;
      text += "!! LOG VERIFICATION FAILED: " + std::to_string(f.unexplained_gaps) + " missing record(s) with no loss record, " +
              std::to_string(f.order_errors) + " out of order, " + std::to_string(f.malformed) + " malformed, " +
              (f.tampered != 0 ? std::to_string(f.tampered) + " declared altered at rest by the lock, " : std::string()) +
              (f.head_verified ? std::string("") : std::string("the log's end was not reached, ")) +
              "— events may have been hidden.\n";
    }
    if (sf.bad_signatures != 0) {
      problems = true;
      text += "!! " + std::to_string(sf.bad_signatures) + " signed head(s) of the log do not verify with the lock's key\n";
    }
    // Records after the newest head the lock signed (it signs at most every
    // 10 minutes): said, so the head named is not taken for the log's end.
    auto unsigned_after = [&](uint64_t signed_through) {
      const uint64_t first = std::max(signed_through + 1, from);
      return (first == read.head ? "#" + std::to_string(first)
                                 : "#" + std::to_string(first) + "..#" + std::to_string(read.head)) +
             " not signed by the lock yet (it signs its newest record at most every 10 minutes; verified "
             "through this session)";
    };
    if (sf.unverified_anchors != 0) {
      // The stream restarts its chain where no signature vouches for the
      // join (after a loss the lock declared): the lock's signed heads do
      // not cover what came before it. This read is still verified through
      // the session; a stored copy would not verify offline past it.
      text += "  note: the log restarts its chain " + std::to_string(sf.unverified_anchors) +
              " time(s) after a declared loss; the lock's signatures cover only what follows\n";
    } else if (sf.signed_through != 0) {
      text += "  log signed by the lock through #" + std::to_string(sf.signed_through) + " at " +
              FormatUtc(sf.signed_at) +
              (read.head > sf.signed_through ? "; " + unsigned_after(sf.signed_through) : std::string()) + "\n";
      signed_heads = {{"through", sf.signed_through}, {"at", JsonUtc(sf.signed_at)}};
    } else if (f.ok() && shown != 0) {
      text += "  " + unsigned_after(0) + "\n";
    }
    if (f.explained_gaps != 0 || f.lost_by_lock != 0) {
      text += "!! the lock itself declared " + std::to_string(f.explained_gaps + f.lost_by_lock) +
              " event(s) lost (see the records above)\n";
    }
    // Say what was checked, and say so when nothing is new (a silent
    // command reads as a broken one); --follow stays quiet between events.
    if (f.ok() && (shown != 0 || !o.follow)) {
      if (shown == 0)
        text += "  no new events since #" + std::to_string(from - 1) +
                " (mortise log --from N shows earlier ones)\n";
      text += "  the log's chain verified through #" + std::to_string(read.head) +
              ": complete, in order, unedited\n";
    }
    // Log custody: what a custody holder has acknowledged (the lock may
    // reuse those records once its ring is full); shown when it moved or
    // when this device issued a custody key.
    if (f.ok() && (read.upload_cursor != 0 || s.lock().HasCustodyKey())) {
      const uint64_t waiting = read.head > read.upload_cursor ? read.head - read.upload_cursor : 0;
      text += "  uploaded (acknowledged by log custody) through #" + std::to_string(read.upload_cursor) + "; " +
              std::to_string(waiting) + " record(s) not yet acknowledged\n";
      upload = {{"cursor", read.upload_cursor}, {"unacknowledged", waiting}};
    }
    ctx.out().Text(text);
    if (f.ok() && read.head >= from) {
      const uint64_t head = limited_at != 0 ? limited_at - 1 : read.head;
      // The chain hash at the end of a complete verified read, kept so that
      // `mortise log ack` can name it.
      json end;
      if (limited_at == 0 && read.has_end && read.end_seq == read.head) {
        end = {{"through", read.end_seq}, {"hash", ToHex(read.end_chain)}};
        chain_end = end;
      }
      s.Update([head, &printer, &end](LockEntry& l) {
        l.AdvanceLogCursor(head);
        l.extra["log_keys"] = printer.log_keys();
        if (!end.is_null()) l.extra["log_chain"] = end;
      });
      from = head + 1;
    }
    if (o.follow && !g_stop) {
      for (int i = 0; i < static_cast<int>(o.interval_s * 10) && !g_stop; ++i) poll(nullptr, 0, 100);
    }
  } while (o.follow && !g_stop);
  ctx.out().Json({{"events", events}, {"verified", !problems}, {"signed", signed_heads}, {"chain", chain_end},
                  {"upload", upload}});
  if (problems) {
    throw Error(ExitCode::kVerification, "the lock's log did not verify",
                "Events may have been removed or edited, between the lock and you or in the lock's storage; keep this output.");
  }
  return 0;
}

int CmdLogAck(Context& ctx, const LogAckOptions& o) {
  Keyring keyring = ctx.OpenKeyring(Keyring::Access::kRead);
  const LockEntry lock = ctx.SelectLock(keyring);
  const crypto::P256KeyPair key = keyring.content().GetIdentity(lock.identity).KeyPair();
  // The owner's own key holds every right; anyone else needs a certificate
  // carrying log custody (the lock checks it; said here before asking).
  uint32_t generation = lock.claim_generation;
  if (!lock.is_owner()) {
    const std::vector<std::vector<uint8_t>> mine = SplitChain(lock.chain);
    Result<protocol::CertificateFields> leaf = mine.empty() ? Result<protocol::CertificateFields>(StatusCode::kInvalidArgument)
                                                            : protocol::DecodeCertificate(mine.back());
    if (!leaf.ok() || (leaf->permissions & protocol::kPermLogCustody) == 0) {
      throw Error(ExitCode::kRefused, "your key for lock '" + lock.name + "' does not carry the log-custody right",
                  "The owner issues one: mortise key share --custody --to <your MKP1... key>");
    }
    generation = leaf->claim_generation;
  }
  protocol::CustodyAck ack;
  ack.lock_id = lock.lock_id;
  ack.generation = generation;
  if (!o.chain.empty()) {
    std::vector<uint8_t> h;
    if (o.through == 0) throw Error(ExitCode::kUsage, "--chain names the hash of one record: give --through N too");
    if (!FromHex(o.chain, h) || h.size() != ack.chain.size()) {
      throw Error(ExitCode::kBadInput, "--chain takes the 16-byte chain hash as 32 hex digits");
    }
    std::copy(h.begin(), h.end(), ack.chain.begin());
    ack.seq = o.through;
  } else {
    const json known = lock.extra.value("log_chain", json());
    std::vector<uint8_t> h;
    if (!known.is_object() || !known.contains("through") || !known["through"].is_number_unsigned() ||
        !FromHex(known.value("hash", std::string()), h) || h.size() != ack.chain.size()) {
      throw Error(ExitCode::kUsage, "no verified copy of the log to acknowledge",
                  "Read it first (mortise log), or give --through N --chain HASH from a stored copy.");
    }
    ack.seq = known["through"].get<uint64_t>();
    if (o.through != 0 && o.through != ack.seq) {
      throw Error(ExitCode::kUsage,
                  "this keyring knows the chain hash only at #" + std::to_string(ack.seq) +
                      " (the end of the last verified read)",
                  "Give --chain HASH for #" + std::to_string(o.through) + ", or acknowledge #" +
                      std::to_string(ack.seq) + ".");
    }
    std::copy(h.begin(), h.end(), ack.chain.begin());
  }
  std::vector<uint8_t> frame(protocol::kMaxCustodyAckFrameSize);
  Result<size_t> n = protocol::EncodeCustodyAck(ack, key, lock.is_owner() ? std::span<const uint8_t>() : lock.chain,
                                                ctx.drbg(), frame);
  if (!n.ok()) throw Error(ExitCode::kInternal, "cannot sign the acknowledgement");
  frame.resize(*n);

  Transport transport = ctx.Connect(Endpoint::Parse(lock.endpoint));
  LockClient client(transport, ctx.drbg());
  const protocol::CustodyReply r = client.Custody(frame);
  json out = {{"status", protocol::CustodyStatusName(r.status)}, {"through", ack.seq}};
  if (r.has_counters) {
    out["cursor"] = r.cursor;
    out["head"] = r.head;
    out["unacknowledged"] = r.head > r.cursor ? r.head - r.cursor : 0;
  }
  out["signed"] = r.has_receipt;
  if (r.has_receipt &&
      !protocol::VerifyCustodyReceipt(r, lock.LockKey(), lock.lock_id, generation).ok()) {
    throw Error(ExitCode::kVerification, "the lock's receipt for the acknowledgement is not signed by the lock",
                "A relay may be lying; the cursor may or may not have moved.");
  }
  const std::string where = r.has_counters ? "#" + std::to_string(r.cursor) + " (" +
                                                 std::to_string(out["unacknowledged"].get<uint64_t>()) +
                                                 " record(s) after it not yet acknowledged)"
                                           : std::string();
  switch (r.status) {
    case protocol::CustodyStatus::kAdvanced:
      ctx.out().Text("The lock's upload cursor is now " + where + (r.has_receipt ? ", signed by the lock" : "") +
                     ".\n");
      break;
    case protocol::CustodyStatus::kUnchanged:
      ctx.out().Text("Already acknowledged: the lock's upload cursor stays at " + where + ".\n");
      break;
    case protocol::CustodyStatus::kNoMatch:
      throw Error(ExitCode::kVerification,
                  "the lock does not hold record #" + std::to_string(ack.seq) + " with that chain hash",
                  "It is beyond the lock's log, no longer on it, or your copy differs from the lock's: read the "
                  "log again (mortise log).");
    case protocol::CustodyStatus::kWrongLock:
      throw Error(ExitCode::kRefused, "the lock is not the one (or not at the claim) your key is for");
    case protocol::CustodyStatus::kRefused:
      throw Error(ExitCode::kRefused, "the lock refused the acknowledgement: your key lacks the log-custody right, "
                                     "is revoked or expired, or the signature did not verify");
    case protocol::CustodyStatus::kBusy:
      throw Error(ExitCode::kUnreachable, "the lock is busy checking acknowledgements",
                  "It checks 4 at once, then one every 10 minutes; try again in 10 minutes.");
    case protocol::CustodyStatus::kMalformed:
      throw Error(ExitCode::kInternal, "the lock could not parse the acknowledgement");
    case protocol::CustodyStatus::kError:
      throw Error(ExitCode::kUnreachable, "the lock could not store its upload cursor; try again");
  }
  ctx.out().Json(out);
  return 0;
}

}  // namespace mortise::cli
