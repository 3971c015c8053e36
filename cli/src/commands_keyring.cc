// init, id new|list|show, lock list|forget: the keyring's own commands.
#include <sstream>

#include "commands.h"
#include "error.h"
#include "key_string.h"
#include "mortise/termqr/termqr.h"

namespace mortise::cli {
namespace {

nlohmann::json IdentityJson(const KeyringContent& c, const IdentityEntry& id) {
  nlohmann::json locks = nlohmann::json::array();
  for (const auto& l : c.locks())
    if (l.identity == id.name) locks.push_back(l.name);
  return {{"name", id.name},
          {"public_key", EncodePublicKeyString(id.PublicKey())},
          {"default", id.name == c.default_identity()},
          {"created", id.created},
          {"locks", locks}};
}

}  // namespace

int CmdInit(Context& ctx, const InitOptions& o) {
  if (!IsValidName(o.identity))
    throw Error(ExitCode::kUsage, "\"" + o.identity + "\" is not a valid identity name",
                "Use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit.");
  KeyringContent content;
  const IdentityEntry& id = content.AddIdentity(o.identity, ctx.drbg(), ctx.Now());
  const std::string public_key = EncodePublicKeyString(id.PublicKey());
  Keyring keyring = ctx.CreateKeyring(std::move(content));
  ctx.out().Text("Created the keyring " + keyring.path().string() + "\nIdentity \"" + o.identity +
                 "\" (default): " + public_key + "\n");
  ctx.out().Json({{"keyring", keyring.path().string()}, {"identity", {{"name", o.identity}, {"public_key", public_key}}}});
  return 0;
}

int CmdIdNew(Context& ctx, const IdNewOptions& o) {
  Keyring keyring = ctx.OpenKeyring(Keyring::Access::kUpdate);
  KeyringContent& c = keyring.content();
  const IdentityEntry& id = c.AddIdentity(o.name, ctx.drbg(), ctx.Now());
  const std::string public_key = EncodePublicKeyString(id.PublicKey());
  if (o.make_default) c.SetDefaultIdentity(o.name);
  keyring.Save();
  const bool is_default = c.default_identity() == o.name;
  ctx.out().Text("Identity \"" + o.name + "\"" + (is_default ? " (default)" : "") + ": " + public_key + "\n");
  ctx.out().Json({{"identity", {{"name", o.name}, {"public_key", public_key}, {"default", is_default}}}});
  return 0;
}

int CmdIdList(Context& ctx) {
  Keyring keyring = ctx.OpenKeyring(Keyring::Access::kRead);
  const KeyringContent& c = keyring.content();
  nlohmann::json list = nlohmann::json::array();
  std::ostringstream text;
  if (c.identities().empty()) text << "No identities. Create one with `mortise id new NAME`.\n";
  for (const auto& id : c.identities()) {
    const nlohmann::json j = IdentityJson(c, id);
    list.push_back(j);
    text << (j["default"].get<bool>() ? "* " : "  ") << id.name << "  " << j["public_key"].get<std::string>();
    if (!j["locks"].empty()) {
      text << "  (";
      bool first = true;
      for (const auto& l : j["locks"]) {
        text << (first ? "" : ", ") << l.get<std::string>();
        first = false;
      }
      text << ")";
    }
    text << "\n";
  }
  ctx.out().Text(text.str());
  ctx.out().Json({{"identities", list}});
  return 0;
}

int CmdIdShow(Context& ctx, const IdShowOptions& o) {
  Keyring keyring = ctx.OpenKeyring(Keyring::Access::kRead);
  const KeyringContent& c = keyring.content();
  const IdentityEntry& id = c.GetIdentity(o.name);
  const nlohmann::json j = IdentityJson(c, id);
  const std::string public_key = j["public_key"].get<std::string>();
  std::string text = "Identity \"" + id.name + "\"" + (j["default"].get<bool>() ? " (default)" : "") + "\n" +
                     public_key + "\n";
  if (!o.no_qr && !ctx.out().json()) {
    Result<std::string> qr = o.ascii_qr ? termqr::RenderAscii(public_key) : termqr::Render(public_key);
    if (!qr.ok()) throw Error(ExitCode::kInternal, std::string("cannot draw the QR code: ") + qr.status().name());
    text += *qr;
  }
  text += "Give this public key to a lock's owner; they share a key for it with `mortise key share --to " +
          public_key + "`.\n";
  ctx.out().Text(text);
  ctx.out().Json({{"identity", j}});
  return 0;
}

int CmdLockList(Context& ctx) {
  Keyring keyring = ctx.OpenKeyring(Keyring::Access::kRead);
  nlohmann::json list = nlohmann::json::array();
  std::ostringstream text;
  if (keyring.content().locks().empty())
    text << "No locks. Claim one with `mortise claim`, or accept a shared key with `mortise key accept`.\n";
  for (const auto& l : keyring.content().locks()) {
    list.push_back({{"name", l.name},
                    {"lock_id", ToHex(l.lock_id)},
                    {"role", RoleText(l.role)},
                    {"endpoint", l.endpoint},
                    {"identity", l.identity},
                    {"issued_keys", l.issued.size()}});
    text << l.name << "  " << RoleText(l.role) << "  " << ToHex(l.lock_id) << "  "
         << (l.endpoint.empty() ? "(no endpoint)" : l.endpoint) << "  as " << l.identity << "\n";
  }
  ctx.out().Text(text.str());
  ctx.out().Json({{"locks", list}});
  return 0;
}

int CmdLockForget(Context& ctx, const LockForgetOptions& o) {
  Keyring keyring = ctx.OpenKeyring(Keyring::Access::kUpdate);
  LockEntry* lock = keyring.content().FindLock(o.name);
  if (lock == nullptr)
    throw Error(ExitCode::kUsage, "no lock named \"" + o.name + "\" in the keyring", "See `mortise lock list`.");
  if (lock->is_owner() && !o.yes)
    throw Error(ExitCode::kUsage,
                "you own lock \"" + o.name +
                    "\": forgetting it deletes its offline-PIN secret and the record of the keys you issued",
                "Add --yes if you mean it; your identity stays, so the lock still knows you as its owner.");
  keyring.content().ForgetLock(o.name);
  keyring.Save();
  ctx.out().Text("Forgot lock \"" + o.name + "\".\n");
  ctx.out().Json({{"forgotten", o.name}});
  return 0;
}

int CmdLockEndpoint(Context& ctx, const LockEndpointOptions& o) {
  const Endpoint endpoint = Endpoint::Parse(o.endpoint).Absolute();  // checked before the keyring changes
  Keyring keyring = ctx.OpenKeyring(Keyring::Access::kUpdate);
  LockEntry* lock = keyring.content().FindLock(o.name);
  if (lock == nullptr)
    throw Error(ExitCode::kUsage, "no lock named \"" + o.name + "\" in the keyring", "See `mortise lock list`.");
  const std::string before = lock->endpoint;
  lock->endpoint = endpoint.ToString();
  keyring.Save();
  // The pinned lock key is unchanged: a device answering at the new address
  // that is not this lock fails every session (exit 6).
  ctx.out().Text("lock \"" + o.name + "\" is now reached at " + lock->endpoint +
                 (before.empty() ? std::string() : " (was " + before + ")") + "\n");
  ctx.out().Json({{"lock", o.name}, {"endpoint", lock->endpoint}, {"previous", before}});
  return 0;
}

}  // namespace mortise::cli
