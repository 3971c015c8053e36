// The server's duties seen from the CLI (docs/cli.md, docs/server.md
// "Duties"): `mortise server duty` certifies the server's duty key for a
// door with one duty's right alone, signed here with the owner's key; `mortise
// key token --from-server` fetches a fresh revalidation token for this
// device's key through the server and stores it like `mortise key token`.
#include "commands.h"
#include "error.h"
#include "key_string.h"
#include "server_client.h"
#include "mortise/protocol/permissions.h"
#include "mortise/protocol/revalidation.h"
#include "mortise/protocol/time_statement.h"

namespace mortise::cli {

using nlohmann::json;

namespace {

// The door the lock is on, on the server this device is signed in to.
ServerDoorRef DoorOn(const ServerSession& s, const LockEntry& lock, const std::string& org, const std::string& door) {
  if (!org.empty() || !door.empty()) {
    if (org.empty() || door.empty()) throw Error(ExitCode::kUsage, "give both --org and --door (or neither)");
    return ServerDoorRef{s.url, org, door};
  }
  const auto ref = ServerDoorOf(lock);
  if (!ref) {
    throw Error(ExitCode::kUsage, "lock '" + lock.name + "' is not known as a door on a server",
                "Give --org ORG --door DOOR (the owner sees them in `mortise server doors`).");
  }
  if (ref->url != s.url) {
    throw Error(ExitCode::kUsage, "lock '" + lock.name + "' is on " + ref->url + ", but you are signed in to " + s.url,
                "Sign in there: mortise server login " + ref->url);
  }
  return *ref;
}

std::string DoorPath(const ServerDoorRef& r) { return "/api/v1/orgs/" + r.org + "/doors/" + r.door; }

}  // namespace

int CmdServerDuty(Context& ctx, const ServerDutyOptions& o) {
  if (o.time == o.revalidate) throw Error(ExitCode::kUsage, "give one duty: --time or --revalidate");
  const ServerSession s = LoadServerSession(ServerSessionPath(ctx.KeyringPath()));
  const ServerClient client = s.Client(ctx.timeout());
  Keyring keyring = ctx.OpenKeyring(Keyring::Access::kUpdate);
  LockEntry* lock = o.lock.empty() ? &ctx.SelectLock(keyring) : keyring.content().FindLock(o.lock);
  if (lock == nullptr) throw Error(ExitCode::kUsage, "no lock named \"" + o.lock + "\" in the keyring");
  if (!lock->is_owner()) {
    throw Error(ExitCode::kRefused, "only the lock's owner certifies the server's duty key");
  }
  const ServerDoorRef door = DoorOn(s, *lock, "", "");
  // The door's duty key (the custody key; made if it has none).
  const json key = ExpectStatus(client.Request("POST", DoorPath(door) + "/custody/key", json::object(), s.Headers()),
                                200, "asking the server for the door's duty key");
  KeyShareOptions share;
  share.to = key.value("public_key", "");
  share.holder_name = o.time ? "server time duty" : "server revalidation duty";
  share.no_qr = true;
  if (o.time) {
    share.time = true;
  } else {
    share.role = "admin";
    share.permissions = {"revalidate"};
  }
  // Signed here; the server only receives the certificate.
  const SharedKey shared = ShareKey(ctx, keyring, *lock, share);
  if (shared.fields.permissions != (o.time ? protocol::kPermTimeStatement : protocol::kPermRevalidate)) {
    throw Error(ExitCode::kInternal, "the duty certificate carries other rights than its duty's");
  }
  const std::string duty = o.time ? "time" : "revalidate";
  const json view = ExpectStatus(
      client.Request("POST", DoorPath(door) + "/duties/" + duty, {{"certificate", shared.text}}, s.Headers()), 200,
      "uploading the duty certificate");
  const std::string what =
      o.time ? "correct lock '" + lock->name + "''s clock by at most " +
                   std::to_string(protocol::kTimeCorrectionMaxStepS) + " s once per " +
                   std::to_string(protocol::kTimeCorrectionIntervalMs / 3'600'000) + " h"
             : "issue revalidation tokens for keys of lock '" + lock->name + "' that it holds as live";
  ctx.out().Text("The server at " + s.url + " may now " + what + " (certificate serial " +
                 std::to_string(shared.fields.serial) + "; it opens nothing; revoke it like any key: mortise key revoke " +
                 std::to_string(shared.fields.serial) + ").\n");
  ctx.out().Json({{"duty", duty}, {"serial", shared.fields.serial}, {"door", door.door}, {"duties", view}});
  return 0;
}

namespace {

struct FetchedToken {
  std::string lock, url;
  int64_t issued_at = 0, valid_until = 0;
};

FetchedToken FetchRevalidationToken(Context& ctx, const KeyTokenFetchOptions& o) {
  const ServerSession s = LoadServerSession(ServerSessionPath(ctx.KeyringPath()));
  const ServerClient client = s.Client(ctx.timeout());
  Keyring keyring = ctx.OpenKeyring(Keyring::Access::kUpdate);
  LockEntry& lock = ctx.SelectLock(keyring);
  if (lock.is_owner()) throw Error(ExitCode::kUsage, "the owner's key needs no revalidation token");
  const Result<uint32_t> max_age = protocol::ChainRevalidationMaxAge(lock.chain);
  if (!max_age.ok() || *max_age == 0) {
    throw Error(ExitCode::kUsage, "your key for lock '" + lock.name + "' demands no revalidation token");
  }
  const ServerDoorRef door = DoorOn(s, lock, o.org, o.door);
  const HttpAnswer a =
      client.Request("POST", DoorPath(door) + "/revalidation", {{"chain", ToHex(lock.chain)}}, s.Headers());
  if (a.status == 403 && a.ErrorCode() == "key_revoked") {
    throw Error(ExitCode::kRefused, "the server holds your key as revoked: it issues no token for it",
                "Ask the lock's owner or an admin.");
  }
  const json body = ExpectStatus(a, 200, "fetching a revalidation token");
  // Checked like a token typed in: for this lock and this very key.
  const std::vector<uint8_t> token = ParseRevalidationString(body.value("token", ""));
  const Result<protocol::RevalidationTokenInfo> info = protocol::DecodeRevalidationToken(token);
  const Result<protocol::RevalidationFields> mine =
      info.ok() ? protocol::RevalidationFieldsFor(lock.chain, info->fields.issued_at)
                : Result<protocol::RevalidationFields>(StatusCode::kInvalidArgument);
  if (!info.ok() || !mine.ok() || info->fields.lock_id != lock.lock_id || mine->serial != info->fields.serial ||
      mine->holder_key_id != info->fields.holder_key_id) {
    throw Error(ExitCode::kVerification, "the server's token is not for your key at this lock");
  }
  lock.extra["revalidation_token"] = ToHex(token);
  if (!o.org.empty()) RememberServerDoor(lock, door);
  keyring.Save();
  const auto issued = static_cast<int64_t>(info->fields.issued_at);
  return FetchedToken{lock.name, s.url, issued, issued + static_cast<int64_t>(*max_age)};
}

}  // namespace

int CmdKeyTokenFromServer(Context& ctx, const KeyTokenFetchOptions& o) {
  const FetchedToken t = FetchRevalidationToken(ctx, o);
  ctx.out().Text("token stored for lock '" + t.lock + "' (from " + t.url + ", valid until " +
                 FormatUtc(t.valid_until) + ")\n");
  ctx.out().Json(
      {{"lock", t.lock}, {"issued_at", FormatUtc(t.issued_at)}, {"valid_until", FormatUtc(t.valid_until)}});
  return 0;
}

void RefreshRevalidationTokenIfDue(Context& ctx) {
  std::optional<ServerSession> s;
  try {
    Keyring keyring = ctx.OpenKeyring(Keyring::Access::kRead);
    const LockEntry& lock = ctx.SelectLock(keyring);
    const Result<uint32_t> max_age = protocol::ChainRevalidationMaxAge(lock.chain);
    if (lock.is_owner() || !max_age.ok() || *max_age == 0 || !ServerDoorOf(lock)) return;
    std::vector<uint8_t> token;
    if (FromHex(lock.extra.value("revalidation_token", std::string()), token)) {
      const auto info = protocol::DecodeRevalidationToken(token);
      // Fresh for at least a tenth of its life more: kept.
      if (info.ok() && static_cast<int64_t>(info->fields.issued_at) + *max_age - *max_age / 10 > ctx.Now()) return;
    }
    s = LoadServerSession(ServerSessionPath(ctx.KeyringPath()));
  } catch (const Error&) {
    return;  // no keyring, lock or server session: the command says what it needs
  }
  try {
    const FetchedToken t = FetchRevalidationToken(ctx, KeyTokenFetchOptions{});
    ctx.out().Note("fetched a fresh revalidation token through " + t.url + " (valid until " +
                   FormatUtc(t.valid_until) + ")");
  } catch (const Error& e) {
    // The lock decides: without a fresh token it refuses the key, and says so.
    ctx.out().Note(std::string("could not fetch a fresh revalidation token through ") + s->url + ": " + e.what());
  }
}

}  // namespace mortise::cli
